"""ANLS against worked examples of the DocVQA definition (harness.md §5.2)."""

import pytest

from evals.metrics.anls import anls
from evals.metrics.text import levenshtein


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [("kitten", "sitting", 3), ("flaw", "lawn", 2), ("", "abc", 3), ("abc", "", 3), ("same", "same", 0)],
)
def test_levenshtein(a, b, distance):
    assert levenshtein(a, b) == distance


def test_exact_case_insensitive_and_whitespace_normalised():
    assert anls("1995", ["1995"]) == 1.0
    assert anls("  The   Cat ", ["the cat"]) == 1.0


def test_partial_credit_below_the_threshold():
    assert anls("abcx", ["abcd"]) == pytest.approx(0.75)  # NL = 1/4
    assert anls("abxye", ["abcde"]) == pytest.approx(0.6)  # NL = 2/5


def test_threshold_boundary_scores_zero():
    assert anls("abxy", ["abcd"]) == 0.0  # NL = 2/4 = 0.5 is not < 0.5
    assert anls("abcx", ["abcd"], threshold=0.25) == 0.0


def test_maximum_over_ground_truths():
    assert anls("abcd", ["zzzz", "abcd"]) == 1.0
    assert anls("abcx", ["wxyz", "abcd", "abxx"]) == pytest.approx(0.75)


def test_lengths_are_those_of_the_normalised_strings():
    # "a    bcd" -> "a bcd" (5 chars) vs "a bce": 1 - 1/5. The raw-length convention would give 1 - 1/8.
    assert anls("a    bcd", ["a bce"]) == pytest.approx(0.8)


def test_empty_strings():
    assert anls("", [""]) == 1.0
    assert anls("", ["abc"]) == 0.0
    assert anls("abc", [""]) == 0.0
