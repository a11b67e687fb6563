"""Counting answers (CountBenchQA, PixMo-Count): numbers, number words and Molmo's point markup."""

from __future__ import annotations

import re

_WORDS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
)  # fmt: skip
NUMBER_WORDS = {word: value for value, word in enumerate(_WORDS)}
_NUMBER = r"\d+|" + "|".join(NUMBER_WORDS)
_TOTAL = re.compile(rf"\ba total of ({_NUMBER})\b")
_NONE = re.compile(r"\bnone\b")
# A <point ...> or <points ...> opening tag; an unclosed tag runs to the end of the text.
_POINT_TAG = re.compile(r"<points?\b[^>]*(?:>|$)", re.IGNORECASE)
_CLOSING_TAG = re.compile(r"</points?\s*>", re.IGNORECASE)
_COORDINATE = re.compile(r"\b([xy])(\d*)\s*=\s*[\"']?\s*-?\d+(?:\.\d+)?", re.IGNORECASE)
_TOKEN = re.compile(r"\d+(?:\.\d+)?|[a-z]+")


def _value(token: str) -> int:
    return int(token) if token.isdigit() else NUMBER_WORDS[token]


def count_points(text: str) -> int:
    """Number of points in Molmo's pointing markup (molmo.md §2.5): one per `<point x=".." y="..">`, one per index i
    with both `xi` and `yi` in `<points x1=.. y1=.. x2=..>`. Malformed markup counts only its complete points."""
    total = 0
    for tag in _POINT_TAG.finditer(text):
        axes: dict[str, set[str]] = {"x": set(), "y": set()}
        for axis, index in _COORDINATE.findall(tag.group(0)):
            axes[axis.lower()].add(index)
        total += len(axes["x"] & axes["y"])
    return total


def parse_count(text: str) -> int | None:
    """The count a model answered, or None if none can be read (Molmo `PointCountEval` ladder, harness.md §5.6).

    On `text.lower().rstrip(".").strip()`: "a total of N"; else the last integer or number word zero..twenty
    outside the point markup (Molmo reads only the last word; a last number anywhere is a superset); else
    "none" -> 0; else the number of points in the markup (olmo-eval's fallback); else None.
    """
    text = text.lower().rstrip(".").strip()
    totals = _TOTAL.findall(text)
    if totals:
        return _value(totals[-1])
    prose = _CLOSING_TAG.sub(" ", _POINT_TAG.sub(" ", text))
    for token in reversed(_TOKEN.findall(prose)):
        if token.isdigit() or token in NUMBER_WORDS:
            return _value(token)
    if _NONE.search(prose):
        return 0
    return count_points(text) or None


def count_scores(prediction: str, answer: str) -> tuple[int | None, float, float]:
    """(parsed count, exact accuracy, within-one accuracy) of `prediction` against the true count `answer`."""
    expected = parse_count(answer)
    if expected is None:
        raise ValueError(f"the counting answer {answer!r} is not a number")
    predicted = parse_count(prediction)
    if predicted is None:
        return None, 0.0, 0.0
    return predicted, float(predicted == expected), float(abs(predicted - expected) <= 1)
