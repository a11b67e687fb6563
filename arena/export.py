"""Exporting votes as FastChat cleaned battles (JSON lines), the input of the leaderboard.

One line per vote, in vote order. Left out: "can't tell" votes, gold battles (they measure annotators, not
models) and every vote of a disabled annotator. `model_a`/`model_b` are the battle's answers `a` and `b`,
whatever side they were shown on; `judge` is a pseudonym of the annotator, never their name or token.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from arena.db import BATTLE_MODELS, Annotator, Battle, Prompt, Vote
from arena.files import write_lines_atomically

WINNERS = {"a_better": "model_a", "b_better": "model_b", "tie_good": "tie", "tie_bad": "tie (bothbad)"}


def export_battles(session: Session, out_path: str | Path) -> int:
    """Write the battles file atomically (a temporary file renamed over `out_path`); returns the count."""
    rows = session.execute(
        select(Vote.id, Vote.tstamp, Vote.annotator_id, BATTLE_MODELS.c.model_a, BATTLE_MODELS.c.model_b,
               Vote.choice, Vote.reason, Prompt.prompt_id, Prompt.image_sha256, Prompt.category)
        .join(Annotator, Vote.annotator_id == Annotator.id)
        .join(Battle, Vote.battle_id == Battle.id)
        .join(Prompt, Battle.prompt_id == Prompt.id)
        .join(BATTLE_MODELS, Vote.battle_id == BATTLE_MODELS.c.battle_id)
        .where(Annotator.enabled, ~Battle.is_gold, Vote.choice.in_(WINNERS))
        .order_by(Vote.id)
    )
    records = (
        {
            "battle_id": f"vote-{row.id}",
            "tstamp": row.tstamp,
            "judge": judge_pseudonym(row.annotator_id),
            "model_a": row.model_a,
            "model_b": row.model_b,
            "winner": WINNERS[row.choice],
            "question_id": row.prompt_id,
            "prompt_id": row.prompt_id,
            "image_sha256": row.image_sha256,
            "category": row.category,
            "anony": True,
            "reason": row.reason,
        }
        for row in rows
    )
    return write_lines_atomically(out_path, (json.dumps(record, ensure_ascii=False) for record in records))


def judge_pseudonym(annotator_id: int) -> str:
    """A stable public name for an annotator: the start of a sha256 of their database id."""
    return hashlib.sha256(f"molmo-arena annotator {annotator_id}".encode()).hexdigest()[:16]
