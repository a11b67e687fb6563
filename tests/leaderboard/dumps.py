"""Battles in the exact layouts of public arena dumps, written small: the readers must take them as they are.

- WildVision-Bench / WildVision-Arena battles (Parquet): the `battle` config's features on the hub dataset card
  (question_id, model_a, model_b, conversation_a/b as lists of {role, content}, language, image as
  {bytes, path}, turn int32, anony bool, winner, tstamp int32, judge), with battles of a model against itself
  as the real dump has.
- Chatbot Arena's cleaned battles (a JSON array, FastChat `clean_battle_data.py` output fields) with the fields
  the public releases add: conv_metadata (token and markdown counts, FastChat `add_markdown_info.py`),
  dedup_tag, category_tag (classifier labels), is_code, is_refusal.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

WILDVISION_SCHEMA = pa.schema([
    ("question_id", pa.string()),
    ("model_a", pa.string()),
    ("model_b", pa.string()),
    ("conversation_a", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
    ("conversation_b", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
    ("language", pa.string()),
    ("image", pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
    ("turn", pa.int32()),
    ("anony", pa.bool_()),
    ("winner", pa.string()),
    ("tstamp", pa.int32()),
    ("judge", pa.string()),
])
MODELS = ("gpt-4o", "claude-3-5-sonnet-20240620", "llava-v1.6-34b", "Molmo-7B-D")


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def wildvision_battles(path: Path, n: int = 60, self_battles: int = 5, seed: int = 0) -> Path:
    """`n` battles, the last `self_battles` of them a model against itself."""
    rng = np.random.default_rng(seed)
    image = _png()
    rows = []
    for i in range(n):
        a = MODELS[rng.integers(len(MODELS))]
        b = a if i >= n - self_battles else MODELS[(MODELS.index(a) + rng.integers(1, len(MODELS))) % len(MODELS)]
        question = f"What is in this image? ({i})"
        rows.append({
            "question_id": f"{i:032x}",
            "model_a": a,
            "model_b": b,
            "conversation_a": [{"role": "user", "content": question}, {"role": "assistant", "content": f"A {i}"}],
            "conversation_b": [{"role": "user", "content": question}, {"role": "assistant", "content": f"B {i}"}],
            "language": "English",
            "image": {"bytes": image, "path": None},
            "turn": 1,
            "anony": bool(i % 7),
            "winner": ("model_a", "model_b", "tie", "tie (bothbad)")[rng.integers(4)],
            "tstamp": 1_712_000_000 + 37 * i,
            "judge": f"arena_user_{rng.integers(12)}",
        })
    pq.write_table(pa.Table.from_pylist(rows, schema=WILDVISION_SCHEMA), path)
    return path


def _markdown_counts(side: str, rng: np.random.Generator) -> dict:
    return {
        f"sum_assistant_{side}_tokens": int(rng.integers(5, 900)),
        f"context_{side}_tokens": int(rng.integers(5, 2000)),
        f"header_count_{side}": {f"h{k}": int(rng.integers(0, 3)) for k in range(1, 7)},
        f"list_count_{side}": {"ordered": int(rng.integers(0, 6)), "unordered": int(rng.integers(0, 9))},
        f"bold_count_{side}": {"**": int(rng.integers(0, 5)), "__": int(rng.integers(0, 2))},
    }


def chatbot_arena_battles(n: int = 40, seed: int = 0) -> list[dict]:
    """Records of a public Chatbot Arena cleaned-battle dump (clean_battle_YYYYMMDD_public.json)."""
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        a, b = rng.choice(len(MODELS), 2, replace=False)
        question = f"Write a poem about {i}"
        records.append({
            "question_id": f"{i:032x}",
            "model_a": MODELS[a],
            "model_b": MODELS[b],
            "winner": ("model_a", "model_b", "tie", "tie (bothbad)")[rng.integers(4)],
            "judge": f"arena_user_{rng.integers(9)}",
            "conversation_a": [{"role": "user", "content": question, "num_tokens": 7},
                               {"role": "assistant", "content": "**A**", "num_tokens": 4}],
            "conversation_b": [{"role": "user", "content": question, "num_tokens": 7},
                               {"role": "assistant", "content": "# B", "num_tokens": 3}],
            "turn": 1,
            "anony": True,
            "language": "English",
            "tstamp": 1_723_000_000.5 + 11 * i,
            "conv_metadata": {"sum_user_tokens": 7, "turns": 1} | _markdown_counts("a", rng)
            | _markdown_counts("b", rng),
            "is_code": False,
            "is_refusal": False,
            "dedup_tag": {"high_freq": False, "sampled": True},
            "category_tag": {
                "criteria_v0.1": {"specificity": bool(i % 2), "domain_knowledge": True, "complexity": False,
                                  "problem_solving": False, "creativity": bool(i % 3 == 0),
                                  "technical_accuracy": False, "real_world": True},
                "if_v0.1": {"if": bool(i % 4 == 0), "score": int(i % 5)},
                "math_v0.1": {"math": i % 5 == 0},
                "creative_writing_v0.1": {"creative_writing": i % 3 == 0, "score": "yes" if i % 3 == 0 else "no"},
            },
        })
    return records


def write_records(records: list[dict], path: Path) -> Path:
    """As a JSON array (`.json`) or JSON lines (`.jsonl`)."""
    if path.suffix == ".json":
        path.write_text(json.dumps(records))
    else:
        path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path
