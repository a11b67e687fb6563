"""TextVQA fixture rows: scene text on signs, shirts and bottles, with ten answers (some disagreement) and the OCR
tokens, as lmms-lab-encoder/textvqa's validation split holds them."""

from __future__ import annotations

import random
from typing import Any

from evals.fixtures.common import Example, image_cell
from evals.fixtures.draw import COLORS
from evals.fixtures.scenes import annotators
from evals.items import EvalItem
from molmo.data.drawing import canvas, centered_text, jpeg

# (what carries the text, question, possible texts, OpenImages-style image class)
_SIGNS = (
    (
        "store",
        "What is the name of the store?",
        ("PIXEL CAFE", "SUNRISE BAKERY", "BLUE MOON", "CITY BOOKS"),
        "Building",
    ),
    ("street", "What street is this?", ("MAIN ST", "OAK AVE", "HILL RD", "PARK LN"), "Street sign"),
    ("jersey", "What number is on the shirt?", ("7", "12", "23", "88"), "Clothing"),
    ("brand", "What brand is the drink?", ("ACME", "ZESTO", "KOLA", "FIZZ"), "Bottle"),
)


def generate(rng: random.Random, n: int) -> list[Example]:
    """lmms-lab-encoder/textvqa validation: scene text on signs, shirts and bottles, with 10 answers incl.
    disagreement."""
    examples = []
    for i in range(n):
        kind, question, texts, image_class = _SIGNS[i % len(_SIGNS)]
        text = rng.choice(texts)
        image, draw = canvas(320, 240, (180, 170, 160))
        board_color = rng.choice(list(COLORS.values()))
        if kind == "jersey":
            draw.polygon(
                [(110, 40), (210, 40), (250, 90), (225, 105), (215, 230), (105, 230), (95, 105), (70, 90)],
                fill=board_color,
            )
            centered_text(draw, (105, 80, 215, 200), text, 64, fill=(250, 250, 250))
        elif kind == "brand":
            draw.rectangle((125, 40, 195, 225), fill=(60, 120, 60))
            draw.rectangle((118, 110, 202, 170), fill=(250, 250, 240))
            centered_text(draw, (118, 110, 202, 170), text, 20, fill=(200, 20, 20))
        else:
            draw.rectangle((30, 70, 290, 150), fill=board_color)
            centered_text(draw, (30, 70, 290, 150), text, 26, fill=(250, 250, 250))
        answer = text.lower()
        answers = annotators(rng, answer, answer.split()[0] if " " in answer else "unanswerable", text)
        examples.append(
            Example(
                row={
                    "image_id": f"{rng.getrandbits(64):016x}",
                    "question_id": 34602 + i,
                    "question": question,
                    "question_tokens": question.rstrip("?").lower().split(),
                    "image": image_cell(jpeg(image)),
                    "image_width": 320,
                    "image_height": 240,
                    "flickr_original_url": "",
                    "flickr_300k_url": "",
                    "answers": answers,
                    "image_classes": [image_class],
                    "set_name": "val",
                    "ocr_tokens": text.lower().split(),
                },
                truth={"answer": answer, "text": text},
            )
        )
    return examples


def features() -> Any:
    """The hub dataset's `datasets` features (its dataset card): column order, dtypes, image columns."""
    from datasets import Features, Image, List, Value

    string, strings = Value("string"), List(Value("string"))
    return Features({
        "image_id": string,
        "question_id": Value("int32"),
        "question": string,
        "question_tokens": strings,
        "image": Image(),
        "image_width": Value("int32"),
        "image_height": Value("int32"),
        "flickr_original_url": string,
        "flickr_300k_url": string,
        "answers": strings,
        "image_classes": strings,
        "set_name": string,
        "ocr_tokens": strings,
    })


def check(item: EvalItem, truth: dict) -> None:
    """Most annotators give the printed text, which the OCR tokens hold."""
    assert sum(a.lower() == truth["answer"] for a in item.answers) >= 7
    assert item.meta["ocr_tokens"] == truth["text"].lower().split()
