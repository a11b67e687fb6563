"""Seeded synthetic PixMo-like data, drawn with PIL, with the true answer of every question known.

Each task draws small images and writes rows in the schema of one PixMo dataset, so the same readers
(`pixmo.py`) and formatting serve real and synthetic data alike:

    task     draws                                            rows in the schema of
    count    1-5 shapes of one colour and kind to count,      pixmo_count  (points in pixels, count, label)
             among distractors of other colours
    count_qa the same scenes as plain questions               vqa (question, answer: TallyQA-like)
    count_qa_plain  the same questions with no distractors    vqa
    points   a scene of shape groups; 1-3 rows per image      pixmo_points (several labels per image, some
             (one per asked label)                                          with no instance: "There are none.")
    text     words and numbers in colours                     pixmo_docs_other (questions about the text)
    clock    an analogue clock face                           pixmo_clocks (the shown time as text)
    chart    a bar chart with category labels and values      pixmo_docs_charts (value / largest questions)
    caption  a shape scene or a bar chart with its caption    pixmo_cap (caption + a spoken-style transcript)

Row i of a split is drawn from `numpy.random.default_rng((seed, task, i))`, so rows can be made in any
order and a split is a seed: train with seed 0, hold out with seed 1 (the images differ, the task not).
Distractor shapes never share the target's colour, so the target can be counted by colour alone (the
tests do that). Images are PNG (lossless: colours stay exact), drawn with the toolkit the benchmark fixtures
use too (`molmo.data.drawing`); `bench/synthetic_images.py` times them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from molmo.data.drawing import INK, SHAPES, canvas, draw_shape, palette, pillow_font, png
from molmo.data.pixmo import ExampleSource

COLORS = palette((220, 30, 30), (30, 160, 60), (30, 70, 220), (235, 200, 20), (140, 50, 170), (245, 130, 20))
WORDS = ("cat", "tree", "moon", "river", "lamp", "stone", "bird", "cloud", "apple", "train", "chair", "book")
CATEGORIES = ("fig", "kiwi", "lime", "plum", "pear", "date", "yam", "nut")  # short enough to print in full
NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
BACKGROUND = (250, 250, 250)

Row = dict[str, Any]


def _image_fields(image: Image.Image) -> Row:
    """The image columns every synthetic row carries: the PNG bytes and their sha256."""
    data = png(image, fast=True)
    return {"image": data, "image_sha256": hashlib.sha256(data).hexdigest()}


def _draw_shape(draw: ImageDraw.ImageDraw, shape: str, cx: float, cy: float, r: float, fill: tuple) -> None:
    """A shape of "radius" r around (cx, cy); a triangle is flatter (1.8 r high), its centroid near (cx, cy)."""
    bottom = cy + r * 0.8 if shape == "triangle" else cy + r
    draw_shape(draw, shape, (cx - r, cy - r, cx + r, bottom), fill)


def _scene(
    rng: np.random.Generator, size: int, groups: list[tuple[str, str, int]]
) -> tuple[Image.Image, list[list[tuple[float, float]]]]:
    """Draw groups of (colour, shape, count) in distinct cells of a 4x4 grid: no two shapes overlap.

    Returns the image and, per group, the shape centres in pixels.
    """
    cells_per_side = 4
    cell = size / cells_per_side
    image, draw = canvas(size, size, BACKGROUND)
    cells = rng.permutation(cells_per_side * cells_per_side)
    centres: list[list[tuple[float, float]]] = []
    taken = 0
    for colour, shape, count in groups:
        group = []
        for cell_index in cells[taken : taken + count]:
            row, col = divmod(int(cell_index), cells_per_side)
            radius = cell * rng.uniform(0.22, 0.34)
            slack = cell / 2 - radius - 1
            cx = (col + 0.5) * cell + rng.uniform(-slack, slack)
            cy = (row + 0.5) * cell + rng.uniform(-slack, slack)
            _draw_shape(draw, shape, cx, cy, radius, COLORS[colour])
            group.append((round(cx, 2), round(cy, 2)))
        taken += count
        centres.append(group)
    return image, centres


def _label(colour: str, shape: str) -> str:
    return f"{colour} {shape}s"


def _distractors(rng: np.random.Generator, target_colour: str, slots: int) -> list[tuple[str, str, int]]:
    """Up to two groups of shapes in colours other than the target's, filling at most `slots` cells."""
    others = [c for c in COLORS if c != target_colour]
    groups = []
    for _ in range(int(rng.integers(0, 3))):
        count = int(rng.integers(0, min(3, slots) + 1))
        if count:
            groups.append((str(rng.choice(others)), str(rng.choice(SHAPES)), count))
            slots -= count
    return groups


def count_row(rng: np.random.Generator, size: int, min_count: int = 1, max_count: int = 5,
              distractors: bool = True) -> Row:
    """A PixMo-Count row: `count` shapes of one colour and kind, among distractors unless told otherwise."""
    colour, shape = str(rng.choice(list(COLORS))), str(rng.choice(SHAPES))
    count = int(rng.integers(min_count, max_count + 1))
    groups = [(colour, shape, count), *(_distractors(rng, colour, 16 - count) if distractors else [])]
    image, centres = _scene(rng, size, groups)
    points = [{"x": x, "y": y} for x, y in centres[0]]
    return {**_image_fields(image), "image_url": "", "count": count, "points": points, "label": _label(colour, shape)}


def count_qa_row(rng: np.random.Generator, size: int, min_count: int = 1, max_count: int = 5,
                 distractors: bool = True) -> Row:
    """The same counting scene as a VQA row (TallyQA-like): the question and the number, no points."""
    row = count_row(rng, size, min_count, max_count, distractors)
    return {"image": row["image"], "image_sha256": row["image_sha256"],
            "question": f"How many {row['label']} are there?", "answer": str(row["count"])}


def points_rows(rng: np.random.Generator, size: int) -> list[Row]:
    """PixMo-Points rows for one scene: one row per asked label, sometimes a label that is absent."""
    colours = [str(c) for c in rng.choice(list(COLORS), size=3, replace=False)]
    groups = [(c, str(rng.choice(SHAPES)), int(rng.integers(1, 5))) for c in colours[: int(rng.integers(1, 3))]]
    image, centres = _scene(rng, size, groups)
    fields = {**_image_fields(image), "image_url": ""}
    rows = [
        {**fields, "points": [{"x": x, "y": y} for x, y in pts], "count": len(pts), "label": _label(c, s),
         "collection_method": "pointing"}
        for (c, s, _), pts in zip(groups, centres, strict=True)
    ]
    if rng.random() < 0.3:  # a label with no instance in the image
        rows.append({**fields, "points": [], "count": 0, "label": _label(colours[2], str(rng.choice(SHAPES))),
                     "collection_method": "pointing"})
    return rows


def text_row(rng: np.random.Generator, size: int) -> Row:
    """A PixMo-Docs ("other") row: a word and a number in two colours, with questions about them."""
    image, draw = canvas(size, size, BACKGROUND)
    word, number = str(rng.choice(WORDS)), str(int(rng.integers(0, 1000)))
    word_colour, number_colour = (str(c) for c in rng.choice(list(COLORS), size=2, replace=False))
    font = pillow_font(max(10, size // 6))
    top = int(rng.integers(2, size // 4))
    for text, colour, y in ((word, word_colour, top), (number, number_colour, top + size // 2)):
        x = int(rng.integers(2, max(3, size - int(draw.textlength(text, font=font)) - 2)))
        draw.text((x, y), text, fill=COLORS[colour], font=font)
    questions = {
        "question": ["What number is written in the image?", f"What word is written in {word_colour}?",
                     f"What colour is the number {number} written in?"],
        "answer": [number, word, number_colour],
    }
    return {**_image_fields(image), "image_id": "", "questions": questions}


def clock_row(rng: np.random.Generator, size: int) -> Row:
    """A PixMo-Clocks row: an analogue face showing hour:minute (and seconds on about half of them)."""
    hour, minute = int(rng.integers(1, 13)), int(rng.integers(0, 60))
    shows_seconds = bool(rng.random() < 0.5)
    second = int(rng.integers(0, 60)) if shows_seconds else -1
    image, draw = canvas(size, size, BACKGROUND)
    c, r = size / 2, size * 0.45
    draw.ellipse((c - r, c - r, c + r, c + r), outline=INK, width=max(1, size // 40))
    for tick in range(12):
        angle = 2 * math.pi * tick / 12
        inner = r * (0.8 if tick % 3 == 0 else 0.88)
        draw.line((c + inner * math.sin(angle), c - inner * math.cos(angle),
                   c + r * math.sin(angle), c - r * math.cos(angle)), fill=INK, width=max(1, size // 64))

    def hand(fraction: float, length: float, width: int, colour: tuple[int, int, int]) -> None:
        angle = 2 * math.pi * fraction
        draw.line((c, c, c + length * math.sin(angle), c - length * math.cos(angle)), fill=colour, width=width)

    hand(((hour % 12) + minute / 60) / 12, r * 0.5, max(2, size // 24), INK)
    hand((minute + max(second, 0) / 60) / 60, r * 0.8, max(1, size // 40), INK)
    if shows_seconds:
        hand(second / 60, r * 0.85, 1, COLORS["red"])
    text = f"{hour}:{minute:02d}" + (f":{second:02d}" if shows_seconds else "")
    return {**_image_fields(image), "example_id": "", "watchface_id": "synthetic", "time_format": "Without AM/PM",
            "shows_seconds": shows_seconds, "hour_visible": hour, "minute_visible": minute, "second_visible": second,
            "text": text}


def _bar_chart(rng: np.random.Generator, size: int) -> tuple[Image.Image, list[str], list[int]]:
    """A bar chart of 3-5 categories with integer values 1-9 written above the bars."""
    n = int(rng.integers(3, 6))
    categories = [str(c) for c in rng.choice(CATEGORIES, size=n, replace=False)]
    values = [int(v) for v in rng.integers(1, 10, size=n)]
    image, draw = canvas(size, size, BACKGROUND)
    font = pillow_font(max(8, size // 12))
    base, top, slot = size * 0.85, size * 0.15, size / n
    scale = (base - top) / max(values)
    colour = COLORS[str(rng.choice(list(COLORS)))]
    draw.line((0, base, size, base), fill=INK, width=1)
    for k, (category, value) in enumerate(zip(categories, values, strict=True)):
        left, right = k * slot + slot * 0.2, (k + 1) * slot - slot * 0.2
        draw.rectangle((left, base - value * scale, right, base), fill=colour)
        draw.text(((left + right) / 2, base - value * scale - 1), str(value), fill=INK, font=font, anchor="mb")
        draw.text(((left + right) / 2, base + 2), category, fill=INK, font=font, anchor="mt")
    return image, categories, values


def chart_row(rng: np.random.Generator, size: int) -> Row:
    """A PixMo-Docs ("charts") row: a bar chart with questions about a value and the largest bar."""
    image, categories, values = _bar_chart(rng, size)
    asked = int(rng.integers(len(categories)))
    largest = categories[int(np.argmax(values))]  # ties go to the first bar, as the question reads left to right
    questions = {
        "question": [f"What is the value of {categories[asked]}?", "Which category has the largest value?"],
        "answer": [str(values[asked]), largest],
    }
    return {**_image_fields(image), "image_id": "", "questions": questions}


def caption_row(rng: np.random.Generator, size: int) -> Row:
    """A PixMo-Cap row: a shape scene or a bar chart, a caption listing what is drawn, and a transcript."""
    if rng.random() < 0.5:
        image, categories, values = _bar_chart(rng, size)
        listing = ", ".join(f"{c} {v}" for c, v in zip(categories, values, strict=True))
        caption = f"A bar chart with {len(values)} bars on a white background. The values are {listing}."
        transcript = f"so this is a bar chart um with {NUMBER_WORDS[len(values)]} bars showing {listing}"
    else:
        colours = [str(c) for c in rng.choice(list(COLORS), size=2, replace=False)]
        groups = [(c, str(rng.choice(SHAPES)), int(rng.integers(1, 5))) for c in colours]
        image, _ = _scene(rng, size, groups)
        parts = [f"{NUMBER_WORDS[n]} {_label(c, s) if n > 1 else f'{c} {s}'}" for c, s, n in groups]
        caption = f"A white image showing {' and '.join(parts)}. The shapes do not overlap."
        transcript = f"okay I see {' and also '.join(parts)} on a white background"
    return {**_image_fields(image), "image_url": "", "caption": caption, "transcripts": [transcript]}


# task -> (rows for one image, the PixMo schema they follow)
TASKS: dict[str, tuple[Callable[[np.random.Generator, int], Row | list[Row]], str]] = {
    "count": (count_row, "pixmo_count"),
    "count_qa": (count_qa_row, "vqa"),
    "count_qa_plain": (functools.partial(count_qa_row, distractors=False), "vqa"),  # only the shapes to count
    "points": (points_rows, "pixmo_points"),
    "text": (text_row, "pixmo_docs_other"),
    "clock": (clock_row, "pixmo_clocks"),
    "chart": (chart_row, "pixmo_docs_charts"),
    "caption": (caption_row, "pixmo_cap"),
}


def generate_rows(task: str, n: int, seed: int = 0, size: int = 128, start: int = 0) -> list[Row]:
    """Rows for images start .. start + n - 1 of a task's split `seed`, in the task's PixMo schema."""
    if task not in TASKS:
        raise ValueError(f"unknown synthetic task {task!r}; known: {', '.join(TASKS)}")
    make, _ = TASKS[task]
    task_id = list(TASKS).index(task)
    rows: list[Row] = []
    for i in range(start, start + n):
        made = make(np.random.default_rng((seed, task_id, i)), size)
        rows.extend(made if isinstance(made, list) else [made])
    return rows


def generate_examples(task: str, n: int, seed: int = 0, size: int = 128, style: str | None = None) -> ExampleSource:
    """n images of a task as Examples, read through the same reader as the real PixMo dataset."""
    _, schema = TASKS[task]
    return ExampleSource(schema, generate_rows(task, n, seed, size), f"synthetic:{task}:seed{seed}", style=style)


def write_rows(rows: list[Row], path: str | Path) -> Path:
    """Write rows as a Parquet file, or as JSON lines with the images as PNG files beside it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), path)
    elif path.suffix == ".jsonl":
        image_dir = path.parent / f"{path.stem}_images"
        image_dir.mkdir(exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            for row in rows:
                name = f"{row['image_sha256']}.png"
                (image_dir / name).write_bytes(row["image"])
                fields = {k: v for k, v in row.items() if k != "image"}
                handle.write(json.dumps({**fields, "image_path": f"{image_dir.name}/{name}"}) + "\n")
    else:
        raise ValueError(f"{path}: write .parquet or .jsonl")
    return path
