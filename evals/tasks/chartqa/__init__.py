"""ChartQA (Masry et al. 2022), the test split of lmms-lab-encoder/ChartQA: human and augmented questions.

Schema: `type` (human_test | augmented_test), `question`, `answer`, `image`; rows carry no id, the row index is
the item id. Official profile: pix2struct's relaxed correctness (google-research/pix2struct
pix2struct/metrics.py) on the raw output; molmo profile: the same after the release's clean-up.
"""

from __future__ import annotations

from typing import Any

from evals.items import EvalItem
from evals.metrics.relaxed import relaxed_accuracy
from evals.metrics.scorers import TaskMetric, answer_metric, cleaned
from evals.tasks.fields import image_bytes, text
from evals.tasks.spec import TaskSpec


def read_row(row: dict[str, Any], index: int) -> EvalItem:
    """One row; the human/augmented split stays in meta["type"]."""
    return EvalItem(
        id=str(index),
        question=text(row, "question"),
        answers=[text(row, "answer")],
        images=(image_bytes(row, "image"),),
        meta={"type": text(row, "type")},
    )


# Relaxed correctness, best over the answers.
official_score = answer_metric(relaxed_accuracy, str.strip)


TASK = TaskSpec(
    name="chartqa",
    display_name="ChartQA",
    hf_id="lmms-lab-encoder/ChartQA",
    split="test",
    kind="short",
    to_item=read_row,
    scoring={
        "official": TaskMetric("relaxed_accuracy", (), official_score),
        "molmo": TaskMetric("relaxed_correctness", (), cleaned(official_score)),
    },
    paper_column="chartqa",
)
