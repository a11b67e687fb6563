"""Database fixtures: every test that asks for `db_url` runs twice, on a SQLite file and on PostgreSQL.

The PostgreSQL server is started once per test session (per xdist worker) from the machine's own binaries,
each test gets a fresh schema on it, migrated like the SQLite file, and the server is stopped at the end.
Without the binaries the PostgreSQL variants are skipped, with the reason in the summary.
"""

from __future__ import annotations

import base64
import random
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from arena.annotators import add_annotator
from arena.db import Annotator, Assignment, Battle, Vote, make_engine, upgrade_database
from arena.study import import_study
from arena.testing_postgres import UNSAFE_FAST, PostgresServer, find_postgres_bin, postgres_server

from .arena_files import png_bytes, write_jsonl


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    bindir = find_postgres_bin()
    if bindir is None:
        pytest.skip("PostgreSQL variant skipped: no initdb/pg_ctl found (Debian: apt-get install postgresql)")
    with postgres_server(bindir, settings=UNSAFE_FAST) as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "arena.sqlite")
    return request.getfixturevalue("postgres").create_schema(f"test_{uuid.uuid4().hex}")


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    upgrade_database(db_url)
    engine = make_engine(db_url, pool_size=8, max_overflow=40)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as session:
        yield session


def _says(model: str, prompt: int) -> str:
    return f"{model} says {prompt}"


@pytest.fixture
def make_study(session: Session, tmp_path: Path) -> Callable[..., list[str]]:
    """Import `n_prompts` prompts (images as files and as base64), answers of `n_models` models to each
    (`answer(model, prompt number)`, by default "model-M says P"), a battle for every pair, and with `gold=True`
    one gold item per prompt, in one `import_study`. Returns the model names."""

    def make(n_models: int, n_prompts: int, gold: bool = False,
             answer: Callable[[str, int], str] = _says) -> list[str]:
        models = [f"model-{m}" for m in range(n_models)]
        prompts = []
        for p in range(n_prompts):
            record = {"prompt_id": f"p{p}", "question": f"What is in image {p}?", "category": f"cat{p % 2}"}
            if p % 2:
                record["image_base64"] = base64.b64encode(png_bytes(p)).decode()
            else:
                (tmp_path / f"image{p}.png").write_bytes(png_bytes(p))
                record["image"] = f"image{p}.png"
            prompts.append(record)
        answers = [{"prompt_id": f"p{p}", "model": model, "answer": answer(model, p)}
                   for p in range(n_prompts) for model in models]
        items = [{"prompt_id": f"p{p}", "good_model": models[0], "bad_answer": "a cat (wrong image)"}
                 for p in range(n_prompts)]
        import_study(session, random.Random(0), prompts=write_jsonl(tmp_path / "prompts.jsonl", prompts),
                     answers=[write_jsonl(tmp_path / "answers.jsonl", answers)],
                     gold=write_jsonl(tmp_path / "gold.jsonl", items) if gold else None)
        return models

    return make


@pytest.fixture
def annotators(session: Session) -> Callable[[int], list[int]]:
    """Create `n` annotators named a0, a1, ...; returns their ids."""

    def make(n: int) -> list[int]:
        start = session.scalar(select(func.count()).select_from(Annotator))
        tokens = [add_annotator(session, f"a{start + i}") for i in range(n)]
        return [int(token.partition(".")[0]) for token in tokens]

    return make


@pytest.fixture
def cast(session: Session) -> Callable[..., Vote]:
    """Store an assignment and its vote directly, with chosen side flag, choice and time (hand-made scenarios)."""

    def store(annotator_id: int, battle: Battle, choice: str, swapped: bool = False, tstamp: float = 1e9) -> Vote:
        session.add(Assignment(annotator_id=annotator_id, battle_id=battle.id, swapped=swapped, shown_at=tstamp))
        vote = Vote(annotator_id=annotator_id, battle_id=battle.id, choice=choice, tstamp=tstamp + 5, latency=5.0)
        session.add(vote)
        session.commit()
        return vote

    return store
