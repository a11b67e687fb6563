"""The arena in a real browser: `molmo-arena arena serve` on 127.0.0.1, driven by Debian's Chromium through
Playwright, at a phone's screen size, with keyboard shortcuts, and with hostile answers that must run and
load nothing."""

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from sqlalchemy import create_engine, text

from evals.tiny_models import save_tiny_llava
from molmo_arena import main

from .arena_files import png_bytes, write_jsonl

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine (Debian: apt-get install chromium)"),
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Trap(BaseHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def do_GET(self):
        type(self).requests.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def trap():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Trap)
    _Trap.requests = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], _Trap.requests
    server.shutdown()


def _serve(db: str, extra: list[str]):
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "molmo_arena", "arena", "--db", db, "serve", "--port", str(port), *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as reply:
                if reply.status == 200:
                    return process, f"http://127.0.0.1:{port}"
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail("the arena server did not start")
            time.sleep(0.3)


def _browser(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=[
        "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"])


def _sign_in(page, url: str, token: str) -> None:
    page.goto(url)
    page.get_by_label("Your personal token").fill(token)
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture
def served(tmp_path, trap, capsys):
    trap_port, _ = trap
    db = str(tmp_path / "arena.db")
    (tmp_path / "img.png").write_bytes(png_bytes(3, (120, 90)))
    write_jsonl(tmp_path / "prompts.jsonl", [{"prompt_id": "p0", "question": "What is shown?", "category": "general",
                                               "image": "img.png"}])
    hostile = (f"<img src='http://127.0.0.1:{trap_port}/html-img'> ![x](http://127.0.0.1:{trap_port}/md-img) "
               f"<script>window.pwned = 1</script> [link](http://127.0.0.1:{trap_port}/link) **bold**")
    write_jsonl(tmp_path / "answers.jsonl", [
        {"prompt_id": "p0", "model": "model-x", "answer": hostile},
        {"prompt_id": "p0", "model": "model-y", "answer": 'A dot <point x="50" y="50" alt="dot">dot</point>'},
    ])
    assert main(["arena", "--db", db, "import", "--prompts", str(tmp_path / "prompts.jsonl"),
                 "--answers", str(tmp_path / "answers.jsonl")]) == 0
    assert main(["arena", "--db", db, "annotators", "add", "alice"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    model = save_tiny_llava(tmp_path / "tiny")
    process, url = _serve(db, ["--live", f"tiny-one=hf:{model}", "--live", f"tiny-two=hf:{model}"])
    yield url, token, db
    process.terminate()
    process.wait(timeout=20)


def test_vote_with_the_keyboard_on_a_phone_sized_screen(served, trap, tmp_path):
    from playwright.sync_api import sync_playwright

    from leaderboard.battles import load_battles

    url, token, db = served
    trap_port, trapped = trap
    with sync_playwright() as playwright:
        browser = _browser(playwright)
        page = browser.new_page(viewport={"width": 390, "height": 844})
        _sign_in(page, url, token)
        vote_button = page.get_by_role("button", name="A is better (1)")
        vote_button.wait_for(timeout=60_000)
        page.get_by_text("bold", exact=True).wait_for()
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 390  # nothing wider than the phone
        assert vote_button.bounding_box()["width"] > 250  # the choices stack at full width on a phone
        assert page.evaluate("window.pwned === undefined")
        assert page.locator(f"img[src*=':{trap_port}']").count() == 0
        assert "<script>" in page.content() or "&lt;script&gt;" in page.content()  # shown as text

        page.keyboard.press("2")  # "B is better"
        page.get_by_text("Thanks!").wait_for(timeout=30_000)
        revealed = page.get_by_text("Thanks!").inner_text()
        assert "model-x" in revealed and "model-y" in revealed
        assert "session=" in page.url

        page.reload()  # the browser session remembers the annotator
        page.get_by_text("Signed in as alice").wait_for(timeout=30_000)
        browser.close()
    assert trapped == []  # no image, link or script reached the network
    with create_engine(f"sqlite:///{db}").connect() as connection:
        votes = connection.execute(text("SELECT choice, annotator_id FROM votes")).all()
    assert len(votes) == 1 and votes[0].choice in ("a_better", "b_better")
    assert main(["arena", "--db", db, "export", "--out", str(tmp_path / "battles.jsonl")]) == 0
    battles = load_battles(tmp_path / "battles.jsonl")
    assert len(battles) == 1 and battles["winner"].iloc[0] in ("model_a", "model_b")
    assert {battles["model_a"].iloc[0], battles["model_b"].iloc[0]} == {"model-x", "model-y"}


def test_ask_your_own_question_live(served, tmp_path):
    """An uploaded image and question, answered on the spot by two live models, voted on, exported."""
    from playwright.sync_api import sync_playwright

    url, token, db = served
    upload = tmp_path / "mine.png"
    upload.write_bytes(png_bytes(9, (80, 60)))
    with sync_playwright() as playwright:
        browser = _browser(playwright)
        page = browser.new_page()
        _sign_in(page, url + "/ask", token)
        page.get_by_text("Ask two anonymous models").wait_for(timeout=60_000)
        page.locator("input[type=file]").set_input_files(str(upload))
        page.get_by_label("Your question").fill("How many red squares?")
        page.get_by_role("button", name="Ask").click()
        page.get_by_role("button", name="A is better (1)").wait_for(timeout=120_000)
        assert page.get_by_text("How many red squares?").count() == 1
        page.get_by_role("button", name="Tie: both bad (4)").click()
        page.get_by_text("Thanks!").wait_for(timeout=30_000)
        assert "tiny-one" in page.get_by_text("Thanks!").inner_text()
        browser.close()
    assert main(["arena", "--db", db, "export", "--out", str(tmp_path / "battles.jsonl")]) == 0
    exported = [json.loads(line) for line in (tmp_path / "battles.jsonl").read_text().splitlines()]
    assert [(b["category"], b["winner"]) for b in exported] == [("live", "tie (bothbad)")]
