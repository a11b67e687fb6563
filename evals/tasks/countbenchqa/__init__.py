"""CountBenchQA, the test split of vikhyatk/CountBenchQA: counting 2-10 objects.

Schema: `image`, `text` (the caption, which names the count), `question`, `number` (an integer); rows carry no
id, the row index is the item id. No official scorer: officially the count is read as docs/scoring.md sets out
(`parse_count`), under the molmo profile as the release's `PointCountEval`; within-one is a secondary metric.
"""

from __future__ import annotations

from typing import Any

from evals.items import EvalItem
from evals.metrics.scorers import COUNT_SCORING
from evals.tasks.fields import FieldError, field, image_bytes, text
from evals.tasks.spec import TaskSpec


def read_row(row: dict[str, Any], index: int) -> EvalItem:
    """One row: the number as the answer, the caption in meta."""
    number = field(row, "number")
    if not isinstance(number, int) or isinstance(number, bool):
        raise FieldError("number", f"expected an integer, got {number!r}")
    return EvalItem(
        id=str(index),
        question=text(row, "question"),
        answers=[str(number)],
        images=(image_bytes(row, "image"),),
        meta={"caption": text(row, "text")},
    )


TASK = TaskSpec(
    name="countbenchqa",
    display_name="CountBenchQA",
    hf_id="vikhyatk/CountBenchQA",
    split="test",
    kind="count",
    to_item=read_row,
    scoring=COUNT_SCORING,
    paper_column="countbenchqa",
)
