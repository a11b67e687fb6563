"""The shared image toolkit: shapes fill the box they are given, exactly and without anti-aliasing; both PNG
encodings are lossless."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from molmo.data.drawing import SHAPES, canvas, draw_shape, png

FILL, PAPER = (200, 40, 40), (250, 250, 250)


def _drawn(kind: str, box: tuple[float, float, float, float]) -> np.ndarray:
    image, draw = canvas(64, 48, PAPER)
    draw_shape(draw, kind, box, FILL)
    return np.all(np.asarray(image) == FILL, axis=-1)


@pytest.mark.parametrize("kind", SHAPES)
def test_a_shape_fills_exactly_its_box_extent(kind):
    mask = _drawn(kind, (10, 6, 40, 36))
    rows, cols = np.nonzero(mask)
    assert (cols.min(), rows.min(), cols.max(), rows.max()) == (10, 6, 40, 36)
    image, draw = canvas(64, 48, PAPER)
    draw_shape(draw, kind, (10, 6, 40, 36), FILL)
    assert {tuple(p) for p in np.asarray(image).reshape(-1, 3)} == {FILL, PAPER}  # no blended edge pixels


def test_the_three_shapes_differ_where_they_should():
    square, circle, triangle = (_drawn(kind, (10, 6, 40, 36)) for kind in ("square", "circle", "triangle"))
    assert square.sum() == 31 * 31
    assert not circle[6, 10] and circle[21, 25]  # the corner is outside the disc, the centre inside
    assert triangle[6, 25] and not triangle[6, 11] and triangle[36, 11]  # apex at the top middle, base at the bottom
    assert triangle.sum() == pytest.approx(31 * 31 / 2, rel=0.1)


def test_an_unknown_shape_is_refused():
    _, draw = canvas(8, 8, PAPER)
    with pytest.raises(ValueError, match="hexagon"):
        draw_shape(draw, "hexagon", (0, 0, 4, 4), FILL)


def test_both_png_encodings_keep_every_pixel():
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8))
    small, fast = png(image), png(image, fast=True)
    assert small != fast
    for data in (small, fast):
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), np.asarray(image))
