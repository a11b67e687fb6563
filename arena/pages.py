"""The arena's two pages: annotators vote between two anonymous answers; maintainers watch the study.

Every write goes through the store's functions (`arena.votes.record_vote`, `arena.sampling.next_battle`),
so the pages hold no state of their own beyond the browser session. The database URL comes from
MOLMO_ARENA_DB, which `molmo-arena arena serve` sets.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import random

import streamlit as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from arena import stats
from arena.annotators import authenticate, disable_annotator
from arena.db import Annotator, Assignment, Vote, make_engine
from arena.render import safe_markdown
from arena.sampling import AdaptivePairs, PairPolicy, UniformPairs, next_battle
from arena.votes import DuplicateVoteError, NotAssignedError, record_vote

CHOICES = (  # (screen choice, button label, keyboard shortcut)
    ("left_better", "A is better", "1"),
    ("right_better", "B is better", "2"),
    ("tie_good", "Tie: both good", "3"),
    ("tie_bad", "Tie: both bad", "4"),
    ("cant_tell", "Can't tell", "5"),
)
SESSION_PARAM = "session"
SAMPLING_ENV = "MOLMO_ARENA_SAMPLING"  # "uniform" or "adaptive"
LIVE_ENV = "MOLMO_ARENA_LIVE"  # "name=spec,name=spec": the models that answer annotators' own questions
UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "gif"]


@st.cache_resource
def _sessions(url: str) -> sessionmaker[Session]:
    return sessionmaker(make_engine(url), expire_on_commit=False)


@st.cache_resource
def _pair_policy(name: str) -> PairPolicy:
    """The process's pair policy (MOLMO_ARENA_SAMPLING, set by `arena serve --sampling`), shared by its sessions."""
    return AdaptivePairs() if name == "adaptive" else UniformPairs()


def _database_url() -> str:
    url = os.environ.get("MOLMO_ARENA_DB")
    if not url:
        st.error("MOLMO_ARENA_DB is not set: start the app with `molmo-arena arena serve --db ...`.")
        st.stop()
    return url


def _session_key(annotator: Annotator) -> str:
    """A key for the URL that proves a sign-in without holding the token: HMAC over the stored token hash."""
    digest = hmac.new(annotator.token_hash.encode(), b"molmo-arena session", hashlib.sha256).hexdigest()[:32]
    return f"{annotator.id}.{digest}"


def _from_session_key(session: Session, key: str) -> Annotator | None:
    number, _, _ = key.partition(".")
    annotator = session.get(Annotator, int(number)) if number.isdigit() else None
    if annotator is None or not annotator.enabled:
        return None
    return annotator if hmac.compare_digest(_session_key(annotator), key) else None


def _signed_in(factory: sessionmaker[Session], need_admin: bool = False) -> Annotator | None:
    """The annotator of this browser session: from the session state, the URL's session key, or a sign-in."""
    with factory() as session:
        annotator_id = st.session_state.get("annotator_id")
        annotator = session.get(Annotator, annotator_id) if annotator_id else None
        if annotator is None and SESSION_PARAM in st.query_params:
            annotator = _from_session_key(session, st.query_params[SESSION_PARAM])
        if annotator is not None and annotator.enabled and (annotator.is_admin or not need_admin):
            st.session_state["annotator_id"] = annotator.id
            return annotator
    with st.form("sign-in"):
        st.markdown("### Sign in" + (" (admin)" if need_admin else ""))
        token = st.text_input("Your personal token", type="password", key="token")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        with factory() as session:
            annotator = authenticate(session, token.strip())
            if annotator is None or not annotator.enabled:
                st.error("That token is not valid (or its annotator is disabled).")
            elif need_admin and not annotator.is_admin:
                st.error("That token does not belong to an admin.")
            else:
                st.session_state["annotator_id"] = annotator.id
                st.query_params[SESSION_PARAM] = _session_key(annotator)
                st.rerun()
    return None


def _image_with_points(assignment: Assignment, show: str) -> bytes:
    """The prompt's image, with the points of one answer drawn on it when asked."""
    from PIL import Image

    from molmo.pointing import draw_points, parse_points

    data = assignment.battle.prompt.image.data
    if show == "none":
        return data
    answer = assignment.left if show == "A" else assignment.right
    image = Image.open(io.BytesIO(data)).convert("RGB")
    drawn = draw_points(image, parse_points(answer.text, image.width, image.height))
    buffer = io.BytesIO()
    drawn.save(buffer, format="PNG")
    return buffer.getvalue()


def vote_page() -> None:
    factory = _sessions(_database_url())
    annotator = _signed_in(factory)
    if annotator is None:
        return
    with factory() as session:
        votes = session.scalar(select(func.count(Vote.id)).where(Vote.annotator_id == annotator.id))
        st.caption(f"Signed in as **{annotator.name}** · {votes} votes so far")
        assignment_id = st.session_state.get("assignment_id")
        assignment = session.get(Assignment, assignment_id) if assignment_id else None
        if assignment is None:
            rng = random.Random()
            assignment = next_battle(session, session.get(Annotator, annotator.id), rng,
                                     pairs=_pair_policy(os.environ.get(SAMPLING_ENV, "uniform")))
            if assignment is None:
                st.success("You have voted on every battle there is. Thank you!")
                return
            st.session_state["assignment_id"] = assignment.id
            st.session_state.pop("revealed", None)
        prompt = assignment.battle.prompt
        st.markdown(f"**{safe_markdown(prompt.question)}**")
        show = st.radio("Draw the points of", ["none", "A", "B"], horizontal=True, key=f"points-{assignment.id}")
        st.image(_image_with_points(assignment, show), width="stretch")
        revealed = st.session_state.get("revealed")
        left, right = st.columns(2)
        for column, side, answer, name in ((left, "A", assignment.left, revealed and revealed[0]),
                                           (right, "B", assignment.right, revealed and revealed[1])):
            with column, st.container(border=True):
                st.markdown(f"#### Answer {side}" + (f" · {name}" if name else ""))
                st.markdown(safe_markdown(answer.text))
        battle_id = assignment.battle_id
    if revealed:
        st.success(f"Thanks! A was **{revealed[0]}**, B was **{revealed[1]}**.")
        if st.button("Next battle", type="primary", shortcut="Enter", key="next"):
            st.session_state.pop("assignment_id", None)
            st.session_state.pop("revealed", None)
            st.rerun()
        return
    reason = st.text_input("Why? (optional)", key=f"reason-{battle_id}", max_chars=2000)
    columns = st.columns(len(CHOICES))
    for column, (choice, label, key) in zip(columns, CHOICES, strict=True):
        if column.button(f"{label} ({key})", key=f"vote-{choice}", shortcut=key, width="stretch"):
            try:
                names = record_vote(factory, annotator.id, battle_id, choice, reason or None)
            except DuplicateVoteError:
                st.info("You have already voted on this battle.")
                st.session_state.pop("assignment_id", None)
                return
            except (NotAssignedError, PermissionError) as error:
                st.error(str(error))
                return
            st.session_state["revealed"] = (names.left, names.right)
            st.rerun()


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

    factory = _sessions(_database_url())
    annotator = _signed_in(factory)
    if annotator is None:
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
                           lambda index, text: boxes[on_screen[index]].markdown(safe_markdown(text)))
    answers = list(zip(names, texts, strict=True))
    try:
        with factory() as session:
            assignment = add_live_battle(session, session.get(Annotator, annotator.id), upload.getvalue(), question,
                                         answers, swapped=swapped)
    except ValueError as error:
        st.error(f"That image cannot be used: {error}")
        return
    st.session_state["assignment_id"] = assignment.id
    st.session_state.pop("revealed", None)
    st.switch_page(st.session_state["vote_page"])


def admin_page() -> None:
    factory = _sessions(_database_url())
    admin = _signed_in(factory, need_admin=True)
    if admin is None:
        return
    with factory() as session:
        st.markdown("### Study progress")
        progress = stats.pair_progress(session)
        st.dataframe(progress, hide_index=True)
        st.markdown("### Annotators")
        st.dataframe(stats.annotator_progress(session), hide_index=True)
        st.markdown("### Votes per hour")
        hourly = stats.votes_per_hour(session)
        if len(hourly):
            st.bar_chart(hourly, x=hourly.columns[0], y=hourly.columns[1])
        st.markdown("### Gold accuracy")
        st.dataframe(stats.gold_accuracy(session), hide_index=True)
        st.markdown("### Position bias (share of decisive votes for the left answer)")
        st.dataframe(stats.position_bias(session), hide_index=True)
        st.markdown("### Agreement between annotators")
        st.json(stats.agreement(session))
        names = list(session.scalars(select(Annotator.name).where(Annotator.enabled).order_by(Annotator.name)))
    st.markdown("### Disable an annotator")
    st.caption("Their votes leave every export; the votes themselves stay in the database.")
    name = st.selectbox("Annotator", names, index=None, key="disable-name")
    if st.button("Disable", disabled=name is None, key="disable"):
        with factory() as session:
            disable_annotator(session, name)
        st.success(f"{name} is disabled.")
