"""Numbers a maintainer watches while a study runs: progress, pace, gold accuracy, position bias, agreement.

Every function only reads. Votes of disabled annotators are included, so their behaviour can be checked.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from itertools import combinations

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from arena.db import BATTLE_MODELS, Annotator, Assignment, Battle, Vote

DECISIVE = ("a_better", "b_better")


def pair_progress(session: Session) -> pd.DataFrame:
    """Per model pair (names in sorted order): battles and votes, gold battles left out."""
    battles = _battles(session)
    battles = battles[~battles["is_gold"]]
    votes = _votes(session)
    votes = votes[~votes["is_gold"]]
    table = pd.DataFrame({
        "battles": battles.groupby(["model_1", "model_2"]).size(),
        "votes": votes.groupby(["model_1", "model_2"]).size(),
    })
    return table.fillna(0).astype(int).reset_index()


def annotator_progress(session: Session) -> pd.DataFrame:
    """Per annotator: assignments, votes, "can't tell" votes, median seconds from showing a battle to the vote
    (`median_seconds_to_vote`), last vote (UTC)."""
    annotators = pd.DataFrame(
        session.execute(
            select(Annotator.name, Annotator.enabled, func.count(Assignment.id))
            .outerjoin(Assignment, Assignment.annotator_id == Annotator.id)
            .group_by(Annotator.id, Annotator.name, Annotator.enabled).order_by(Annotator.name)
        ).all(),
        columns=["annotator", "enabled", "assigned"],
    ).set_index("annotator")
    votes = _votes(session).assign(cant_tell=lambda v: v["choice"] == "cant_tell")
    per_annotator = votes.groupby("annotator").agg(
        votes=("vote_id", "size"), cant_tell=("cant_tell", "sum"), median_seconds_to_vote=("latency", "median"),
        last_vote=("tstamp", "max"))
    table = annotators.join(per_annotator)
    table[["votes", "cant_tell"]] = table[["votes", "cant_tell"]].fillna(0).astype(int)
    table["last_vote"] = pd.to_datetime(table["last_vote"], unit="s", utc=True)
    return table.reset_index()


def votes_per_hour(session: Session) -> pd.DataFrame:
    """Votes per clock hour (UTC), hours without votes included."""
    hours = pd.to_datetime(_votes(session)["tstamp"], unit="s", utc=True)
    counts = pd.Series(1, index=hours).resample("h").sum() if len(hours) else pd.Series(dtype=int)
    return counts.rename_axis("hour").rename("votes").astype(int).reset_index()


def gold_accuracy(session: Session) -> pd.DataFrame:
    """Per annotator with gold votes: how many, how many chose the known better side, and the share."""
    votes = _votes(session)
    gold = votes[votes["is_gold"]].assign(correct=lambda v: v["choice"] == v["gold_better"] + "_better")
    table = gold.groupby("annotator").agg(gold_votes=("correct", "size"), correct=("correct", "sum"))
    return table.assign(accuracy=table["correct"] / table["gold_votes"]).reset_index()


def position_bias(session: Session) -> pd.DataFrame:
    """Among decisive votes, how often the answer shown on the left won: per annotator, then an "All" row.

    With sides assigned by a fair coin, an unbiased annotator's `left_rate` is near 0.5.
    """
    votes = _votes(session)
    decisive = votes[votes["choice"].isin(DECISIVE)]
    left = decisive.assign(left=(decisive["choice"] == "a_better") != decisive["swapped"])
    table = left.groupby("annotator").agg(decisive=("left", "size"), left=("left", "sum"))
    table.loc["All"] = [len(left), left["left"].sum()]
    table = table.astype(int)
    return table.assign(left_rate=table["left"] / table["decisive"]).rename_axis("annotator").reset_index()


def agreement(session: Session) -> dict[str, float]:
    """Agreement between annotators on the decisive votes (which answer is better) of non-gold battles
    that several annotators judged: the share of agreeing annotator pairs and Krippendorff's alpha."""
    votes = _votes(session)
    decisive = votes[votes["choice"].isin(DECISIVE) & ~votes["is_gold"]]
    units = [list(labels) for _, labels in decisive.groupby("battle_id")["choice"] if len(labels) > 1]
    pairs = [(x == y) for labels in units for x, y in combinations(labels, 2)]
    return {
        "battles": len(units),
        "pairs": len(pairs),
        "percent_agreement": float(np.mean(pairs)) if pairs else float("nan"),
        "krippendorff_alpha": krippendorff_alpha(units),
    }


def krippendorff_alpha(units: Iterable[Sequence[Hashable]]) -> float:
    """Krippendorff's alpha for nominal labels; each unit holds the labels that raters gave one item.

    alpha = 1 - D_o / D_e from the coincidence matrix o_ck = sum over units of (pairs of values c, k within
    the unit) / (m_u - 1), with n_c = sum_k o_ck and n = sum_c n_c:
    alpha = 1 - (n - 1) * sum_{c != k} o_ck / sum_{c != k} n_c n_k (K. Krippendorff, "Computing
    Krippendorff's Alpha-Reliability", 2011). Units with fewer than two labels are not pairable and are
    skipped. NaN when there is no variation to measure agreement against.
    """
    coincidence: Counter[tuple[Hashable, Hashable]] = Counter()
    for labels in units:
        m = len(labels)
        if m < 2:
            continue
        counts = Counter(labels)
        for c, n_c in counts.items():
            for k, n_k in counts.items():
                coincidence[c, k] += n_c * (n_k - (c == k)) / (m - 1)
    totals: Counter[Hashable] = Counter()
    for (c, _), o in coincidence.items():
        totals[c] += o
    n = sum(totals.values())
    disagreeing = sum(o for (c, k), o in coincidence.items() if c != k)
    expected = (n * n - sum(t * t for t in totals.values())) / (n - 1) if n > 1 else 0.0
    return 1.0 - disagreeing / expected if expected > 0 else float("nan")


def _battles(session: Session) -> pd.DataFrame:
    """One row per battle: id, gold flag, and its two model names in sorted order."""
    frame = pd.DataFrame(
        session.execute(
            select(Battle.id, Battle.is_gold, Battle.gold_better, BATTLE_MODELS.c.model_a, BATTLE_MODELS.c.model_b)
            .join(BATTLE_MODELS, Battle.id == BATTLE_MODELS.c.battle_id)
        ).all(),
        columns=["battle_id", "is_gold", "gold_better", "model_a", "model_b"],
    )
    ordered = np.sort(frame[["model_a", "model_b"]].to_numpy(dtype=object), axis=1)
    return frame.assign(model_1=ordered[:, 0], model_2=ordered[:, 1])


def _votes(session: Session) -> pd.DataFrame:
    """One row per vote with its annotator's name, the assignment's side flag and the battle's columns."""
    frame = pd.DataFrame(
        session.execute(
            select(Vote.id, Vote.battle_id, Annotator.name, Vote.choice, Vote.tstamp, Vote.latency,
                   Assignment.swapped)
            .join(Vote.assignment).join(Annotator, Vote.annotator_id == Annotator.id).order_by(Vote.id)
        ).all(),
        columns=["vote_id", "battle_id", "annotator", "choice", "tstamp", "latency", "swapped"],
    )
    return frame.merge(_battles(session), on="battle_id", how="left")
