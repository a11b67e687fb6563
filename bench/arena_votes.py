"""Vote commits per second and latency percentiles of the arena store, SQLite against PostgreSQL.

Every simulated annotator is a thread that casts its pre-assigned votes through `arena.votes.record_vote`,
one session and transaction per vote: back to back by default (the saturation rate; latency is then mostly
waiting in line), or after a random think time of mean `--think` seconds (latency at a given load; the
rate is then set by the think time, and the run lasts as long as its slowest annotator). Both
backends get the same study (27 models, 20 prompts: 7,020 battles): SQLite as a WAL file (synchronous=NORMAL,
as `make_engine` sets it) and a PostgreSQL server started here on 127.0.0.1 with its default, durable
settings (fsync and synchronous_commit on). Bounded: `--votes` per annotator and `--time-limit` per run.

    .venv/bin/python bench/arena_votes.py --annotators 50 200 --votes 20 [--think 0.5] [--json out.json]
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import random
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import PIL.Image
from sqlalchemy import func, insert, select
from sqlalchemy.orm import sessionmaker

from arena.annotators import add_annotator
from arena.db import Assignment, Battle, Vote, make_engine, upgrade_database
from arena.study import import_study
from arena.testing_postgres import find_postgres_bin, postgres_server
from arena.votes import SCREEN_CHOICES, record_vote

MODELS, PROMPTS = 27, 20


def set_up_study(url: str, annotators: int, votes: int, folder: Path, seed: int = 0) -> None:
    """Migrate, import the study, add the annotators and assign each `votes` distinct battles."""
    upgrade_database(url)
    engine = make_engine(url)
    rng = random.Random(seed)
    buffer = io.BytesIO()
    PIL.Image.new("RGB", (32, 24), (90, 140, 200)).save(buffer, "PNG")
    image = base64.b64encode(buffer.getvalue()).decode()
    prompts, answers = folder / "prompts.jsonl", folder / "answers.jsonl"
    prompts.write_text("".join(
        json.dumps({"prompt_id": f"p{p}", "question": f"Question {p}?", "image_base64": image}) + "\n"
        for p in range(PROMPTS)))
    answers.write_text("".join(
        json.dumps({"prompt_id": f"p{p}", "model": f"model-{m:02d}", "answer": f"Answer of model {m} to {p}."})
        + "\n" for p in range(PROMPTS) for m in range(MODELS)))
    with sessionmaker(engine)() as session:
        import_study(session, rng, prompts=prompts, answers=[answers])
        battles = session.scalars(select(Battle.id)).all()
        ids = [int(add_annotator(session, f"bench-{i}").partition(".")[0]) for i in range(annotators)]
        now = time.time()
        session.execute(insert(Assignment), [
            {"annotator_id": annotator, "battle_id": battle, "swapped": rng.random() < 0.5, "shown_at": now}
            for annotator in ids for battle in rng.sample(battles, votes)])
        session.commit()
    engine.dispose()


def run_votes(url: str, think: float, time_limit: float, seed: int = 0) -> dict[str, float]:
    """Every annotator's thread votes on all its assignments; returns throughput and latency figures."""
    engine = make_engine(url)
    with engine.connect() as connection:
        plan = connection.execute(
            select(Assignment.annotator_id, Assignment.battle_id).order_by(Assignment.id)).all()
    engine.dispose()
    per_annotator: dict[int, list[int]] = {}
    for annotator, battle in plan:
        per_annotator.setdefault(annotator, []).append(battle)
    # One pooled connection per annotator, so that threads wait for the database, not for the pool.
    engine = make_engine(url, pool_size=len(per_annotator), max_overflow=0)
    session_factory = sessionmaker(engine)
    start = threading.Barrier(len(per_annotator) + 1)
    latencies: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def annotate(annotator: int, battles: list[int]) -> None:
        rng, own = random.Random(seed + annotator), []
        start.wait()
        deadline = time.perf_counter() + time_limit
        try:
            for battle in battles:
                if think:
                    time.sleep(rng.expovariate(1 / think))
                if time.perf_counter() > deadline:
                    break
                began = time.perf_counter()
                record_vote(session_factory, annotator, battle, rng.choice(SCREEN_CHOICES))
                own.append(time.perf_counter() - began)
        except Exception as error:  # reported after the run instead of dying silently in the thread
            with lock:
                errors.append(error)
        with lock:
            latencies.extend(own)

    threads = [threading.Thread(target=annotate, args=item) for item in per_annotator.items()]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    with engine.connect() as connection:
        stored = connection.execute(select(func.count()).select_from(Vote)).scalar_one()
    engine.dispose()
    if errors:
        raise RuntimeError(f"{len(errors)} annotator threads failed; first: {errors[0]!r}")
    if stored != len(latencies):
        raise RuntimeError(f"{len(latencies)} votes were recorded but {stored} are stored")
    seconds = np.array(latencies)
    return {
        "votes": len(seconds),
        "wall_s": wall,
        "commits_per_s": len(seconds) / wall,
        "p50_ms": float(np.percentile(seconds, 50) * 1000),
        "p99_ms": float(np.percentile(seconds, 99) * 1000),
        "max_ms": float(seconds.max() * 1000),
    }


def measure(backend: str, new_url: Callable[[str], str], annotators: int, args: argparse.Namespace,
            folder: Path) -> dict[str, float | str | int]:
    url = new_url(f"bench_{annotators}")
    set_up_study(url, annotators, args.votes, folder)
    return {"backend": backend, "annotators": annotators, "think_s": args.think,
            **run_votes(url, args.think, args.time_limit)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annotators", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--votes", type=int, default=20, help="votes per annotator (default 20)")
    parser.add_argument("--think", type=float, default=0.0, help="mean seconds between votes (default 0)")
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per run at most (default 60)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    bindir = find_postgres_bin()
    if bindir is None:
        parser.error("no PostgreSQL binaries (initdb, pg_ctl) found; on Debian: apt-get install postgresql")
    results = []
    with tempfile.TemporaryDirectory() as tmp, postgres_server(bindir, max_connections=max(args.annotators) + 20) \
            as server:
        folder = Path(tmp)
        for annotators in args.annotators:
            results.append(measure("sqlite", lambda name: str(folder / f"{name}.sqlite"), annotators, args,
                                   folder))
            results.append(measure("postgresql", server.create_schema, annotators, args, folder))
    print("| backend | annotators | think s | votes | commits/s | p50 ms | p99 ms | max ms |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['backend']} | {r['annotators']} | {r['think_s']:g} | {r['votes']} | {r['commits_per_s']:.0f} "
              f"| {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['max_ms']:.1f} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
