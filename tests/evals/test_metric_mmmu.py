"""MMMU's official parsers (MMMU-Benchmark/MMMU mmmu/utils/eval_utils.py) against worked examples; the peer
comparison over generated answers is in test_lmms_eval_oracle.py."""

import pytest

from evals.metrics.mmmu import mmmu_choice_score, mmmu_open_correct, parse_mmmu_choice, parse_mmmu_open
from evals.scoring import score_item

OPTIONS = ["blue circle", "red triangle", "green square"]


@pytest.mark.parametrize(
    ("response", "letter"),
    [
        ("(B)", "B"),
        ("B", "B"),
        ("B.", "B"),  # the edge period is stripped, then " B " matches
        ("The answer is B because of the angle", "B"),
        ("(A) is wrong and (C) is right", "C"),  # several candidates: the last one
        ("A or C, I think C", "C"),
        ("I believe the correct one is the red triangle shape", "B"),  # option text, more than 5 words
        ("(B) and B", "B"),  # "(X)" candidates win over " X " ones
    ],
)
def test_choice_parser(response, letter):
    assert parse_mmmu_choice(response, OPTIONS) == letter


def test_choice_parser_has_only_the_official_letter_forms():
    assert parse_mmmu_choice("A. blue circle", OPTIONS) is None  # lmms-eval's extra "X." form is not official
    assert parse_mmmu_choice("Answer:C", OPTIONS) is None  # no space before the letter
    assert parse_mmmu_choice("I am not sure", OPTIONS) is None
    assert parse_mmmu_choice("red triangle", OPTIONS) is None  # option text only counts past 5 words
    assert parse_mmmu_choice("D", OPTIONS) is None  # not an option letter


def test_nothing_parsed_scores_the_random_guess_expectation_and_counts_as_unparsed():
    assert mmmu_choice_score("no idea", OPTIONS, "B") == (None, pytest.approx(1 / 3))
    assert mmmu_choice_score("(B)", OPTIONS, "B") == ("B", 1.0)
    assert mmmu_choice_score("(C)", OPTIONS, "B") == ("C", 0.0)
    result = score_item("mmmu", "no idea", ["B"], OPTIONS)
    assert (result.score, result.parsed) == (pytest.approx(1 / 3), None)
    assert score_item("mmmu", "", ["A"], ["x", "y", "z", "w"]).score == pytest.approx(0.25)


def test_open_numbers():
    assert 5.0 in parse_mmmu_open("The answer is 5.0 m")
    assert mmmu_open_correct(parse_mmmu_open("The answer is 5.0 m"), ["5"])
    assert mmmu_open_correct(parse_mmmu_open("so the total is 1,000"), ["1000"])
    assert mmmu_open_correct(parse_mmmu_open("x = 2.004"), ["2"])  # numbers compare rounded to 2 decimals
    assert mmmu_open_correct(parse_mmmu_open("it is 1.5e3"), ["1500"])  # the scientific pattern
    assert not mmmu_open_correct(parse_mmmu_open("the result is 7"), ["8"])


def test_open_text_is_a_substring_match():
    assert mmmu_open_correct(parse_mmmu_open("The capital is Paris"), ["Paris"])
    assert mmmu_open_correct(parse_mmmu_open("the answer is c"), ["c"])
    assert not mmmu_open_correct(parse_mmmu_open("abc"), ["c"])  # one character only matches as a word


def test_open_answers_lose_a_final_period():
    # get_key_subresponses strips "." from the ends first: "b." would not match "b" as a word.
    assert score_item("mmmu", "The answer is b.", ["b"]).score == 1.0
    assert score_item("mmmu", "b.", ["b"]).score == 1.0


def test_open_keeps_the_official_sentence_split():
    # The split on ". " before a capital runs after lower-casing, so it never fires: one sentence, whose last
    # "is " gives 4. A newline does split.
    assert not mmmu_open_correct(parse_mmmu_open("It is 3. It is 4"), ["3"])
    assert mmmu_open_correct(parse_mmmu_open("It is 3. It is 4"), ["4"])
    assert mmmu_open_correct(parse_mmmu_open("x is 3\ny is 4"), ["3"])


def test_open_questions_through_the_registry_and_the_answer_lists():
    assert score_item("mmmu", "Answer: 42", ["42"]).score == 1.0
    assert score_item("mmmu", "  ", ["42"]).parsed is None
    assert score_item("mmmu", "it is 0.5", ["1/2", "0.5"]).score == 1.0  # any of the accepted forms
