"""VQA v2 fixture rows: scenes of flat-coloured shapes with colour, yes/no and counting questions and ten annotator
answers each (some dissent, some number words), as lmms-lab-encoder/VQAv2's validation split holds them."""

from __future__ import annotations

import random
import re
from typing import Any

from evals.fixtures.checks import blobs, pixels
from evals.fixtures.common import NUMBER_WORDS, Example, image_cell
from evals.fixtures.draw import COLORS, SKY, Shape
from evals.fixtures.scenes import annotators
from evals.items import EvalItem
from molmo.data.drawing import SHAPES, canvas, grid_boxes, png

GROUND = (222, 210, 180)


# A plausible wrong answer per colour, for annotators who disagree.
_CONFUSED_COLOR = {
    "red": "orange",
    "orange": "red",
    "green": "blue",
    "blue": "purple",
    "purple": "blue",
    "yellow": "orange",
}


def _shape_scene(rng: random.Random, width: int, height: int, n: int) -> tuple[bytes, list[Shape]]:
    image, draw = canvas(width, height, SKY)
    draw.rectangle((0, height * 3 // 5, width, height), fill=GROUND)
    shapes = [
        Shape(rng.choice(SHAPES), rng.choice(list(COLORS)), box)
        for box in grid_boxes(rng, n, (8, 8, width - 8, height - 8), size=44)
    ]
    for shape in shapes:
        shape.draw(draw)
    return png(image), shapes


def generate(rng: random.Random, n: int) -> list[Example]:
    """lmms-lab-encoder/VQAv2 validation: colour, counting and yes/no questions with 10 annotator answers each."""
    examples = []
    for i in range(n):
        image, shapes = _shape_scene(rng, 320, 240, rng.randint(2, 6))
        unique = [s for s in shapes if sum(t.kind == s.kind for t in shapes) == 1]
        target = None
        if i % 3 == 0 and unique:
            target = rng.choice(unique)
            question, answer = f"What color is the {target.kind}?", target.color
            wrong, variant = _CONFUSED_COLOR[target.color], None
            question_type, answer_type = "what color is the", "other"
        elif i % 3 == 1:
            kind, color = rng.choice(SHAPES), rng.choice(list(COLORS))
            present = any(s.kind == kind and s.color == color for s in shapes)
            if not present and rng.random() < 0.5:
                kind, color = shapes[0].kind, shapes[0].color
                present = True
            question, answer = f"Is there a {color} {kind}?", "yes" if present else "no"
            wrong, variant = ("no" if present else "yes"), None
            question_type, answer_type = "is there a", "yes/no"
        else:
            kind = rng.choice(shapes).kind
            count = sum(s.kind == kind for s in shapes)
            question, answer = f"How many {kind}s are there?", str(count)
            wrong, variant = str(count + 1), NUMBER_WORDS[count]
            question_type, answer_type = "how many", "number"
        answers = annotators(rng, answer, wrong, variant)
        image_id = 100000 + i
        examples.append(
            Example(
                row={
                    "question_type": question_type,
                    "multiple_choice_answer": answer,
                    "answers": [
                        {
                            "answer": a,
                            "answer_confidence": "yes" if a == answer else "maybe",
                            "answer_id": k + 1,
                        }
                        for k, a in enumerate(answers)
                    ],
                    "image_id": image_id,
                    "answer_type": answer_type,
                    "question_id": image_id * 1000,
                    "question": question,
                    "image": image_cell(image),
                },
                truth={"answer": answer, "shapes": shapes, "target": target},
            )
        )
    return examples


def features() -> Any:
    """The hub dataset's `datasets` features (its dataset card): column order, dtypes, image columns."""
    from datasets import Features, Image, List, Value

    string = Value("string")
    return Features({
        "question_type": string,
        "multiple_choice_answer": string,
        "answers": List({"answer": string, "answer_confidence": string, "answer_id": Value("int64")}),
        "image_id": Value("int64"),
        "answer_type": string,
        "question_id": Value("int64"),
        "question": string,
        "image": Image(),
    })


def check(item: EvalItem, truth: dict) -> None:
    """Most annotators give the truth; the shapes are on the pixels; the answer follows from them."""
    shapes, answer = truth["shapes"], truth["answer"]
    words = {"one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6"}
    assert sum(words.get(a, a) == answer for a in item.answers) >= 6 and len(item.answers) == 10
    assert sum(blobs(item.image, COLORS[color]) for color in {s.color for s in shapes}) == len(shapes)
    if truth["target"] is not None:
        target = truth["target"]
        assert tuple(pixels(item.image)[target.center[1], target.center[0]]) == COLORS[answer]
    elif match := re.fullmatch(r"How many (\w+)s are there\?", item.question):
        assert int(answer) == sum(s.kind == match[1] for s in shapes)
    else:
        color, kind = re.fullmatch(r"Is there a (\w+) (\w+)\?", item.question).groups()
        assert answer == ("yes" if any(s.color == color and s.kind == kind for s in shapes) else "no")
