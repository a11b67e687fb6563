"""A simulated panel of annotators voting through the real store: for demos, load tests and planning.

A judge turns an assignment (what one annotator sees) into one of the five choices. `Panel` judges by known
model strengths on the Elo scale, with noise (a share of random votes) and a position bias (extra pull
towards the left answer); any callable with the same signature can judge instead (the demo's judges by the
answers' correctness). Votes go through `next_battle` and `record_vote` exactly as the app's do, so every
count, constraint and export is real. Every simulated annotator is named `simulated-annotator-NNN`, so no
output can pass them off as people.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from arena.annotators import add_annotator
from arena.db import Annotator, Assignment
from arena.sampling import next_battle
from arena.votes import SCREEN_CHOICES, record_vote

SIMULATED_NAME = "simulated-annotator-{:03d}"


@dataclass(frozen=True)
class Panel:
    """How the simulated annotators judge: strengths (Elo scale) of the models, and their imperfections."""

    strengths: Mapping[str, float]
    random_share: float = 0.1  # votes cast at random among the five choices
    left_bias: float = 0.05  # added to P(left is better)
    tie_margin: float = 0.1  # |P(left better) - 1/2| below this: a tie (good or bad at random)
    cant_tell: float = 0.03  # share of "can't tell"


    def __call__(self, assignment: Assignment, rng: random.Random) -> str:
        if rng.random() < self.random_share:
            return rng.choice(SCREEN_CHOICES)
        if rng.random() < self.cant_tell:
            return "cant_tell"
        left, right = assignment.left.model.name, assignment.right.model.name
        gap = self.strengths.get(right, 1000.0) - self.strengths.get(left, 1000.0)
        p_left = min(1.0, 1.0 / (1.0 + 10.0 ** (gap / 400.0)) + self.left_bias)
        if abs(p_left - 0.5) < self.tie_margin and rng.random() < 0.5:
            return rng.choice(("tie_good", "tie_bad"))
        return "left_better" if rng.random() < p_left else "right_better"


Judge = Callable[[Assignment, random.Random], str]


def simulate_votes(factory: sessionmaker[Session], judge: Judge, annotators: int, votes_each: int,
                   seed: int = 0) -> int:
    """Create `annotators` simulated annotators and let each vote up to `votes_each` times; returns the votes.

    The annotators take turns, one vote at a time, as a panel working in parallel would."""
    rng = random.Random(seed)
    with factory() as session:
        first = session.scalar(select(func.count()).select_from(Annotator))
        ids = [int(add_annotator(session, SIMULATED_NAME.format(first + i)).partition(".")[0])
               for i in range(annotators)]
    votes = 0
    for _ in range(votes_each):
        for annotator_id in ids:
            with factory() as session:
                annotator = session.get(Annotator, annotator_id)
                assignment = next_battle(session, annotator, rng)
                if assignment is None:
                    continue
                choice = judge(assignment, rng)
                battle_id = assignment.battle_id
            record_vote(factory, annotator_id, battle_id, choice)
            votes += 1
    return votes
