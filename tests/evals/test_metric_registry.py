"""The task registry and `score_item`: dispatch, Molmo's prediction clean-up, errors."""

import dataclasses

import pytest

from evals.metrics import TASK_METRICS, ItemScore, score_item
from evals.metrics.text import clean_prediction

TASKS = [
    "ai2d",
    "chartqa",
    "vqav2",
    "docvqa",
    "infovqa",
    "textvqa",
    "realworldqa",
    "mmmu",
    "mathvista",
    "countbenchqa",
    "pixmo_count",
]


def test_registry_covers_the_eleven_tasks():
    assert sorted(TASK_METRICS) == sorted(TASKS)


def test_unknown_task_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown task 'vqa3'; valid tasks: ai2d, chartqa, vqav2") as error:
        score_item("vqa3", "yes", ["yes"])
    assert all(task in str(error.value) for task in TASKS)


def test_item_score_is_frozen():
    result = score_item("vqav2", "yes", ["yes"] * 10)
    assert result == ItemScore(1.0, "yes", {"vqa_molmo": 1.0})
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.score = 0.0


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("  The cat  ", "The cat"),
        ("Let me think. Answer: two dogs", "two dogs"),
        ("Answer: yes\nAnswer: no", "yes Answer: no"),  # everything after the first "Answer:"
        ("red\nblue\nred", "red"),
        ("red\n\nblue", "red"),  # a tie goes to the first line
        ("one  two\tthree", "one two three"),
    ],
)
def test_clean_prediction(raw, cleaned):
    assert clean_prediction(raw) == cleaned


def test_cleanup_runs_for_vqa_family_tasks_only():
    assert score_item("vqav2", "Reasoning...\nAnswer: two", ["2"] * 10).score == 1.0
    assert score_item("docvqa", "Answer: 1995", ["1995"]).score == 1.0
    assert score_item("chartqa", "Answer: 5.1", ["5"]).score == 1.0
    # Counting keeps the raw text: the last number of a multi-line answer still counts.
    assert score_item("countbenchqa", "3\n4\n4", ["4"]).score == 1.0


def test_empty_predictions_are_unparsed_and_score_zero():
    for task, answers, choices in [
        ("vqav2", ["yes"] * 10, None),
        ("docvqa", ["x"], None),
        ("chartqa", ["5"], None),
        ("ai2d", ["A"], ["x", "y"]),
    ]:
        result = score_item(task, "  ", answers, choices)
        assert (result.score, result.parsed) == (0.0, None)


def test_answers_must_not_be_empty():
    with pytest.raises(ValueError, match="at least one ground-truth answer"):
        score_item("docvqa", "x", [])
