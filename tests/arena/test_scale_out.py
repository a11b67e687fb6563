"""Several arena servers on one PostgreSQL database: two OS processes (as two `arena serve` behind a proxy) take the
same annotators' votes at the same time, through the store functions the vote page calls (`next_battle` with the
adaptive pair policy, `record_vote`). Every vote is stored exactly once, no battle is assigned twice to one
annotator, and no assignment count is lost."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from arena.db import Annotator, Assignment, Battle, ModelPair, Vote, make_engine

SERVERS, THREADS, VOTES = 2, 6, 12


def _server(url: str, annotator_ids: list[int], seed: int) -> None:
    """One server process: a thread per annotator, each asking for a battle and voting `VOTES` times. Says `ready`
    on stdout, starts on a line from stdin, and ends with one JSON line: the votes it stored and those refused."""
    from sqlalchemy.orm import sessionmaker

    from arena.sampling import AdaptivePairs, next_battle
    from arena.votes import SCREEN_CHOICES, DuplicateVoteError, record_vote

    engine = make_engine(url, pool_size=THREADS, max_overflow=THREADS)
    factory = sessionmaker(engine, expire_on_commit=False)
    pairs = AdaptivePairs(refresh_every=10)  # one per process, as `arena serve --sampling adaptive` keeps it
    stored, refused = [], []
    lock = threading.Lock()
    start = threading.Event()

    def annotate(annotator_id: int) -> None:
        rng = random.Random(seed * 1000 + annotator_id)
        with factory() as session:
            annotator = session.get(Annotator, annotator_id)
            start.wait()
            for _ in range(VOTES):
                assignment = next_battle(session, annotator, rng, gold_rate=0.1, pairs=pairs)
                choice = rng.choice(SCREEN_CHOICES)
                try:
                    record_vote(factory, annotator_id, assignment.battle_id, choice)
                except DuplicateVoteError:  # the other server stored this annotator's vote on it first
                    with lock:
                        refused.append((annotator_id, assignment.battle_id))
                    continue
                with lock:
                    stored.append((annotator_id, assignment.battle_id))

    threads = [threading.Thread(target=annotate, args=(i,)) for i in annotator_ids]
    for thread in threads:
        thread.start()
    print("ready", flush=True)
    sys.stdin.readline()
    start.set()
    for thread in threads:
        thread.join()
    engine.dispose()
    print(json.dumps({"stored": stored, "refused": refused}), flush=True)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_server_processes_store_every_vote_once(db_url, session, make_study, annotators) -> None:
    make_study(n_models=5, n_prompts=3, gold=True)  # 30 battles and 3 gold items
    ids = annotators(THREADS)  # every annotator votes through both servers at once, as from two tabs
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p))
    command = [sys.executable, "-m", "tests.arena.test_scale_out", db_url, json.dumps(ids)]
    servers = [subprocess.Popen([*command, str(seed)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                cwd=root, env=env) for seed in range(SERVERS)]
    try:
        assert [server.stdout.readline().strip() for server in servers] == ["ready"] * SERVERS
        for server in servers:  # both processes are ready: they start together
            server.stdin.write("go\n")
            server.stdin.flush()
        reports = [json.loads(server.stdout.readline()) for server in servers]
        assert [server.wait(timeout=60) for server in servers] == [0] * SERVERS
    finally:
        for server in servers:
            server.kill()

    accepted = [tuple(vote) for report in reports for vote in report["stored"]]
    assert all(report["stored"] for report in reports)  # both servers took votes
    rows = session.execute(select(Vote.annotator_id, Vote.battle_id, Vote.choice, Assignment.swapped)
                           .join(Vote.assignment)).all()
    assert sorted((a, b) for a, b, _, _ in rows) == sorted(accepted)  # each vote stored exactly once
    assert len({(a, b) for a, b, _, _ in rows}) == len(rows)
    assigned = session.execute(select(Assignment.annotator_id, Assignment.battle_id)).all()
    assert len(set(assigned)) == len(assigned)  # no battle assigned twice to one annotator
    refused = [tuple(vote) for report in reports for vote in report["refused"]]
    assert len(rows) + len(refused) == SERVERS * THREADS * VOTES
    assert set(refused) <= {(a, b) for a, b, _, _ in rows}  # a refused vote is one the other server stored
    session.expire_all()
    per_battle = Counter(battle for _, battle in assigned)  # no count lost between the two processes
    assert {b.id: b.n_assigned for b in session.scalars(select(Battle)) if b.n_assigned} == dict(per_battle)
    gold = set(session.scalars(select(Battle.id).where(Battle.is_gold)))
    assert sum(session.scalars(select(ModelPair.n_assigned))) == sum(
        n for battle, n in per_battle.items() if battle not in gold)
    assert session.scalar(select(func.count()).select_from(Vote)) == len(accepted)


if __name__ == "__main__":
    _server(sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]))
