"""Pair sampling: which battle an annotator sees next.

Votes are spread evenly, first over model pairs, then within the chosen pair over its battles (one per
prompt, so prompts get even shares too): always the least-assigned, at random among equals. Counts are of
assignments, each a vote given or expected (an unvoted assignment is shown again the next time its
annotator asks), so annotators asking at the same moment are spread too. The counts live on the pair and
battle rows and are raised in the transaction that stores the assignment, so a choice reads
O(pairs + prompts) rows, however many votes there are. Gold battles are mixed in at `gold_rate`; an
annotator never gets the same battle twice, and the side of answer `a` is a coin flip recorded in the
assignment.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable
from typing import TypeVar

from sqlalchemy import Integer, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from arena.db import Annotator, Assignment, Battle, ModelPair, Vote

K = TypeVar("K")

# The queries are built once; the annotator and the model pair are bound parameters.
_ANNOTATOR = bindparam("annotator_id", type_=Integer())
_UNSEEN = Battle.id.not_in(select(Assignment.battle_id).where(Assignment.annotator_id == _ANNOTATOR))
_OPEN = (
    select(Assignment).outerjoin(Assignment.vote)
    .where(Assignment.annotator_id == _ANNOTATOR, Vote.id.is_(None)).order_by(Assignment.id).limit(1)
)
_GOLD = select(Battle.id, Battle.n_assigned).where(Battle.is_gold, _UNSEEN).order_by(Battle.id)
_PAIRS = select(ModelPair.id, ModelPair.n_assigned).order_by(ModelPair.id)
_IN_PAIR = (
    select(Battle.id, Battle.n_assigned)
    .where(Battle.pair_id == bindparam("pair_id", type_=Integer()), _UNSEEN).order_by(Battle.id)
)


def next_battle(session: Session, annotator: Annotator, rng: random.Random, *,
                gold_rate: float = 0.1) -> Assignment | None:
    """The annotator's next assignment, committed before it is shown; None when no battle is left.

    An assignment the annotator has not voted on yet is shown again (with a new `shown_at`) before a new one.
    The session should hold no other pending changes, since this commits (or, on a race, rolls back).
    """
    if not annotator.enabled:
        raise PermissionError(f"annotator {annotator.name!r} is disabled")
    now = time.time()
    assignment = session.scalars(_OPEN, {"annotator_id": annotator.id}).first()
    if assignment is not None:
        assignment.shown_at = now
        session.commit()
        return assignment
    choice = _pick_battle(session, annotator.id, rng, gold_rate)
    if choice is None:
        return None
    battle_id, pair_id = choice
    assignment = Assignment(annotator_id=annotator.id, battle_id=battle_id, swapped=rng.random() < 0.5,
                            shown_at=now)
    try:
        session.add(assignment)
        session.flush()
        # Every writer locks the pair row before the battle row, so two of them cannot deadlock.
        if pair_id is not None:
            session.execute(update(ModelPair).where(ModelPair.id == pair_id)
                            .values(n_assigned=ModelPair.n_assigned + 1))
        session.execute(update(Battle).where(Battle.id == battle_id).values(n_assigned=Battle.n_assigned + 1))
        session.commit()
    except IntegrityError:
        # Two requests of this annotator drew the same battle at once; the other one's assignment stands.
        session.rollback()
        return next_battle(session, annotator, rng, gold_rate=gold_rate)
    return assignment


def _pick_battle(session: Session, annotator_id: int, rng: random.Random,
                 gold_rate: float) -> tuple[int, int | None] | None:
    """(battle id, model pair id) of the battle to assign, or None when the annotator has seen them all.
    Gold battles come at `gold_rate`, and also once every other battle has been seen."""
    if rng.random() < gold_rate and (battle_id := _pick_gold(session, annotator_id, rng)) is not None:
        return battle_id, None
    pairs = session.execute(_PAIRS).all()
    for pair_id, _ in sorted(pairs, key=lambda pair: (pair.n_assigned, rng.random())):
        battles = session.execute(_IN_PAIR, {"annotator_id": annotator_id, "pair_id": pair_id}).all()
        battle_id = _least(battles, rng)
        if battle_id is not None:
            return battle_id, pair_id
    battle_id = _pick_gold(session, annotator_id, rng)
    return None if battle_id is None else (battle_id, None)


def _pick_gold(session: Session, annotator_id: int, rng: random.Random) -> int | None:
    return _least(session.execute(_GOLD, {"annotator_id": annotator_id}).all(), rng)


def _least(items: Iterable[tuple[K, int]], rng: random.Random) -> K | None:
    """The key with the smallest count, chosen at random among equal counts; None when there are no items."""
    best: list[K] = []
    smallest: int | None = None
    for key, count in items:
        if smallest is None or count < smallest:
            best, smallest = [key], count
        elif count == smallest:
            best.append(key)
    return rng.choice(best) if best else None
