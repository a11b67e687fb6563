"""The vote page's state machine without Streamlit: `step` alone, then `advance` against a real store."""

import random

import pytest
from sqlalchemy import select, update

from arena.db import Assignment, Vote
from arena.vote_flow import (
    NOTICE_ALREADY_VOTED,
    NOTICE_NOT_ON_SCREEN,
    NOTICE_NOT_YOURS,
    NOTICE_TOO_SOON,
    Assigned,
    AssignNext,
    Opened,
    StoreVote,
    VoteClicked,
    VoteRefused,
    VoteState,
    VoteStored,
    VoteTooSoon,
    advance,
    step,
)
from arena.votes import AnnotatorVotes, Revealed

NAMES = Revealed("model-x", "model-y")


def test_opening_the_page_asks_for_a_battle_once():
    state, command = step(VoteState(), Opened())
    assert (state, command) == (VoteState(), AssignNext())
    state, command = step(state, Assigned(7))
    assert (state, command) == (VoteState(battle_id=7, scroll_to_top=True), None)
    assert step(state, Opened()) == (VoteState(battle_id=7), None)  # a redraw keeps the battle, no new scroll


def test_a_vote_on_the_battle_on_screen_is_stored_then_the_next_battle_shows_under_its_names():
    showing = VoteState(battle_id=7, notice=NOTICE_ALREADY_VOTED, scroll_to_top=True)
    calm = VoteState(battle_id=7, notice=NOTICE_ALREADY_VOTED)  # while the vote is stored the page does not scroll
    assert step(showing, VoteClicked(7, "left_better", "")) == (calm, StoreVote(7, "left_better", None))
    assert step(showing, VoteClicked(7, "tie_bad", "why")) == (calm, StoreVote(7, "tie_bad", "why"))
    stored, command = step(showing, VoteStored(7, NAMES))
    assert (stored, command) == (VoteState(revealed=NAMES), AssignNext())  # the old notice goes, the names stay
    assert step(stored, Assigned(8)) == (VoteState(battle_id=8, revealed=NAMES, scroll_to_top=True), None)
    assert step(stored, Assigned(None)) == (VoteState(revealed=NAMES, finished=True), None)


def test_clicks_from_another_screen_are_refused_without_asking_the_store():
    showing = VoteState(battle_id=7, revealed=NAMES)
    assert step(showing, VoteClicked(6, "left_better")) == (
        VoteState(battle_id=7, revealed=NAMES, notice=NOTICE_NOT_ON_SCREEN), None)
    assert step(VoteState(), VoteClicked(6, "left_better")) == (VoteState(notice=NOTICE_NOT_ON_SCREEN), None)


def test_a_refused_vote_moves_on_with_a_notice():
    state, command = step(VoteState(battle_id=7), VoteRefused(7, NOTICE_ALREADY_VOTED))
    assert (state, command) == (VoteState(notice=NOTICE_ALREADY_VOTED), AssignNext())
    assert step(state, Assigned(8)) == (VoteState(battle_id=8, notice=NOTICE_ALREADY_VOTED, scroll_to_top=True), None)
    assert step(state, Assigned(None)) == (VoteState(notice=NOTICE_ALREADY_VOTED, finished=True), None)


def test_a_vote_too_soon_keeps_the_battle_on_screen_with_a_notice():
    state = VoteState(battle_id=7, revealed=NAMES, scroll_to_top=True)
    assert step(state, VoteTooSoon(7, "wait")) == (VoteState(battle_id=7, revealed=NAMES, notice="wait"), None)


def test_anything_else_is_not_an_event():
    with pytest.raises(TypeError, match="not a vote-page event"):
        step(VoteState(), "left_better")


@pytest.fixture
def alice(session, make_study, annotators, session_factory):
    make_study(n_models=3, n_prompts=2)
    (annotator_id,) = annotators(1)
    return AnnotatorVotes(session_factory, annotator_id, random.Random(0))


def test_two_tabs_of_one_annotator_never_store_a_vote_on_an_unseen_battle(alice, session):
    """Issue 15 item 1 at the flow level: both tabs show battle X; tab 1 votes, tab 2 votes (refused), tab 1
    is shown battle Y at once; tab 2 then shows Y too, and a click still naming X from tab 2 stores nothing."""
    one = advance(VoteState(), Opened(), alice)
    two = advance(VoteState(), Opened(), alice)
    x = one.battle_id
    assert two.battle_id == x  # the annotator's open assignment, in both tabs
    one = advance(one, VoteClicked(x, "left_better"), alice)
    assert one.revealed is not None and one.battle_id not in (None, x)
    two = advance(two, VoteClicked(x, "right_better"), alice)
    assert two.notice == NOTICE_ALREADY_VOTED and two.revealed is None
    assert two.battle_id == one.battle_id  # tab 2 gets the battle tab 1 is already showing
    stale = advance(two, VoteClicked(x, "left_better"), alice)
    assert stale.notice == NOTICE_NOT_ON_SCREEN and stale.battle_id == one.battle_id
    session.expire_all()
    assert [(v.battle_id, v.choice) for v in session.scalars(select(Vote))] == [(x, _stored(session, x, "left"))]


def _stored(session, battle_id: int, side: str) -> str:
    swapped = session.scalars(select(Assignment.swapped).where(Assignment.battle_id == battle_id)).one()
    return "a_better" if (side == "left") != swapped else "b_better"


def test_a_held_key_votes_once(session, make_study, annotators, session_factory):
    """The repeats of a held key reach the next battle within a second of its showing: refused, and it stays."""
    make_study(n_models=3, n_prompts=2)
    (annotator_id,) = annotators(1)
    store = AnnotatorVotes(session_factory, annotator_id, random.Random(0), min_seconds=60.0)
    first = advance(VoteState(), Opened(), store)
    session.execute(update(Assignment).values(shown_at=Assignment.shown_at - 61))  # read for a minute
    session.commit()
    state = advance(first, VoteClicked(first.battle_id, "left_better"), store)
    second = state.battle_id
    assert second not in (None, first.battle_id) and state.revealed is not None
    for _ in range(3):
        state = advance(state, VoteClicked(second, "left_better"), store)
        assert state.battle_id == second and state.notice.startswith(NOTICE_TOO_SOON.split("{")[0])
    session.expire_all()
    assert [v.battle_id for v in session.scalars(select(Vote))] == [first.battle_id]


def test_a_battle_of_someone_else_is_refused_by_the_store(alice, annotators, session_factory, session):
    (bob_id,) = annotators(1)
    bob = AnnotatorVotes(session_factory, bob_id, random.Random(1))
    theirs = advance(VoteState(), Opened(), bob).battle_id
    forged = VoteState(battle_id=theirs)  # a state that claims to show bob's battle to alice
    state = advance(forged, VoteClicked(theirs, "left_better"), alice)
    assert state.notice == NOTICE_NOT_YOURS and state.revealed is None
    assert session.scalars(select(Vote)).all() == []


def test_every_battle_once_then_finished(alice):
    state, seen = advance(VoteState(), Opened(), alice), []
    while not state.finished:
        seen.append(state.battle_id)
        state = advance(state, VoteClicked(state.battle_id, "tie_good"), alice)
    assert len(seen) == len(set(seen)) == 6 and alice.votes_cast() == 6
