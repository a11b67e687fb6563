"""Counting answers (CountBenchQA, PixMo-Count): numbers, number words and Molmo's point markup.

Neither benchmark ships a scoring script; the release's evaluator (allenai/molmo olmo/eval/evaluators.py
`PointCountEval`) is the reference. `parse_count` is the primary reading, `release_count` that evaluator's
exact ladder for the `molmo` scoring profile; docs/scoring.md sets out where they differ and why.
"""

from __future__ import annotations

import re

from molmo.pointing import count_points, without_points

_WORDS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
)  # fmt: skip
NUMBER_WORDS = {word: value for value, word in enumerate(_WORDS)}
_NUMBER = r"\d+(?:\.\d+)?|" + "|".join(NUMBER_WORDS)
_TOTAL = re.compile(rf"\ba total of ({_NUMBER})\b")
_NONE = re.compile(r"\bnone\b")
_TOKEN = re.compile(r"\d+(?:\.\d+)?|[a-z]+")
# PointCountEval's last two rungs as the release wrote them: `re.match` (the start of the first line only) and,
# for "none", a pattern without the raw-string prefix, so its "\b" is a backspace character and never matches.
_RELEASE_TOTAL = re.compile(".*a total of ([0-9]+).*")
_RELEASE_NONE = re.compile(".*\bnone\b.*")


def _value(token: str) -> int | None:
    """The count a token spells: an integer, a whole decimal ("9.0"), or a number word zero..twenty."""
    if token in NUMBER_WORDS:
        return NUMBER_WORDS[token]
    if token[0].isdigit():
        number = float(token)
        return int(number) if number.is_integer() else None
    return None


def parse_count(text: str) -> int | None:
    """The count a model answered, or None if none can be read (the primary reading).

    On `text.lower().rstrip(".").strip()` (as `PointCountEval` starts): "a total of N"; else the last count
    written outside the point markup: an integer, a whole decimal ("9.0" is 9; "2.5" is no count and is passed
    over) or a number word zero..twenty (the release reads only the last word); else "none" -> 0; else the
    number of points in the markup (`molmo.pointing`, as olmo-eval falls back to); else None.
    """
    text = text.lower().rstrip(".").strip()
    prose = without_points(text)
    for tokens in (_TOTAL.findall(text), _TOKEN.findall(prose)):
        for token in reversed(tokens):
            value = _value(token)
            if value is not None:
                return value
    if _NONE.search(prose):
        return 0
    return count_points(text) or None


def release_count(text: str) -> int | None:
    """`PointCountEval`'s reading, exactly: on `text.strip().lower().rstrip(".").strip()`, `int()` of the last
    whitespace-separated word, else that word as a number word, else "a total of N" matched from the start of
    the first line, else (never, see `_RELEASE_NONE`) "none"; None when nothing is read."""
    text = text.strip().lower().rstrip(".").strip()
    parts = text.split()
    if parts:
        try:
            return int(parts[-1])
        except ValueError:
            if parts[-1] in NUMBER_WORDS:
                return NUMBER_WORDS[parts[-1]]
    total = _RELEASE_TOTAL.match(text)
    if total:
        return int(total.group(1))
    return 0 if _RELEASE_NONE.match(text) else None


def count_scores(count: int | None, answer: str) -> tuple[float, float]:
    """(exact accuracy, within-one accuracy) of a parsed `count` against the true count `answer`."""
    expected = parse_count(answer)
    if expected is None:
        raise ValueError(f"the counting answer {answer!r} is not a number")
    if count is None:
        return 0.0, 0.0
    return float(count == expected), float(abs(count - expected) <= 1)
