"""Exporting votes as FastChat cleaned battles (JSON lines), the input of the leaderboard.

One line per vote, in vote order. Left out: "can't tell" votes, gold battles (they measure annotators, not
models) and every vote of a disabled annotator. `model_a`/`model_b` are the battle's answers `a` and `b`,
whatever side they were shown on; `judge` is a pseudonym of the annotator, never their name or token.

Each line carries `conv_metadata`, the style counts of the two answers in the layout of the public Chatbot Arena
dumps, so `leaderboard fit --style-control` works on our own studies: answer tokens, markdown headers, list
items and bold spans (counted after removing code blocks, as FastChat's `add_markdown_info.py` counts them), and
our own `point_count_a/b`, the points an answer marks on the image (`molmo.pointing.count_points`).
Tokens are counted with OpenAI's cl100k_base encoding, the one FastChat's cleaner counts with (tiktoken's
gpt-3.5-turbo encoding), so the counts are on the scale of the public dumps; the `bpe-openai` package ships its
vocabulary (tiktoken would download it).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from arena.db import BATTLE_MODELS, Annotator, Answer, Battle, Prompt, Vote
from molmo_arena.common.files import write_lines

WINNERS = {"a_better": "model_a", "b_better": "model_b", "tie_good": "tie", "tie_bad": "tie (bothbad)"}


def export_battles(session: Session, out_path: str | Path) -> int:
    """Write the battles file atomically (a temporary file renamed over `out_path`); returns the count."""
    answer_a, answer_b = aliased(Answer), aliased(Answer)
    rows = session.execute(
        select(Vote.id, Vote.tstamp, Vote.annotator_id, BATTLE_MODELS.c.model_a, BATTLE_MODELS.c.model_b,
               Vote.choice, Vote.reason, Prompt.prompt_id, Prompt.image_sha256, Prompt.category,
               Prompt.question, answer_a.text.label("text_a"), answer_b.text.label("text_b"))
        .join(Annotator, Vote.annotator_id == Annotator.id)
        .join(Battle, Vote.battle_id == Battle.id)
        .join(answer_a, Battle.answer_a_id == answer_a.id)
        .join(answer_b, Battle.answer_b_id == answer_b.id)
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
            "conv_metadata": conv_metadata(row.question, row.text_a, row.text_b),
        }
        for row in rows
    )
    return write_lines(out_path, (json.dumps(record, ensure_ascii=False) for record in records))


def judge_pseudonym(annotator_id: int) -> str:
    """A stable public name for an annotator: the start of a sha256 of their database id."""
    return hashlib.sha256(f"molmo-arena annotator {annotator_id}".encode()).hexdigest()[:16]


_CODE_BLOCK = re.compile(r"```[^`]*```")
_ORDERED = re.compile(r"^\s*\d+\.\s", re.MULTILINE)
_UNORDERED = re.compile(r"^\s*[-*+]\s", re.MULTILINE)
_BOLD = {"**": re.compile(r"\*\*[^*\n]+\*\*"), "__": re.compile(r"__[^_\n]+__")}


@functools.cache
def _encoding():
    import warnings

    with warnings.catch_warnings():  # bpe-openai 0.1.4 reads its vocabulary with a deprecated importlib call
        warnings.simplefilter("ignore", DeprecationWarning)
        import bpe_openai

        encoding = bpe_openai.get_encoding("cl100k_base")
        encoding.encode("")  # the vocabulary loads on first use
        return encoding


def count_tokens(text: str) -> int:
    """Tokens of `text` in the cl100k_base encoding."""
    return len(_encoding().encode(text))


def markdown_counts(text: str, side: str) -> dict[str, dict[str, int]]:
    """Headers by level, ordered and unordered list items and bold spans of an answer, with code blocks removed
    first (so a `#` comment in code is no header), keyed as in the public Chatbot Arena dumps."""
    text = _CODE_BLOCK.sub("", text)
    return {
        f"header_count_{side}": {f"h{level}": len(re.findall(rf"^#{{{level}}}\s", text, re.MULTILINE))
                                 for level in range(1, 7)},
        f"list_count_{side}": {"ordered": len(_ORDERED.findall(text)), "unordered": len(_UNORDERED.findall(text))},
        f"bold_count_{side}": {mark: len(pattern.findall(text)) for mark, pattern in _BOLD.items()},
    }


def conv_metadata(question: str, text_a: str, text_b: str) -> dict:
    """The style counts of one battle's two answers (one turn each)."""
    from molmo.pointing import count_points

    return {
        "sum_user_tokens": count_tokens(question),
        "sum_assistant_a_tokens": count_tokens(text_a),
        "sum_assistant_b_tokens": count_tokens(text_b),
        "turns": 1,
        **markdown_counts(text_a, "a"),
        **markdown_counts(text_b, "b"),
        "point_count_a": count_points(text_a),
        "point_count_b": count_points(text_b),
    }
