"""ChartQA fixture rows: bar and line charts drawn with matplotlib from the true values, labelled with them, and
human-style and augmented-style questions, as lmms-lab-encoder/ChartQA's test split holds them."""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable
from typing import Any

from matplotlib.axes import Axes

from evals.fixtures.common import Example, fmt_number, image_cell
from evals.items import EvalItem
from molmo.data.drawing import chart, png

_CATEGORIES = (
    ("year", "years", [str(year) for year in range(2015, 2021)]),
    ("country", "countries", ["USA", "China", "India", "Brazil", "Japan", "Germany"]),
    ("month", "months", ["Jan", "Feb", "Mar", "Apr", "May", "Jun"]),
)


_TITLES = (
    "Share of respondents who shop online (in %)",
    "Revenue in million U.S. dollars",
    "Visitors in thousands",
)


def _values(rng: random.Random, k: int, decimals: bool) -> list[float]:
    """`k` distinct values, whole numbers or with one decimal, so "highest" and "lowest" are never tied."""
    if decimals:
        return [v / 10 for v in rng.sample(range(50, 950), k)]
    return [float(v) for v in rng.sample(range(5, 96), k)]


def _bars_or_line(
    kind: str, labels: list[str], values: list[float], title: str, color: str
) -> Callable[[Axes], None]:
    def plot(ax: Axes) -> None:
        positions = list(range(len(labels)))
        if kind == "bar":
            ax.bar(positions, values, color=color)
        else:
            ax.plot(positions, values, marker="o", color=color)
        for x, value in zip(positions, values, strict=True):
            ax.annotate(
                fmt_number(value),
                (x, value),
                textcoords="offset points",
                xytext=(0, 3),
                ha="center",
                fontsize=7,
            )
        ax.set_xticks(positions, labels, fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
        ax.set_ylim(0, max(values) * 1.18)
        ax.set_title(title, fontsize=8)
        ax.spines[["top", "right"]].set_visible(False)

    return plot


def _augmented_question(rng: random.Random, axis: str, values: dict[str, float]) -> tuple[str, str]:
    """Template questions, like ChartQA's machine-generated (augmented) set."""
    label = rng.choice(list(values))
    kind = rng.randrange(3)
    if kind == 0:
        return f"What is the value of {label}?", fmt_number(values[label])
    if kind == 1:
        return f"Which {axis} has the highest value?", max(values, key=values.__getitem__)
    return "What is the lowest value in the chart?", fmt_number(min(values.values()))


def _human_question(rng: random.Random, plural: str, values: dict[str, float]) -> tuple[str, str]:
    """Questions that combine values, like ChartQA's human-written set."""
    a, b = rng.sample(list(values), 2)
    ordered = sorted(values.values())
    kind = rng.randrange(4)
    if kind == 0:
        return f"What is the difference between the values of {a} and {b}?", fmt_number(
            abs(values[a] - values[b])
        )
    if kind == 1:
        return "What is the sum of the highest and lowest values?", fmt_number(ordered[-1] + ordered[0])
    if kind == 2:
        return f"Is the value of {a} greater than that of {b}?", "Yes" if values[a] > values[b] else "No"
    threshold = ordered[rng.randrange(len(ordered) - 1)]
    return f"How many {plural} have a value above {fmt_number(threshold)}?", str(
        sum(v > threshold for v in ordered)
    )


def generate(rng: random.Random, n: int) -> list[Example]:
    """lmms-lab-encoder/ChartQA test: bar and line charts labelled with their values; human and augmented questions."""
    examples = []
    for i in range(n):
        axis, plural, names = rng.choice(_CATEGORIES)
        labels = names[: rng.randint(4, 6)]
        values = dict(zip(labels, _values(rng, len(labels), rng.random() < 0.4), strict=True))
        kind = rng.choice(("bar", "line"))
        color = rng.choice(["#1f77b4", "#d62728", "#2ca02c", "#9467bd"])
        image = chart(
            360, 270, _bars_or_line(kind, labels, list(values.values()), rng.choice(_TITLES), color)
        )
        human = i % 2 == 1
        question, answer = (
            _human_question(rng, plural, values) if human else _augmented_question(rng, axis, values)
        )
        examples.append(
            Example(
                row={
                    "type": "human_test" if human else "augmented_test",
                    "question": question,
                    "answer": answer,
                    "image": image_cell(png(image)),
                },
                truth={"values": values, "kind": kind},
            )
        )
    return examples


def features() -> Any:
    """The hub dataset's `datasets` features (its dataset card): column order, dtypes, image columns."""
    from datasets import Features, Image, Value

    string = Value("string")
    return Features({"type": string, "question": string, "answer": string, "image": Image()})


def check(item: EvalItem, truth: dict) -> None:
    """The answer follows from the plotted values."""
    values = truth["values"]

    def number(x: float) -> str:
        return str(int(x)) if float(x).is_integer() else f"{x:.1f}"

    question, (answer,) = item.question, item.answers
    if match := re.fullmatch(r"What is the value of (.+)\?", question):
        assert answer == number(values[match[1]])
    elif question.startswith("Which") and question.endswith("highest value?"):
        assert values[answer] == max(values.values())
    elif question == "What is the lowest value in the chart?":
        assert answer == number(min(values.values()))
    elif match := re.fullmatch(r"What is the difference between the values of (.+) and (.+)\?", question):
        assert math.isclose(float(answer), abs(values[match[1]] - values[match[2]]))
    elif question == "What is the sum of the highest and lowest values?":
        assert math.isclose(float(answer), max(values.values()) + min(values.values()))
    elif match := re.fullmatch(r"Is the value of (.+) greater than that of (.+)\?", question):
        assert answer == ("Yes" if values[match[1]] > values[match[2]] else "No")
    else:
        threshold = float(re.fullmatch(r"How many \w+ have a value above (.+)\?", question)[1])
        assert int(answer) == sum(v > threshold for v in values.values())
    assert item.meta["type"] in {"human_test", "augmented_test"}
