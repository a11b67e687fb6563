from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from arena.annotators import disable_annotator
from arena.db import Annotator, Battle
from arena.export import export_battles, judge_pseudonym


def test_export_writes_fastchat_battles(session: Session, make_study, annotators, cast, tmp_path: Path) -> None:
    make_study(n_models=3, n_prompts=2, gold=True)
    battles = session.scalars(select(Battle).where(~Battle.is_gold).order_by(Battle.id)).all()
    gold = session.scalars(select(Battle).where(Battle.is_gold)).first()
    ann, bob, eve = annotators(3)
    votes = [
        cast(ann, battles[0], "a_better", swapped=True, tstamp=1000.0),
        cast(ann, battles[1], "b_better", tstamp=1001.0),
        cast(bob, battles[0], "tie_good", tstamp=1002.0),
        cast(bob, battles[1], "cant_tell", tstamp=1003.0),
        cast(bob, battles[2], "tie_bad", tstamp=1004.0),
        cast(bob, gold, "a_better", tstamp=1005.0),
        cast(eve, battles[3], "a_better", tstamp=1006.0),
    ]
    votes[0].reason = "more precise"
    session.commit()
    disable_annotator(session, session.get(Annotator, eve).name)

    out = tmp_path / "battles.jsonl"
    assert export_battles(session, out) == 4
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    frame = pd.read_json(out, lines=True, dtype={"question_id": str, "prompt_id": str})
    assert list(frame.columns) == ["battle_id", "tstamp", "judge", "model_a", "model_b", "winner", "question_id",
                                   "prompt_id", "image_sha256", "category", "anony", "reason"]
    assert frame["winner"].tolist() == ["model_a", "model_b", "tie", "tie (bothbad)"]
    assert frame["tstamp"].tolist() == [1005.0, 1006.0, 1007.0, 1009.0]
    assert frame["battle_id"].tolist() == [f"vote-{votes[i].id}" for i in (0, 1, 2, 4)]
    assert frame["judge"].tolist() == [judge_pseudonym(ann)] * 2 + [judge_pseudonym(bob)] * 2
    assert judge_pseudonym(ann) != judge_pseudonym(bob)
    expected = [battles[i] for i in (0, 1, 0, 2)]
    assert frame["model_a"].tolist() == [b.answer_a.model.name for b in expected]  # not the screen side
    assert frame["model_b"].tolist() == [b.answer_b.model.name for b in expected]
    assert frame["prompt_id"].tolist() == [b.prompt.prompt_id for b in expected] == frame["question_id"].tolist()
    assert frame["image_sha256"].tolist() == [b.prompt.image_sha256 for b in expected]
    assert frame["category"].tolist() == [b.prompt.category for b in expected]
    assert frame["anony"].all()
    assert frame["reason"][0] == "more precise" and frame["reason"][1:].isna().all()


def test_export_of_nothing_is_an_empty_file(session: Session, tmp_path: Path) -> None:
    out = tmp_path / "battles.jsonl"
    out.write_text("old content\n")
    assert export_battles(session, out) == 0
    assert out.read_text() == ""
