"""Annotator accounts: a login token shown once, stored only as a salted sha256.

A token reads `<annotator id>.<secret>`: the id finds the row, the secret is checked against the row's salted
hash in constant time. The database never holds the secret, so a copy of it cannot be used to log in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from arena.db import Annotator

_MAX_ID = 2**31 - 1  # ids are 32-bit integers; a larger number would be a database error, not a miss


def add_annotator(session: Session, name: str, admin: bool = False) -> str:
    """Create an annotator, commit, and return their login token (the only time it can be seen)."""
    secret, salt = secrets.token_urlsafe(32), secrets.token_hex(16)
    annotator = Annotator(name=name, token_salt=salt, token_hash=_hash(salt, secret), is_admin=admin)
    session.add(annotator)
    session.commit()
    return f"{annotator.id}.{secret}"


def authenticate(session: Session, token: str) -> Annotator | None:
    """The enabled annotator whose token this is, or None."""
    annotator_id, _, secret = token.strip().partition(".")
    if not annotator_id.isdecimal() or int(annotator_id) > _MAX_ID or not secret:
        return None
    annotator = session.get(Annotator, int(annotator_id))
    if annotator is None or not annotator.enabled:
        return None
    matches = hmac.compare_digest(_hash(annotator.token_salt, secret), annotator.token_hash)
    return annotator if matches else None


def disable_annotator(session: Session, name: str) -> None:
    """Disable an annotator and commit: they can no longer log in, and their votes leave the export."""
    annotator = session.scalars(select(Annotator).where(Annotator.name == name)).one_or_none()
    if annotator is None:
        raise ValueError(f"no annotator named {name!r}")
    annotator.enabled = False
    session.commit()


def _hash(salt: str, secret: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode()).hexdigest()
