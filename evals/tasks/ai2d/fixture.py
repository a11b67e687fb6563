"""AI2D fixture rows: diagrams of labelled boxes and arrows (life cycles, food chains), four options, the answer as
the option index, as lmms-lab-encoder/ai2d's test split holds them."""

from __future__ import annotations

import itertools
import random
import re
from typing import Any

from evals.fixtures.checks import picked
from evals.fixtures.common import Example, image_cell
from evals.fixtures.draw import INK
from evals.items import EvalItem
from molmo.data.drawing import arrow, canvas, centered_text, png, text_box

_CYCLES = {
    "life cycle of a butterfly": ["egg", "caterpillar", "pupa", "butterfly"],
    "life cycle of a frog": ["egg", "tadpole", "froglet", "adult frog"],
    "water cycle": ["evaporation", "condensation", "precipitation", "collection"],
    "life cycle of a plant": ["seed", "sprout", "seedling", "mature plant"],
}


_FOOD_CHAINS = (
    ["grass", "grasshopper", "frog", "snake", "hawk"],
    ["algae", "shrimp", "small fish", "seal", "shark"],
    ["leaves", "caterpillar", "sparrow", "cat"],
)


_BOX_FILL = (225, 238, 250)


def _boxes(draw: Any, centers: list[tuple[int, int]], names: list[str]) -> list[tuple[int, int, int, int]]:
    boxes = []
    for (x, y), name in zip(centers, names, strict=True):
        box = (x - 62, y - 20, x + 62, y + 20)
        draw.rectangle(box, fill=_BOX_FILL, outline=INK, width=2)
        centered_text(draw, box, name, 13)
        boxes.append(box)
    return boxes


def _cycle_diagram(title: str, stages: list[str]) -> bytes:
    """Stages clockwise from the top, each arrow pointing to the next stage."""
    image, draw = canvas(384, 384, (255, 255, 255))
    text_box(draw, (12, 8), title.capitalize(), 14, bold=True)
    centers = [(192, 80), (300, 200), (192, 320), (84, 200)]
    _boxes(draw, centers, stages)
    ends = [
        ((250, 95), (290, 175)),
        ((290, 225), (250, 305)),
        ((134, 305), (94, 225)),
        ((94, 175), (134, 95)),
    ]
    for start, end in ends:
        arrow(draw, start, end, INK)
    return png(image)


def _chain_diagram(chain: list[str]) -> bytes:
    """A food chain top to bottom; arrows point from the food to the organism that eats it."""
    image, draw = canvas(384, 384, (255, 255, 255))
    text_box(draw, (12, 8), "Food chain", 14, bold=True)
    step = 320 // len(chain)
    centers = [(192, 60 + step * k) for k in range(len(chain))]
    boxes = _boxes(draw, centers, chain)
    for upper, lower in itertools.pairwise(boxes):
        arrow(draw, (192, upper[3] + 2), (192, lower[1] - 2), INK)
    return png(image)


def generate(rng: random.Random, n: int) -> list[Example]:
    """lmms-lab-encoder/ai2d test: diagrams of labelled boxes and arrows, four options, the answer as the option
    index."""
    examples = []
    for i in range(n):
        if i % 2 == 0:
            title = rng.choice(sorted(_CYCLES))
            stages = _CYCLES[title]
            start = rng.randrange(4)
            order = stages[start:] + stages[:start]
            image = _cycle_diagram(title, order)
            k = rng.randrange(4)
            if rng.random() < 0.5:
                question, correct = (
                    f"In the {title}, which stage comes right after {order[k]}?",
                    order[(k + 1) % 4],
                )
            else:
                question, correct = (
                    f"In the {title}, which stage comes right before {order[k]}?",
                    order[k - 1],
                )
            options = rng.sample(order, 4)
        else:
            order = list(rng.choice(_FOOD_CHAINS))
            image = _chain_diagram(order)
            k = rng.randrange(1, len(order))
            if rng.random() < 0.5:
                question, correct = f"In the food chain shown, what does the {order[k]} eat?", order[k - 1]
            else:
                question, correct = "Which organism is the top predator in this food chain?", order[-1]
            options = [*rng.sample([o for o in order if o != correct], 3), correct]
            rng.shuffle(options)
        examples.append(
            Example(
                row={
                    "question": question,
                    "options": options,
                    "answer": str(options.index(correct)),
                    "image": image_cell(image),
                },
                truth={"order": order, "correct": correct},
            )
        )
    return examples


def features() -> Any:
    """The hub dataset's `datasets` features (its dataset card): column order, dtypes, image columns."""
    from datasets import Features, Image, List, Value

    string, strings = Value("string"), List(Value("string"))
    return Features({"question": string, "options": strings, "answer": string, "image": Image()})


def check(item: EvalItem, truth: dict) -> None:
    """The answer is the stage or organism the question asks for, among four distinct options."""
    order, answer = truth["order"], picked(item)
    assert answer == truth["correct"]
    if match := re.search(r"comes right (after|before) (.+)\?", item.question):
        step = 1 if match[1] == "after" else -1
        assert answer == order[(order.index(match[2]) + step) % len(order)]
    elif match := re.search(r"what does the (.+) eat\?", item.question):
        assert answer == order[order.index(match[1]) - 1]
    else:
        assert answer == order[-1]
    assert len(item.choices) == 4 and len(set(item.choices)) == 4
