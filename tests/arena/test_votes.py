import time

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from arena.annotators import disable_annotator
from arena.db import Annotator, Assignment, Battle, Vote
from arena.votes import (
    AnnotatorDisabledError,
    AnnotatorVotes,
    DuplicateVoteError,
    NotAssignedError,
    Revealed,
    TooSoonError,
    record_vote,
)


@pytest.fixture
def battle(session: Session, make_study) -> Battle:
    make_study(n_models=2, n_prompts=2)
    return session.scalars(select(Battle).order_by(Battle.id)).first()


def _assign(session: Session, annotator_id: int, battle: Battle, swapped: bool) -> None:
    session.add(Assignment(annotator_id=annotator_id, battle_id=battle.id, swapped=swapped,
                           shown_at=time.time() - 3))
    session.commit()


def _votes(session: Session) -> list[tuple]:
    session.expire_all()
    return session.execute(select(Vote.annotator_id, Vote.battle_id, Vote.choice, Vote.reason)).all()


@pytest.mark.parametrize(
    ("swapped", "on_screen", "stored"),
    [
        (False, "left_better", "a_better"),
        (False, "right_better", "b_better"),
        (True, "left_better", "b_better"),
        (True, "right_better", "a_better"),
        (True, "tie_good", "tie_good"),
        (True, "tie_bad", "tie_bad"),
        (True, "cant_tell", "cant_tell"),
    ],
)
def test_the_screen_side_is_mapped_to_the_models(session: Session, session_factory: sessionmaker, battle: Battle,
                                                 annotators, swapped: bool, on_screen: str, stored: str) -> None:
    (person,) = annotators(1)
    _assign(session, person, battle, swapped)
    name_a, name_b = battle.answer_a.model.name, battle.answer_b.model.name
    revealed = record_vote(session_factory, person, battle.id, on_screen, reason="clearer")
    assert revealed == (Revealed(name_b, name_a) if swapped else Revealed(name_a, name_b))
    assert _votes(session) == [(person, battle.id, stored, "clearer")]
    vote = session.scalars(select(Vote)).one()
    assert 2.5 < vote.latency < 60 and abs(vote.tstamp - time.time()) < 60


def test_a_battle_not_assigned_to_the_annotator_is_refused(session: Session, session_factory, battle,
                                                           annotators) -> None:
    owner, other = annotators(2)
    _assign(session, owner, battle, swapped=False)
    with pytest.raises(NotAssignedError, match=f"battle {battle.id} is not assigned to annotator {other}"):
        record_vote(session_factory, other, battle.id, "left_better")
    with pytest.raises(NotAssignedError):
        record_vote(session_factory, owner, battle.id + 1, "left_better")
    assert _votes(session) == []


def test_a_vote_sooner_than_min_seconds_after_the_battle_was_shown_is_refused(session: Session, session_factory,
                                                                            battle, annotators) -> None:
    """One key press is one vote and brings the next battle: a held key's repeats must not vote on it unread."""
    (person,) = annotators(1)
    _assign(session, person, battle, swapped=False)  # shown 3 s ago
    with pytest.raises(TooSoonError, match=r"shown 3\.\d\d s ago, less than the 5 s a vote needs") as refused:
        record_vote(session_factory, person, battle.id, "left_better", min_seconds=5.0)
    assert 2.9 < refused.value.seconds_shown < 60 and _votes(session) == []
    record_vote(session_factory, person, battle.id, "left_better", min_seconds=2.0)
    assert _votes(session) == [(person, battle.id, "a_better", None)]


def test_a_second_vote_is_refused_and_the_first_stands(session: Session, session_factory, battle,
                                                       annotators) -> None:
    (person,) = annotators(1)
    _assign(session, person, battle, swapped=True)
    record_vote(session_factory, person, battle.id, "right_better")
    with pytest.raises(DuplicateVoteError, match="already voted"):
        record_vote(session_factory, person, battle.id, "left_better", reason="changed my mind")
    assert _votes(session) == [(person, battle.id, "a_better", None)]


def test_bad_choices_and_disabled_annotators_are_refused(session: Session, session_factory, battle,
                                                         annotators) -> None:
    (person,) = annotators(1)
    _assign(session, person, battle, swapped=False)
    with pytest.raises(ValueError, match="unknown choice 'a_better'"):
        record_vote(session_factory, person, battle.id, "a_better")
    with pytest.raises(ValueError, match="more than the limit of 2000"):
        record_vote(session_factory, person, battle.id, "left_better", reason="x" * 2001)
    disable_annotator(session, session.get(Annotator, person).name)
    with pytest.raises(PermissionError, match="disabled"):
        record_vote(session_factory, person, battle.id, "left_better")
    assert session.scalar(select(func.count()).select_from(Vote)) == 0


def test_the_store_shows_an_assignment_as_its_annotator_sees_it(session: Session, session_factory, battle,
                                                                annotators) -> None:
    owner, other = annotators(2)
    _assign(session, owner, battle, swapped=True)
    view = AnnotatorVotes(session_factory, owner).view(battle.id)
    assert (view.battle_id, view.left, view.right) == (battle.id, battle.answer_b.text, battle.answer_a.text)
    assert view.image == battle.prompt.image.data and (view.width, view.height) == (8, 6)
    with pytest.raises(NotAssignedError):
        AnnotatorVotes(session_factory, other).view(battle.id)
    assert AnnotatorVotes(session_factory, owner).votes_cast() == 0
    disable_annotator(session, session.get(Annotator, other).name)
    with pytest.raises(AnnotatorDisabledError):
        AnnotatorVotes(session_factory, other).next_battle()
