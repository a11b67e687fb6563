from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from arena.annotators import disable_annotator
from arena.db import Annotator, Battle
from arena.export import conv_metadata, count_tokens, export_battles, judge_pseudonym


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
                                   "prompt_id", "image_sha256", "category", "anony", "reason", "conv_metadata"]
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
    first = frame["conv_metadata"][0]
    assert first["sum_assistant_a_tokens"] == count_tokens(expected[0].answer_a.text) > 0
    assert first["point_count_b"] == 0 and first["header_count_a"]["h1"] == 0

    from leaderboard.battles import load_battles

    battles = load_battles(out)  # the leaderboard reads the style counts (style control needs them)
    assert battles["style_tokens_b"].tolist() == [count_tokens(b.answer_b.text) for b in expected]
    assert battles["style_points_a"].tolist() == [0, 0, 0, 0]


def test_export_of_nothing_is_an_empty_file(session: Session, tmp_path: Path) -> None:
    out = tmp_path / "battles.jsonl"
    out.write_text("old content\n")
    assert export_battles(session, out) == 0
    assert out.read_text() == ""


ANSWER = """# Counting

There are **three** cups and __two__ plates:

1. a red cup
2. a blue cup
- a plate
  * a saucer

```python
# not a header
x = "**not bold**"
```
<points x1="10.0" y1="20.0" x2="30.0" y2="40.5" alt="cups">cups</points>
"""


def test_style_counts_follow_fastchats_markdown_rules() -> None:
    meta = conv_metadata("How many cups?", ANSWER, "Two.")
    assert meta["header_count_a"] == {"h1": 1, "h2": 0, "h3": 0, "h4": 0, "h5": 0, "h6": 0}
    assert meta["list_count_a"] == {"ordered": 2, "unordered": 2}
    assert meta["bold_count_a"] == {"**": 1, "__": 1}
    assert meta["point_count_a"] == 2 and meta["point_count_b"] == 0
    assert meta["bold_count_b"] == {"**": 0, "__": 0}
    # cl100k_base, the encoding FastChat counts with: "hello world" is two tokens, [15339, 1917].
    assert count_tokens("hello world") == 2 and meta["sum_assistant_b_tokens"] == count_tokens("Two.") == 2
    assert meta["sum_user_tokens"] == count_tokens("How many cups?") and meta["turns"] == 1
