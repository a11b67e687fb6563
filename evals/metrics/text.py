"""Text helpers shared by the metrics: edit distance, whitespace collapsing, the Molmo release's output clean-up."""

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


def molmo_clean_prediction(text: str) -> str:
    """The Molmo release's clean-up of a raw output before its VQA-family metrics (allenai/molmo
    olmo/eval/evaluators.py `VqaEval.__call__`), exactly.

    Strip; if the text contains "Answer:", keep what lies between the first "Answer:" and the next one (or the
    end), stripped; else, if it holds a newline, split on "\n", collapse the whitespace of every piece (blank
    pieces stay, as empty strings) and keep the most frequent piece (ties to the first); else collapse the
    whitespace.
    """
    text = text.strip()
    if "Answer:" in text:
        return text.split("Answer:")[1].strip()
    if "\n" in text:
        pieces = [collapse_whitespace(piece) for piece in text.split("\n")]
        return Counter(pieces).most_common(1)[0][0]
    return collapse_whitespace(text)
