"""Counting answers (harness.md §5.6): numbers, number words, "a total of N" and point markup."""

import pytest

from evals.metrics import score_item
from evals.metrics.counting import count_points, count_scores, parse_count


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("3", 3),
        ("3.", 3),
        ("seven", 7),
        ("Seven.", 7),
        ("twenty", 20),
        ("There are seven dogs.", 7),
        ("There are 12 birds in the tree", 12),
        ("a total of 3", 3),
        ("In the image I see a total of 4 apples, 2 of them red.", 4),
        ('Counting the <points x1="10.5" y1="20" x2="30" y2="40" alt="dogs">dogs</points> shows a total of 2.', 2),
        ("There are none.", 0),
        ("zero", 0),
    ],
)
def test_parse_count(text, count):
    assert parse_count(text) == count


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ('<points x1="1" y1="2" x2="3" y2="4" alt="x">', 2),
        ('<points x1="10" y1="20" x2="30" y2="40" x3="50" y3="60" alt="dogs">dogs</points>', 3),
        ('<point x="10.5" y="20.1" alt="cat">cat</point>', 1),
        ('<point x="1" y="2" alt="a">a</point> and <point x="3" y="4" alt="b">b</point>', 2),
    ],
)
def test_points_are_counted_when_no_number_is_written(text, count):
    assert count_points(text) == count
    assert parse_count(text) == count  # coordinates are never read as the count


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ('<points x1="1" y1="2" x2="3"', 1),  # unclosed, the last point incomplete
        ("<points x1=abc y1=>", None),
        ("<points", None),
        ("<point>", None),
        ('<points x1="1" y1="2" x2="3" y2="4"</points>', 2),
        ("</points></point><<>>", None),
        ('<points x1="1e5" y1="--" alt=">">', None),
    ],
)
def test_malformed_markup_never_crashes(text, count):
    assert parse_count(text) == count


def test_unparseable_answers():
    assert parse_count("I don't know") is None
    assert parse_count("") is None
    assert parse_count("many") is None


def test_exact_and_within_one():
    assert count_scores("4", "3") == (4, 0.0, 1.0)
    assert count_scores("three", "3") == (3, 1.0, 1.0)
    assert count_scores("6", "3") == (6, 0.0, 0.0)
    assert count_scores("no idea", "3") == (None, 0.0, 0.0)
    with pytest.raises(ValueError, match="not a number"):
        count_scores("3", "lots")


def test_counting_tasks_through_the_registry():
    result = score_item(
        "pixmo_count", 'Counting the <points x1="1" y1="2" alt="x">x</points> shows a total of 1.', ["2"]
    )
    assert (result.score, result.parsed, result.secondary) == (0.0, "1", {"within_1": 1.0})
    assert score_item("countbenchqa", "seven", ["7"]).score == 1.0
    assert score_item("countbenchqa", "", ["7"]).parsed is None
