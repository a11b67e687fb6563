"""RealWorldQA fixture rows: driving scenes (cars, a traffic light) with the options in the question text, as x.ai
wrote them, and a few short-answer questions, as lmms-lab-encoder/RealWorldQA's test split holds them."""

from __future__ import annotations

import random
from typing import Any

from evals.fixtures.checks import picked, pixels
from evals.fixtures.common import Example, image_cell
from evals.fixtures.draw import COLORS, SKY
from evals.items import EvalItem
from molmo.data.drawing import canvas, jpeg

_LIGHT_COLORS = ("Red", "Yellow", "Green")


_LETTER_ONLY = "Please answer directly with only the letter of the correct option and nothing else."


_SHORT_ONLY = "Please answer directly with a single word or number."


def _road_scene(rng: random.Random, cars: int, light: str) -> tuple[bytes, list[tuple[str, int]]]:
    """A road seen from a vehicle: cars of distinct colours in a row, and a traffic light with one lamp lit."""
    width, height = 448, 252
    image, draw = canvas(width, height, SKY)
    horizon = height * 2 // 5
    draw.rectangle((0, horizon, width, height), fill=(120, 160, 90))
    draw.polygon(
        [(width * 0.42, horizon), (width * 0.58, horizon), (width, height), (0, height)], fill=(95, 95, 100)
    )
    for y in range(horizon + 6, height, 22):
        draw.line([(width / 2, y), (width / 2, y + 10)], fill=(245, 245, 245), width=3)
    placed = []
    for slot, color in zip(sorted(rng.sample(range(5), cars)), rng.sample(list(COLORS), cars), strict=True):
        x, y = 100 + slot * 62, int(height * 0.78)
        draw.rectangle((x - 30, y - 16, x + 30, y + 12), fill=COLORS[color])
        draw.rectangle((x - 18, y - 26, x + 18, y - 16), fill=(40, 40, 50))
        for wheel in (x - 20, x + 20):
            draw.ellipse((wheel - 7, y + 6, wheel + 7, y + 20), fill=(20, 20, 20))
        placed.append((color, x))
    draw.rectangle((width - 44, 100, width - 38, horizon + 30), fill=(60, 60, 60))
    draw.rectangle((width - 56, 28, width - 26, 104), fill=(30, 30, 30))
    for k, lamp in enumerate(_LIGHT_COLORS):
        lit = {"Red": (230, 30, 30), "Yellow": (240, 200, 30), "Green": (40, 200, 70)}[lamp]
        draw.ellipse(
            (width - 50, 33 + 24 * k, width - 32, 51 + 24 * k), fill=lit if lamp == light else (70, 70, 70)
        )
    return jpeg(image, quality=85), placed


def _with_options(question: str, options: list[str]) -> str:
    lines = [f"{chr(ord('A') + k)}. {option}" for k, option in enumerate(options)]
    return "\n".join([question, *lines, _LETTER_ONLY])


def generate(rng: random.Random, n: int) -> list[Example]:
    """lmms-lab-encoder/RealWorldQA test: driving scenes; options live in the question text, as x.ai wrote them."""
    examples = []
    for i in range(n):
        cars, light = rng.randint(1, 4), rng.choice(_LIGHT_COLORS)
        image, placed = _road_scene(rng, cars, light)
        kind = 0 if i % 4 == 2 and cars == 1 else i % 4  # left/right needs two cars: ask for the count
        if kind == 0:
            options = [str(k) for k in sorted([*rng.sample([k for k in range(1, 6) if k != cars], 3), cars])]
            question, value = _with_options("How many cars are on the road?", options), str(cars)
        elif kind == 1:
            options = list(_LIGHT_COLORS)
            question, value = _with_options("What color is the traffic light?", options), light
        elif kind == 2:
            (first, x1), (second, x2) = rng.sample(placed, 2)
            options = ["Left", "Right"]
            question = _with_options(
                f"Is the {first} car to the left or to the right of the {second} car?", options
            )
            value = "Left" if x1 < x2 else "Right"
        else:
            options = None
            question, value = f"How many cars are on the road?\n{_SHORT_ONLY}", str(cars)
        answer = value if options is None else chr(ord("A") + options.index(value))
        examples.append(
            Example(
                row={"question": question, "answer": answer, "image": image_cell(image)},
                truth={"value": value, "cars": placed, "light": light},
            )
        )
    return examples


def features() -> Any:
    """The hub dataset's `datasets` features (its dataset card): column order, dtypes, image columns."""
    from datasets import Features, Image, Value

    string = Value("string")
    return Features({"question": string, "answer": string, "image": Image()})


def check(item: EvalItem, truth: dict) -> None:
    """The answer is the drawn count or the lit lamp of the traffic light."""
    value = picked(item) if item.choices else item.answers[0]
    assert value == truth["value"]
    if "How many cars" in item.question:
        assert value == str(len(truth["cars"]))
    if "traffic light" in item.question:
        lamp = ("Red", "Yellow", "Green").index(value)
        red, green, _ = pixels(item.image)[42 + 24 * lamp, 448 - 41]
        assert (red > 150, green > 150) == {"Red": (True, False), "Yellow": (True, True), "Green": (False, True)}[value]
