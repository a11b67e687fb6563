"""`score_item` through the benchmark folders' bindings: the two scoring profiles, dispatch, the release's clean-up,
errors."""

import dataclasses

import pytest

from evals.cli import PROFILES as CLI_PROFILES
from evals.metrics.text import molmo_clean_prediction
from evals.scoring import PROFILES, ItemScore, answer_text, judged_tasks, score_item, task_metric
from evals.tasks import TASKS


def test_the_console_names_the_profiles_every_task_binds():
    assert list(PROFILES) == ["official", "molmo"] == list(CLI_PROFILES)
    for name, spec in TASKS.items():
        assert all(task_metric(name, profile) is spec.scoring[profile] for profile in PROFILES)


def test_unknown_task_or_profile_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown task 'vqa3'; valid tasks: ai2d, chartqa, vqav2") as error:
        score_item("vqa3", "yes", ["yes"])
    assert all(task in str(error.value) for task in TASKS)
    with pytest.raises(ValueError, match="unknown scoring profile 'paper'; valid profiles: official, molmo"):
        score_item("vqav2", "yes", ["yes"], profile="paper")


def test_item_score_is_frozen():
    result = score_item("vqav2", "yes", ["yes"] * 10)
    assert result == ItemScore(1.0, "yes", {})
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.score = 0.0


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("  The cat  ", "The cat"),
        ("Let me think. Answer: two dogs", "two dogs"),
        ("Answer: yes\nAnswer: no", "yes"),  # what lies between the first "Answer:" and the next
        ("Answer:  a   b ", "a   b"),  # that branch keeps inner whitespace
        ("red\nblue\nred", "red"),
        ("red\n\n\nblue", ""),  # blank pieces count: the empty line is the most frequent
        ("red\nblue", "red"),  # a tie goes to the first piece
        ("one  two\tthree", "one two three"),
    ],
)
def test_molmo_clean_prediction_is_the_release_s(raw, cleaned):
    assert molmo_clean_prediction(raw) == cleaned


def test_official_scores_the_raw_output_and_molmo_cleans_it_first():
    # The done-when cases of issue 13: "Answer: 35" is not "35" to the official scripts.
    for task, answers in [("vqav2", ["35"] * 9 + ["36"]), ("textvqa", ["35"] * 10), ("docvqa", ["35"])]:
        assert score_item(task, "Answer: 35", answers).score == 0.0
        assert score_item(task, "Answer: 35", answers, profile="molmo").score == 1.0
    assert score_item("vqav2", "35\n35", ["35"] * 9 + ["36"]).score == 0.0  # "35 35"
    assert score_item("vqav2", "35\n35", ["35"] * 9 + ["36"], profile="molmo").score == 1.0
    # The release keeps only the first line's... most frequent line: a reasoning line loses the answer.
    assert score_item("realworldqa", "Let me think step by step.\nThe answer is (B)", ["B"]).score == 1.0
    assert score_item("chartqa", "Answer: 5.1", ["5"], profile="molmo").score == 1.0
    assert score_item("chartqa", "Answer: 5.1", ["5"]).score == 0.0
    # Counting has no clean-up in either profile: the last number of a multi-line answer still counts.
    assert score_item("countbenchqa", "3\n4\n4", ["4"]).score == 1.0
    assert score_item("countbenchqa", "3\n4\n4", ["4"], profile="molmo").score == 1.0


def test_red_white_is_red_white_to_vqa_eval():
    answers = ["red white"] * 8 + ["red", "white"]
    assert score_item("vqav2", "red,white", answers).score == 1.0
    assert score_item("vqav2", "red,white", answers, profile="molmo").score == 1.0


def test_empty_predictions_are_unparsed_and_score_zero():
    for task, answers, choices in [
        ("vqav2", ["yes"] * 10, None),
        ("textvqa", ["yes"] * 10, None),
        ("docvqa", ["xyz"], None),
        ("chartqa", ["5"], None),
        ("ai2d", ["A"], ["x", "y"]),
        ("countbenchqa", ["3"], None),
    ]:
        result = score_item(task, "  ", answers, choices)
        assert (result.score, result.parsed) == (0.0, None), task


def test_the_anls_script_measures_lengths_on_the_raw_strings_even_for_blank_output():
    # Two spaces against "x": distance 1 on the normalised strings, length 2 from the raw ones, 0.5 is kept. (A
    # run records a blank output as a failed item and scores it 0 before any metric sees it.)
    assert score_item("docvqa", "  ", ["x"]).score == 0.5


def test_only_mathvista_asks_an_answer_judge():
    assert judged_tasks() == ["mathvista"]
    with pytest.raises(ValueError, match="an answer judge only applies to mathvista, not vqav2"):
        score_item("vqav2", "yes", ["yes"] * 10, judge=object())


def test_answers_must_not_be_empty():
    with pytest.raises(ValueError, match="at least one ground-truth answer"):
        score_item("docvqa", "x", [])


def test_the_answer_a_profile_submits():
    assert answer_text("  Answer: 35\n") == "Answer: 35"
    assert answer_text("  Answer: 35\n", "molmo") == "35"
    with pytest.raises(ValueError, match="unknown scoring profile"):
        answer_text("x", "paper")
