"""OCRBench fixture rows: the 10 question types in turn, each from one of its source datasets' names, the text drawn
from the truth (words straight, rotated, styled or in another face; digit strings; signs; a form; a receipt; a
formula), the accepted answers as a list, as echo840/OCRBench's test split holds them."""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

from evals.fixtures.checks import pixels
from evals.fixtures.common import Example, image_cell
from evals.fixtures.draw import COLORS, INK, PAPER, SKY
from evals.items import EvalItem
from molmo.data.drawing import canvas, centered_text, font, pillow_font, png, text_box

TYPES = (
    ("Regular Text Recognition", ("IIIT5K", "svt", "IC13_857")),
    ("Irregular Text Recognition", ("IC15_1811", "svtp", "ct80")),
    ("Artistic Text Recognition", ("WordArt",)),
    ("Handwriting Recognition", ("IAM",)),
    ("Digit String Recognition", ("ORAND",)),
    ("Non-Semantic Text Recognition", ("NonSemanticText",)),
    ("Scene Text-centric VQA", ("STVQA", "textVQA", "ocrVQA")),
    ("Doc-oriented VQA", ("docVQA", "infographicVQA")),
    ("Key Information Extraction", ("FUNSD", "SROIE", "POIE")),
    ("Handwritten Mathematical Expression Recognition", ("HME100k",)),
)
_WORDS = ("HOTEL", "garden", "Coffee", "STATION", "market", "Library", "PARKING", "bakery")
_READ = "what is written in the image?"

# What a template returns: the image, the question, the accepted answers, the truth.
Drawn = tuple[bytes, str, list[str], dict[str, Any]]


def _word(rng: random.Random) -> Drawn:
    word = rng.choice(_WORDS)
    image, draw = canvas(240, 80, PAPER)
    centered_text(draw, (0, 0, 240, 80), word, 32)
    return png(image), _READ, [word], {"text": word}


def _rotated(rng: random.Random) -> Drawn:
    word = rng.choice(_WORDS)
    layer, draw = canvas(220, 60, PAPER)
    centered_text(draw, (0, 0, 220, 60), word, 30)
    turned = layer.rotate(rng.choice([-25, -15, 15, 25]), expand=True, fillcolor=PAPER)
    image = Image.new("RGB", (260, 200), PAPER)
    image.paste(turned, ((260 - turned.width) // 2, (200 - turned.height) // 2))
    return png(image), _READ, [word], {"text": word}


def _artistic(rng: random.Random) -> Drawn:
    word = rng.choice(_WORDS)
    image, draw = canvas(260, 100, COLORS["purple"])
    for dx, dy in ((3, 3), (0, 0)):
        draw.text((130 + dx, 50 + dy), word, font=font(36, bold=True), anchor="mm",
                  fill=INK if dx else COLORS["yellow"])
    return png(image), _READ, [word], {"text": word}


def _handwriting(rng: random.Random) -> Drawn:
    word = rng.choice(_WORDS).lower()
    image, draw = canvas(260, 90, (252, 250, 240))
    for y in (30, 60):
        draw.line([(10, y), (250, y)], fill=(170, 200, 230), width=1)
    draw.text((130, 45), word, font=pillow_font(34), anchor="mm", fill=(25, 40, 120))
    return png(image), _READ, [word], {"text": word}


def _digits(rng: random.Random) -> Drawn:
    number = "".join(rng.choice(string.digits) for _ in range(rng.randint(4, 8)))
    image, draw = canvas(240, 80, (240, 240, 235))
    centered_text(draw, (0, 0, 240, 80), number, 34)
    return png(image), "what is the number in the image?", [number], {"text": number}


def _letters(rng: random.Random) -> Drawn:
    letters = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(5, 8)))
    image, draw = canvas(240, 80, PAPER)
    centered_text(draw, (0, 0, 240, 80), letters, 32)
    return png(image), _READ, [letters], {"text": letters}


_SHOPS = ("PIXEL CAFE", "SUNRISE BAKERY", "CITY BOOKS", "BLUE MOON")


def _sign(rng: random.Random) -> Drawn:
    name = rng.choice(_SHOPS)
    image, draw = canvas(320, 240, SKY)
    draw.rectangle((0, 150, 320, 240), fill=(120, 110, 100))
    draw.rectangle((30, 60, 290, 130), fill=rng.choice([COLORS["red"], COLORS["blue"], COLORS["green"]]))
    centered_text(draw, (30, 60, 290, 130), name, 24, fill=(250, 250, 250))
    return png(image), "What is the name of the shop?", [name], {"text": name}


def _form(rng: random.Random) -> Drawn:
    number = str(rng.randint(10000, 99999))
    date = f"{rng.choice(['March', 'June', 'October'])} {rng.randint(1, 28)}, {rng.randint(1990, 2020)}"
    image, draw = canvas(300, 200, (255, 255, 255))
    text_box(draw, (20, 16), "INVOICE", 20, bold=True)
    for k, (label, value) in enumerate((("Invoice No.", number), ("Date", date))):
        text_box(draw, (20, 70 + 30 * k), f"{label}:", 13, bold=True)
        text_box(draw, (120, 70 + 30 * k), value, 13)
    return png(image), "What is the invoice number?", [number], {"text": number, "date": date}


_COMPANIES = ("FRESH MART SDN BHD", "GOLDEN LEAF TRADING", "NORTH STAR STORES")


def _receipt(rng: random.Random) -> Drawn:
    company = rng.choice(_COMPANIES)
    total = f"{rng.randint(2, 99)}.{rng.randint(0, 99):02d}"
    image, draw = canvas(240, 300, (250, 250, 250))
    text_box(draw, (16, 16), company, 13, bold=True)
    for k in range(3):
        draw.line([(16, 70 + 30 * k), (224, 70 + 30 * k)], fill=(200, 200, 200), width=1)
    text_box(draw, (16, 200), "TOTAL", 15, bold=True)
    text_box(draw, (150, 200), total, 15)
    if rng.random() < 0.5:
        return png(image), ("What is the company name in the image? Answer this question using the text in the "
                            "image directly."), [company], {"text": company}
    return png(image), "What is the total amount in the receipt?", [total], {"text": total}


def _formula(rng: random.Random) -> Drawn:
    x, power, add = rng.choice("xyab"), rng.randint(2, 3), rng.randint(1, 9)
    total = rng.randint(add + 1, 40)
    image, draw = canvas(260, 100, (255, 255, 255))
    draw.text((40, 58), x, font=pillow_font(40), anchor="ls", fill=INK)
    draw.text((64, 38), str(power), font=pillow_font(22), anchor="ls", fill=INK)
    draw.text((84, 58), f"+{add}={total}", font=pillow_font(40), anchor="ls", fill=INK)
    latex = f"{x} ^ {{ {power} }} + {add} = {total}"
    return png(image), "Please write out the expression of the formula in the image using LaTeX format.", [latex], {
        "text": latex, "parts": (x, power, add, total)}


TEMPLATES: dict[str, Callable[[random.Random], Drawn]] = {
    "Regular Text Recognition": _word,
    "Irregular Text Recognition": _rotated,
    "Artistic Text Recognition": _artistic,
    "Handwriting Recognition": _handwriting,
    "Digit String Recognition": _digits,
    "Non-Semantic Text Recognition": _letters,
    "Scene Text-centric VQA": _sign,
    "Doc-oriented VQA": _form,
    "Key Information Extraction": _receipt,
    "Handwritten Mathematical Expression Recognition": _formula,
}


def generate(rng: random.Random, n: int) -> list[Example]:
    """`n` rows, the question types in turn, each from one of its source datasets."""
    examples = []
    for i in range(n):
        question_type, datasets = TYPES[i % len(TYPES)]
        dataset = rng.choice(datasets)
        image, question, answers, truth = TEMPLATES[question_type](rng)
        row = {"dataset": dataset, "question": question, "question_type": question_type, "answer": answers,
               "image": image_cell(image)}
        examples.append(Example(row=row, truth={**truth, "question_type": question_type}))
    return examples


def features() -> Any:
    """The hub dataset's `datasets` features (its dataset card): column order, dtypes, image columns."""
    from datasets import Features, Image, List, Value

    string_ = Value("string")
    return Features({"dataset": string_, "question": string_, "question_type": string_, "answer": List(string_),
                     "image": Image()})


def check(item: EvalItem, truth: dict) -> None:
    """The answer is the drawn text; the source dataset is one of the question type's; there is ink to read."""
    assert item.answers == [truth["text"]] and item.meta["question_type"] == truth["question_type"]
    assert item.meta["dataset"] in dict(TYPES)[truth["question_type"]]
    if "parts" in truth:
        x, power, add, total = truth["parts"]
        assert item.answers[0].replace(" ", "") == f"{x}^{{{power}}}+{add}={total}"
    image = pixels(item.image)
    assert int((np.abs(image - image[0, 0]).max(axis=2) > 60).sum()) > 50
