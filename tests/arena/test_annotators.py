import hashlib

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from arena.annotators import add_annotator, authenticate, disable_annotator
from arena.db import Annotator


def test_only_a_salted_hash_of_the_token_is_stored(session: Session) -> None:
    tokens = [add_annotator(session, "ann"), add_annotator(session, "bob", admin=True)]
    rows = session.scalars(select(Annotator).order_by(Annotator.id)).all()
    for token, row in zip(tokens, rows, strict=True):
        secret = token.partition(".")[2]
        stored = " ".join(str(value) for value in vars(row).values())
        assert secret not in stored
        assert row.token_hash == hashlib.sha256(bytes.fromhex(row.token_salt) + secret.encode()).hexdigest()
    assert rows[0].token_salt != rows[1].token_salt
    assert [row.is_admin for row in rows] == [False, True]


def test_authenticate_accepts_only_the_right_token_of_an_enabled_annotator(session: Session) -> None:
    ann, bob = add_annotator(session, "ann"), add_annotator(session, "bob")
    assert authenticate(session, ann).name == "ann"
    assert authenticate(session, f" {bob}\n").name == "bob"
    ann_id, bob_secret = ann.partition(".")[0], bob.partition(".")[2]
    for wrong in ("", "ann", f"{ann_id}.", f"{ann_id}.{bob_secret}", f"{ann_id}.x", "99999999999.x", "٣.x"):
        assert authenticate(session, wrong) is None
    disable_annotator(session, "ann")
    assert authenticate(session, ann) is None
    assert authenticate(session, bob).name == "bob"


def test_disabling_an_unknown_annotator_is_an_error(session: Session) -> None:
    with pytest.raises(ValueError, match="no annotator named 'nobody'"):
        disable_annotator(session, "nobody")
