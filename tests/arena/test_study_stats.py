import math

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from arena.db import Battle
from arena.stats import (
    agreement,
    annotator_progress,
    gold_accuracy,
    krippendorff_alpha,
    pair_progress,
    position_bias,
    votes_per_hour,
)

HOUR = 3600.0


@pytest.fixture
def scenario(session: Session, make_study, annotators, cast) -> list[Battle]:
    """3 models, 2 prompts: 6 battles and 2 gold items; annotators a0, a1, a2 with known votes."""
    make_study(n_models=3, n_prompts=2, gold=True)
    battles = session.scalars(select(Battle).where(~Battle.is_gold).order_by(Battle.id)).all()
    gold = session.scalars(select(Battle).where(Battle.is_gold).order_by(Battle.id)).all()
    a0, a1, a2 = annotators(3)
    # a0: four decisive votes, three of them for the left side; one "can't tell".
    cast(a0, battles[0], "a_better", swapped=False, tstamp=10 * HOUR)
    cast(a0, battles[1], "b_better", swapped=True, tstamp=10 * HOUR + 60)
    cast(a0, battles[2], "a_better", swapped=False, tstamp=10 * HOUR + 120)
    cast(a0, battles[3], "a_better", swapped=True, tstamp=12 * HOUR)
    cast(a0, battles[4], "cant_tell", tstamp=12 * HOUR + 5)
    # a1 agrees with a0 on battles 0 and 1, disagrees on 2, ties on 3.
    cast(a1, battles[0], "a_better", swapped=True, tstamp=12 * HOUR + 10)
    cast(a1, battles[1], "b_better", swapped=False, tstamp=12 * HOUR + 20)
    cast(a1, battles[2], "b_better", swapped=False, tstamp=12 * HOUR + 30)
    cast(a1, battles[3], "tie_good", tstamp=12 * HOUR + 40)
    # a2: gold items, one right and one wrong.
    cast(a2, gold[0], f"{gold[0].gold_better}_better", tstamp=12 * HOUR + 50)
    wrong = "b_better" if gold[1].gold_better == "a" else "a_better"
    cast(a2, gold[1], wrong, tstamp=12 * HOUR + 60)
    return battles


def test_position_bias_counts_left_wins_among_decisive_votes(session: Session, scenario) -> None:
    table = position_bias(session).set_index("annotator")
    assert table.loc["a0", "left_rate"] == 0.75
    assert (table.loc["a1", "decisive"], table.loc["a1", "left"]) == (3, 0)
    assert (table.loc["All", "decisive"], table.loc["a2", "decisive"]) == (9, 2)
    assert table.loc["All", "left"] == 3 + 0 + table.loc["a2", "left"]


def test_gold_accuracy_per_annotator(session: Session, scenario) -> None:
    table = gold_accuracy(session)
    assert table.to_dict("records") == [{"annotator": "a2", "gold_votes": 2, "correct": 1, "accuracy": 0.5}]


def test_agreement_on_battles_judged_twice(session: Session, scenario) -> None:
    # Decisive pairs: battle 0 (a, a), battle 1 (b, b), battle 2 (a, b); battle 3 has one decisive vote.
    # Coincidences: o_aa = 2, o_bb = 2, o_ab = o_ba = 1, so n_a = n_b = 3, n = 6 and
    # alpha = 1 - (n - 1) * 2 / (2 * n_a * n_b) = 1 - 5 * 2 / 18 = 4/9.
    result = agreement(session)
    assert (result["battles"], result["pairs"]) == (3, 3)
    assert result["percent_agreement"] == pytest.approx(2 / 3)
    assert result["krippendorff_alpha"] == pytest.approx(4 / 9)


def test_krippendorff_alpha_matches_the_published_example() -> None:
    # Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", nominal example: alpha = 0.743.
    coders = ["1 2 3 3 2 1 4 1 2 . . .", "1 2 3 3 2 2 4 1 2 5 . 3",
              ". 3 3 3 2 3 4 2 2 5 1 .", "1 2 3 3 2 4 4 1 2 5 1 ."]
    units = [[v for v in unit if v != "."] for unit in zip(*(c.split() for c in coders), strict=True)]
    assert krippendorff_alpha(units) == pytest.approx(0.743, abs=5e-4)
    assert math.isnan(krippendorff_alpha([["a", "a"], ["a"]]))


def test_progress_and_pace(session: Session, scenario) -> None:
    pairs = pair_progress(session)
    assert pairs[["model_1", "model_2"]].values.tolist() == [
        ["model-0", "model-1"], ["model-0", "model-2"], ["model-1", "model-2"]]
    assert pairs["battles"].tolist() == [2, 2, 2] and pairs["votes"].sum() == 9

    people = annotator_progress(session).set_index("annotator")
    assert people["votes"].to_dict() == {"a0": 5, "a1": 4, "a2": 2}
    assert people["assigned"].to_dict() == {"a0": 5, "a1": 4, "a2": 2}
    assert people["cant_tell"].to_dict() == {"a0": 1, "a1": 0, "a2": 0}
    assert (people["median_seconds_to_vote"] == 5.0).all()
    assert people.loc["a2", "last_vote"].timestamp() == 12 * HOUR + 65

    hours = votes_per_hour(session)
    assert [t.hour for t in hours["hour"]] == [10, 11, 12]
    assert hours["votes"].tolist() == [3, 0, 8]
