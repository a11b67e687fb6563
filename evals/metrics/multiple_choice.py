"""Multiple-choice answers (AI2D, RealWorldQA): deterministic extraction of the chosen option, and the Molmo
release's `select_mc_option` for the `molmo` scoring profile."""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from typing import Literal, NamedTuple

from evals.metrics.text import collapse_whitespace, levenshtein

LETTERS = string.ascii_uppercase

# A whole answer that is only a letter: "B", "b", "(B)", "B.", "B)", "B:".
_BARE_LETTER = re.compile(r"\(?([A-Za-z])\)?[.:)]?")
# A letter introduced by an answer phrase: "Answer: B", "the answer is (C)", "correct option is D".
_ANSWER_PHRASE = re.compile(r"\b(?i:answer|option|choice)(?:\s+(?i:is))?\s*:?\s*\(?([A-Z])\)?(?![A-Za-z0-9])")
# A leading option label followed by the option text: "B. text", "(B) text", "B) text", "B: text".
_LEADING_LABEL = re.compile(r"(?:\(([A-Z])\)|([A-Z])[.:)])\s")
_EDGE_NOISE = " \t\n\"'`*.,;!?"


def is_option_letter(text: str, n_options: int) -> bool:
    """Whether `text` is exactly one of the first `n_options` capital letters."""
    return len(text) == 1 and text in LETTERS[:n_options]


class ChoiceExtraction(NamedTuple):
    """The chosen option's letter (None when unparsed) and how it was found: "rule", "nearest" or "unparsed"."""

    letter: str | None
    method: Literal["rule", "nearest", "unparsed"]


def _normalize(text: str) -> str:
    return collapse_whitespace(text.replace("*", "")).strip(_EDGE_NOISE).lower()


def _letter_by_rule(answer: str, letters: str) -> str | None:
    bare = _BARE_LETTER.fullmatch(answer)
    if bare and bare.group(1).upper() in letters:
        return bare.group(1).upper()
    for match in reversed(list(_ANSWER_PHRASE.finditer(answer))):
        if match.group(1) in letters:
            return match.group(1)
    leading = _LEADING_LABEL.match(answer + " ")
    if leading:
        letter = leading.group(1) or leading.group(2)
        if letter in letters:
            return letter
    return None


def _letter_by_text(answer: str, options: list[str]) -> str | None:
    """Exact option text; else the one option containing the answer; else the one option named in the answer.
    The two substring rules skip one-character strings, which match letters and articles by accident."""
    if answer in options:
        return LETTERS[options.index(answer)]
    containing = [i for i, option in enumerate(options) if len(answer) > 1 and answer in option]
    named = [
        i
        for i, option in enumerate(options)
        if len(option) > 1 and re.search(rf"(?<!\w){re.escape(option)}(?!\w)", answer)
    ]
    for found in (containing, named):
        if len(found) == 1:
            return LETTERS[found[0]]
    return None


def extract_choice(prediction: str, choices: Sequence[str], *, labelled: bool = True) -> ChoiceExtraction:
    """Map a free-text answer to one option's letter, deterministically; never a random fallback.

    Neither AI2D nor RealWorldQA ships a scoring script; these rules (docs/scoring.md) are ours. In order: with
    `labelled` options, a bare letter ("B", "(B)", "B.", "B)"), the last
    letter after an answer phrase ("Answer: B", "the answer is (B)"), a leading label ("B. text"); then the
    option's text (exact, case-insensitive; else the only option containing the answer; else the only option
    named in the answer). Otherwise the nearest option text by Levenshtein distance, as Molmo's
    `select_mc_option` does (method "nearest", ties to the first option). Nothing to match (empty answer, no
    letter or digit, no options) is "unparsed" with letter None. `labelled=False` is for options shown without
    letters (Molmo's `ai2_diagram_no_letter`), where a letter in the answer names an option's text.
    """
    answer = collapse_whitespace(prediction.replace("*", "")).strip(_EDGE_NOISE)
    if len(choices) > len(LETTERS):
        raise ValueError(f"at most {len(LETTERS)} options are supported, got {len(choices)}")
    if not choices or not any(char.isalnum() for char in answer):
        return ChoiceExtraction(None, "unparsed")
    if labelled:
        letter = _letter_by_rule(answer, LETTERS[: len(choices)])
        if letter is not None:
            return ChoiceExtraction(letter, "rule")
    normalized = answer.lower()
    options = [_normalize(choice) for choice in choices]
    letter = _letter_by_text(normalized, options)
    if letter is not None:
        return ChoiceExtraction(letter, "rule")
    distances = [levenshtein(normalized, option) for option in options]
    return ChoiceExtraction(LETTERS[distances.index(min(distances))], "nearest")


def select_mc_option(prediction: str, options: Sequence[str]) -> int:
    """The Molmo release's `select_mc_option` (allenai/molmo olmo/eval/vqa.py), exactly: on lower-cased,
    stripped strings, the option equal to the prediction; else the only option containing it; else the option
    at the smallest edit distance (ties to the first). It always names an option."""
    target = prediction.lower().strip()
    names = [option.lower().strip() for option in options]
    if target in names:
        return names.index(target)
    containing = [index for index, name in enumerate(names) if target in name]
    if len(containing) == 1:
        return containing[0]
    distances = [levenshtein(name, target) for name in names]
    return distances.index(min(distances))
