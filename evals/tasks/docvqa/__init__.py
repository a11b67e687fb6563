"""DocVQA (Mathew et al. 2021), lmms-lab-encoder/DocVQA config DocVQA: the validation split scored locally, test
for the RRC server (`--submission`, answers keyed on `questionId`).

Schema: `questionId`, `question`, `answers` (list), `image`, `docId`, `question_types`. Official profile: the
Robust Reading Competition's ANLS script; molmo profile: the release's `anls_metric` after its clean-up.
"""

from __future__ import annotations

from typing import Any

from evals.items import EvalItem
from evals.metrics.scorers import ANLS_SCORING
from evals.tasks.fields import field, short_answer_item, strings
from evals.tasks.spec import TaskSpec


def read_row(row: dict[str, Any], index: int) -> EvalItem:
    """One row: every accepted answer."""
    return short_answer_item(row, str(field(row, "questionId")), strings(row, "answers"),
                             {"doc_id": row.get("docId"), "question_types": row.get("question_types")})


TASK = TaskSpec(
    name="docvqa",
    display_name="DocVQA",
    hf_id="lmms-lab-encoder/DocVQA",
    config="DocVQA",
    split="validation",
    kind="short",
    to_item=read_row,
    scoring=ANLS_SCORING,
    submission_split="test",
    submission_id="questionId",
    paper_column="docvqa",
)
