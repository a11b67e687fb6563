"""VQA accuracy and normalisation against worked examples of the official definition (harness.md §5.1)."""

from itertools import combinations

import pytest

from evals.metrics.vqa import (
    leave_one_out_accuracy,
    molmo_normalize_answer,
    molmo_vqa_score,
    normalize_answer,
    process_digit_article,
    process_punctuation,
    vqa_accuracy,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2,000", "2000"),  # digit,digit anywhere: every mark is deleted
        ("2,000 (approx)", "2000 approx"),
        ("a,b", "a b"),  # otherwise a mark not touching a space becomes a space
        ("left-hand", "left hand"),
        ("x - y", "x  y"),  # a mark touching a space is deleted
        ("yes!", "yes "),
        ("5.", "5"),  # the official period regex drops a period not followed by a digit...
        ("1.5.", "1.5"),  # ...so a trailing period goes and the decimal point stays
        ("3.5", "3.5"),
        ("e.g.", "eg"),
        ("it's: 3", "it's: 3"),  # ":" and "'" are not in the list
    ],
)
def test_process_punctuation(text, expected):
    assert process_punctuation(text) == expected


def test_period_strip_stops_after_32_periods_as_the_official_count_argument_does():
    assert process_punctuation("." * 40) == "." * 8


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ten", "10"),
        ("none", "0"),
        ("a dog", "dog"),
        ("The  Cat", "cat"),
        ("an apple a day", "apple day"),
        ("dont", "don't"),
        ("isnt it", "isn't it"),
        ("somebody'd", "somebodyd"),  # the official table's typo, kept
        ("Im", "im"),  # capitalised keys can never match after lower-casing
        ("eleven", "eleven"),  # number words stop at ten
    ],
)
def test_process_digit_article(text, expected):
    assert process_digit_article(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ten", "10"),
        ("A dog.", "dog"),
        ("it's", "it 's"),  # EvalAI splits "'s" off
        ("It's red?", "it 's red"),
        ("2,000", "2000"),
        ("1.5.", "1.5"),
        ("Two\tdogs\n", "2 dogs"),
        ("dont", "don't"),
    ],
)
def test_normalize_answer_is_the_evalai_processor(text, expected):
    assert normalize_answer(text) == expected


def test_evalai_s_split_and_contractions_interact_as_in_the_official_processor():
    # "thats" expands to "that's", but a literal "that's" is split to "that 's": the two do not match.
    assert normalize_answer("thats") == "that's"
    assert normalize_answer("that's") == "that 's"
    # Molmo's pre-processing has no "'s" split.
    assert molmo_normalize_answer("It's") == "it's"


def _official_loop(matches: int, n: int) -> float:
    """The vqaEval.py definition spelled out: average over each annotator left out of min(1, matches / 3)."""
    answers = [True] * matches + [False] * (n - matches)
    subsets = list(combinations(range(n), n - 1))
    return sum(min(1.0, sum(answers[j] for j in subset) / 3) for subset in subsets) / n


@pytest.mark.parametrize(("matches", "expected"), [(0, 0.0), (1, 0.3), (2, 0.6), (3, 0.9), (4, 1.0), (10, 1.0)])
def test_leave_one_out_accuracy_for_ten_annotators(matches, expected):
    assert leave_one_out_accuracy(matches, 10) == pytest.approx(expected)


@pytest.mark.parametrize("n", range(2, 11))
def test_closed_form_equals_the_leave_one_out_loop(n):
    for matches in range(n + 1):
        assert leave_one_out_accuracy(matches, n) == pytest.approx(_official_loop(matches, n))


def test_fewer_than_ten_answers_and_the_single_answer_case():
    assert leave_one_out_accuracy(1, 3) == pytest.approx(2 / 9)
    assert leave_one_out_accuracy(1, 1) == 0.0  # every leave-one-out subset is empty
    with pytest.raises(ValueError, match="at least one"):
        leave_one_out_accuracy(0, 0)


def test_vqa_accuracy_worked_examples():
    assert vqa_accuracy("Two", ["2"] * 3 + ["3"] * 7) == pytest.approx(0.9)
    assert vqa_accuracy("Ten", ["10"] * 10) == 1.0
    assert vqa_accuracy("10", ["ten"] * 10) == 1.0
    assert vqa_accuracy("a dog", ["dog"] * 2 + ["cat"] * 8) == pytest.approx(0.6)
    assert vqa_accuracy("1.5.", ["1.5"] * 10) == 1.0
    assert vqa_accuracy("2,000", ["2000"] + ["many"] * 9) == pytest.approx(0.3)
    assert vqa_accuracy("cat", ["dog"] * 10) == 0.0


def test_molmo_simplified_score_has_no_leave_one_out():
    answers = ["2"] + ["3"] * 9
    assert molmo_vqa_score("two", answers) == pytest.approx(1 / 3)
    assert vqa_accuracy("two", answers) == pytest.approx(0.3)
    assert molmo_vqa_score("Two", ["2"] * 2 + ["3"] * 8) == pytest.approx(2 / 3)
    assert molmo_vqa_score("2", ["2"] * 3 + ["3"] * 7) == 1.0
    assert molmo_vqa_score("2", ["3"] * 10) == 0.0
