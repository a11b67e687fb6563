"""ChartQA relaxed accuracy, as pix2struct defines it (google-research/pix2struct pix2struct/metrics.py)."""

from __future__ import annotations

RELATIVE_TOLERANCE = 0.05


def to_float(text: str) -> float | None:
    """The number `text` spells for Python's `float`, trailing "%" signs removed and dividing by 100; None if it is
    not a number. As in pix2struct, commas and units are not stripped: "1,000" and "5 kg" are not numbers."""
    try:
        if text.endswith("%"):
            return float(text.rstrip("%")) / 100
        return float(text)
    except ValueError:
        return None


def relaxed_correctness(prediction: str, target: str, tolerance: float = RELATIVE_TOLERANCE) -> float:
    """pix2struct's `relaxed_correctness` (ChartQA, Masry et al. 2022 §5.1, after Methani et al. 2020).

    When the prediction is a number and the target a non-zero number: correct iff |p − t| / |t| <= 5%.
    Otherwise: case-insensitive exact match. "5%" is 0.05, so it does not match a target of "5".
    """
    predicted, expected = to_float(prediction), to_float(target)
    if predicted is not None and expected:
        return float(abs(predicted - expected) / abs(expected) <= tolerance)
    return float(prediction.lower() == target.lower())


def relaxed_accuracy(prediction: str, answers: list[str]) -> float:
    """Relaxed correctness, the maximum over the reference answers (pix2struct's `aggregate_metrics`)."""
    return max(relaxed_correctness(prediction, answer) for answer in answers)
