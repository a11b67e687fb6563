import random

import pytest
from sqlalchemy import select

from arena.db import Annotator, Battle
from arena.live import add_live_battle
from arena.sampling import next_battle
from arena.votes import record_vote

from .arena_files import png_bytes


def test_a_live_battle_is_assigned_to_its_asker_only(session, session_factory, annotators, make_study):
    make_study(n_models=2, n_prompts=1)
    asker, other = (session.get(Annotator, i) for i in annotators(2))
    assignment = add_live_battle(session, asker, png_bytes(4), "  What is this? ", [("x", "a cat"), ("y", "a dog")],
                                 swapped=True)
    assert assignment.left.text == "a dog" and assignment.battle.prompt.question == "What is this?"
    assert assignment.battle.prompt.category == "live"
    revealed = record_vote(session_factory, asker.id, assignment.battle_id, "left_better")
    assert revealed == ("y", "x")
    seen = {next_battle(session, other, random.Random(0)).battle_id}
    assert assignment.battle_id not in seen  # the sampler never hands a live battle to anyone else
    assert session.scalar(select(Battle).where(Battle.id == assignment.battle_id)).pair_id is None


@pytest.mark.parametrize(("image", "message"), [(b"GIF89a broken", "broken image|not an image"),
                                                (b"plain text", "not an image")])
def test_a_bad_upload_is_refused_and_nothing_is_stored(session, annotators, image, message):
    asker = session.get(Annotator, annotators(1)[0])
    with pytest.raises(ValueError, match=message):
        add_live_battle(session, asker, image, "Q?", [("x", "1"), ("y", "2")], swapped=False)
    session.rollback()
    assert session.scalars(select(Battle)).all() == []
