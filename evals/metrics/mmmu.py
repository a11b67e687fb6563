"""MMMU's official parsing and scoring (MMMU-Benchmark/MMMU mmmu/utils/eval_utils.py), re-implemented.

Multiple choice: `parse_mmmu_choice` is `parse_multi_choice_response` without its last step, a random option
when nothing is found; `mmmu_choice_score` takes that step at its expectation, 1/n, so the score is
deterministic, and reports the answer as unparsed. Open questions: `parse_mmmu_open` and `mmmu_open_correct`
are `parse_open_response` and `eval_open`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from evals.metrics.multiple_choice import LETTERS

_EDGE_MARKS = (",", ".", "!", "?", ";", ":", "'")
_INDICATORS = ("could be ", "so ", "is ", "thus ", "therefore ", "final ", "answer ", "result ")
# eval_utils.py's split; it runs after lower-casing, so the capital look-ahead never fires and only newlines split.
_SUB_RESPONSE = re.compile(r"\.\s(?=[A-Z])|\n")
# eval_utils.py `extract_numbers`: with thousands separators, scientific, simple (in this order).
_NUMBERS = (
    re.compile(r"-?\b\d{1,3}(?:,\d{3})+\b"),
    re.compile(r"-?\d+(?:\.\d+)?[eE][+-]?\d+"),
    re.compile(r"-?(?:\d+\.\d+|\.\d+|\d+\b)(?![eE][+-]?\d+)(?![,\d])"),
)


def parse_mmmu_choice(response: str, choices: Sequence[str]) -> str | None:
    """`parse_multi_choice_response` up to its random fallback: the option letter, or None when nothing matches.

    Strip , . ! ? ; : ' from the ends (one mark after the other) and pad with spaces. Candidates: letters written
    "(X)"; else " X "; else, for answers of more than 5 words, options whose text appears in the answer
    (case-insensitive). Several candidates: the one whose mark occurs last (ties to the first letter).
    """
    for mark in _EDGE_MARKS:
        response = response.strip(mark)
    padded = f" {response} "
    letters = LETTERS[: len(choices)]
    for form in ("({})", " {} "):
        found = {letter: padded.rfind(form.format(letter)) for letter in letters if form.format(letter) in padded}
        if found:
            return max(found, key=found.__getitem__)
    if len(padded.split()) > 5:
        lowered = padded.lower()
        found = {
            letter: lowered.rfind(choice.lower())
            for letter, choice in zip(letters, choices, strict=True)
            if choice.lower() in lowered
        }
        if found:
            return max(found, key=found.__getitem__)
    return None


def mmmu_choice_score(response: str, choices: Sequence[str], answer: str) -> tuple[str | None, float]:
    """(parsed letter or None, score): 1 or 0 for a parsed answer, 1/n for none, the expected score of
    eval_utils.py's uniformly random choice among the n options."""
    letter = parse_mmmu_choice(response, choices)
    if letter is None:
        return None, 1 / len(choices)
    return letter, float(letter == answer)


def _key_responses(response: str) -> list[str]:
    """`get_key_subresponses`: per sub-response, the shortest tail after an answer indicator ("is ", "so ", ...;
    "=" too in the last one); the whole (stripped, lower-cased) response when there is none."""
    response = response.strip().strip(".").lower()
    sub_responses = _SUB_RESPONSE.split(response)
    keys = []
    for index, sub_response in enumerate(sub_responses):
        indicators = _INDICATORS + (("=",) if index == len(sub_responses) - 1 else ())
        shortest = ""
        for indicator in indicators:
            if indicator in sub_response:
                tail = sub_response.split(indicator)[-1].strip()
                if not shortest or len(tail) < len(shortest):
                    shortest = tail
        if shortest and shortest not in _EDGE_MARKS:
            keys.append(shortest)
    return keys or [response]


def normalize_mmmu(text: str) -> list[str | float]:
    """`normalize_str`: a number (commas removed, as Python's `float` reads it) becomes a float rounded to 2
    decimals; other text is lower-cased, and a single character c becomes [" c", "c "] so that it matches only
    as a word."""
    text = text.strip()
    try:
        return [round(float(text.replace(",", "")), 2)]
    except ValueError:
        text = text.lower()
        return [" " + text, text + " "] if len(text) == 1 else [text]


def parse_mmmu_open(response: str) -> list[str | float]:
    """`parse_open_response`: the key responses and every number in them, normalised, without repeats (in
    first-seen order; eval_utils.py keeps a set, and the order changes no score)."""
    keys = _key_responses(response)
    candidates = list(keys)
    for key in keys:
        for pattern in _NUMBERS:
            candidates.extend(pattern.findall(key))
    return list(dict.fromkeys(value for candidate in candidates for value in normalize_mmmu(candidate)))


def mmmu_open_correct(candidates: list[str | float], answers: list[str]) -> bool:
    """`eval_open`: a text candidate counts if a normalised text answer is a substring of it; a numeric candidate
    if it equals a normalised answer."""
    expected = [value for answer in answers for value in normalize_mmmu(answer)]
    for candidate in candidates:
        if isinstance(candidate, str):
            if any(isinstance(value, str) and value in candidate for value in expected):
                return True
        elif candidate in expected:
            return True
    return False
