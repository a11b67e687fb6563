"""VQA accuracy and normalisation against worked examples of the three definitions: the official VQA v2
evaluation (GT-Vision-Lab/VQA vqaEval.py), TextVQA's evaluator (MMF `TextVQAAccuracyEvaluator`) and the Molmo
release's simplified score. The peer comparison over generated answers is in test_lmms_eval_oracle.py."""

import random
from itertools import combinations

import pytest

from evals.metrics.vqa import (
    evalai_normalize,
    leave_one_out_accuracy,
    molmo_normalize,
    molmo_vqa_score,
    process_digit_article,
    process_punctuation,
    textvqa_accuracy,
    vqa_normalize,
    vqa_v2_accuracy,
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
def test_evalai_normalize_is_mmf_s_processor(text, expected):
    assert evalai_normalize(text) == expected


def test_evalai_s_split_and_contractions_interact_as_in_the_official_processor():
    # "thats" expands to "that's", but a literal "that's" is split to "that 's": the two do not match.
    assert evalai_normalize("thats") == "that's"
    assert evalai_normalize("that's") == "that 's"
    # vqaEval.py's and Molmo's pre-processing have no "'s" split, and keep "," and "?" rules of their own.
    assert molmo_normalize("It's") == vqa_normalize("It's") == "it's"
    assert vqa_normalize("red,white") == "red white"
    assert evalai_normalize("red,white") == "redwhite"


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


def test_vqa_v2_worked_examples_with_disagreeing_annotators():
    assert vqa_v2_accuracy("Two", ["2"] * 3 + ["3"] * 7) == pytest.approx(0.9)
    assert vqa_v2_accuracy("a dog", ["dog"] * 2 + ["cat"] * 8) == pytest.approx(0.6)
    assert vqa_v2_accuracy("1.5.", ["1.5"] * 9 + ["2"]) == 1.0
    assert vqa_v2_accuracy("2,000", ["2000"] + ["many"] * 9) == pytest.approx(0.3)
    # vqaEval.py has no MMF "," deletion: "red,white" becomes "red white".
    assert vqa_v2_accuracy("red,white", ["red white"] * 8 + ["red", "white"]) == 1.0
    assert vqa_v2_accuracy("cat", ["dog"] * 9 + ["cow"]) == 0.0


def test_vqa_v2_normalises_nothing_when_the_annotators_agree():
    # vqaEval.py at master only normalises when the answers differ (GT-Vision-Lab/VQA issue 14).
    assert vqa_v2_accuracy("yes", ["yes"] * 10) == 1.0
    assert vqa_v2_accuracy(" yes\n", ["yes"] * 10) == 1.0  # newlines, tabs and edge spaces always go
    assert vqa_v2_accuracy("Yes", ["yes"] * 10) == 0.0
    assert vqa_v2_accuracy("red,white", ["red white"] * 10) == 0.0
    assert vqa_v2_accuracy("Answer: 35", ["35"] * 10) == 0.0
    assert vqa_v2_accuracy("Yes", ["yes"] * 9 + ["no"]) == pytest.approx(1.0)


def _vqaeval_loop(prediction: str, answers: list[str]) -> float:
    """vqaEval.py's `evaluate` for one question, spelled out as the script runs it: annotation dicts with
    distinct answer ids, the disagreement test, and the loop over each annotator left out."""
    gts = [{"answer": a.replace("\n", " ").replace("\t", " ").strip(), "answer_id": i} for i, a in enumerate(answers)]
    res = prediction.replace("\n", " ").replace("\t", " ").strip()
    if len({g["answer"] for g in gts}) > 1:
        for g in gts:
            g["answer"] = process_digit_article(process_punctuation(g["answer"]))
        res = process_digit_article(process_punctuation(res))
    accuracies = []
    for left_out in gts:
        others = [g for g in gts if g != left_out]
        accuracies.append(min(1, len([g for g in others if g["answer"] == res]) / 3))
    return sum(accuracies) / len(accuracies)


def test_vqa_v2_equals_the_script_s_loop_on_generated_answers():
    rng = random.Random(0)
    pool = ["yes", "Yes", "no", "2", "two", "Two.", "red, white", "red white", "the dog", "dog", "it's", "its"]
    for _ in range(3000):
        answers = [rng.choice(pool[: rng.randint(1, len(pool))]) for _ in range(10)]
        prediction = rng.choice(pool) + rng.choice(["", " ", "\n", ".", "!"])
        assert vqa_v2_accuracy(prediction, answers) == pytest.approx(_vqaeval_loop(prediction, answers))


def test_textvqa_normalises_both_sides_always():
    assert textvqa_accuracy("Yes", ["yes"] * 10) == 1.0
    assert textvqa_accuracy("It's red?", ["it 's red"] * 10) == 1.0
    assert textvqa_accuracy("red,white", ["red white"] * 10) == 0.0  # "," is deleted: "redwhite"
    assert textvqa_accuracy("Two", ["2"] * 3 + ["3"] * 7) == pytest.approx(0.9)


def test_molmo_simplified_score_has_no_leave_one_out():
    answers = ["2"] + ["3"] * 9
    assert molmo_vqa_score("two", answers) == pytest.approx(1 / 3)
    assert vqa_v2_accuracy("two", answers) == pytest.approx(0.3)
    assert molmo_vqa_score("Two", ["2"] * 2 + ["3"] * 8) == pytest.approx(2 / 3)
    assert molmo_vqa_score("2", ["2"] * 3 + ["3"] * 7) == 1.0
    assert molmo_vqa_score("2", ["3"] * 10) == 0.0
    assert molmo_vqa_score("Yes", ["yes"] * 10) == 1.0  # both sides always normalised
