"""Many annotators voting at once, each thread with its own sessions: every vote is stored exactly once."""

import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from arena.db import Annotator, Assignment, Battle, ModelPair, Vote
from arena.sampling import next_battle
from arena.votes import SCREEN_CHOICES, DuplicateVoteError, record_vote

THREADS, VOTES = 32, 20


def test_concurrent_votes_are_all_stored_once(session: Session, session_factory: sessionmaker, make_study,
                                              annotators) -> None:
    make_study(n_models=6, n_prompts=3, gold=True)  # 45 battles and 3 gold items
    ids = annotators(THREADS)
    start = threading.Barrier(THREADS)

    def annotate(annotator_id: int) -> list[tuple[int, int, str]]:
        rng, cast = random.Random(annotator_id), []
        with session_factory() as own:
            annotator = own.get(Annotator, annotator_id)
            start.wait()
            for _ in range(VOTES):
                battle_id = next_battle(own, annotator, rng).battle_id
                choice = rng.choice(SCREEN_CHOICES)
                record_vote(session_factory, annotator_id, battle_id, choice)
                cast.append((annotator_id, battle_id, choice))
        try:
            record_vote(session_factory, annotator_id, cast[0][1], "left_better")
        except DuplicateVoteError:
            return cast
        raise AssertionError("a second vote on the same battle was accepted")

    with ThreadPoolExecutor(THREADS) as pool:
        cast = [vote for votes in pool.map(annotate, ids) for vote in votes]

    stored = session.execute(
        select(Vote.annotator_id, Vote.battle_id, Vote.choice, Assignment.swapped).join(Vote.assignment)
    ).all()
    assert len(stored) == len(cast) == THREADS * VOTES
    assert len({(a, b) for a, b, _, _ in stored}) == len(stored)
    # No increment of the sampler's counts was lost either.
    assigned = Counter(session.scalars(select(Assignment.battle_id)))
    assert {b.id: b.n_assigned for b in session.scalars(select(Battle)) if b.n_assigned} == dict(assigned)
    gold = set(session.scalars(select(Battle.id).where(Battle.is_gold)))
    assert sum(session.scalars(select(ModelPair.n_assigned))) == sum(
        n for battle, n in assigned.items() if battle not in gold)
    expected = {(a, b): choice for a, b, choice in cast}
    for annotator_id, battle_id, choice, swapped in stored:
        on_screen = expected[annotator_id, battle_id]
        if on_screen in ("left_better", "right_better"):
            assert (choice == "a_better") == ((on_screen == "left_better") != swapped)
        else:
            assert choice == on_screen
