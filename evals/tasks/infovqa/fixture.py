"""InfographicVQA fixture rows: posters of percentages, with percentage, counting, title and sum questions in
several answer forms, as lmms-lab-encoder/DocVQA (config InfographicVQA) validation holds them."""

from __future__ import annotations

import random
import re
import textwrap
from typing import Any

from evals.fixtures.common import Example, image_cell
from evals.fixtures.draw import COLORS
from evals.items import EvalItem
from molmo.data.drawing import canvas, png, text_box

_TOPICS = (
    (
        "Healthy Habits",
        ("adults walk every day", "adults eat fruit daily", "children play sports", "adults sleep 8 hours"),
    ),
    (
        "Working From Home",
        ("workers have a home office", "workers use video calls", "teams meet weekly", "workers commute"),
    ),
    (
        "Reading Today",
        ("readers prefer e-books", "readers visit libraries", "teens read comics", "adults read news online"),
    ),
)


def _infographic(rng: random.Random) -> tuple[bytes, str, list[tuple[str, int]]]:
    topic, phrases = rng.choice(_TOPICS)
    title = f"{topic} in {rng.randint(2015, 2023)}"
    stats = [(phrase, rng.randint(5, 95)) for phrase in rng.sample(phrases, rng.randint(3, 4))]
    image, draw = canvas(300, 520, (250, 247, 240))
    band = rng.choice(list(COLORS.values()))
    draw.rectangle((0, 0, 300, 70), fill=band)
    text_box(draw, (16, 22), title, 17, fill=(255, 255, 255), bold=True)
    for k, (phrase, percent) in enumerate(stats):
        top = 90 + k * 105
        draw.ellipse((16, top + 10, 66, top + 60), fill=band)
        text_box(draw, (80, top), f"{percent}%", 30, fill=band, bold=True)
        who, rest = phrase.split(" ", 1)
        for j, line in enumerate(textwrap.wrap(f"of {who} {rest}", 22)):
            text_box(draw, (80, top + 42 + 17 * j), line, 13)
    return png(image), title, stats


def generate(rng: random.Random, n: int) -> list[Example]:
    """lmms-lab-encoder/DocVQA (config InfographicVQA) validation: percentages, counting, titles, several answer
    forms."""
    examples = []
    for i in range(n):
        image, title, stats = _infographic(rng)
        kind = ("percent", "count", "title", "sum")[i % 4]
        if kind == "percent":
            phrase, percent = rng.choice(stats)
            question = f"What percentage of {phrase}?"
            answers, answer_type, operation = [f"{percent}%", str(percent)], ["single span"], []
        elif kind == "count":
            question = "How many statistics are shown in the infographic?"
            answers, answer_type, operation = [str(len(stats))], ["non-extractive"], ["counting"]
        elif kind == "title":
            question = "What is the title of this infographic?"
            answers, answer_type, operation = [title, title.lower()], ["single span"], []
        else:
            (first, a), (second, b) = stats[:2]
            question = f'What is the sum of the percentages for "{first}" and "{second}"?'
            answers, answer_type, operation = [f"{a + b}%", str(a + b)], ["non-extractive"], ["arithmetic"]
        examples.append(
            Example(
                row={
                    "questionId": str(60000 + i),
                    "question": question,
                    "answers": answers,
                    "answer_type": answer_type,
                    "image": image_cell(image),
                    "image_url": "",
                    "operation/reasoning": operation,
                    "ocr": "",
                    "data_split": "val",
                },
                truth={"title": title, "stats": stats, "kind": kind},
            )
        )
    return examples


def features() -> Any:
    """The hub dataset's `datasets` features (its dataset card): column order, dtypes, image columns."""
    from datasets import Features, Image, List, Value

    string, strings = Value("string"), List(Value("string"))
    return Features({
        "questionId": string,
        "question": string,
        "answers": strings,
        "answer_type": strings,
        "image": Image(),
        "image_url": string,
        "operation/reasoning": strings,
        "ocr": string,
        "data_split": string,
    })


def check(item: EvalItem, truth: dict) -> None:
    """The answers are the printed percentage, count, title or sum."""
    stats = dict(truth["stats"])
    if truth["kind"] == "percent":
        phrase = re.fullmatch(r"What percentage of (.+)\?", item.question)[1]
        assert item.answers == [f"{stats[phrase]}%", str(stats[phrase])]
    elif truth["kind"] == "count":
        assert item.answers == [str(len(stats))]
    elif truth["kind"] == "title":
        assert item.answers[0] == truth["title"]
    else:
        first, second = re.findall(r'"([^"]+)"', item.question)
        total = stats[first] + stats[second]
        assert item.answers == [f"{total}%", str(total)]
