"""Live battles: stored for their asker only, answered by two models at once with the answers shown as they grow,
and in a real browser against `molmo-arena arena serve --live` with models behind `molmo-arena serve`."""

import random
import signal
import threading

import pytest
from sqlalchemy import select

from arena.db import Annotator, Battle
from arena.live import add_live_battle, stream_answers
from arena.sampling import next_battle
from arena.votes import record_vote
from evals.adapters.base import Generation, GenerationRequest
from tests.evals.streaming import WordByWordAdapter, serving

from .arena_files import png_bytes


def test_a_live_battle_is_assigned_to_its_asker_only(session, session_factory, annotators, make_study):
    make_study(n_models=3, n_prompts=2, gold=True)  # 6 battles and 2 gold items
    asker, other = (session.get(Annotator, i) for i in annotators(2))
    assignment = add_live_battle(session, asker, png_bytes(4), "  What is this? ", [("x", "a cat"), ("y", "a dog")],
                                 swapped=True)
    assert assignment.left.text == "a dog" and assignment.battle.prompt.question == "What is this?"
    assert assignment.battle.prompt.category == "live"
    revealed = record_vote(session_factory, asker.id, assignment.battle_id, "left_better")
    assert revealed == ("y", "x")
    # The other annotator draws until nothing is left: a leak may show only once the pairs and gold run out.
    rng, seen = random.Random(0), []
    while (drawn := next_battle(session, other, rng)) is not None:
        seen.append(drawn.battle_id)
        record_vote(session_factory, other.id, drawn.battle_id, "tie_good")
    others = set(session.scalars(select(Battle.id).where(Battle.id != assignment.battle_id)))
    assert assignment.battle_id not in seen and sorted(seen) == sorted(others) and len(others) == 8
    assert session.scalar(select(Battle).where(Battle.id == assignment.battle_id)).pair_id is None


@pytest.mark.parametrize(("image", "message"), [(b"GIF89a broken", "broken image|not an image"),
                                                (b"plain text", "not an image")])
def test_a_bad_upload_is_refused_and_nothing_is_stored(session, annotators, image, message):
    asker = session.get(Annotator, annotators(1)[0])
    with pytest.raises(ValueError, match=message):
        add_live_battle(session, asker, image, "Q?", [("x", "1"), ("y", "2")], swapped=False)
    session.rollback()
    assert session.scalars(select(Battle)).all() == []


class _Gated:
    """Streams 'first', then waits until the test lets it finish with 'first second'."""

    streams_text = True

    def __init__(self) -> None:
        self.go = threading.Event()

    def generate(self, requests, on_text=None):
        on_text(0, "first")
        assert self.go.wait(timeout=30)
        return [Generation(text="first second", prompt=requests[0].prompt)]


class _Whole:
    """Cannot stream: answers once, whole."""

    def generate(self, requests):
        return [Generation(text=f"whole answer to {requests[0].prompt}", prompt=requests[0].prompt)]


def test_both_answers_are_shown_as_they_grow_then_whole():
    gated = _Gated()
    shown: list[tuple[int, str]] = []
    main_thread = threading.get_ident()

    def show(index: int, text: str) -> None:
        assert threading.get_ident() == main_thread  # Streamlit draws from the script's thread only
        shown.append((index, text))
        if (index, text) == (0, "first"):
            gated.go.set()  # the partial answer was on screen before the model finished

    request = GenerationRequest("q?", None, max_new_tokens=8)
    answers = stream_answers([gated, _Whole()], request, show, poll_s=0.01)
    assert answers == ["first second", "whole answer to q?"]
    assert shown.index((0, "first")) < shown.index((0, "first second"))
    assert (1, "whole answer to q?") in shown and shown.count((0, "first second")) == 1


def test_a_failing_model_fails_the_live_battle_after_the_other_finished():
    class Broken:
        def generate(self, requests):
            raise RuntimeError("the model is down")

    shown = []
    with pytest.raises(RuntimeError, match="the model is down"):
        stream_answers([Broken(), _Whole()], GenerationRequest("q", None, 8), lambda i, t: shown.append((i, t)))
    assert shown == [(1, "whole answer to q")]


@pytest.mark.slow
def test_the_ask_page_shows_live_answers_as_they_stream(tmp_path, capsys):
    """Two live models behind `molmo-arena serve` (a stand-in that takes 0.4 s a word), in Chromium: the answers
    appear word by word, then the battle is voted on like any other."""
    from playwright.sync_api import sync_playwright

    from molmo_arena import main
    from tests.arena.test_browser import CHROMIUM, _browser, _sign_in, serve, stop

    if CHROMIUM is None:
        pytest.skip("no Chromium on this machine (Debian: apt-get install chromium)")
    db = str(tmp_path / "arena.db")
    assert main(["arena", "--db", db, "annotators", "add", "alice"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    upload = tmp_path / "mine.png"
    upload.write_bytes(png_bytes(9, (80, 60)))
    question = " ".join(f"w{i}" for i in range(12))
    with serving(WordByWordAdapter(pause_s=0.4), "words") as model:
        base = f"openai:http://127.0.0.1:{model.server_address[1]}/v1#words"
        process, url, child = serve(db, ["--secret-file", str(tmp_path / "secret"), "--live", f"one={base}",
                                         "--live", f"two={base}"])
        try:
            with sync_playwright() as playwright:
                browser = _browser(playwright)
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                _sign_in(page, url + "/ask", token)
                question_box = page.get_by_label("Your question")
                question_box.wait_for(timeout=60_000)
                question_box.fill(question)
                page.locator("input[type=file]").set_input_files(str(upload))
                page.get_by_role("button", name="Ask").click()
                page.get_by_text("w11 w10 w9", exact=False).first.wait_for(timeout=60_000)
                partial = page.locator("body").inner_text()
                assert "w0 ." not in partial  # shown while the models were still answering
                page.get_by_role("button", name="A is better", exact=False).first.wait_for(timeout=60_000)
                assert page.get_by_text(" ".join(f"w{i}" for i in reversed(range(12))) + " .").count() == 2
                page.wait_for_timeout(1100)  # `arena serve --min-vote-seconds`: a vote needs a second on screen
                page.get_by_role("button", name="B is better", exact=False).first.click()
                page.get_by_text("1 vote so far · last battle: A was ").wait_for(timeout=30_000)
                browser.close()
        finally:
            stop(process, child, signal.SIGTERM)
