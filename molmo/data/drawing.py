"""The synthetic image toolkit: flat-coloured shapes, text in bundled fonts, arrows, matplotlib charts, encoders.

Both generated image sets start here: the training data (`molmo.data.synthetic`) and the benchmark fixtures
(`evals.fixtures`). Each keeps its own palette, layout and questions; the drawing is this module's.

Everything is deterministic for a given Pillow/matplotlib version: no system fonts, no timestamps in the files.
Shapes are drawn without anti-aliasing on flat backgrounds, so tests can count them back from the pixels.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw, ImageFont

if TYPE_CHECKING:
    from matplotlib.axes import Axes

RGB = tuple[int, int, int]
Box = tuple[float, float, float, float]  # left, top, right, bottom

SHAPES = ("circle", "square", "triangle")
COLOR_NAMES = ("red", "green", "blue", "yellow", "purple", "orange")
INK: RGB = (20, 20, 20)


def palette(*colors: RGB) -> dict[str, RGB]:
    """The colour names with one image set's RGB values, in the order of `COLOR_NAMES` (seeded draws pick by
    position, so the order is part of every generated file)."""
    return dict(zip(COLOR_NAMES, colors, strict=True))


def canvas(width: int, height: int, color: RGB) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    """A flat RGB image and a pen for it."""
    image = Image.new("RGB", (width, height), color)
    return image, ImageDraw.Draw(image)


def draw_shape(draw: ImageDraw.ImageDraw, kind: str, box: Box, fill: RGB) -> None:
    """A filled circle (the ellipse in `box`), square (the box) or triangle (apex at the top middle of the box, base
    along its bottom edge)."""
    left, top, right, bottom = box
    if kind == "circle":
        draw.ellipse(box, fill=fill)
    elif kind == "square":
        draw.rectangle(box, fill=fill)
    elif kind == "triangle":
        draw.polygon([((left + right) / 2, top), (left, bottom), (right, bottom)], fill=fill)
    else:
        raise ValueError(f"unknown shape {kind!r}; known: {', '.join(SHAPES)}")


def grid_boxes(
    rng: random.Random, n: int, area: tuple[int, int, int, int], size: int, gap: int = 8
) -> list[tuple[int, int, int, int]]:
    """`n` square boxes of side `size` inside `area`, in distinct grid cells with jitter, never touching."""
    left, top, right, bottom = area
    cell = size + gap
    cols, rows = (right - left) // cell, (bottom - top) // cell
    if n > cols * rows:
        raise ValueError(f"{n} boxes of {size}px do not fit in {area}")
    boxes = []
    for slot in sorted(rng.sample(range(cols * rows), n)):
        x = left + (slot % cols) * cell + rng.randint(0, gap // 2)
        y = top + (slot // cols) * cell + rng.randint(0, gap // 2)
        boxes.append((x, y, x + size, y + size))
    return boxes


@lru_cache(maxsize=32)
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """DejaVu Sans from matplotlib's own data, so text renders the same on every machine."""
    import matplotlib

    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name), size)


@lru_cache(maxsize=32)
def pillow_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The face Pillow bundles (`ImageFont.load_default`), at `size` pixels."""
    return ImageFont.load_default(size=size)


def text_box(
    draw: ImageDraw.ImageDraw,
    xy: tuple[int, int],
    text: str,
    size: int,
    fill: RGB = INK,
    bold: bool = False,
) -> tuple[int, int, int, int]:
    """Draw `text` with its top-left corner at `xy`; returns the box it covers."""
    draw.text(xy, text, font=font(size, bold), fill=fill)
    return draw.textbbox(xy, text, font=font(size, bold))


def centered_text(
    draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], text: str, size: int, fill: RGB = INK
) -> None:
    left, top, right, bottom = box
    draw.text(((left + right) / 2, (top + bottom) / 2), text, font=font(size), fill=fill, anchor="mm")


def arrow(
    draw: ImageDraw.ImageDraw, start: tuple[float, float], end: tuple[float, float], color: RGB
) -> None:
    """A straight arrow with a filled head at `end`."""
    draw.line([start, end], fill=color, width=3)
    direction = np.subtract(end, start) / max(float(np.hypot(*np.subtract(end, start))), 1e-9)
    normal = np.array([-direction[1], direction[0]])
    base = np.asarray(end) - 12 * direction
    head = [tuple(end), tuple(base + 6 * normal), tuple(base - 6 * normal)]
    draw.polygon([(float(x), float(y)) for x, y in head], fill=color)


def chart(width: int, height: int, plot: Callable[[Axes], None]) -> Image.Image:
    """Render a matplotlib plot (Agg canvas, no pyplot state) to a PIL image of `width` x `height` pixels."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dpi = 100
    figure = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    agg = FigureCanvasAgg(figure)
    figure.subplots_adjust(left=0.12, right=0.97, bottom=0.11, top=0.9)
    plot(figure.add_subplot())
    agg.draw()
    return Image.fromarray(np.asarray(agg.buffer_rgba())).convert("RGB")


def png(image: Image.Image, fast: bool = False) -> bytes:
    """Lossless PNG bytes: the smallest file Pillow makes, or with `fast` zlib level 1 (training images are made by
    the thousand, and each is decoded again at once)."""
    buffer = io.BytesIO()
    if fast:
        image.save(buffer, format="PNG", compress_level=1)
    else:
        image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
