"""ANLS against worked examples of the Robust Reading Competition's script (the official DocVQA / InfographicVQA
evaluation) and of the Molmo release's variant; the peer comparison over generated answers is in
test_lmms_eval_oracle.py."""

import pytest

from evals.metrics.anls import anls, molmo_anls
from evals.metrics.text import levenshtein
from evals.scoring import score_item


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


def test_a_score_of_exactly_one_half_is_kept():
    # The script sets a score to 0 only when it is below 0.5 (`if question_result < threshold`).
    assert anls("abxy", ["abcd"]) == 0.5  # NL = 2/4
    assert anls("1250", ["1,250.00"]) == 0.5  # NL = 4/8
    assert anls("1250", ["$1,250.00"]) == 0.0  # NL = 5/9: below the threshold
    assert molmo_anls("abxy", ["abcd"]) == 0.0  # the release keeps NL < 0.5 only
    assert anls("abcx", ["abcd"], threshold=0.8) == 0.0


def test_maximum_over_ground_truths():
    assert anls("abcd", ["zzzz", "abcd"]) == 1.0
    assert anls("abcx", ["wxyz", "abcd", "abxx"]) == pytest.approx(0.75)


def test_distance_on_normalised_strings_length_from_the_raw_ones():
    # "a    bcd" -> "a bcd" vs "a bce": distance 1, length max(8, 5) = 8 from the raw strings.
    assert anls("a    bcd", ["a bce"]) == pytest.approx(1 - 1 / 8)
    assert anls("  The   Cat ", ["the cat"]) == 1.0
    # The length is that of the upper-cased raw string, as the script writes it: "ß" upper-cases to "SS".
    assert anls("straße", ["strasse"]) == pytest.approx(1 - 2 / 7)
    # The release measures the raw lower-cased strings: the spaces count as edits.
    assert molmo_anls("a  bcd", ["a bcd"]) == pytest.approx(1 - 1 / 6)


def test_empty_strings():
    assert anls("", [""]) == 1.0
    assert anls("", ["abc"]) == 0.0
    assert anls("abc", [""]) == 0.0
    assert molmo_anls("", [""]) == 1.0
    with pytest.raises(ValueError, match="at least one"):
        anls("abc", [])


def test_profiles_through_the_registry():
    assert score_item("docvqa", "Answer: 1995", ["1995"]).score == 0.0  # 6 edits of 12: below 0.5
    assert score_item("docvqa", "Answer: 1995", ["1995"], profile="molmo").score == 1.0  # the release's clean-up
    assert score_item("infovqa", "1250", ["1,250.00"]).score == 0.5
