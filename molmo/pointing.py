"""Molmo's pointing output: parse it into pixel coordinates, count it, draw it. The one reader of this format:
the counting metric, the arena and the demo all use it.

Molmo answers pointing and counting questions with points on a 0-100 scale of the image's width and
height, one decimal, sorted left to right then top to bottom, as the release writes its targets
(allenai/molmo olmo/data/data_formatter.py `DataFormatter.points_to_text`):

    <point x="10.5" y="20.1" alt="cat">cat</point>
    <points x1="10.5" y1="20.1" x2="62.0" y2="33.3" alt="cats">cats</points>
    Counting the <points x1=".." y1=".." alt="cat">cat</points> shows a total of 2.
    There are none.

A coordinate is read as the release reads it (olmo/util.py `extract_points`): digits with an optional
decimal part after optional leading spaces (so no sign, exponent or "nan"), and a
point with a coordinate above 100 is invalid. Model output is not always well formed, so the parser is
lenient about everything else and never raises: it pairs `xN` with `yN` (a `<point>`'s x with its y), skips
a point whose x or y is missing or invalid, accepts single quotes, capitals and spaces around "=", and reads
a tag whose closing `</point>` is missing or that was cut off before its `>` (the token limit), keeping its
complete pairs. On every output in the release's own format this gives the points `extract_points` gives.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw

# An opening tag (its ">" may be missing: then the next "<" or the end of the text ends it), then its
# label and closing tag when both are there.
_TAG = re.compile(r"<(?P<tag>points?)\b(?P<attrs>[^<>]*)(?:>(?:(?P<label>[^<]*)</(?P=tag)\s*>)?)?", re.IGNORECASE)
_ATTR = re.compile(r"""(?P<name>[A-Za-z_][\w-]*)\s*=\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)')""")
_COORD = re.compile(r"(?P<axis>[xy])(?P<index>\d{0,6})")  # x, y, x1, y1, ... (names are lower-cased)
_CLOSING_TAG = re.compile(r"</points?\s*>", re.IGNORECASE)
_NUMBER = re.compile(r"\s*[0-9]+(?:\.[0-9]+)?")  # olmo/util.py extract_points: a coordinate's digits

# Distinct fills for successive tags (matplotlib's tab10); every circle gets a white outline.
PALETTE = (
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
)  # fmt: skip


@dataclass(frozen=True)
class PointSet:
    """The points of one `<point>` or `<points>` tag, in pixels, with its alt text and label."""

    points: tuple[tuple[float, float], ...]  # (x, y) in pixels, in the tag's order
    alt: str
    label: str


def _coordinate(value: str) -> float | None:
    """A coordinate in [0, 100] written as the release writes numbers, or None (the release drops the point)."""
    if _NUMBER.fullmatch(value) is None:
        return None
    number = float(value)
    return number if number <= 100.0 else None


def parse_points(text: str, width: float, height: float) -> list[PointSet]:
    """Every `<point>`/`<points>` tag of `text`, coordinates scaled to a width x height image.

    A point (x, y) on the 0-100 scale lands at pixel (x / 100 * width, y / 100 * height). Points pair
    x1 with y1, x2 with y2, ... (a `<point>`'s x with its y) and keep the numbering's order. Tags left
    without a valid point are dropped.
    """
    point_sets = []
    for tag in _TAG.finditer(text):
        attrs: dict[str, str] = {}
        for attr in _ATTR.finditer(tag["attrs"]):
            value = attr["dq"] if attr["dq"] is not None else attr["sq"]
            attrs.setdefault(attr["name"].lower(), value)
        xs, ys = {}, {}
        for name, value in attrs.items():
            coord = _COORD.fullmatch(name)
            if coord and (number := _coordinate(value)) is not None:
                axis = xs if coord["axis"] == "x" else ys
                axis[int(coord["index"]) if coord["index"] else 0] = number
        points = tuple((xs[k] / 100.0 * width, ys[k] / 100.0 * height) for k in sorted(xs.keys() & ys.keys()))
        if points:
            point_sets.append(PointSet(points, attrs.get("alt", ""), (tag["label"] or "").strip()))
    return point_sets


def count_points(text: str) -> int:
    """How many valid points `text` holds across all its tags."""
    return sum(len(point_set.points) for point_set in parse_points(text, 100.0, 100.0))


def without_points(text: str) -> str:
    """`text` with every point tag (its attributes, label and closing tag) replaced by a space, so that the
    prose around the points can be read without the coordinates and labels inside them."""
    return _CLOSING_TAG.sub(" ", _TAG.sub(" ", text))


def draw_points(image: Image.Image, point_sets: Sequence[PointSet], radius: float | None = None) -> Image.Image:
    """An RGB copy of `image` with each point drawn as a filled circle with a white outline.

    Each tag gets its own colour from PALETTE. The radius defaults to 1.5% of the image's shorter side
    (at least 3 px). Coordinates are pixels of `image` as given (the upright image the model saw).
    """
    canvas = image.convert("RGB")
    if radius is None:
        radius = max(3.0, 0.015 * min(canvas.size))
    outline = max(1, round(radius / 4))
    draw = ImageDraw.Draw(canvas)
    for k, point_set in enumerate(point_sets):
        for x, y in point_set.points:
            box = (x - radius, y - radius, x + radius, y + radius)
            draw.ellipse(box, fill=PALETTE[k % len(PALETTE)], outline=(255, 255, 255), width=outline)
    return canvas
