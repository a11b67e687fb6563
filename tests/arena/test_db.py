"""The engine `arena.db.make_engine` builds for a SQLite file: its writers queue on a lock in the process.

Each test turns SQLite's own busy wait off on every connection (busy_timeout = 0), so a second writer that
reached SQLite while the first one held its write lock would fail with "database is locked" at once; with the
engine's queue it waits its turn instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from arena.db import Annotator, make_engine, upgrade_database

WAIT_S = 10.0  # generous: a thread that has not finished by then is stuck


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = str(tmp_path / "arena.sqlite")
    upgrade_database(url)
    engine = make_engine(url)
    event.listen(engine, "connect", lambda connection, _record: connection.execute("PRAGMA busy_timeout = 0"))
    yield engine
    engine.dispose()


def _annotator(name: str) -> Annotator:
    return Annotator(name=name, token_salt="0" * 32, token_hash="0" * 64)


def _in_thread(work: Callable[[], None]) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as error:  # reported by the test
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def _names(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return sorted(session.scalars(select(Annotator.name)))


@pytest.mark.parametrize("ending", ["commit", "rollback"])
def test_a_second_writer_waits_for_the_first_to_end_instead_of_failing(engine: Engine, ending: str) -> None:
    factory = sessionmaker(engine)
    with factory() as first:
        first.add(_annotator("first"))
        first.flush()  # the INSERT: this connection now holds SQLite's write lock until it ends
        second_done = threading.Event()

        def second_writer() -> None:
            with factory() as second, second.begin():
                second.add(_annotator("second"))
            second_done.set()

        thread, errors = _in_thread(second_writer)
        assert not second_done.wait(0.3), "the second writer got in while the first held the write lock"
        first.commit() if ending == "commit" else first.rollback()
    thread.join(WAIT_S)
    assert not thread.is_alive() and errors == []
    assert _names(engine) == (["first", "second"] if ending == "commit" else ["second"])


def test_a_failed_write_gives_the_lock_back(engine: Engine) -> None:
    factory = sessionmaker(engine)
    with factory() as session, session.begin():
        session.add(_annotator("alice"))
    with pytest.raises(Exception, match="UNIQUE constraint failed"), factory() as session, session.begin():
        session.add(_annotator("alice"))
    thread, errors = _in_thread(lambda: _write(factory, "bob"))
    thread.join(WAIT_S)
    assert not thread.is_alive() and errors == []
    assert _names(engine) == ["alice", "bob"]


def _write(factory: sessionmaker[Session], name: str) -> None:
    with factory() as session, session.begin():
        session.add(_annotator(name))


def test_readers_do_not_wait_for_a_writer(engine: Engine) -> None:
    factory = sessionmaker(engine)
    _write(factory, "alice")
    with factory() as writer:
        writer.add(_annotator("bob"))
        writer.flush()
        counted: list[int] = []
        thread, errors = _in_thread(lambda: counted.append(Session(engine).scalar(select(func.count(Annotator.id)))))
        thread.join(WAIT_S)
        assert not thread.is_alive() and errors == [] and counted == [1]  # WAL: the reader sees the last commit
        writer.commit()


def test_many_threads_writing_at_once_all_succeed(engine: Engine) -> None:
    factory = sessionmaker(engine)
    start = threading.Barrier(16)

    def writes(thread_index: int) -> Callable[[], None]:
        def work() -> None:
            start.wait()
            for i in range(10):
                _write(factory, f"annotator-{thread_index}-{i}")
        return work

    started = [_in_thread(writes(t)) for t in range(16)]
    for thread, _ in started:
        thread.join(WAIT_S)
    assert [errors for _, errors in started] == [[]] * 16
    assert len(_names(engine)) == 160
