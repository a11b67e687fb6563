"""MathVista's answer extraction and scoring (lupantech/MathVista evaluation/extract_answer.py and
evaluation/calculate_score.py), re-implemented, and the Molmo release's offline variant.

The official pipeline extracts a short answer (rules first, then GPT), normalises it to the answer type and
compares it with the answer as a string. Here the GPT step is the optional `AnswerJudge`; without one, the
response itself stands in for GPT's extraction (docs/scoring.md).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from evals.metrics.judge import AnswerJudge
from evals.metrics.multiple_choice import LETTERS, select_mc_option
from evals.metrics.text import levenshtein

# extract_answer.py's "quick extraction" rule: The answer is "text". -> text
_QUICK = re.compile(r'The answer is "(.*)"\.')
_PARENTHESISED_LETTER = re.compile(r"\(([a-zA-Z])\)")  # calculate_score.py: "(A) text" -> "A"
_COLON_LETTER = re.compile(r"([a-zA-Z]):")  # the Molmo release's copy: "A: text" -> "A"


def precision_of(meta: dict[str, Any]) -> int:
    """The answer's decimals as an int (the dataset stores `precision` as a float; absent or NaN -> 0)."""
    precision = meta.get("precision")
    if isinstance(precision, int | float) and not math.isnan(precision):
        return int(precision)
    return 0


def _parses(kind: type, text: str) -> bool:
    try:
        kind(text)
    except ValueError:
        return False
    return True


def extract_answer(
    response: str,
    *,
    choices: Sequence[str] | None,
    answer_type: str,
    query: str,
    judge: AnswerJudge | None = None,
) -> str:
    """extract_answer.py `extract_answer`: "" for an empty response; the response itself when it is an option's
    text, or parses as the integer or float the answer type asks for; else the judge's extraction. Without a
    judge, the "quick extraction" rule (`The answer is "X".` -> X), else the response itself."""
    if response == "":
        return ""
    if choices and response in choices:
        return response
    if answer_type == "integer" and _parses(int, response):
        return str(int(response))
    if answer_type == "float" and _parses(float, response):
        return str(float(response))
    if judge is not None:
        if not query:
            raise ValueError("the MathVista judge needs the dataset's query in meta['query']")
        return judge.extract(query, response)
    quick = _QUICK.search(response)
    return quick.group(1) if quick else response


def _nearest(text: str, choices: Sequence[str]) -> str:
    """calculate_score.py `get_most_similar`: the option at the smallest Levenshtein distance (ties to the first)."""
    distances = [levenshtein(text, choice) for choice in choices]
    return choices[distances.index(min(distances))]


def normalize_extracted_answer(
    extraction: str,
    *,
    choices: Sequence[str] | None,
    answer_type: str,
    precision: int,
    letter_pattern: re.Pattern[str] = _PARENTHESISED_LETTER,
) -> str | None:
    """calculate_score.py `normalize_extracted_answer`. Multiple choice: the first letter `letter_pattern` finds
    ("(A)"), or the stripped extraction, names an option when it is one of its letters; anything else becomes
    the nearest option text. integer -> str(int(float(x))), float -> str(round(float(x), precision)), list ->
    the text as it is; None when the number cannot be read. Other answer types pass through."""
    if choices:
        extraction = extraction.strip()
        letters = letter_pattern.findall(extraction)
        if letters:
            extraction = letters[0].upper()
        options = LETTERS[: len(choices)]
        if len(extraction) == 1 and extraction in options:
            return choices[options.index(extraction)]
        return _nearest(extraction, choices)
    try:
        if answer_type == "integer":
            return str(int(float(extraction)))
        if answer_type == "float":
            return str(round(float(extraction), precision))
    except (ValueError, OverflowError):
        return None
    return extraction


def mathvista_official(
    prediction: str, *, choices: Sequence[str] | None, meta: dict[str, Any],
    judge: AnswerJudge | None = None,
) -> str | None:
    """The normalised extraction of MathVista's official pipeline (the response stripped first, as lmms-eval's
    `mathvista_process_results` does); the item is correct iff it equals the dataset's answer (an option's
    text for multiple choice) as a string, calculate_score.py `safe_equal`."""
    answer_type = meta.get("answer_type") or "text"
    extraction = extract_answer(prediction.strip(), choices=choices, answer_type=answer_type,
                                query=meta.get("query", ""), judge=judge)
    return normalize_extracted_answer(extraction, choices=choices, answer_type=answer_type,
                                      precision=precision_of(meta))


def mathvista_molmo(
    prediction: str, *, choices: Sequence[str] | None, meta: dict[str, Any],
    judge: AnswerJudge | None = None,
) -> str | None:
    """The Molmo release's MathVista scoring (allenai/molmo olmo/eval/vqa.py `math_vista_score`) on an already
    cleaned prediction: with a judge, the official extraction; without one (the release's `use_api=False`),
    `select_mc_option` over the option letters for multiple choice, else the integer or float the prediction
    parses as, else the prediction; then the release's normalisation, whose letter pattern is "A:"."""
    answer_type = meta.get("answer_type") or "text"
    if judge is not None:
        extraction = extract_answer(prediction, choices=choices, answer_type=answer_type,
                                    query=meta.get("query", ""), judge=judge)
    elif choices:
        extraction = choices[select_mc_option(prediction, list(LETTERS[: len(choices)]))]
    elif answer_type == "integer" and _parses(int, prediction):
        extraction = str(int(prediction))
    elif answer_type == "float" and _parses(float, prediction):
        extraction = str(float(prediction))
    else:
        extraction = prediction
    return normalize_extracted_answer(extraction, choices=choices, answer_type=answer_type,
                                      precision=precision_of(meta), letter_pattern=_COLON_LETTER)
