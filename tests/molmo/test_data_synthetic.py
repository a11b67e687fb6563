"""The synthetic PixMo-like generator: true answers match the pixels, splits are seeds, and it is cheap."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from molmo.data.synthetic import BACKGROUND, COLORS, TASKS, generate_examples, generate_rows


def _pixels(row: dict) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(row["image"])).convert("RGB"))


def _blobs(pixels: np.ndarray, colour: str) -> tuple[np.ndarray, int]:
    """Connected regions of exactly this colour."""
    return ndimage.label(np.all(pixels == COLORS[colour], axis=-1))


@pytest.mark.parametrize("seed", [0, 1])
def test_count_rows_count_the_shapes_drawn_and_point_inside_them(seed):
    for row in generate_rows("count", 40, seed=seed, size=128):
        colour = row["label"].split()[0]
        labels, blobs = _blobs(_pixels(row), colour)
        assert blobs == row["count"] == len(row["points"])
        hit = {int(labels[round(p["y"]), round(p["x"])]) for p in row["points"]}
        assert hit == set(range(1, blobs + 1))  # one point in each shape, every shape pointed at


def test_counts_cover_one_to_five():
    counts = {row["count"] for row in generate_rows("count", 200, seed=0)}
    assert counts == {1, 2, 3, 4, 5}


def test_points_rows_share_their_image_and_absent_labels_have_no_points():
    rows = generate_rows("points", 30, seed=0)
    by_image: dict[str, list[dict]] = {}
    for row in rows:
        by_image.setdefault(row["image_sha256"], []).append(row)
    assert len(by_image) == 30 and len(rows) > 30
    assert any(row["count"] == 0 and row["points"] == [] for row in rows)
    for group in by_image.values():
        pixels = _pixels(group[0])
        for row in group:
            _, blobs = _blobs(pixels, row["label"].split()[0])
            assert blobs == row["count"]


def test_count_qa_asks_the_count_of_the_same_kind_of_scene():
    for row in generate_rows("count_qa", 20, seed=3):
        match = re.fullmatch(r"How many (\w+) (\w+)s are there\?", row["question"])
        assert match
        _, blobs = _blobs(_pixels(row), match[1])
        assert str(blobs) == row["answer"]


def test_clock_text_is_the_time_drawn_by_its_fields():
    for row in generate_rows("clock", 20, seed=0):
        expected = f"{row['hour_visible']}:{row['minute_visible']:02d}"
        if row["shows_seconds"]:
            expected += f":{row['second_visible']:02d}"
        assert row["text"] == expected and 1 <= row["hour_visible"] <= 12


def test_chart_answers_name_the_largest_bar_and_a_printed_value():
    for row in generate_rows("chart", 20, seed=0):
        value_question, largest_question = row["questions"]["question"]
        value, largest = row["questions"]["answer"]
        assert value_question.startswith("What is the value of ") and 1 <= int(value) <= 9
        assert largest_question == "Which category has the largest value?" and largest.isalpha()


def test_same_seed_same_bytes_other_seed_held_out():
    for task in TASKS:
        first, again = generate_rows(task, 5, seed=0), generate_rows(task, 5, seed=0)
        held_out = generate_rows(task, 5, seed=1)
        assert [r["image"] for r in first] == [r["image"] for r in again]
        assert not {r["image_sha256"] for r in first} & {r["image_sha256"] for r in held_out}


def test_rows_can_be_made_from_any_start():
    whole = generate_rows("text", 6, seed=2)
    assert generate_rows("text", 3, seed=2, start=3) == whole[3:]


def test_examples_come_through_the_pixmo_readers():
    (example,) = list(generate_examples("count", 1, seed=0))
    (annotation,) = example.annotations
    assert annotation.style == "point_count" and all(0 <= c <= 100 for p in annotation.points for c in p)
    assert example.source == "pixmo_count"
    caption = generate_examples("caption", 1, seed=0)[0]
    assert [a.style for a in caption.annotations] == ["long_caption", "transcript"]


@pytest.mark.parametrize("size", [96, 128])
def test_shape_scenes_are_lossless_pngs_in_the_palette_alone(size):
    """Counting by colour needs exact colours: PNG (no JPEG blur), no anti-aliased edges, nothing but the background
    and the palette. (How fast rows are made is measured in bench/synthetic_images.py.)"""
    allowed = {BACKGROUND, *COLORS.values()}
    for task in ("count", "count_qa", "count_qa_plain", "points"):
        for row in generate_rows(task, 10, seed=4, size=size):
            image = Image.open(io.BytesIO(row["image"]))
            assert (image.format, image.mode, image.size) == ("PNG", "RGB", (size, size))
            colours = {tuple(int(c) for c in pixel) for pixel in np.asarray(image).reshape(-1, 3)}
            assert colours <= allowed and len(colours) > 1, task
