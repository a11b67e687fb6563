"""CountBenchQA fixture rows: 2-10 objects on a plain background and a caption naming the count (as CountBench's
do), as vikhyatk/CountBenchQA's test split holds them."""

from __future__ import annotations

import random
from typing import Any

from evals.fixtures.checks import check_count
from evals.fixtures.common import NUMBER_WORDS, Example, image_cell
from evals.fixtures.scenes import COUNTABLES, count_scene


def generate(rng: random.Random, n: int) -> list[Example]:
    """vikhyatk/CountBenchQA test: 2-10 objects, a caption naming the count (as CountBench's do), the number."""
    examples = []
    for _ in range(n):
        noun, kind, color = rng.choice(COUNTABLES)
        count = rng.randint(2, 10)
        image, shapes = count_scene(rng, (kind, color), count, [])
        examples.append(
            Example(
                row={
                    "image": image_cell(image),
                    "text": f"{NUMBER_WORDS[count].capitalize()} {color} {noun} on a white background.",
                    "question": f"How many {noun} are there in the image?",
                    "number": count,
                },
                truth={"color": color, "shapes": shapes},
            )
        )
    return examples


def features() -> Any:
    """The hub dataset's `datasets` features (its dataset card): column order, dtypes, image columns."""
    from datasets import Features, Image, Value

    string = Value("string")
    return Features({"image": Image(), "text": string, "question": string, "number": Value("int32")})


check = check_count
