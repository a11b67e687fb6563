"""Capacity of the real arena server: N annotators voting through `molmo-arena arena serve` at once.

Each simulated annotator is one Streamlit session speaking Streamlit's own protocol, as the browser's frontend
does: a websocket to /_stcore/stream (subprotocol "streamlit"), `BackMsg.rerun_script` with the widget states of
a click, and `ForwardMsg` deltas back until `script_finished` (the battle's image is inside the page, a `data:`
URL, so there is no second request). It signs in with its token, then, until the end: thinks (`READ_S`, the
server's least time before a vote, plus an exponential; `--think` s on average), clicks a vote (timed: click to
the next battle on the page; one click is one vote, the page then shows the next battle under the names of the
models just voted on). Votes go through the real pages, sampler and store. Printed: votes per second, p50/p99 of
that latency, errors, and the server's CPU seconds per vote (user + system time of the server's processes over
the measured window, from /proc).

The load generator runs on the same machine and takes CPU too; `--browsers K` adds K headless Chromium pages doing
the same (timed in the page, from the key press to the next battle's caption) as a calibration point for the
protocol client's figures. `--servers 2 --db postgresql` runs two servers on one PostgreSQL, annotators split
between them.

    .venv/bin/python bench/arena_capacity.py --annotators 50 200 --think 10 --duration 60 [--db sqlite|postgresql]

The page-specific part is `VoteFlow` (which widgets to fill and click, found by their keys); the protocol client
(`StreamlitSession`) knows nothing of the arena.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import PIL.Image
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from arena.cli import DEFAULT_MIN_VOTE_SECONDS

ROOT = Path(__file__).resolve().parents[1]
MODELS, PROMPTS = 27, 40
READ_S = DEFAULT_MIN_VOTE_SECONDS  # `arena serve`'s default: a sooner vote is refused, and no person votes sooner


# --- Streamlit's protocol, page-agnostic -------------------------------------------------------------------------

@dataclass
class Element:
    """One element of the page: its kind (the proto field: button, text_input, html, markdown, ...), widget id,
    and label or text."""

    kind: str
    id: str = ""
    label: str = ""


@dataclass
class Page:
    """What a script run showed."""

    elements: list[Element] = field(default_factory=list)

    def widgets(self, kind: str, key_prefix: str) -> list[Element]:
        """The widgets of `kind` whose user key starts with `key_prefix` (Streamlit ids end in '-KEY')."""
        return [e for e in self.elements if e.kind == kind and f"-{key_prefix}" in e.id]

    def widget(self, kind: str, key_prefix: str) -> Element | None:
        """The first of `widgets(kind, key_prefix)`, None if there is none."""
        return next(iter(self.widgets(kind, key_prefix)), None)

    def text(self) -> str:
        return "\n".join(e.label for e in self.elements)


class StreamlitSession:
    """One browser session of a Streamlit app over its websocket."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.query_string = ""
        self.socket = None

    async def connect(self) -> None:
        import websockets

        url = self.base_url.replace("http://", "ws://") + "/_stcore/stream"
        self.socket = await websockets.connect(url, subprotocols=["streamlit"], max_size=None, open_timeout=60,
                                               ping_interval=None)

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()

    async def rerun(self, widgets: dict[str, dict] | None = None) -> Page:
        """Send the widget states of an interaction (id -> WidgetState fields, e.g. {'trigger_value': True}) and
        return the page of the run that finishes without asking for another (st.rerun)."""
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        message = BackMsg()
        message.rerun_script.query_string = self.query_string
        for widget_id, value in (widgets or {}).items():
            message.rerun_script.widget_states.widgets.append(WidgetState(id=widget_id, **value))
        await self.socket.send(message.SerializeToString())
        page = Page()
        while True:
            reply = ForwardMsg()
            reply.ParseFromString(await self.socket.recv())
            kind = reply.WhichOneof("type")
            if kind == "new_session":  # a script run starts: its page replaces the last one
                page = Page()
            elif kind == "page_info_changed":
                self.query_string = reply.page_info_changed.query_string
            elif kind == "delta" and reply.delta.WhichOneof("type") == "new_element":
                page.elements.append(_element(reply.delta.new_element))
            elif kind == "script_finished" and reply.script_finished in (
                    ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR):
                return page


def _element(proto) -> Element:
    kind = proto.WhichOneof("type")
    inner = getattr(proto, kind)
    label = getattr(inner, "label", "") or getattr(inner, "body", "")
    return Element(kind, getattr(inner, "id", ""), str(label))


# --- The arena's vote flow: the only page-specific part ----------------------------------------------------------

class VoteFlow:
    """Sign in and vote on the arena's vote page (`arena/pages.py`), by widget keys: the token field
    `token-session`, the vote buttons `vote-BATTLE-CHOICE`."""

    def __init__(self, session: StreamlitSession) -> None:
        self.session = session
        self.page = Page()

    async def sign_in(self, token: str) -> None:
        self.page = await self.session.rerun()
        field_, submit = self.page.widget("text_input", "token-session"), self._submit("Sign in")
        self.page = await self.session.rerun({field_.id: {"string_value": token}, submit.id: {"trigger_value": True}})
        self._expect_battle()

    async def vote(self, rng: random.Random) -> None:
        """A vote on the battle on screen; returns once the next battle is there."""
        button = rng.choice(self.page.widgets("button", "vote-"))
        self.page = await self.session.rerun({button.id: {"trigger_value": True}})
        if "last battle: A was" not in self.page.text():
            raise RuntimeError(f"no names of the models voted on after the vote: {self.page.text()[:300]}")
        if any(element.id == button.id for element in self.page.elements):
            raise RuntimeError("the battle voted on is still on screen")
        self._expect_battle()

    def _submit(self, label: str) -> Element:
        return next(e for e in self.page.elements if e.kind == "button" and e.label == label)

    def _expect_battle(self) -> None:
        if len(self.page.widgets("button", "vote-")) != 5 or 'src="data:image/jpeg;base64,' not in self.page.text():
            raise RuntimeError(f"no battle with its image on the page: {self.page.text()[:300]}")


# --- The load ----------------------------------------------------------------------------------------------------

@dataclass
class Timings:
    vote_s: list[float] = field(default_factory=list)  # click -> the next battle
    errors: list[str] = field(default_factory=list)


async def annotate(base_url: str, token: str, seed: int, start_at: float, measure: tuple[float, float],
                   think: float, timings: Timings) -> None:
    """One annotator: signs in at `start_at`, then votes until the end of the `measure` window (monotonic times);
    only interactions that begin inside the window are timed."""
    rng = random.Random(seed)
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    session = StreamlitSession(base_url)
    try:
        await session.connect()
        flow = VoteFlow(session)
        await flow.sign_in(token)
        while True:
            await asyncio.sleep(READ_S + rng.expovariate(1.0 / (think - READ_S)))
            began = time.monotonic()
            if began > measure[1]:
                break
            await flow.vote(rng)
            if began >= measure[0]:
                timings.vote_s.append(time.monotonic() - began)
    except Exception as error:  # counted and reported, the others go on
        timings.errors.append(f"{type(error).__name__}: {error}"[:300])
    finally:
        await session.close()


def set_up_study(url: str, annotators: int, folder: Path) -> list[str]:
    """The study (27 models, `PROMPTS` prompts with 448x336 JPEG photos-like images), `annotators` tokens."""
    from arena.annotators import add_annotator
    from arena.db import make_engine, upgrade_database
    from arena.study import import_study

    upgrade_database(url)
    engine = make_engine(url)
    rng = np.random.default_rng(0)
    prompts = []
    for p in range(PROMPTS):
        buffer = io.BytesIO()
        pixels = rng.integers(0, 256, (336 // 8, 448 // 8, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
        PIL.Image.fromarray(pixels).save(buffer, "JPEG", quality=85)
        prompts.append({"prompt_id": f"p{p}", "question": f"What is in picture {p}?", "category": "general",
                        "image_base64": base64.b64encode(buffer.getvalue()).decode()})
    (folder / "prompts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in prompts))
    answer = "The picture shows {name}: a few coloured squares, some larger than others, on a plain background. " * 3
    (folder / "answers.jsonl").write_text("".join(
        json.dumps({"prompt_id": f"p{p}", "model": f"model-{m:02d}", "answer": answer.format(name=f"model {m}")}) + "\n"
        for p in range(PROMPTS) for m in range(MODELS)))
    with sessionmaker(engine)() as session:
        import_study(session, random.Random(0), prompts=folder / "prompts.jsonl", answers=[folder / "answers.jsonl"])
        tokens = [add_annotator(session, f"load-{i:04d}") for i in range(annotators)]
    engine.dispose()
    return tokens


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(url: str, sampling: str, secret: Path) -> tuple[subprocess.Popen, str]:
    """`molmo-arena arena serve` in its own process group, once /_stcore/health answers."""
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    process = subprocess.Popen([sys.executable, "-m", "molmo_arena", "arena", "--db", url, "serve", "--port",
                                str(port), "--sampling", sampling, "--secret-file", str(secret)],
                               env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1):
                return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.3)
    os.killpg(process.pid, signal.SIGKILL)
    raise RuntimeError("the arena server did not start")


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds of every live process in the process group (from /proc/PID/stat)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after the name: state, ppid, pgrp, ..., utime (11), stime (12)
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def browser_calibration(base_url: str, tokens: list[str], measure: tuple[float, float], think: float,
                        timings: Timings) -> None:
    """Headless Chromium pages doing the same flow; the time from the key press to the next battle's caption."""
    from playwright.sync_api import sync_playwright

    chromium = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if Path(p).exists()), None)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        pages = []
        for token in tokens:
            page = browser.new_page()
            page.goto(base_url)
            page.get_by_label("Your personal token").fill(token)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("button", name="A is better", exact=False).first.wait_for(timeout=120_000)
            pages.append(page)
        rng, votes, shown = random.Random(7), [0] * len(pages), [time.monotonic()] * len(pages)
        while time.monotonic() < measure[1]:
            time.sleep(rng.expovariate(len(pages) / think))
            index = rng.randrange(len(pages))
            time.sleep(max(0.0, shown[index] + READ_S - time.monotonic()))
            votes[index] += 1
            began = time.monotonic()
            pages[index].keyboard.press(rng.choice("12345"))
            caption = f" {votes[index]} vote{'' if votes[index] == 1 else 's'} so far · last battle"
            pages[index].get_by_text(caption).wait_for(timeout=60_000)
            shown[index] = time.monotonic()
            if began >= measure[0]:
                timings.vote_s.append(shown[index] - began)
        browser.close()


def measure(url: str, servers: int, annotators: int, args: argparse.Namespace, folder: Path) -> dict:
    from arena.db import Vote, make_engine

    tokens = set_up_study(url, annotators + args.browsers, folder)
    started = [start_server(url, args.sampling, folder / "session.secret") for _ in range(servers)]
    try:
        now = time.monotonic()
        window = (now + args.ramp, now + args.ramp + args.duration)
        timings, calibration = Timings(), Timings()

        async def load() -> None:
            tasks = [annotate(started[i % servers][1], token, i, now + args.ramp * i / annotators, window,
                              args.think, timings) for i, token in enumerate(tokens[:annotators])]
            if args.browsers:
                tasks.append(asyncio.to_thread(browser_calibration, started[0][1], tokens[annotators:], window,
                                               args.think, calibration))
            await asyncio.gather(*tasks, cpu_window(started, window))

        cpu: dict[str, float] = {}

        async def cpu_window(servers_: list, window_: tuple[float, float]) -> None:
            await asyncio.sleep(max(0.0, window_[0] - time.monotonic()))
            before, own_before = sum(group_cpu_seconds(p.pid) for p, _ in servers_), time.process_time()
            engine = make_engine(url)
            with engine.connect() as connection:
                votes_before = connection.execute(select(func.count()).select_from(Vote)).scalar_one()
            await asyncio.sleep(max(0.0, window_[1] - time.monotonic()))
            cpu["seconds"] = sum(group_cpu_seconds(p.pid) for p, _ in servers_) - before
            cpu["generator"] = time.process_time() - own_before
            with engine.connect() as connection:
                cpu["votes"] = connection.execute(select(func.count()).select_from(Vote)).scalar_one() - votes_before
            engine.dispose()

        asyncio.run(load())
    finally:
        for process, _ in started:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
    votes = np.array(timings.vote_s) * 1000
    pct = lambda values, q: float(np.percentile(values, q)) if len(values) else float("nan")  # noqa: E731
    return {
        "db": args.db, "servers": servers, "annotators": annotators, "think_s": args.think,
        "votes": int(cpu["votes"]), "votes_per_s": cpu["votes"] / args.duration,
        "vote_p50_ms": pct(votes, 50), "vote_p99_ms": pct(votes, 99),
        "server_cpu_ms_per_vote": 1000 * cpu["seconds"] / max(cpu["votes"], 1),
        "server_cpu_share": cpu["seconds"] / args.duration, "generator_cpu_share": cpu["generator"] / args.duration,
        "errors": len(timings.errors),
        "first_error": timings.errors[0] if timings.errors else None,
        "browser_vote_p50_ms": pct(np.array(calibration.vote_s) * 1000, 50) if args.browsers else None,
        "browser_vote_p99_ms": pct(np.array(calibration.vote_s) * 1000, 99) if args.browsers else None,
        "browser_samples": len(calibration.vote_s),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--annotators", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--think", type=float, default=10.0,
                        help=f"mean seconds before each vote, more than {READ_S:g} (default 10)")
    parser.add_argument("--duration", type=float, default=60.0, help="measured seconds (default 60)")
    parser.add_argument("--ramp", type=float, default=30.0, help="seconds over which annotators sign in")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--servers", type=int, default=1, help="arena servers on the one database")
    parser.add_argument("--sampling", choices=("uniform", "adaptive"), default="uniform")
    parser.add_argument("--browsers", type=int, default=0, help="headless Chromium pages as a calibration point")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.think <= READ_S:
        parser.error(f"--think must be more than {READ_S:g} s, the server's least time before a vote")
    if args.servers > 1 and args.db != "postgresql":
        parser.error("several servers share a PostgreSQL database: add --db postgresql")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.db == "postgresql":
            from arena.testing_postgres import find_postgres_bin, postgres_server

            bindir = find_postgres_bin()
            if bindir is None:
                parser.error("no PostgreSQL binaries (initdb, pg_ctl) found; on Debian: apt-get install postgresql")
            with postgres_server(bindir, max_connections=200 + 40 * args.servers) as server:
                for i, n in enumerate(args.annotators):  # a fresh study for each run, so that sizes can repeat
                    results.append(measure(server.create_schema(f"capacity_{i}_{n}"), args.servers, n, args, folder))
        else:
            for i, n in enumerate(args.annotators):
                results.append(measure(str(folder / f"capacity_{i}_{n}.sqlite"), args.servers, n, args, folder))
    print(f"think {args.think:g} s, measured {args.duration:g} s after a {args.ramp:g} s ramp, {args.sampling} "
          "sampling; the load generator runs on the same machine")
    header = ["db", "servers", "annotators", "votes", "votes/s", "vote → next battle p50 / p99 ms",
              "server CPU ms/vote", "server CPU (cores)", "load generator CPU (cores)", "errors"]
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for r in results:
        cells = [r["db"], r["servers"], r["annotators"], r["votes"], f"{r['votes_per_s']:.1f}",
                 f"{r['vote_p50_ms']:.0f} / {r['vote_p99_ms']:.0f}",
                 f"{r['server_cpu_ms_per_vote']:.0f}", f"{r['server_cpu_share']:.2f}",
                 f"{r['generator_cpu_share']:.2f}", r["errors"]]
        print("| " + " | ".join(str(cell) for cell in cells) + " |")
        if r["first_error"]:
            print(f"  first error: {r['first_error']}")
        if r["browser_samples"]:
            print(f"  Chromium calibration ({r['browser_samples']} votes): "
                  f"p50 {r['browser_vote_p50_ms']:.0f} ms, p99 {r['browser_vote_p99_ms']:.0f} ms")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
