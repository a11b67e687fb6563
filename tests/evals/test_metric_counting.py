"""Counting answers: the primary reading (numbers, number words, "a total of N", point markup through
`molmo.pointing`) and the release's `PointCountEval` ladder for the molmo profile."""

import pytest

from evals.metrics.counting import count_scores, parse_count, release_count
from evals.scoring import score_item
from tests.molmo.test_pointing import POINT_CASES


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("3", 3),
        ("3.", 3),
        ("9.0", 9),  # a whole decimal is a count
        ("There are 9.0 apples.", 9),
        ("seven", 7),
        ("Seven.", 7),
        ("twenty", 20),
        ("There are seven dogs.", 7),
        ("There are 12 birds in the tree", 12),
        ("I see 3 cats about 2.5 metres away", 3),  # "2.5" is no count and is passed over
        ("a total of 3", 3),
        ("In the image I see a total of 4 apples, 2 of them red.", 4),
        ('Counting the <points x1="10.5" y1="20" x2="30" y2="40" alt="dogs">dogs</points> shows a total of 2.', 2),
        ("There are none.", 0),
        ("zero", 0),
    ],
)
def test_parse_count(text, count):
    assert parse_count(text) == count


@pytest.mark.parametrize(("text", "count"), POINT_CASES)
def test_the_points_are_counted_by_molmo_pointing_when_no_number_is_written(text, count):
    assert parse_count(text) == (count or None)  # coordinates are never read as the count


def test_unparseable_answers():
    assert parse_count("I don't know") is None
    assert parse_count("") is None
    assert parse_count("many") is None
    assert parse_count("2.5") is None


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("3", 3),
        ("There are 3.", 3),
        ("Seven.", 7),
        ("9.0", None),  # int("9.0") fails in the release
        ("3 dogs", None),  # only the last word is read...
        ("There are a total of 4 dogs", 4),  # ...then "a total of N" from the start of the first line
        ("Dogs.\nThere are a total of 4 dogs", None),  # `re.match` does not reach the second line
        ("There are none", None),  # the release's "none" pattern never matches
        ("-2", -2),
    ],
)
def test_release_count_is_the_release_ladder(text, count):
    assert release_count(text) == count


def test_exact_and_within_one():
    assert count_scores(4, "3") == (0.0, 1.0)
    assert count_scores(3, "3") == (1.0, 1.0)
    assert count_scores(6, "3") == (0.0, 0.0)
    assert count_scores(None, "3") == (0.0, 0.0)
    with pytest.raises(ValueError, match="not a number"):
        count_scores(3, "lots")


def test_counting_tasks_through_the_registry():
    result = score_item(
        "pixmo_count", 'Counting the <points x1="1" y1="2" alt="x">x</points> shows a total of 1.', ["2"]
    )
    assert (result.score, result.parsed, result.secondary) == (0.0, "1", {"within_1": 1.0})
    assert score_item("countbenchqa", "seven", ["7"]).score == 1.0
    assert score_item("countbenchqa", "9.0", ["9"]).score == 1.0
    assert score_item("countbenchqa", "9.0", ["9"], profile="molmo").score == 0.0
    assert score_item("countbenchqa", "", ["7"]).parsed is None
