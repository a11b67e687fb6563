"""PixMo-Count fixture rows: 2-10 target objects among distractors of another kind and colour, the question with
the `<image>` token, as kcz358/pixmo-count's test split holds them."""

from __future__ import annotations

import random
from typing import Any

from evals.fixtures.checks import check_count
from evals.fixtures.common import Example, image_cell
from evals.fixtures.scenes import COUNTABLES, count_scene


def generate(rng: random.Random, n: int) -> list[Example]:
    """kcz358/pixmo-count test: 2-10 target objects among distractors of another kind and colour."""
    examples = []
    for _ in range(n):
        (noun, kind, color), other = rng.sample(COUNTABLES, 2)
        count = rng.randint(2, 10)
        image, shapes = count_scene(rng, (kind, color), count, [(other[1], other[2])] * rng.randint(0, 4))
        examples.append(
            Example(
                row={
                    "image": image_cell(image),
                    "question": f"<image>\nHow many {noun} are there?",
                    "answer": str(count),
                },
                truth={"color": color, "shapes": shapes},
            )
        )
    return examples


def features() -> Any:
    """The hub dataset's `datasets` features (its dataset card): column order, dtypes, image columns."""
    from datasets import Features, Image, Value

    string = Value("string")
    return Features({"image": Image(), "question": string, "answer": string})


check = check_count
