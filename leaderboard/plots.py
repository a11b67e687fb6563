"""The report's figures as PNG bytes (matplotlib, Agg): ratings with intervals, the pair matrices, and the
benchmark average against the rating."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd


def _figure(width: float, height: float):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def ratings_plot(table: pd.DataFrame, title: str) -> bytes:
    """Horizontal bars: each model's rating and its 95% interval, best at the top."""
    n = len(table)
    figure = _figure(7.5, 1.2 + 0.28 * n)
    axes = figure.add_subplot()
    y = np.arange(n)[::-1]
    errors = np.vstack([table["rating"] - table["lower"], table["upper"] - table["rating"]])
    axes.errorbar(table["rating"], y, xerr=errors, fmt="o", color="#1f5fa8", ecolor="#7aa6d6", capsize=3)
    axes.set_yticks(y, table["model"])
    axes.set_xlabel("rating (Elo scale), 95% interval")
    axes.set_title(title)
    axes.grid(axis="x", alpha=0.3)
    return _png(figure)


def matrix_plot(matrix: np.ndarray, labels: list[str], title: str, fmt: str, cmap: str, vmin=None, vmax=None) -> bytes:
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
    axes.set_title(title)
    if n <= 20:  # beyond that the numbers are too small to read and slow to draw
        for i in range(n):
            for j in range(n):
                if np.isfinite(matrix[i, j]) and i != j:
                    axes.text(j, i, format(matrix[i, j], fmt), ha="center", va="center", fontsize=5.5)
    figure.colorbar(image, ax=axes, shrink=0.8)
    return _png(figure)


def benchmark_plot(joined: pd.DataFrame, average_column: str, title: str) -> bytes:
    """Benchmark average against the rating, one labelled point per model."""
    figure = _figure(7.5, 6.0)
    axes = figure.add_subplot()
    axes.scatter(joined[average_column], joined["rating"], color="#1f5fa8")
    for row in joined.itertuples(index=False):
        axes.annotate(row.model, (getattr(row, average_column), row.rating), fontsize=6.5,
                      xytext=(3, 3), textcoords="offset points")
    axes.margins(x=0.2, y=0.1)  # room for the labels of the outermost points
    axes.set_xlabel(f"benchmark average ({average_column})")
    axes.set_ylabel("rating (Elo scale)")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    return _png(figure)
