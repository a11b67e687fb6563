"""Deterministic multiple-choice extraction (docs/scoring.md): rules first, then the nearest option, never random."""

import pytest

from evals.metrics.multiple_choice import ChoiceExtraction, extract_choice, select_mc_option
from evals.scoring import score_item

CHOICES = ["a cat", "a dog", "a cow", "a horse"]


@pytest.mark.parametrize(
    "prediction",
    [
        "B",
        "b",
        "(B)",
        "B.",
        "B)",
        "B:",
        " **B** ",
        "Answer: B",
        "The answer is B.",
        "the correct option is (B)",
        "B. a dog",
    ],
)
def test_letter_forms_parse_by_rule(prediction):
    assert extract_choice(prediction, CHOICES) == ChoiceExtraction("B", "rule")


@pytest.mark.parametrize(
    ("prediction", "letter"),
    [
        ("a dog", "B"),  # the option's text
        ("A DOG.", "B"),
        ("horse", "D"),  # the only option containing the answer
        ("I think it is a cow.", "C"),  # the only option named in the answer
        ("Answer: A. The answer is C", "C"),  # the last answer phrase wins
    ],
)
def test_option_text_parses_by_rule(prediction, letter):
    assert extract_choice(prediction, CHOICES) == ChoiceExtraction(letter, "rule")


def test_nearest_option_fallback():
    assert extract_choice("a dgo", CHOICES) == ChoiceExtraction("B", "nearest")
    assert extract_choice("hrose", CHOICES) == ChoiceExtraction("D", "nearest")


def test_letter_outside_the_options_is_not_taken():
    result = extract_choice("E", CHOICES)
    assert result.method == "nearest"
    assert result.letter in "ABCD"


def test_nearest_ties_go_to_the_first_option_deterministically():
    assert extract_choice("xc", ["xa", "xb"]) == ChoiceExtraction("A", "nearest")
    assert all(extract_choice("xc", ["xa", "xb"]).letter == "A" for _ in range(5))


@pytest.mark.parametrize("prediction", ["", "   ", "?!.", "**"])
def test_nothing_to_match_is_unparsed(prediction):
    assert extract_choice(prediction, CHOICES) == ChoiceExtraction(None, "unparsed")


def test_no_options_is_unparsed():
    assert extract_choice("B", []) == ChoiceExtraction(None, "unparsed")


def test_an_article_is_not_read_as_an_option_letter():
    # RealWorldQA items without option texts fall back to the letters themselves as options.
    result = extract_choice("It is a dog", ["A", "B", "C", "D"])
    assert result.method == "nearest"


def test_unlabelled_options_match_the_text_not_the_position():
    letters = ["D", "B", "A", "C"]  # AI2D options that are diagram labels
    assert extract_choice("A", letters, labelled=False) == ChoiceExtraction("C", "rule")
    assert extract_choice("A", letters) == ChoiceExtraction("A", "rule")


def test_ai2d_scoring_and_unlabelled_meta():
    assert score_item("ai2d", "Answer: B", ["B"], CHOICES).score == 1.0
    assert score_item("ai2d", "B\nB\nA", ["B"], CHOICES, profile="molmo").parsed == "B"  # most common line
    result = score_item("ai2d", "A", ["C"], ["D", "B", "A", "C"], {"unlabelled_options": True})
    assert (result.score, result.parsed) == (1.0, "C")
    fallback = score_item("ai2d", "a dgo", ["B"], CHOICES)
    assert (fallback.score, fallback.secondary["nearest_option"]) == (1.0, 1.0)
    empty = score_item("ai2d", "", ["B"], CHOICES)
    assert (empty.score, empty.parsed) == (0.0, None)


def test_ai2d_needs_choices_and_a_letter_answer():
    with pytest.raises(ValueError, match="choices"):
        score_item("ai2d", "B", ["B"])
    with pytest.raises(ValueError, match="option letter"):
        score_item("ai2d", "B", ["E"], CHOICES)


def test_realworldqa_multiple_choice_and_short_answer():
    assert score_item("realworldqa", "The answer is C.", ["C"]).score == 1.0
    assert score_item("realworldqa", "C", ["C"], ["left", "right", "straight"]).score == 1.0
    assert score_item("realworldqa", "straight", ["C"], ["left", "right", "straight"]).score == 1.0
    short = score_item("realworldqa", "Two.", ["2"])
    assert (short.score, short.parsed) == (1.0, "2")
    assert score_item("realworldqa", "three", ["2"]).score == 0.0


def test_gold_answers_must_be_exactly_one_letter():
    for gold in ["", "AB", "b c"]:
        with pytest.raises(ValueError, match="option letter"):
            score_item("ai2d", "A", [gold], CHOICES)
    assert score_item("ai2d", "B", ["b"], CHOICES).score == 1.0
    # RealWorldQA: "AB" is a short answer, not a letter.
    assert score_item("realworldqa", "ab", ["AB"]).score == 1.0


@pytest.mark.parametrize(
    ("prediction", "options", "index"),
    [
        ("B", ["A", "B", "C", "D"], 1),
        (" b ", ["A", "B", "C", "D"], 1),  # lower-cased and stripped
        ("The answer is B", ["A", "B", "C", "D"], 0),  # no exact or containing option: smallest edit distance
        ("cat", ["a cat", "a dog"], 0),  # the only option containing the prediction
        ("a", ["a cat", "a dog", "bat"], 2),  # contained in all three: the edit distance decides
        ("", ["abc", "de"], 1),  # the empty string is in every option: the shortest is nearest
    ],
)
def test_select_mc_option_is_the_release_s(prediction, options, index):
    assert select_mc_option(prediction, options) == index


def test_the_molmo_profile_selects_an_option_always():
    assert score_item("ai2d", "Answer: B", ["B"], CHOICES, profile="molmo").score == 1.0
    assert score_item("ai2d", "zzz", ["A"], CHOICES, profile="molmo").parsed in list("ABCD")
    assert score_item("realworldqa", "C", ["C"], profile="molmo").score == 1.0
    assert score_item("realworldqa", "Two.", ["2"], profile="molmo").score == 1.0
