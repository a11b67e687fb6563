"""Annotator accounts and their sign-ins.

A token reads `<annotator id>.<secret>` and is shown once: the id finds the row, the secret is checked against
the row's salted sha256 in constant time. The database never holds the secret.

A session key is what the browser keeps after a sign-in (in the page's URL, so a reload stays signed in). It
reads `<session id>.<signature>`: the id names a `session_keys` row (annotator, creation, expiry, revocation),
the signature is an HMAC-SHA256, keyed with the server secret, over that row's id, annotator and expiry. The
server secret lives in a file outside the database (`load_server_secret`), so a copy of the database can
neither recover a token nor make a key. Every sign-in makes a new key; a key stops working when it expires,
when it is revoked (sign-out, `arena annotators revoke`), when its annotator's token is rotated, and while its
annotator is disabled.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import tempfile
import time
from pathlib import Path
from typing import TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from arena.db import Annotator, SessionKey

_MAX_ID = 2**31 - 1  # ids are 32-bit integers; a larger number would be a database error, not a miss
SECRET_BYTES = 32
DEFAULT_SESSION_HOURS = 24.0
Row = TypeVar("Row", Annotator, SessionKey)


def add_annotator(session: Session, name: str, admin: bool = False) -> str:
    """Create an annotator, commit, and return their login token (the only time it can be seen).
    Raises ValueError when the name is taken."""
    secret, salt = secrets.token_urlsafe(32), secrets.token_hex(16)
    annotator = Annotator(name=name, token_salt=salt, token_hash=_hash(salt, secret), is_admin=admin)
    session.add(annotator)
    try:
        session.commit()
    except IntegrityError as error:
        session.rollback()
        raise ValueError(f"an annotator named {name!r} already exists") from error
    return f"{annotator.id}.{secret}"


def authenticate(session: Session, token: str) -> Annotator | None:
    """The enabled annotator whose token this is, or None."""
    annotator = _row_named_by(session, Annotator, token)
    if annotator is None or not annotator.enabled:
        return None
    secret = token.strip().partition(".")[2]
    return annotator if hmac.compare_digest(_hash(annotator.token_salt, secret), annotator.token_hash) else None


def find_annotator(session: Session, name: str) -> Annotator:
    """The annotator called `name`; ValueError when there is none."""
    annotator = session.scalars(select(Annotator).where(Annotator.name == name)).one_or_none()
    if annotator is None:
        raise ValueError(f"no annotator named {name!r}")
    return annotator


def disable_annotator(session: Session, name: str) -> None:
    """Disable an annotator and commit: they can no longer sign in, and their votes leave the export."""
    find_annotator(session, name).enabled = False
    session.commit()


def enable_annotator(session: Session, name: str) -> None:
    """Undo `disable_annotator` and commit: their token and unexpired session keys work again."""
    find_annotator(session, name).enabled = True
    session.commit()


def rotate_token(session: Session, name: str) -> str:
    """Give an annotator a new token, revoke every session key they hold, commit; returns the new token."""
    annotator = find_annotator(session, name)
    secret, salt = secrets.token_urlsafe(32), secrets.token_hex(16)
    annotator.token_salt, annotator.token_hash = salt, _hash(salt, secret)
    session.execute(update(SessionKey).where(SessionKey.annotator_id == annotator.id, SessionKey.revoked.is_(None))
                    .values(revoked=time.time()))
    session.commit()
    return f"{annotator.id}.{secret}"


def load_server_secret(path: str | Path) -> bytes:
    """The server secret kept in the file `path` (hex), created with fresh random bytes, readable by its owner
    only, if it does not exist yet. Several servers of one study share the file. Raises ValueError on a file
    that holds no usable secret."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(handle, "w") as out:  # mkstemp makes the file with mode 0600
                out.write(secrets.token_hex(SECRET_BYTES) + "\n")
                out.flush()
                os.fsync(out.fileno())
            os.link(temporary, path)  # fails if another server created the file first; then that one is used
        except FileExistsError:
            pass
        finally:
            Path(temporary).unlink(missing_ok=True)
    text = path.read_text().strip()
    try:
        secret = bytes.fromhex(text)
    except ValueError as error:
        raise ValueError(f"{path}: the server secret must be hexadecimal") from error
    if len(secret) < SECRET_BYTES:
        raise ValueError(f"{path}: the server secret has {len(secret)} bytes, fewer than {SECRET_BYTES}")
    return secret


def open_session(session: Session, annotator: Annotator, server_secret: bytes, hours: float = DEFAULT_SESSION_HOURS,
                 now: float | None = None) -> str:
    """Store a new sign-in of `annotator` that lasts `hours`, commit, and return its session key."""
    now = time.time() if now is None else now
    row = SessionKey(annotator_id=annotator.id, created=now, expires=now + hours * 3600.0)
    session.add(row)
    session.commit()
    return f"{row.id}.{_signature(server_secret, row)}"


def session_annotator(session: Session, key: str, server_secret: bytes, now: float | None = None) -> Annotator | None:
    """The enabled annotator signed in with `key`, or None for a key that is forged, expired or revoked."""
    row = _row_named_by(session, SessionKey, key)
    if row is None or not hmac.compare_digest(_signature(server_secret, row), key.strip().partition(".")[2]):
        return None
    now = time.time() if now is None else now
    if row.revoked is not None or row.expires <= now or not row.annotator.enabled:
        return None
    return row.annotator


def sign_out(session: Session, key: str, server_secret: bytes) -> None:
    """Revoke the session key `key` (a genuine one; anything else is ignored) and commit."""
    row = _row_named_by(session, SessionKey, key)
    if row is not None and hmac.compare_digest(_signature(server_secret, row), key.strip().partition(".")[2]):
        revoke_session(session, row.id)


def revoke_session(session: Session, session_id: int) -> None:
    """Revoke one session key by its id (as `list_sessions` shows it) and commit; ValueError if there is none."""
    row = session.get(SessionKey, session_id) if 0 < session_id <= _MAX_ID else None
    if row is None:
        raise ValueError(f"no session key with id {session_id}")
    if row.revoked is None:
        row.revoked = time.time()
    session.commit()


def list_sessions(session: Session, name: str) -> list[SessionKey]:
    """The session keys of the annotator called `name`, oldest first."""
    annotator = find_annotator(session, name)
    return list(session.scalars(select(SessionKey).where(SessionKey.annotator_id == annotator.id)
                                .order_by(SessionKey.id)))


def _row_named_by(session: Session, table: type[Row], text: str) -> Row | None:
    """The row whose id starts `text` ("<id>.<rest>"), or None when there is no such id or nothing after it."""
    number, _, rest = text.strip().partition(".")
    if not number.isdecimal() or not number.isascii() or int(number) > _MAX_ID or not rest:
        return None
    return session.get(table, int(number))


def _signature(server_secret: bytes, row: SessionKey) -> str:
    message = f"molmo-arena session {row.id} annotator {row.annotator_id} expires {row.expires!r}".encode()
    digest = hmac.new(server_secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _hash(salt: str, secret: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode()).hexdigest()
