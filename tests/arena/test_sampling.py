import random
from collections import Counter

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from arena import sampling
from arena.annotators import disable_annotator
from arena.db import Annotator, Assignment, Battle, ModelPair
from arena.sampling import next_battle
from arena.votes import record_vote


def _pair(battle: Battle) -> frozenset[str]:
    return frozenset((battle.answer_a.model.name, battle.answer_b.model.name))


def test_votes_spread_evenly_over_pairs_and_prompts(session: Session, session_factory: sessionmaker,
                                                    make_study, annotators) -> None:
    make_study(n_models=5, n_prompts=4)  # 10 pairs x 4 prompts = 40 battles
    rng = random.Random(0)
    people = [session.get(Annotator, i) for i in annotators(15)]
    per_pair, per_battle, per_prompt = Counter(), Counter(), Counter()
    for _round in range(8):
        for person in people:
            assignment = next_battle(session, person, rng, gold_rate=0)
            record_vote(session_factory, person.id, assignment.battle_id, rng.choice(["left_better", "tie_good"]))
            per_pair[_pair(assignment.battle)] += 1
            per_battle[assignment.battle_id] += 1
            per_prompt[assignment.battle.prompt_id] += 1
    assert len(per_pair) == 10 and max(per_pair.values()) - min(per_pair.values()) <= 1
    assert len(per_battle) == 40 and max(per_battle.values()) - min(per_battle.values()) <= 2
    assert len(per_prompt) == 4 and max(per_prompt.values()) - min(per_prompt.values()) <= 2
    seen = session.execute(select(Assignment.annotator_id, Assignment.battle_id)).all()
    assert len(seen) == len(set(seen)) == 15 * 8
    session.expire_all()  # the sampler's counts agree with the assignments
    assert {b.id: b.n_assigned for b in session.scalars(select(Battle))} == dict(per_battle)
    pair_counts = session.scalars(select(ModelPair.n_assigned)).all()
    assert sorted(pair_counts) == sorted(per_pair.values())


def test_an_annotator_sees_every_battle_once_then_none(session: Session, session_factory, make_study,
                                                       annotators) -> None:
    make_study(n_models=3, n_prompts=3, gold=True)
    person = session.get(Annotator, annotators(1)[0])
    rng, shown = random.Random(1), []
    while (assignment := next_battle(session, person, rng)) is not None:
        shown.append(assignment.battle_id)
        record_vote(session_factory, person.id, assignment.battle_id, "tie_bad")
    assert sorted(shown) == sorted(session.scalars(select(Battle.id))) and len(shown) == 3 * 3 + 3


def test_an_unvoted_assignment_is_shown_again(session: Session, session_factory, make_study, annotators) -> None:
    make_study(n_models=3, n_prompts=2)
    person = session.get(Annotator, annotators(1)[0])
    first = next_battle(session, person, random.Random(0))
    shown_at = first.shown_at
    again = next_battle(session, person, random.Random(5))
    assert (again.id, again.battle_id, again.swapped) == (first.id, first.battle_id, first.swapped)
    assert again.shown_at >= shown_at
    record_vote(session_factory, person.id, first.battle_id, "cant_tell")
    assert next_battle(session, person, random.Random(0)).battle_id != first.battle_id
    assert session.scalar(select(func.count()).select_from(Assignment)) == 2


def test_gold_items_come_at_the_configured_rate(session: Session, session_factory, make_study, annotators) -> None:
    make_study(n_models=4, n_prompts=10, gold=True)  # 60 battles and 10 gold items
    rng, gold, draws, swapped = random.Random(2), 0, 0, 0
    for person in [session.get(Annotator, i) for i in annotators(16)]:
        for _ in range(20):
            assignment = next_battle(session, person, rng, gold_rate=0.1)
            record_vote(session_factory, person.id, assignment.battle_id, "left_better")
            gold += assignment.battle.is_gold
            swapped += assignment.swapped
            draws += 1
    assert 0.06 <= gold / draws <= 0.14
    assert 0.4 <= swapped / draws <= 0.6


def test_gold_rate_zero_and_one(session: Session, session_factory, make_study, annotators) -> None:
    make_study(n_models=3, n_prompts=3, gold=True)
    never, always = (session.get(Annotator, i) for i in annotators(2))
    rng = random.Random(3)
    kinds = {}
    for person, rate in ((never, 0.0), (always, 1.0)):
        kinds[rate] = []
        for _ in range(5):
            assignment = next_battle(session, person, rng, gold_rate=rate)
            record_vote(session_factory, person.id, assignment.battle_id, "right_better")
            kinds[rate].append(assignment.battle.is_gold)
    assert kinds == {0.0: [False] * 5, 1.0: [True, True, True, False, False]}


def test_a_disabled_annotator_gets_nothing(session: Session, make_study, annotators) -> None:
    make_study(n_models=2, n_prompts=1)
    person = session.get(Annotator, annotators(1)[0])
    disable_annotator(session, person.name)
    with pytest.raises(PermissionError, match="disabled"):
        next_battle(session, person, random.Random(0))


def test_a_parallel_request_of_the_same_annotator_wins_cleanly(session: Session, session_factory, make_study,
                                                               annotators, monkeypatch) -> None:
    make_study(n_models=3, n_prompts=2)
    person = session.get(Annotator, annotators(1)[0])
    battle = session.scalars(select(Battle).order_by(Battle.id)).first()
    real_pick = sampling._pick_battle

    def other_request_wins_first(*args):
        # Between this request's read and its write, another request stores the same battle.
        monkeypatch.setattr(sampling, "_pick_battle", real_pick)
        with session_factory() as other:
            other.add(Assignment(annotator_id=person.id, battle_id=battle.id, swapped=True, shown_at=1.0))
            other.commit()
        return battle.id, battle.pair_id

    monkeypatch.setattr(sampling, "_pick_battle", other_request_wins_first)
    assignment = next_battle(session, person, random.Random(0))
    assert (assignment.battle_id, assignment.swapped) == (battle.id, True)
    assert session.scalar(select(func.count()).select_from(Assignment)) == 1
    session.expire_all()
    assert sum(session.scalars(select(Battle.n_assigned))) == 0  # the failed attempt left no count behind
