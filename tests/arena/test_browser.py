"""The arena in a real browser: `molmo-arena arena serve` on 127.0.0.1, driven by Debian's Chromium through
Playwright at a laptop's (1280x800) and a phone's (390x844) screen size, with keyboard shortcuts, and with every
known injection case among the answers, pointed at a trap server that must see no request at all."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from sqlalchemy import create_engine, text

from evals.tiny_models import save_tiny_llava
from molmo_arena import main

from .arena_files import png_bytes, write_jsonl
from .markdown_attacks import CASES

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine (Debian: apt-get install chromium)"),
]
LAPTOP, PHONE = {"width": 1280, "height": 800}, {"width": 390, "height": 844}
READ_MS = 1100  # `arena serve --min-vote-seconds` is 1 s by default: a vote sooner after its battle appeared is refused
IMAGE_SIZES = [(448, 336), (288, 288), (300, 420)]  # the sizes of real study images: never shown larger
LONG_ANSWER = "\n\n".join(f"Paragraph {i}: " + "the shapes are red and round. " * 12 for i in range(40))
MAIN = "document.querySelector('[data-testid=stMain]')"


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

    do_POST = do_GET

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def trap():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Trap)
    _Trap.requests = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], _Trap.requests
    server.shutdown()


def _children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def serve(db: str, extra: list[str]) -> tuple[subprocess.Popen, str, int]:
    """Start `molmo-arena arena serve`; returns the process, the URL and the pid of its Streamlit child."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "molmo_arena", "arena", "--db", db, "serve", "--port", str(port), *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as reply:
                if reply.status == 200:
                    (child,) = _children(process.pid)
                    return process, f"http://127.0.0.1:{port}", child
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail("the arena server did not start")
            time.sleep(0.3)


def stop(process: subprocess.Popen, child: int, how: signal.Signals) -> None:
    """Stop the server as a service manager (SIGTERM) or Ctrl+C (SIGINT) would: no Streamlit child is left."""
    process.send_signal(how)
    process.wait(timeout=30)
    assert not _alive(child), f"the Streamlit child {child} outlived `arena serve` after {how.name}"


@pytest.fixture(scope="module")
def served(tmp_path_factory, trap):
    """A study of 3 prompts and 3 models (9 battles): one model answers at length, one answers with points
    on the first prompt, one answers with the injection cases, aimed at the trap server."""
    folder = tmp_path_factory.mktemp("served")
    trap_port, _ = trap
    db = str(folder / "arena.db")
    for p, size in enumerate(IMAGE_SIZES):
        (folder / f"img{p}.png").write_bytes(png_bytes(p + 3, size))
    write_jsonl(folder / "prompts.jsonl", [{"prompt_id": f"p{p}", "question": f"What is shown in picture {p}?",
                                            "category": "general", "image": f"img{p}.png"} for p in range(3)])
    hostile = ["\n\n".join(source.format(url=f"http://127.0.0.1:{trap_port}/{name}", host=f"127.0.0.1:{trap_port}")
                           for name, source, _ in CASES[p::3]) for p in range(3)]
    answers = [{"prompt_id": f"p{p}", "model": "model-long", "answer": LONG_ANSWER} for p in range(3)]
    answers += [{"prompt_id": f"p{p}", "model": "model-points", "answer": (
        'Two dots <points x1="30" y1="40" x2="60" y2="50" alt="dots">dots</points>' if p == 0 else "No dots.")}
        for p in range(3)]
    answers += [{"prompt_id": f"p{p}", "model": "model-hostile", "answer": hostile[p]} for p in range(3)]
    write_jsonl(folder / "answers.jsonl", answers)
    assert main(["arena", "--db", db, "import", "--prompts", str(folder / "prompts.jsonl"),
                 "--answers", str(folder / "answers.jsonl")]) == 0
    model = save_tiny_llava(folder / "tiny")
    process, url, child = serve(db, ["--secret-file", str(folder / "secret"), "--live", f"tiny-one=hf:{model}",
                                     "--live", f"tiny-two=hf:{model}"])
    yield url, db
    stop(process, child, signal.SIGTERM)


def _token(db: str, name: str, capsys) -> str:
    capsys.readouterr()
    assert main(["arena", "--db", db, "annotators", "add", name]) == 0
    return capsys.readouterr().out.strip().splitlines()[-1]


def _browser(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=[
        "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"])


def _sign_in(page, url: str, token: str) -> None:
    page.goto(url)
    page.get_by_label("Your personal token").fill(token)
    page.get_by_role("button", name="Sign in").click()


def _vote_buttons(page):
    return [page.get_by_role("button", name=label, exact=False).first
            for label in ("A is better", "B is better", "Tie: both good", "Tie: both bad", "Can't tell")]


def _wait_for_votes(page, votes: int):
    """The caption over the battle once `votes` votes are stored; it names the models of the last one."""
    caption = page.get_by_text(f" {votes} vote{'' if votes == 1 else 's'} so far · last battle: A was ")
    caption.wait_for(timeout=30_000)
    return caption


def _layout_problems(page, viewport: dict) -> list[str]:
    """What of the battle is not on the first screen: the question, the image (and whether it is shown larger
    than it is), the first line of each answer, the five buttons."""
    problems, height = [], viewport["height"]

    def box(locator, what: str) -> dict | None:
        found = locator.bounding_box()
        if found is None:
            problems.append(f"{what}: not drawn")
        return found

    question = box(page.get_by_text("What is shown in picture").first, "question")
    if question and question["y"] + question["height"] > height:
        problems.append(f"question below the fold (y={question['y']:.0f})")
    image = page.locator(".arena-image img").first
    shown = box(image, "image")
    natural = image.evaluate("i => [i.naturalWidth, i.naturalHeight]")
    if shown and (shown["width"] > natural[0] + 0.5 or shown["height"] > natural[1] + 0.5):
        problems.append(f"image upscaled from {natural} to {shown['width']:.0f}x{shown['height']:.0f}")
    if shown and shown["y"] + shown["height"] > height:
        problems.append(f"image below the fold (bottom {shown['y'] + shown['height']:.0f})")
    for side in "AB":
        title = box(page.get_by_text(f"Answer {side}", exact=True).first, f"answer {side}")
        if title and title["y"] + title["height"] + 24 > height:  # the title and the line under it
            problems.append(f"answer {side} below the fold (y={title['y']:.0f})")
    for button in _vote_buttons(page):
        found = box(button, "button")
        if found and found["y"] + found["height"] > height:
            problems.append(f"button {button.inner_text()!r} below the fold (y={found['y']:.0f})")
    if page.evaluate("document.scrollingElement.scrollWidth") > viewport["width"]:
        problems.append("wider than the screen")
    return problems


def test_every_battle_on_one_laptop_screen_voted_with_the_keyboard(served, trap, capsys):
    """Issue 15 items 5, 6, 8 and 9 at 1280x800, battle after battle."""
    from playwright.sync_api import sync_playwright

    url, db = served
    _, trapped = trap
    problems = []
    with sync_playwright() as playwright:
        browser = _browser(playwright)
        page = browser.new_page(viewport=LAPTOP)
        _sign_in(page, url, _token(db, "laptop", capsys))
        for number in range(9):
            _vote_buttons(page)[0].wait_for(timeout=60_000)
            page.wait_for_timeout(READ_MS)  # a vote needs its battle on screen for a second, and the page settles
            problems += [f"battle {number}: {p}" for p in _layout_problems(page, LAPTOP)]
            for key, button in enumerate(_vote_buttons(page), start=1):
                if button.inner_text().count(str(key)) != 1:
                    problems.append(f"button {button.inner_text()!r} does not show its key {key} once")
            has_points = "dots</points>" in page.content().replace("&lt;", "<").replace("&gt;", ">")
            selector = page.get_by_text("Draw the points of")
            if selector.count() != int(has_points):
                problems.append(f"battle {number}: points selector shown {selector.count()} times, answer with "
                                f"points: {has_points}")
            if has_points and selector.count():
                page.get_by_text("A", exact=True).or_(page.get_by_text("B", exact=True)).first.click()
                page.wait_for_timeout(1000)
            page.evaluate(f"{MAIN}.scrollTop = 100000")
            page.keyboard.press(str(number % 5 + 1))
            try:
                _wait_for_votes(page, number + 1)
            except Exception:
                problems.append(f"battle {number}: key {number % 5 + 1} did not vote (points selector: {has_points})")
                _vote_buttons(page)[number % 5].click()
                _wait_for_votes(page, number + 1)
            page.wait_for_timeout(500)
            if number < 8 and page.evaluate(f"{MAIN}.scrollTop") > 0:
                problems.append(f"battle {number + 1}: not scrolled to the top")
        page.get_by_text("You have voted on every battle there is").wait_for(timeout=30_000)
        assert page.evaluate("window.pwned === undefined")
        page.get_by_role("link", name="Admin").click()  # moving between pages keeps the sign-in in the URL
        page.get_by_role("link", name="Vote").click()
        page.get_by_text("Signed in as laptop").wait_for(timeout=30_000)
        page.wait_for_timeout(500)
        if "session=" not in page.url:
            problems.append(f"Admin then Vote dropped the session key: {page.url}")
        page.reload()
        page.get_by_text("Signed in as laptop").wait_for(timeout=30_000)
        browser.close()
    assert problems == []
    assert trapped == []  # no image, link, style or script reached the network
    with create_engine(f"sqlite:///{db}").connect() as connection:
        choices = connection.execute(text(
            "SELECT choice FROM votes JOIN annotators ON annotators.id = votes.annotator_id "
            "WHERE annotators.name = 'laptop'")).scalars().all()
    assert len(choices) == 9


def test_a_phone_shows_the_battle_and_keeps_the_sign_in(served, capsys, tmp_path):
    from playwright.sync_api import sync_playwright

    from leaderboard.battles import load_battles

    url, db = served
    with sync_playwright() as playwright:
        browser = _browser(playwright)
        page = browser.new_page(viewport=PHONE)
        _sign_in(page, url, _token(db, "phone", capsys))
        first = _vote_buttons(page)[0]
        first.wait_for(timeout=60_000)
        page.wait_for_timeout(READ_MS)
        assert _layout_problems(page, PHONE) == []
        widths = [button.bounding_box()["width"] for button in _vote_buttons(page)]
        assert min(widths) > 150  # two to a row on a phone: wide enough to tap
        page.keyboard.press("2")  # "B is better"
        _wait_for_votes(page, 1)
        for _ in range(6):  # a held key: its repeats reach the next battle before anyone could read it
            page.keyboard.press("2")
            page.wait_for_timeout(40)
        page.get_by_text("after this battle appeared (a held or repeated key?); nothing was stored").wait_for(
            timeout=30_000)
        assert page.get_by_text(" 1 vote so far").count() == 1
        page.wait_for_timeout(READ_MS)
        page.keyboard.press("1")
        _wait_for_votes(page, 2)
        assert "session=" in page.url
        page.reload()  # the URL's session key remembers the annotator
        page.get_by_text("Signed in as phone").wait_for(timeout=30_000)
        browser.close()
    with create_engine(f"sqlite:///{db}").connect() as connection:
        assert connection.execute(text(
            "SELECT count(*) FROM votes JOIN annotators ON annotators.id = votes.annotator_id "
            "WHERE annotators.name = 'phone'")).scalar_one() == 2  # the held key stored nothing
    out = tmp_path / "battles.jsonl"
    assert main(["arena", "--db", db, "export", "--out", str(out)]) == 0
    battles = load_battles(out)
    assert battles["winner"].isin(["model_a", "model_b", "tie", "tie (bothbad)"]).all()


def test_ask_your_own_question_live(served, tmp_path, capsys):
    """An uploaded image and question, answered on the spot by two live models, voted on, exported."""
    from playwright.sync_api import sync_playwright

    url, db = served
    upload = tmp_path / "mine.png"
    upload.write_bytes(png_bytes(9, (80, 60)))
    with sync_playwright() as playwright:
        browser = _browser(playwright)
        page = browser.new_page()
        _sign_in(page, url + "/ask", _token(db, "asker", capsys))
        page.get_by_text("Ask two anonymous models").wait_for(timeout=60_000)
        page.locator("input[type=file]").set_input_files(str(upload))
        page.get_by_label("Your question").fill("How many red squares?")
        page.get_by_role("button", name="Ask").click()
        _vote_buttons(page)[0].wait_for(timeout=120_000)
        assert page.get_by_text("How many red squares?").count() == 1
        page.wait_for_timeout(READ_MS)
        _vote_buttons(page)[3].click()  # "Tie: both bad"
        assert "tiny-one" in _wait_for_votes(page, 1).inner_text()
        browser.close()
    out = tmp_path / "battles.jsonl"
    assert main(["arena", "--db", db, "export", "--out", str(out)]) == 0
    exported = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(b["category"], b["winner"]) for b in exported if b["category"] == "live"] == [("live", "tie (bothbad)")]


def test_ctrl_c_stops_the_streamlit_child_too(tmp_path):
    """Issue 15 item 10: SIGINT (and, in the fixture above, SIGTERM) to `arena serve` leaves no server behind."""
    process, _, child = serve(str(tmp_path / "arena.db"), ["--secret-file", str(tmp_path / "secret")])
    stop(process, child, signal.SIGINT)
