"""The voting and admin pages, driven through Streamlit's AppTest (no browser): sign in, vote and the next battle
with the names just voted on,
two tabs of one annotator, an admin in the same tab, session keys, and the admin's tools."""

import base64
import io
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from arena.annotators import add_annotator, load_server_secret, open_session, session_annotator
from arena.db import Annotator, Assignment, Battle, SessionKey, Vote
from arena.export import export_battles
from arena.pages import votes_per_hour_chart
from arena.render import render_markdown
from arena.stats import votes_per_hour

APP = str(Path(__file__).resolve().parents[2] / "arena" / "app.py")
# Both pages in one script, the page picked by session state: one tab that moves between Vote and Admin.
TWO_PAGES = """
import streamlit as st
from arena.pages import admin_page, keep_sign_ins_in_url, vote_page
keep_sign_ins_in_url()
(admin_page if st.session_state.get("page") == "admin" else vote_page)()
"""
ADMIN = "from arena.pages import admin_page\nadmin_page()"
DATA_URL = r'src="data:image/\w+;base64,([^"]+)"'
WORDS = {"model-0": "apples", "model-1": "pears", "model-2": "plums"}  # answers that never name their model
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
def study(db_url, engine, session, make_study, monkeypatch, tmp_path):
    monkeypatch.setenv("MOLMO_ARENA_DB", db_url)
    monkeypatch.setenv("MOLMO_ARENA_MIN_VOTE_SECONDS", "0")  # AppTest clicks at once; the guard has its own test
    monkeypatch.setenv("MOLMO_ARENA_SECRET_FILE", str(tmp_path / "secret"))
    make_study(n_models=3, n_prompts=2, answer=lambda model, p: f"I count {p + 3} {WORDS[model]}.")
    return {"alice": add_annotator(session, "alice"), "boss": add_annotator(session, "boss", admin=True)}


def _app(source: str = APP) -> AppTest:
    return (AppTest.from_file if source == APP else AppTest.from_string)(source, default_timeout=30)


def _sign_in(app: AppTest, token: str) -> AppTest:
    app.run()
    next(t for t in app.text_input if t.label == "Your personal token").input(token)
    next(b for b in app.button if b.label == "Sign in").click()
    return app.run()


def _click(app: AppTest, label: str) -> AppTest:
    """Click the button whose label starts with `label`, as the page last drew it."""
    next(b for b in app.button if b.label.startswith(label)).click()
    return app.run()


def _page_text(app: AppTest) -> str:
    """Everything the page shows as text: Markdown, captions, alerts, HTML, widget labels."""
    parts = [e.value for kind in ("markdown", "caption", "success", "info", "warning", "error", "html")
             for e in app.get(kind)]
    parts += [w.label for kind in ("button", "text_input", "selectbox", "segmented_control") for w in app.get(kind)]
    return "\n".join(str(part) for part in parts)


def _battle_on_screen(app: AppTest, session) -> Battle | None:
    """The battle whose two answers the page shows (None when it shows no battle)."""
    text = _page_text(app)
    session.expire_all()
    shown = [b for b in session.scalars(select(Battle))
             if all(a.text in text or render_markdown(a.text) in text for a in (b.answer_a, b.answer_b))]
    assert len(shown) <= 1
    return shown[0] if shown else None


def _picture(app: AppTest) -> bytes:
    """The RGB pixels of the one image on the page, decoded from its `data:` URL."""
    (source,) = {found for e in app.get("html") for found in re.findall(DATA_URL, e.value)}
    return Image.open(io.BytesIO(base64.b64decode(source))).convert("RGB").tobytes()


def _votes(session) -> list[Vote]:
    session.expire_all()
    return session.scalars(select(Vote).order_by(Vote.id)).all()


def test_a_wrong_token_is_refused(study):
    app = _sign_in(_app(), "1.not-the-token")
    assert [e.value for e in app.error] == ["That token is not valid (or its annotator is disabled)."]
    assert "Answer A" not in _page_text(app)


def test_sign_in_vote_then_the_next_battle_under_the_names_just_voted_on(study, session):
    app = _sign_in(_app(), study["alice"])
    battle = _battle_on_screen(app, session)
    assert battle is not None
    before = _page_text(app)
    assert not any(name in before for name in WORDS)  # no model's name anywhere before the vote
    assert "0 votes so far" in before
    assert [b.label for b in app.button if b.key and b.key.startswith("vote-")] == [
        "A is better", "B is better", "Tie: both good", "Tie: both bad", "Can't tell"]  # the shortcut is shown once
    app.text_input(key=f"reason-{battle.id}").input("A is concrete")
    app = _click(app, "A is better")
    assignment = session.scalars(select(Assignment).where(Assignment.battle_id == battle.id)).one()
    left, right = assignment.left.model.name, assignment.right.model.name
    (vote,) = _votes(session)
    assert (vote.battle_id, vote.reason) == (battle.id, "A is concrete")
    assert vote.choice == ("b_better" if assignment.swapped else "a_better")

    second = _battle_on_screen(app, session)  # one click: the vote is stored and the next battle is on screen
    assert second is not None and second.id != battle.id
    (caption,) = [c.value for c in app.caption if "so far" in c.value]
    assert caption == f"Signed in as **alice** · 1 vote so far · last battle: A was **{left}**, B was **{right}**"
    assert not any(name in _page_text(app).replace(caption, "") for name in WORDS)  # the new battle's stay hidden
    app = _click(app, "Tie: both bad")
    assert [(v.battle_id, v.choice) for v in _votes(session)][1] == (second.id, "tie_bad")
    assert "2 votes so far" in _page_text(app)


def test_a_vote_sooner_than_the_minimum_keeps_the_battle_and_says_why(study, session, monkeypatch):
    monkeypatch.setenv("MOLMO_ARENA_MIN_VOTE_SECONDS", "60")
    app = _sign_in(_app(), study["alice"])
    battle = _battle_on_screen(app, session)
    app = _click(app, "A is better")
    (notice,) = [n.value for n in app.info]
    assert notice.startswith("That vote came 0.") and "nothing was stored" in notice
    assert _battle_on_screen(app, session).id == battle.id and _votes(session) == []
    assert "0 votes so far" in _page_text(app)


def _second_tab(first: AppTest) -> AppTest:
    tab = _app()
    tab.query_params["session"] = first.query_params["session"]
    return tab.run()


def test_the_first_click_counts_not_the_second(study, session):
    """Two tabs show the same battle; "B is better" in one, then "A is better" in the other: B stands."""
    one = _sign_in(_app(), study["alice"])
    two = _second_tab(one)
    battle = _battle_on_screen(one, session)
    assert _battle_on_screen(two, session).id == battle.id
    _click(one, "B is better")
    two = _click(two, "A is better")
    assert "already voted" in _page_text(two)
    swapped = session.scalars(select(Assignment.swapped).where(Assignment.battle_id == battle.id)).one()
    assert [(v.battle_id, v.choice) for v in _votes(session)] == [(battle.id, "a_better" if swapped else "b_better")]


def test_a_stale_tab_never_votes_on_a_battle_it_did_not_show(study, session):
    """Issue 15 item 1: vote in two tabs, then in the first again, then "A is better" in the second."""
    one = _sign_in(_app(), study["alice"])
    two = _second_tab(one)

    def click(tab: AppTest, label: str) -> AppTest:
        shown, before = _battle_on_screen(tab, session), len(_votes(session))
        tab = _click(tab, label)
        stored = _votes(session)[before:]
        assert all(vote.battle_id == shown.id for vote in stored), (label, shown.id, stored[0].battle_id)
        return tab

    one = click(one, "A is better")
    two = click(two, "A is better")
    one = click(one, "B is better")
    two = click(two, "A is better")  # the button tab 2 shows now, whatever screen it is on
    one = click(one, "Tie: both good")
    votes = _votes(session)
    assert len(votes) == len({v.battle_id for v in votes}) >= 2


def test_an_admin_signing_in_on_the_admin_page_leaves_the_voter_alone(study, session):
    """Issue 15 item 2: alice votes, boss signs in on the Admin page of the same tab, back to Vote."""
    app = _sign_in(_app(TWO_PAGES), study["alice"])
    battle = _battle_on_screen(app, session)
    app.session_state["page"] = "admin"
    app = _sign_in(app, study["boss"])
    assert "### Study progress" in _page_text(app)
    app.session_state["page"] = "vote"
    app = app.run()
    assert "Signed in as **alice**" in _page_text(app)
    assert _battle_on_screen(app, session).id == battle.id
    app = _click(app, "B is better")
    assert not app.error and "last battle: A was" in _page_text(app)
    assert [v.battle_id for v in _votes(session)] == [battle.id]
    alice = session.scalars(select(Annotator).where(Annotator.name == "alice")).one()
    assert _votes(session)[0].annotator_id == alice.id
    assert app.query_params["session"] and app.query_params["admin"]  # both sign-ins stay in the URL


def test_session_keys_are_signed_expire_and_are_revoked_one_by_one(study, session, tmp_path):
    first = _sign_in(_app(), study["alice"])
    key = first.query_params["session"]
    assert study["alice"] not in key  # the URL never holds the token
    again = _sign_in(_app(), study["alice"])
    assert again.query_params["session"] != key  # a new key at every sign-in
    assert "Signed in as **alice**" in _page_text(_second_tab(first))  # a second tab with the URL's key

    def opens_with(url_key: str) -> bool:
        tab = _app()
        tab.query_params["session"] = url_key
        tab.run()
        return "Signed in as" in _page_text(tab)

    number, _, signature = key.partition(".")
    assert not opens_with(f"{number}.{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}")  # forged
    alice = session.scalars(select(Annotator).where(Annotator.name == "alice")).one()
    secret = load_server_secret(tmp_path / "secret")
    stale = open_session(session, alice, secret, hours=1, now=time.time() - 7200)
    assert not opens_with(stale)  # expired
    assert opens_with(open_session(session, alice, secret))
    assert not opens_with(open_session(session, alice, load_server_secret(tmp_path / "other-secret")))

    second_key = again.query_params["session"]
    again = _click(again, "Sign out")  # revokes this key only
    assert not again.query_params.get("session") and "Your personal token" in _page_text(again)
    assert not opens_with(second_key)
    assert "Signed in as **alice**" in _page_text(first.run())  # alice's first sign-in still works
    assert session_annotator(session, key, secret).name == "alice"


def test_the_points_selector_appears_only_for_answers_with_points(db_url, engine, session, make_study, monkeypatch,
                                                                  tmp_path):
    monkeypatch.setenv("MOLMO_ARENA_DB", db_url)
    monkeypatch.setenv("MOLMO_ARENA_MIN_VOTE_SECONDS", "0")  # AppTest clicks at once; the guard has its own test
    monkeypatch.setenv("MOLMO_ARENA_SECRET_FILE", str(tmp_path / "secret"))
    make_study(n_models=3, n_prompts=1, answer=lambda model, p: (
        'Here: <point x="50" y="50" alt="dot">dot</point>' if model == "model-1" else f"no points from {model}"))
    app = _sign_in(_app(), add_annotator(session, "carol"))
    seen = set()
    for _ in range(3):
        battle = _battle_on_screen(app, session)
        has_points = "model-1" in (battle.answer_a.model.name, battle.answer_b.model.name)
        selectors = app.get("segmented_control")
        assert len(selectors) == int(has_points)
        assert _picture(app) == Image.open(io.BytesIO(battle.prompt.image.data)).convert("RGB").tobytes()
        if has_points:
            side = selectors[0].options[0]
            assert selectors[0].options == [side] and side in "AB"  # only the side that has points
            selectors[0].set_value(side)
            app = app.run()
            assert not app.exception
            drawn = _picture(app)
            assert drawn != Image.open(io.BytesIO(battle.prompt.image.data)).convert("RGB").tobytes()
        seen.add(has_points)
        app = _click(app, "Tie: both good")
    assert seen == {True, False}


def test_admin_page_needs_an_admin(study):
    refused = _sign_in(_app(ADMIN), study["alice"])
    assert [e.value for e in refused.error] == ["That token does not belong to an admin."]


def test_disabling_asks_first_refreshes_the_tables_and_can_be_undone(study, session, tmp_path):
    voter = _sign_in(_app(), study["alice"])
    _click(voter, "A is better")
    assert export_battles(session, tmp_path / "before.jsonl") == 1

    admin = _sign_in(_app(ADMIN), study["boss"])
    progress = admin.dataframe[0].value
    assert progress["votes"].sum() == 1 and len(progress) == 3  # three model pairs

    def enabled_column(app: AppTest) -> dict[str, bool]:
        table = app.dataframe[1].value
        return dict(zip(table["annotator"], table["enabled"], strict=True))

    assert enabled_column(admin)["alice"]
    admin.selectbox(key="disable-name").select("alice")
    admin = _click(admin.run(), "Disable")
    assert any("Disable **alice**?" in w.value for w in admin.warning)
    assert export_battles(session, tmp_path / "asked.jsonl") == 1  # nothing happens before the confirmation
    admin = _click(admin, "Cancel")
    assert not admin.warning and enabled_column(admin)["alice"]

    admin.selectbox(key="disable-name").select("alice")
    admin = _click(_click(admin.run(), "Disable"), "Yes, disable alice")
    assert admin.success[0].value == "alice is disabled."
    assert not enabled_column(admin)["alice"]  # the table drawn in the same run shows it
    assert export_battles(session, tmp_path / "after.jsonl") == 0
    admin = _click(admin, "Undo")
    assert admin.success[0].value == "alice is enabled again."
    assert enabled_column(admin)["alice"] and export_battles(session, tmp_path / "undone.jsonl") == 1


def test_admin_tables_give_units_and_the_chart_an_hourly_axis(study, session):
    voter = _sign_in(_app(), study["alice"])
    _click(voter, "A is better")
    admin = _sign_in(_app(ADMIN), study["boss"])
    annotators = admin.dataframe[1]
    assert "median_seconds_to_vote" in annotators.value.columns
    config = json.loads(annotators.proto.columns)
    assert config["median_seconds_to_vote"]["type_config"]["format"] == "%.1f s"
    (chart,) = admin.get("vega_lite_chart")
    spec = json.loads(chart.proto.spec)
    encoding = spec["encoding"]
    assert encoding["x"]["type"] == "temporal" and encoding["x"]["scale"]["type"] == "utc"
    assert encoding["x"]["axis"]["format"] == "%b %d, %H:00" and encoding["x2"]["field"] == "end"
    bars = votes_per_hour_chart(votes_per_hour(session)).data
    assert ((bars["end"] - bars["hour"]) == pd.Timedelta(hours=1)).all() and bars["votes"].tolist() == [1]


def test_a_disabled_annotators_session_stops_working(study, session):
    app = _sign_in(_app(), study["alice"])
    session.scalars(select(Annotator).where(Annotator.name == "alice")).one().enabled = False
    session.commit()
    app = app.run()
    assert "Your personal token" in _page_text(app) and "Signed in as" not in _page_text(app)
    assert session.scalars(select(SessionKey)).all()  # the key stays, for when the annotator is enabled again


def test_vote_pages_of_different_annotators_take_turns(study, session, monkeypatch):
    """Two annotators vote at the same moment: their pages run one after the other, not interleaved (interleaved
    runs share Python's interpreter and both finish late; `arena.pages._vote_page_turn`)."""
    from arena.votes import AnnotatorVotes

    running, overlaps, view = [], [], AnnotatorVotes.view

    def slow_view(self, battle_id):
        running.append(self.annotator_id)
        overlaps.append(len(running))
        time.sleep(0.3)  # long enough that the other tab's run starts meanwhile unless it waits its turn
        running.remove(self.annotator_id)
        return view(self, battle_id)

    tabs = [_sign_in(_app(), study[name]) for name in ("alice", "boss")]
    monkeypatch.setattr(AnnotatorVotes, "view", slow_view)
    for tab in tabs:
        next(b for b in tab.button if b.label.startswith("A is better")).click()
    with ThreadPoolExecutor(2) as pool:
        tabs = list(pool.map(lambda tab: tab.run(), tabs))
    assert overlaps == [1, 1]
    assert [("1 vote so far" in _page_text(tab)) for tab in tabs] == [True, True]
