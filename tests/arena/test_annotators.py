import hashlib

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from arena.annotators import (
    add_annotator,
    authenticate,
    disable_annotator,
    enable_annotator,
    list_sessions,
    load_server_secret,
    open_session,
    revoke_session,
    rotate_token,
    session_annotator,
    sign_out,
)
from arena.db import Annotator, SessionKey


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


def test_a_taken_name_is_a_clear_error_and_stores_nothing(session: Session) -> None:
    add_annotator(session, "ann")
    with pytest.raises(ValueError, match=r"^an annotator named 'ann' already exists$"):
        add_annotator(session, "ann", admin=True)
    assert [(a.name, a.is_admin) for a in session.scalars(select(Annotator))] == [("ann", False)]
    assert authenticate(session, add_annotator(session, "bob")).name == "bob"  # the session is still usable


def test_the_server_secret_is_made_once_private_and_checked(tmp_path) -> None:
    path = tmp_path / "config" / "session.secret"
    secret = load_server_secret(path)
    assert len(secret) == 32 and load_server_secret(path) == secret
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["session.secret"]  # no temporary file left behind
    for text, message in (("not hex", "must be hexadecimal"), ("ab" * 32 + "\n", None), ("ab" * 8, "fewer than 32")):
        path.write_text(text)
        if message is None:
            assert load_server_secret(path) == bytes.fromhex("ab" * 32)
        else:
            with pytest.raises(ValueError, match=f"{path}: .*{message}"):
                load_server_secret(path)


def test_a_session_key_needs_the_server_secret_the_row_and_time_left(session: Session, tmp_path) -> None:
    add_annotator(session, "ann")
    ann = session.scalars(select(Annotator)).one()
    secret = load_server_secret(tmp_path / "secret")
    key = open_session(session, ann, secret, hours=2, now=1000.0)
    assert session_annotator(session, key, secret, now=1000.0 + 7199).name == "ann"
    assert session_annotator(session, key, secret, now=1000.0 + 7200) is None  # expired
    assert session_annotator(session, key, b"x" * 32, now=1001.0) is None  # another server secret
    row = session.scalars(select(SessionKey)).one()
    stored = " ".join(str(value) for value in vars(row).values()) + " ".join(
        str(value) for value in vars(ann).values())
    assert key.partition(".")[2] not in stored  # the database alone cannot give the key
    number, _, signature = key.partition(".")
    for forged in ("", key + "x", f"{int(number) + 1}.{signature}", f"{number}.", f"٣.{signature}", "9" * 12 + ".x"):
        assert session_annotator(session, forged, secret, now=1001.0) is None
    disable_annotator(session, "ann")
    assert session_annotator(session, key, secret, now=1001.0) is None
    enable_annotator(session, "ann")
    assert session_annotator(session, key, secret, now=1001.0).name == "ann"


def test_keys_are_revoked_one_by_one_and_all_at_once_by_rotation(session: Session, tmp_path) -> None:
    token = add_annotator(session, "ann")
    ann = session.scalars(select(Annotator)).one()
    secret = load_server_secret(tmp_path / "secret")
    first, second, third = (open_session(session, ann, secret) for _ in range(3))
    assert len({first, second, third}) == 3
    sign_out(session, first, secret)
    sign_out(session, f"{second.partition('.')[0]}.forged", secret)  # a forged key revokes nothing
    revoke_session(session, int(third.partition(".")[0]))
    assert [session_annotator(session, key, secret) is not None for key in (first, second, third)] == [
        False, True, False]
    assert [row.revoked is not None for row in list_sessions(session, "ann")] == [True, False, True]
    with pytest.raises(ValueError, match="no session key with id 99"):
        revoke_session(session, 99)

    new_token = rotate_token(session, "ann")
    assert authenticate(session, token) is None and authenticate(session, new_token).name == "ann"
    assert session_annotator(session, second, secret) is None
    assert new_token.partition(".")[0] == token.partition(".")[0]
    with pytest.raises(ValueError, match="no annotator named 'nobody'"):
        rotate_token(session, "nobody")
