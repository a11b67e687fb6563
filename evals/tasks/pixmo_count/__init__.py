"""PixMo-Count (Deitke et al. 2024), the test split of kcz358/pixmo-count, the re-host with images.

Schema: `image`, `question` (may carry an `<image>` token, which is dropped), `answer` (a string holding the
count); `label` is kept in meta when present; rows carry no id, the row index is the item id. Scored as
CountBenchQA: `parse_count` officially, the release's `PointCountEval` under the molmo profile.
"""

from __future__ import annotations

from typing import Any

from evals.items import EvalItem
from evals.metrics.scorers import COUNT_SCORING
from evals.tasks.fields import field, image_bytes, text
from evals.tasks.spec import TaskSpec


def read_row(row: dict[str, Any], index: int) -> EvalItem:
    """One row: the question without its `<image>` token, the count as the answer."""
    return EvalItem(
        id=str(index),
        question=text(row, "question").replace("<image>", "").strip(),
        answers=[str(field(row, "answer")).strip()],
        images=(image_bytes(row, "image"),),
        meta={"label": row.get("label")},
    )


TASK = TaskSpec(
    name="pixmo_count",
    display_name="PixMo-Count",
    hf_id="kcz358/pixmo-count",
    split="test",
    kind="count",
    to_item=read_row,
    scoring=COUNT_SCORING,
    paper_column="pixmo_count",
)
