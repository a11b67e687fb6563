"""The arena's tables, the engine that reaches them and the migration that creates them.

Every time is a float number of seconds since the epoch (UTC), as in FastChat's battle logs. A battle fixes
which answer is `a` and which is `b`; the screen side is decided per assignment (`swapped`), and a vote is
stored relative to `a` and `b`, never to the screen. Model pairs and battles carry a count of their
assignments (`n_assigned`), kept by the sampler, so that choosing the next battle never scans all votes.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    JSON,
    CheckConstraint,
    Double,
    Engine,
    ForeignKey,
    ForeignKeyConstraint,
    LargeBinary,
    MetaData,
    String,
    Subquery,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    select,
)
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, aliased, mapped_column, relationship, sessionmaker

VOTE_CHOICES = ("a_better", "b_better", "tie_good", "tie_bad", "cant_tell")
SQLITE_BUSY_TIMEOUT_MS = 30_000
MIGRATIONS = Path(__file__).with_name("migrations")

# Deterministic constraint names, so that the hand-written migration and the models agree on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Annotator(Base):
    """A person who votes. Only a salted sha256 of the secret part of their token is stored."""

    __tablename__ = "annotators"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    token_salt: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(default=True)
    is_admin: Mapped[bool] = mapped_column(default=False)
    created: Mapped[float] = mapped_column(Double, default=time.time)


class SessionKey(Base):
    """A sign-in: the browser's key (`arena.annotators.session_key`) names this row and is signed with the server
    secret, which is not stored here. A key works until `expires`, and never again once `revoked` is set."""

    __tablename__ = "session_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotators.id"), index=True)
    created: Mapped[float] = mapped_column(Double)
    expires: Mapped[float] = mapped_column(Double)
    revoked: Mapped[float | None] = mapped_column(Double)

    # Loaded with the key in one statement: every page run checks the key and then asks for its annotator.
    annotator: Mapped[Annotator] = relationship(lazy="joined")


class Image(Base):
    """An image stored once by the sha256 of its file bytes."""

    __tablename__ = "images"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    width: Mapped[int]
    height: Mapped[int]
    format: Mapped[str] = mapped_column(String(8))


class Prompt(Base):
    """One question about one image; `prompt_id` is the id used in the study's files."""

    __tablename__ = "prompts"

    id: Mapped[int] = mapped_column(primary_key=True)
    prompt_id: Mapped[str] = mapped_column(String(200), unique=True)
    question: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(100))
    image_sha256: Mapped[str] = mapped_column(ForeignKey("images.sha256"), index=True)

    image: Mapped[Image] = relationship()


class Model(Base):
    """A model under study, named as in the answer files."""

    __tablename__ = "models"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)


class ModelPair(Base):
    """Two models that meet in battles, the one with the smaller id first."""

    __tablename__ = "model_pairs"
    __table_args__ = (
        UniqueConstraint("model_low_id", "model_high_id"),
        CheckConstraint("model_low_id < model_high_id", name="ordered"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    model_low_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    model_high_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    n_assigned: Mapped[int] = mapped_column(default=0)


class Answer(Base):
    """A model's pre-generated answer to a prompt, with the generation settings that produced it."""

    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("prompt_id", "model_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id"))
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    generation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    prompt: Mapped[Prompt] = relationship()
    model: Mapped[Model] = relationship()


class Battle(Base):
    """Two answers to one prompt. A gold battle has a known better side (`gold_better` is 'a' or 'b') and no
    model pair, since one of its answers is not a model's."""

    __tablename__ = "battles"
    __table_args__ = (
        UniqueConstraint("answer_a_id", "answer_b_id"),
        CheckConstraint("answer_a_id <> answer_b_id", name="two_answers"),
        CheckConstraint("gold_better IN ('a', 'b')", name="gold_better"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    prompt_id: Mapped[int] = mapped_column(ForeignKey("prompts.id"), index=True)
    answer_a_id: Mapped[int] = mapped_column(ForeignKey("answers.id"))
    answer_b_id: Mapped[int] = mapped_column(ForeignKey("answers.id"))
    pair_id: Mapped[int | None] = mapped_column(ForeignKey("model_pairs.id"), index=True)
    is_gold: Mapped[bool] = mapped_column(default=False)
    gold_better: Mapped[str | None] = mapped_column(String(1))
    n_assigned: Mapped[int] = mapped_column(default=0)

    prompt: Mapped[Prompt] = relationship()
    answer_a: Mapped[Answer] = relationship(foreign_keys=[answer_a_id])
    answer_b: Mapped[Answer] = relationship(foreign_keys=[answer_b_id])


class Assignment(Base):
    """A battle shown to an annotator; `swapped` means answer `a` was on the right."""

    __tablename__ = "assignments"
    __table_args__ = (UniqueConstraint("annotator_id", "battle_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotators.id"))
    battle_id: Mapped[int] = mapped_column(ForeignKey("battles.id"), index=True)
    swapped: Mapped[bool]
    shown_at: Mapped[float] = mapped_column(Double)

    annotator: Mapped[Annotator] = relationship()
    battle: Mapped[Battle] = relationship()
    vote: Mapped[Vote | None] = relationship(back_populates="assignment")

    @property
    def left(self) -> Answer:
        """The answer shown on the left."""
        return self.battle.answer_b if self.swapped else self.battle.answer_a

    @property
    def right(self) -> Answer:
        """The answer shown on the right."""
        return self.battle.answer_a if self.swapped else self.battle.answer_b


class Vote(Base):
    """One annotator's verdict on one assigned battle, relative to the battle's answers `a` and `b`.

    The composite foreign key to the assignment makes a vote on an unassigned battle impossible in the
    database itself; the unique constraint makes a second vote on the same battle impossible.
    """

    __tablename__ = "votes"
    __table_args__ = (
        UniqueConstraint("annotator_id", "battle_id"),
        ForeignKeyConstraint(
            ["annotator_id", "battle_id"], ["assignments.annotator_id", "assignments.battle_id"]
        ),
        CheckConstraint(f"choice IN ({', '.join(repr(c) for c in VOTE_CHOICES)})", name="choice"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    annotator_id: Mapped[int]
    battle_id: Mapped[int]
    choice: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    tstamp: Mapped[float] = mapped_column(Double)
    latency: Mapped[float] = mapped_column(Double)

    assignment: Mapped[Assignment] = relationship(back_populates="vote")


def _battle_models() -> Subquery:
    answer_a, answer_b = aliased(Answer), aliased(Answer)
    model_a, model_b = aliased(Model), aliased(Model)
    return (
        select(Battle.id.label("battle_id"), model_a.name.label("model_a"), model_b.name.label("model_b"))
        .join(answer_a, Battle.answer_a_id == answer_a.id).join(model_a, answer_a.model_id == model_a.id)
        .join(answer_b, Battle.answer_b_id == answer_b.id).join(model_b, answer_b.model_id == model_b.id)
        .subquery("battle_models")
    )


# The two model names of every battle, as a subquery to join: columns `battle_id`, `model_a`, `model_b`.
BATTLE_MODELS = _battle_models()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for a SQLite file path or any SQLAlchemy URL; `kwargs` go to `create_engine`.

    SQLite connections get WAL mode (readers never block the writer) with synchronous=NORMAL (a commit
    survives a crash of the app; a power cut may lose the last ones), a busy timeout (writers wait for the
    lock instead of failing) and foreign keys on, and the engine's writers queue on a lock
    (`_queue_writers`). A plain `postgresql://` URL uses the psycopg 3 driver.
    """
    if "://" not in url:
        url = f"sqlite:///{Path(url).absolute()}"
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    engine = create_engine(parsed, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _set_sqlite_pragmas)
        _queue_writers(engine)
    return engine


def _set_sqlite_pragmas(dbapi_connection: Any, _connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in (
        "journal_mode = WAL",
        "synchronous = NORMAL",
        f"busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}",
        "foreign_keys = ON",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _queue_writers(engine: Engine) -> None:
    """Let the engine's SQLite write transactions in one at a time, through a lock that wakes a waiter at once.

    SQLite has one writer at a time. A second one waits in SQLite's busy handler, which sleeps and retries after
    pauses that grow to 100 ms (1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100 ms: `sqliteDefaultBusyCallback` in
    sqlite3.c), so under load a waiting writer wakes long after the lock is free, and the votes queued behind
    it wait too. A waiter on a Python lock is woken as soon as the lock is given back. A connection takes the
    lock at its first INSERT, UPDATE or DELETE, which is when SQLite takes its own write lock (Python's sqlite3
    module begins the transaction there), and gives it back when it goes back to the pool, after its commit or
    rollback (a session hands its connection back at the end of each transaction). It waits on the lock at most
    the busy timeout and then goes on to SQLite's own wait; writers in other processes meet SQLite's wait only.
    Measured with bench/arena_capacity.py (docs/arena-scale-out.md).
    """
    lock = threading.Lock()

    def take(connection, cursor, statement, parameters, context, executemany) -> None:
        held = connection.connection.record_info  # lives as long as the pool's slot, reconnects included
        if (not held.get(_HOLDS_WRITE_LOCK) and statement.lstrip()[:6].upper() in _WRITES
                and lock.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)):
            held[_HOLDS_WRITE_LOCK] = True

    def give_back(dbapi_connection, connection_record) -> None:
        if connection_record.record_info.pop(_HOLDS_WRITE_LOCK, False):
            lock.release()

    event.listen(engine, "before_cursor_execute", take)
    event.listen(engine, "checkin", give_back)


_HOLDS_WRITE_LOCK = "molmo_arena_holds_write_lock"  # a key of the pool slot's `record_info`
_WRITES = ("INSERT", "UPDATE", "DELETE")


def session_factory(url: str, **kwargs: Any) -> sessionmaker[Session]:
    """The one way the arena opens sessions on a database (`make_engine(url, **kwargs)`); it migrates nothing.
    Objects stay readable after a commit (`expire_on_commit=False`), as the pages show them after writing."""
    return sessionmaker(make_engine(url, **kwargs), expire_on_commit=False)


def upgrade_database(url: str) -> None:
    """Bring the database at `url` (as for `make_engine`) to the newest schema: `alembic upgrade head`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = url
    command.upgrade(config, "head")
