"""Text helpers shared by the metrics: edit distance, whitespace collapsing, Molmo's prediction clean-up."""

from __future__ import annotations

from collections import Counter


def levenshtein(a: str, b: str) -> int:
    """Levenshtein edit distance (unit-cost insertions, deletions and substitutions), two-row dynamic programme."""
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a)
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def collapse_whitespace(text: str) -> str:
    """Strip `text` and replace every run of whitespace by one space."""
    return " ".join(text.split())


def clean_prediction(text: str) -> str:
    """Molmo's clean-up of a raw model output before its VQA-family metrics (molmo.md §3.1, allenai/molmo VqaEval).

    Strip; if the text contains "Answer:", keep what follows the first one; else, with several lines, keep the
    most frequent line (blank lines ignored, ties to the first); whitespace is collapsed in every case.
    """
    text = text.strip()
    if "Answer:" in text:
        return collapse_whitespace(text.split("Answer:", 1)[1])
    lines = text.splitlines()
    if len(lines) > 1:
        lines = [line for line in map(collapse_whitespace, lines) if line]
        return Counter(lines).most_common(1)[0][0]
    return collapse_whitespace(text)
