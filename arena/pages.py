"""The arena's pages: annotators vote between two anonymous answers; maintainers watch and manage the study.

The vote page draws the state that `arena.vote_flow` keeps for the tab and turns clicks into its events; reads
and writes go through `arena.votes.AnnotatorVotes` and `arena.annotators`. A tab holds two sign-ins, each a
session key kept in the tab's state and in the URL: `?session=` for the annotator who votes and `?admin=` for an
admin who signed in on the Admin page only, so that signing in there never changes whose battle the Vote page
shows. Both keys are written back to the URL on every run (`keep_sign_ins_in_url`), so moving between pages
keeps them. Settings come from the environment that `molmo-arena arena serve` sets: MOLMO_ARENA_DB,
MOLMO_ARENA_SECRET_FILE, MOLMO_ARENA_SESSION_HOURS, MOLMO_ARENA_MIN_VOTE_SECONDS and MOLMO_ARENA_LIVE.
"""

from __future__ import annotations

import gc
import io
import os
import random
import threading

import pandas as pd
import streamlit as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from arena import stats
from arena.annotators import (
    DEFAULT_SESSION_HOURS,
    authenticate,
    disable_annotator,
    enable_annotator,
    load_server_secret,
    open_session,
    session_annotator,
    sign_out,
)
from arena.db import Annotator, session_factory
from arena.render import render_markdown
from arena.sampling import AdaptivePairs, PairPolicy, UniformPairs
from arena.vote_flow import Opened, VoteClicked, VoteState, advance
from arena.votes import MAX_REASON_CHARS, AnnotatorDisabledError, AnnotatorVotes, BattleView

CHOICES = (  # (screen choice, button label, keyboard shortcut); the button shows its shortcut itself
    ("left_better", "A is better", "1"),
    ("right_better", "B is better", "2"),
    ("tie_good", "Tie: both good", "3"),
    ("tie_bad", "Tie: both bad", "4"),
    ("cant_tell", "Can't tell", "5"),
)
VOTER, ADMIN = "session", "admin"  # the two sign-in slots, named as their URL parameters
FLOW, EVENT = "vote-flow", "vote-event"  # session-state keys: (annotator id, VoteState) and the click to apply
SAMPLING_ENV = "MOLMO_ARENA_SAMPLING"  # "uniform" or "adaptive", set by `arena serve --sampling`
MIN_VOTE_ENV = "MOLMO_ARENA_MIN_VOTE_SECONDS"  # set by `arena serve --min-vote-seconds`
LIVE_ENV = "MOLMO_ARENA_LIVE"  # "name=spec,name=spec": the models that answer annotators' own questions
UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "gif"]

# One screen at 1280x800: the question, then the image (at most at its own size and half the screen's height)
# beside the two answers, in boxes that fold (scroll inside) past 45% of the height, and the five buttons under
# them. On a phone the grid is one column: question, image, and the first lines of both answers, and the five
# buttons, two to a row, stay at the bottom of the screen while the answers scroll under them.
STYLE = """<style>
[data-testid="stMainBlockContainer"] { padding-top: 3.5rem; padding-bottom: 2rem; }
.arena-question p { font-weight: 600; font-size: 1.05rem; margin: 0 0 .25rem 0; }
.arena-battle { display: grid; grid-template-columns: 3fr 4fr 4fr; gap: 1rem; align-items: start; }
.arena-battle > * { min-width: 0; }
.arena-image img { display: block; max-width: 100%; max-height: 50vh; width: auto; height: auto; }
.arena-answer { max-height: 45vh; overflow-y: auto; overflow-wrap: anywhere; border: 1px solid rgba(128, 128, 128, .35);
                border-radius: .5rem; padding: .25rem .75rem; }
.arena-answer-title { font-weight: 600; margin: .25rem 0; }
.arena-answer h1, .arena-answer h2, .arena-answer h3 { font-size: 1.1rem; padding: .25rem 0; }
.arena-answer pre { white-space: pre-wrap; }
.st-key-vote-buttons > * { flex: 1 1 0; }
@media (max-width: 640px) {
  .arena-battle { grid-template-columns: 1fr; gap: .5rem; }
  .arena-answer { max-height: 22vh; }
  .arena-image img { max-height: 25vh; }
  [data-testid="stLayoutWrapper"]:has(> .st-key-vote-buttons) {  /* the container's own box is its wrapper's */
    position: sticky; bottom: 0; z-index: 100; background: Canvas; padding: .25rem 0; }
  .st-key-vote-buttons { flex-flow: row wrap; gap: .25rem; }
  .st-key-vote-buttons > * { flex: 1 1 calc(50% - .25rem) !important; min-width: calc(50% - .25rem) !important; }
}
</style>"""
# Streamlit keeps the scroll position across reruns; a new battle starts at the top of the page.
SCROLL_TO_TOP = """<script>/* battle {battle_id} */
for (const element of [document.scrollingElement, document.querySelector('[data-testid="stMain"]')]) {{
  if (element) element.scrollTop = 0;
}}
</script>"""


@st.cache_resource
def settle_heap() -> None:
    """Once per server process, at its first page: take what is loaded by then out of the garbage collector's view.

    A full (generation 2) collection walks every object the collector tracks. The server's imports (Streamlit,
    SQLAlchemy, pandas, PIL: about 170,000 objects) live as long as the process, and walking them paused it for
    95-180 ms every 15-30 s at 200 annotators, which made the slowest 1% of votes. `gc.freeze()` moves the
    objects present now to a permanent generation that collections skip (Python's `gc` documentation); objects
    made later are collected as before. Measured with bench/arena_capacity.py: pauses of 12-70 ms instead.
    """
    gc.collect()
    gc.freeze()


@st.cache_resource
def _vote_page_turn() -> threading.Lock:
    """The process's vote pages run one at a time, in turn.

    Streamlit runs each tab's script in a thread of its own, and Python's GIL lets one of them run at a time, so
    runs that overlap share the interpreter and all finish late: a burst of 15 votes, each 15-25 ms of CPU, kept
    every one of them waiting 300-400 ms (bench/arena_capacity.py at 200 annotators, script runs logged in the
    server). Taking turns finishes the first of them after one run's time, the last after fifteen, as the same
    work would in a queue, and saves the switching between threads. The lock is held for the vote page only: the
    Ask page waits seconds on live models and the Admin page's statistics take long on a big study.
    """
    return threading.Lock()


@st.cache_resource
def _sessions(url: str) -> sessionmaker[Session]:
    return session_factory(url)


@st.cache_resource
def _pair_policy(name: str) -> PairPolicy:
    """The process's pair policy (`arena serve --sampling`), shared by its sessions."""
    return AdaptivePairs() if name == "adaptive" else UniformPairs()


def _setting(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        st.error(f"{name} is not set: start the app with `molmo-arena arena serve`.")
        st.stop()
    return value


def _factory() -> sessionmaker[Session]:
    return _sessions(_setting("MOLMO_ARENA_DB"))


@st.cache_resource
def _secret(path: str) -> bytes:
    return load_server_secret(path)


def _server_secret() -> bytes:
    return _secret(_setting("MOLMO_ARENA_SECRET_FILE"))


def keep_sign_ins_in_url() -> None:
    """Write this tab's session keys back to the URL (moving to another page drops the query string)."""
    for slot in (VOTER, ADMIN):
        if st.session_state.get(slot):
            st.query_params[slot] = st.session_state[slot]


def _signed_in(factory: sessionmaker[Session], slot: str) -> Annotator | None:
    """The annotator signed in to `slot` of this tab, from its state or its URL; a key that no longer works
    (expired, revoked, disabled annotator, or not an admin's in the admin slot) is forgotten."""
    key = st.session_state.get(slot) or st.query_params.get(slot)
    if not key:
        return None
    with factory() as session:
        annotator = session_annotator(session, key, _server_secret())
    if annotator is not None and (slot == VOTER or annotator.is_admin):
        st.session_state[slot] = key
        st.query_params[slot] = key
        return annotator
    _forget(slot)
    return None


def _forget(slot: str) -> None:
    st.session_state.pop(slot, None)
    if slot in st.query_params:
        del st.query_params[slot]


def _sign_in_form(factory: sessionmaker[Session], slot: str) -> None:
    with st.form(f"sign-in-{slot}"):
        st.markdown("### Sign in" + (" (admin)" if slot == ADMIN else ""))
        token = st.text_input("Your personal token", type="password", key=f"token-{slot}")
        submitted = st.form_submit_button("Sign in", type="primary")
    if not submitted:
        return
    with factory() as session:
        annotator = authenticate(session, token.strip())
        if annotator is None:
            st.error("That token is not valid (or its annotator is disabled).")
            return
        if slot == ADMIN and not annotator.is_admin:
            st.error("That token does not belong to an admin.")
            return
        hours = float(os.environ.get("MOLMO_ARENA_SESSION_HOURS") or DEFAULT_SESSION_HOURS)
        key = open_session(session, annotator, _server_secret(), hours=hours)
    st.session_state[slot] = key
    st.query_params[slot] = key
    st.rerun()


def _sign_out(factory: sessionmaker[Session], slot: str) -> None:
    with factory() as session:
        sign_out(session, st.session_state.get(slot, ""), _server_secret())
    _forget(slot)
    st.session_state.pop(FLOW, None)


def _queue_vote(battle_id: int, choice: str) -> None:
    st.session_state[EVENT] = VoteClicked(battle_id, choice, st.session_state.get(f"reason-{battle_id}") or None)


def show_next(annotator_id: int, battle_id: int) -> None:
    """Make `battle_id` (assigned to the annotator) the battle the Vote page shows next in this tab."""
    st.session_state[FLOW] = (annotator_id, VoteState(battle_id=battle_id, scroll_to_top=True))


def vote_page() -> None:
    with _vote_page_turn():
        _vote_page()


def _vote_page() -> None:
    factory = _factory()
    annotator = _signed_in(factory, VOTER)
    if annotator is None:
        _sign_in_form(factory, VOTER)
        return
    store = AnnotatorVotes(factory, annotator.id, pairs=_pair_policy(os.environ.get(SAMPLING_ENV, "uniform")),
                           min_seconds=float(_setting(MIN_VOTE_ENV)))
    owner, state = st.session_state.get(FLOW, (None, VoteState()))
    if owner != annotator.id:
        state = VoteState()
    try:
        state = advance(state, st.session_state.pop(EVENT, None) or Opened(), store)
    except AnnotatorDisabledError:
        _sign_out(factory, VOTER)
        st.rerun()
    st.session_state[FLOW] = (annotator.id, state)

    st.html(STYLE)
    view = None if state.finished else store.view(state.battle_id)
    votes = store.votes_cast() if view is None else view.votes_cast
    names = state.revealed
    last = f" · last battle: A was **{names.left}**, B was **{names.right}**" if names else ""
    line = st.container(horizontal=True, horizontal_alignment="distribute", vertical_alignment="center")
    line.caption(f"Signed in as **{annotator.name}** · {votes} vote{'' if votes == 1 else 's'} so far{last}")
    if line.button("Sign out", key="sign-out", type="tertiary"):
        _sign_out(factory, VOTER)
        st.rerun()
    if state.notice:
        st.info(state.notice)
    if view is None:
        st.success("You have voted on every battle there is. Thank you!")
        return
    _draw_battle(view, state)


def _draw_battle(view: BattleView, state: VoteState) -> None:
    """The battle in few elements, since each is a message the server sends and the image is part of the page
    rather than a second request: the question; the points selector, when an answer has points; the image beside
    the two answers in one HTML block; the five buttons in one row."""
    from evals.adapters.openai_api import image_data_url
    from molmo.pointing import parse_points

    battle_id = view.battle_id
    if state.scroll_to_top:
        st.html(SCROLL_TO_TOP.format(battle_id=battle_id), unsafe_allow_javascript=True)
    st.html(f'<div class="arena-question">{render_markdown(view.question)}</div>')
    points = {side: parse_points(text, view.width, view.height) for side, text in (("A", view.left), ("B", view.right))}
    shown = None
    if any(points.values()):  # a selector of buttons, not a radio input: the digit keys keep working
        shown = st.segmented_control("Draw the points of answer", [side for side in points if points[side]],
                                     key=f"points-{battle_id}")
    image = _image_with_points(view, points[shown]) if shown else view.image
    answers = "".join(f'<div class="arena-answer"><div class="arena-answer-title">Answer {side}</div>'
                      f"{render_markdown(text)}</div>" for side, text in (("A", view.left), ("B", view.right)))
    st.html(f'<div class="arena-battle"><div class="arena-image"><img alt="the picture the question is about" '
            f'src="{image_data_url(image)}"></div>{answers}</div>')
    buttons = st.container(key="vote-buttons", horizontal=True, gap="small")
    for choice, label, key in CHOICES:
        buttons.button(label, key=f"vote-{battle_id}-{choice}", shortcut=key, width="stretch", on_click=_queue_vote,
                       args=(battle_id, choice))
    st.text_input("Why? (optional)", key=f"reason-{battle_id}", max_chars=MAX_REASON_CHARS)


def _image_with_points(view: BattleView, point_sets: list) -> bytes:
    """The prompt's image with one answer's points drawn on it, at the image's own size, as PNG."""
    from PIL import Image

    from molmo.pointing import draw_points

    drawn = draw_points(Image.open(io.BytesIO(view.image)).convert("RGB"), point_sets)
    buffer = io.BytesIO()
    drawn.save(buffer, format="PNG")
    return buffer.getvalue()


def live_models() -> dict[str, str]:
    """Display name -> adapter spec of the live models, from MOLMO_ARENA_LIVE."""
    entries = [e.strip() for e in os.environ.get(LIVE_ENV, "").split(",") if e.strip()]
    return dict(entry.split("=", 1) for entry in entries)


@st.cache_resource
def _adapter(spec: str):
    from evals.adapters import load_adapter

    return load_adapter(spec)


def ask_page() -> None:
    """An annotator's own image and question, answered live by two models drawn at random, then voted on."""
    from arena.live import add_live_battle, stream_answers
    from evals.adapters.base import GenerationRequest

    factory = _factory()
    annotator = _signed_in(factory, VOTER)
    if annotator is None:
        _sign_in_form(factory, VOTER)
        return
    models = live_models()
    st.markdown("### Ask two anonymous models about your own image")
    with st.form("ask"):
        upload = st.file_uploader("Image (PNG, JPEG, WEBP or GIF)", type=UPLOAD_TYPES, key="upload")
        question = st.text_area("Your question", max_chars=2000, key="question")
        asked = st.form_submit_button("Ask", type="primary")
    if not asked:
        return
    if upload is None or not question.strip():
        st.error("Give an image and a question.")
        return
    rng = random.Random()
    names = rng.sample(sorted(models), 2)
    swapped = rng.random() < 0.5  # the first model's answer is `a`, on the right when swapped
    request = GenerationRequest(question.strip(), upload.getvalue(), max_new_tokens=256)
    st.caption("Two models are answering...")
    boxes = []
    for column, side in zip(st.columns(2), "AB", strict=True):
        with column, st.container(border=True):
            st.markdown(f"#### Answer {side}")
            boxes.append(st.empty())
    on_screen = [1, 0] if swapped else [0, 1]
    texts = stream_answers([_adapter(models[name]) for name in names], request,
                           lambda index, text: boxes[on_screen[index]].html(render_markdown(text)))
    answers = list(zip(names, texts, strict=True))
    try:
        with factory() as session:
            assignment = add_live_battle(session, session.get(Annotator, annotator.id), upload.getvalue(), question,
                                         answers, swapped=swapped)
    except ValueError as error:
        st.error(f"That image cannot be used: {error}")
        return
    show_next(annotator.id, assignment.battle_id)
    st.switch_page(st.session_state["vote_page"])


def votes_per_hour_chart(hourly: pd.DataFrame):
    """Bars one clock hour wide on a UTC time axis (`hourly`: columns hour, votes as from `stats.votes_per_hour`)."""
    import altair as alt

    bars = hourly.assign(end=hourly["hour"] + pd.Timedelta(hours=1))
    axis = alt.Axis(format="%b %d, %H:00", labelAngle=-30, title="hour (UTC)")
    return alt.Chart(bars).mark_bar().encode(
        x=alt.X("hour:T", axis=axis, scale=alt.Scale(type="utc")),
        x2="end:T",
        y=alt.Y("votes:Q", title="votes"),
        tooltip=[alt.Tooltip("hour:T", format="%Y-%m-%d %H:00 UTC", title="hour"), "votes:Q"],
    )


def _set_enabled(factory: sessionmaker[Session], name: str, enabled: bool) -> None:
    with factory() as session:
        (enable_annotator if enabled else disable_annotator)(session, name)
    st.session_state.pop("confirm-disable", None)
    st.session_state["admin-done"] = (name, enabled)


def _ask_to_disable(name: str) -> None:
    st.session_state["confirm-disable"] = name


def _cancel_disable() -> None:
    st.session_state.pop("confirm-disable", None)


def admin_page() -> None:
    factory = _factory()
    voter = _signed_in(factory, VOTER)
    admin = voter if voter is not None and voter.is_admin else _signed_in(factory, ADMIN)
    if admin is None:
        _sign_in_form(factory, ADMIN)
        return
    st.caption(f"Admin: **{admin.name}**")
    _manage_annotators(factory)  # before the tables, so that they show the change
    with factory() as session:
        st.markdown("### Study progress")
        st.dataframe(stats.pair_progress(session), hide_index=True)
        st.markdown("### Annotators")
        st.dataframe(stats.annotator_progress(session), hide_index=True, column_config={
            "median_seconds_to_vote": st.column_config.NumberColumn("median time to vote", format="%.1f s"),
            "last_vote": st.column_config.DatetimeColumn("last vote (UTC)", format="YYYY-MM-DD HH:mm")})
        st.markdown("### Votes per hour")
        hourly = stats.votes_per_hour(session)
        if len(hourly):
            st.altair_chart(votes_per_hour_chart(hourly))
        st.markdown("### Gold accuracy")
        st.dataframe(stats.gold_accuracy(session), hide_index=True)
        st.markdown("### Position bias (share of decisive votes for the left answer)")
        st.dataframe(stats.position_bias(session), hide_index=True)
        st.markdown("### Agreement between annotators")
        st.json(stats.agreement(session))


def _manage_annotators(factory: sessionmaker[Session]) -> None:
    with factory() as session:
        rows = session.execute(select(Annotator.name, Annotator.enabled).order_by(Annotator.name)).all()
    enabled = [name for name, on in rows if on]
    disabled = [name for name, on in rows if not on]
    st.markdown("### Disable or enable an annotator")
    done = st.session_state.pop("admin-done", None)
    if done is not None:
        name, now_enabled = done
        message = f"{name} is {'enabled again' if now_enabled else 'disabled'}."
        notice, undo = st.columns([4, 1], vertical_alignment="center")
        notice.success(message)
        undo.button("Undo", key="undo", on_click=_set_enabled, args=(factory, name, not now_enabled))
    pending = st.session_state.get("confirm-disable")
    if pending is not None:
        st.warning(f"Disable **{pending}**? They can no longer sign in and their votes leave every export; the "
                   "votes stay stored, and enabling them again brings everything back.")
        yes, no = st.columns(2)
        yes.button(f"Yes, disable {pending}", key="confirm-disable-yes", type="primary", on_click=_set_enabled,
                   args=(factory, pending, False))
        no.button("Cancel", key="confirm-disable-no", on_click=_cancel_disable)
        return
    to_disable, to_enable = st.columns(2)
    name = to_disable.selectbox("Annotator to disable", enabled, index=None, key="disable-name")
    to_disable.button("Disable…", disabled=name is None, key="disable", on_click=_ask_to_disable, args=(name,))
    again = to_enable.selectbox("Disabled annotator to enable", disabled, index=None, key="enable-name")
    to_enable.button("Enable", disabled=again is None, key="enable", on_click=_set_enabled,
                     args=(factory, again, True))
