"""The voting and admin pages, driven through Streamlit's AppTest (no browser): sign in, vote, reveal, next."""

from pathlib import Path

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from arena.annotators import add_annotator
from arena.db import Vote
from arena.export import export_battles

APP = str(Path(__file__).resolve().parents[2] / "arena" / "app.py")
ADMIN = "from arena.pages import admin_page\nadmin_page()"
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
def study(db_url, engine, session, make_study, monkeypatch):
    monkeypatch.setenv("MOLMO_ARENA_DB", db_url)
    make_study(n_models=3, n_prompts=2)
    return {"alice": add_annotator(session, "alice"), "boss": add_annotator(session, "boss", admin=True)}


def _sign_in(app: AppTest, token: str) -> AppTest:
    app.run()
    app.text_input(key="token").input(token)
    app.button[0].click()
    return app.run()


def _texts(app: AppTest) -> list[str]:
    return [m.value for m in app.markdown]


def test_a_wrong_token_is_refused(study):
    app = _sign_in(AppTest.from_file(APP, default_timeout=30), "1.not-the-token")
    assert [e.value for e in app.error] == ["That token is not valid (or its annotator is disabled)."]
    assert "#### Answer A" not in _texts(app)


def test_sign_in_vote_reveal_next(study, session):
    app = _sign_in(AppTest.from_file(APP, default_timeout=30), study["alice"])
    assert not app.exception
    assert "#### Answer A" in _texts(app) and "#### Answer B" in _texts(app)
    assert [b.label for b in app.button] == ["A is better (1)", "B is better (2)", "Tie: both good (3)",
                                             "Tie: both bad (4)", "Can't tell (5)"]
    answers = [t for t in _texts(app) if " says " in t]
    assert len(answers) == 2 and not any("alice" in t for t in answers)  # identities hidden: only the text
    app.text_input(key=next(t.key for t in app.text_input if t.key.startswith("reason"))).input("A is concrete")
    app.button(key="vote-left_better").click()
    app = app.run()
    revealed = app.session_state["revealed"]
    assert app.success[0].value == f"Thanks! A was **{revealed[0]}**, B was **{revealed[1]}**."
    assert answers[0].startswith(revealed[0]) and answers[1].startswith(revealed[1])  # answers say "model says p"
    vote = session.scalars(select(Vote)).one()
    assert vote.reason == "A is concrete"
    first_battle = vote.battle_id
    app.button(key="next").click()
    app = app.run()
    assert "#### Answer A" in _texts(app) and "revealed" not in app.session_state
    app.button(key="vote-tie_bad").click()
    app.run()
    votes = session.scalars(select(Vote).order_by(Vote.id)).all()
    assert [v.choice for v in votes][1] == "tie_bad" and votes[1].battle_id != first_battle


def test_the_url_session_key_remembers_the_annotator(study):
    first = _sign_in(AppTest.from_file(APP, default_timeout=30), study["alice"])
    key = first.query_params["session"]
    assert study["alice"] not in key  # the URL never holds the token
    again = AppTest.from_file(APP, default_timeout=30)
    again.query_params["session"] = key
    again.run()
    assert "Signed in as **alice**" in again.caption[0].value
    forged = AppTest.from_file(APP, default_timeout=30)
    forged.query_params["session"] = key[:-1] + ("0" if key[-1] != "0" else "1")
    forged.run()
    assert not forged.caption and forged.text_input(key="token")


def test_a_double_vote_is_stored_once(study, session):
    app = _sign_in(AppTest.from_file(APP, default_timeout=30), study["alice"])
    assignment = app.session_state["assignment_id"]
    app.button(key="vote-right_better").click()
    app = app.run()
    app.session_state["assignment_id"] = assignment  # a second tab still showing the same battle
    app.session_state["revealed"] = None
    app = app.run()
    app.button(key="vote-left_better").click()
    app = app.run()
    assert [i.value for i in app.info] == ["You have already voted on this battle."]
    votes = session.scalars(select(Vote)).all()
    assert len(votes) == 1 and votes[0].choice in ("a_better", "b_better")  # the first click, not the second


def test_admin_page_needs_an_admin_and_disabling_empties_exports(study, session, tmp_path):
    voter = _sign_in(AppTest.from_file(APP, default_timeout=30), study["alice"])
    voter.button(key="vote-left_better").click()
    voter.run()
    assert export_battles(session, tmp_path / "before.jsonl") == 1

    refused = _sign_in(AppTest.from_string(ADMIN, default_timeout=30), study["alice"])
    assert [e.value for e in refused.error] == ["That token does not belong to an admin."]

    admin = _sign_in(AppTest.from_string(ADMIN, default_timeout=30), study["boss"])
    assert not admin.exception
    headings = _texts(admin)
    for heading in ("### Study progress", "### Annotators", "### Gold accuracy", "### Agreement between annotators"):
        assert heading in headings
    progress = admin.dataframe[0].value
    assert progress["votes"].sum() == 1 and len(progress) == 3  # three model pairs
    admin.selectbox(key="disable-name").select("alice")
    admin = admin.run()
    admin.button(key="disable").click()
    admin = admin.run()
    assert admin.success[0].value == "alice is disabled."
    assert export_battles(session, tmp_path / "after.jsonl") == 0
