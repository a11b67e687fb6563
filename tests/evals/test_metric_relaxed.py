"""ChartQA relaxed accuracy against worked examples of pix2struct's definition (pix2struct/metrics.py)."""

import pytest

from evals.metrics.relaxed import relaxed_accuracy, relaxed_correctness, to_float


@pytest.mark.parametrize(
    ("text", "value"),
    [("12", 12.0), ("12%", 0.12), ("12%%", 0.12), (" 7\n", 7.0), ("-3.5", -3.5), ("1,000", None), ("5 kg", None),
     ("yes", None)],
)
def test_to_float(text, value):
    assert to_float(text) == (None if value is None else pytest.approx(value))


@pytest.mark.parametrize(
    ("prediction", "target", "correct"),
    [
        ("4.9", "5", 1.0),  # 2% off
        ("5.2", "5", 1.0),  # 4% off
        ("4.9", "5.2", 0.0),  # 5.8% off
        ("5.2", "4.9", 0.0),  # 6.1% off
        ("105", "100", 1.0),  # exactly 5%
        ("105.1", "100", 0.0),
        ("5%", "5", 0.0),  # "5%" is 0.05
        ("5", "5%", 0.0),
        ("5%", "5%", 1.0),
        ("5%", "0.05", 1.0),
        ("1,000", "1000", 0.0),  # commas are not stripped
        ("1000", "1000", 1.0),
        ("Yes", "yes", 1.0),
        ("no", "yes", 0.0),
        ("0", "0", 1.0),  # a zero target falls back to string equality
        ("0.0", "0", 0.0),
    ],
)
def test_relaxed_correctness(prediction, target, correct):
    assert relaxed_correctness(prediction, target) == correct


def test_maximum_over_answers():
    assert relaxed_accuracy("4.9", ["7", "5"]) == 1.0
    assert relaxed_accuracy("4.9", ["7", "9"]) == 0.0
