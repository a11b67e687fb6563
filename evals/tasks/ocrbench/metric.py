"""OCRBench's official scoring rule (Yuliang-Liu/MultimodalOCR OCRBench/example.py, the scoring after generation).

An item is correct when one of its answers, lower-cased, stripped and with newlines made spaces, is a substring of
the prediction treated the same way. Items of the HME100k formula set are compared case-sensitively with every
space removed instead (LaTeX spacing is free). The score is the number of correct items out of the 1,000, in five
groups: text recognition (six types of 50 items), scene-text VQA, document VQA, key information extraction (200
each) and handwritten mathematical expressions (100).
"""

from __future__ import annotations

FORMULA_SET = "HME100k"


def _plain(text: str) -> str:
    return text.lower().strip().replace("\n", " ")


def _formula(text: str) -> str:
    return text.strip().replace("\n", " ").replace(" ", "")


def ocrbench_reading(prediction: str, dataset: str) -> str:
    """The prediction as the rule compares it."""
    return _formula(prediction) if dataset == FORMULA_SET else _plain(prediction)


def ocrbench_correct(prediction: str, answers: list[str], dataset: str) -> bool:
    """Whether one of `answers`, read the same way, is in the prediction."""
    read = _formula if dataset == FORMULA_SET else _plain
    predicted = read(prediction)
    return any(read(answer) in predicted for answer in answers)
