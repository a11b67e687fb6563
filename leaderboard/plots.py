"""The report's figures as PNG bytes (matplotlib, Agg): ratings with intervals, the pair matrices, and the
benchmark average against the rating."""

from __future__ import annotations

import io
import textwrap

import numpy as np
import pandas as pd

TITLE_SIZE = 11.0


def _figure(width: float, height: float):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _title(figure, text: str) -> None:
    """A title centred on the whole figure and wrapped to its width (at most about 0.6 em per character), so
    it is never cut off, however long the model names beside the axes."""
    chars = max(20, int(figure.get_figwidth() * 72 / (0.6 * TITLE_SIZE)) - 4)
    figure.suptitle(textwrap.fill(text, chars), fontsize=TITLE_SIZE)


def clipped_texts(figure) -> list[str]:
    """The drawn texts of a figure that do not fit inside it (titles, axis labels, tick labels in view) or inside
    their axes (annotations and cell values, which would run over the frame): for the tests, nothing may be cut
    off."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    texts = [(text, figure.bbox) for text in figure.texts]  # the suptitle among them
    for axes in figure.axes:
        texts += [(text, figure.bbox) for text in (axes.title, axes.xaxis.label, axes.yaxis.label)]
        texts += [(text, axes.bbox) for text in axes.texts]
        for axis in (axes.xaxis, axes.yaxis):
            low, high = sorted(axis.get_view_interval())
            texts += [(tick.label1, figure.bbox) for tick in axis.get_major_ticks() if low <= tick.get_loc() <= high]
    out = []
    for text, box in texts:
        if not text.get_visible() or not text.get_text():
            continue
        extent = text.get_window_extent(renderer)
        if extent.x0 < box.x0 - 1 or extent.x1 > box.x1 + 1 or extent.y0 < box.y0 - 1 or extent.y1 > box.y1 + 1:
            out.append(text.get_text())
    return out


def png(figure) -> bytes:
    """The figure as PNG bytes (no timestamp in the metadata, so the bytes are reproducible)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def ratings_figure(table: pd.DataFrame, title: str):
    """Horizontal bars: each model's rating and its 95% interval, best at the top."""
    n = len(table)
    figure = _figure(7.5, 1.4 + 0.22 * n)
    axes = figure.add_subplot()
    y = np.arange(n)[::-1]
    errors = np.vstack([table["rating"] - table["lower"], table["upper"] - table["rating"]])
    axes.errorbar(table["rating"], y, xerr=errors, fmt="o", color="#1f5fa8", ecolor="#7aa6d6", capsize=3)
    axes.set_yticks(y, table["model"], fontsize=8)
    axes.set_ylim(-0.7, n - 0.3)
    axes.set_xlabel("rating (Elo scale), 95% interval")
    _title(figure, title)
    axes.grid(axis="x", alpha=0.3)
    return figure


def matrix_figure(matrix: np.ndarray, labels: list[str], title: str, fmt: str, cmap: str, vmin=None, vmax=None):
    """A heatmap with the value in each cell (rows and columns in the same order); NaN cells stay blank."""
    n = len(labels)
    size = 2.5 + 0.38 * n
    figure = _figure(size + 1.2, size)
    axes = figure.add_subplot()
    image = axes.imshow(np.ma.masked_invalid(matrix), cmap=cmap, vmin=vmin, vmax=vmax)
    axes.set_xticks(range(n), labels, rotation=90, fontsize=7)
    axes.set_yticks(range(n), labels, fontsize=7)
    axes.set_xlabel("model B")
    axes.set_ylabel("model A")
    _title(figure, title)
    if n <= 25:  # beyond that the numbers are too small to read and slow to draw
        for i in range(n):
            for j in range(n):
                if np.isfinite(matrix[i, j]) and i != j:
                    axes.text(j, i, format(matrix[i, j], fmt), ha="center", va="center", fontsize=5.5)
    figure.colorbar(image, ax=axes, shrink=0.8)
    return figure


def benchmark_figure(joined: pd.DataFrame, average_column: str, title: str):
    """Benchmark average against the rating, one labelled point per model: labels of points in the right half
    read leftwards from the point, so that none runs over the frame."""
    figure = _figure(7.5, 6.0)
    axes = figure.add_subplot()
    x, y = joined[average_column].to_numpy(float), joined["rating"].to_numpy(float)
    axes.scatter(x, y, color="#1f5fa8")
    middle = (x.min() + x.max()) / 2
    for model, point_x, point_y in zip(joined["model"], x, y, strict=True):
        left = point_x > middle
        axes.annotate(model, (point_x, point_y), fontsize=6.5, xytext=(-3 if left else 3, 3),
                      textcoords="offset points", ha="right" if left else "left")
    axes.margins(x=0.1, y=0.1)
    axes.set_xlabel(f"benchmark average ({average_column})")
    axes.set_ylabel("rating (Elo scale)")
    _title(figure, title)
    axes.grid(alpha=0.3)
    return figure
