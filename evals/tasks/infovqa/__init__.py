"""InfographicVQA (Mathew et al. 2022), lmms-lab-encoder/DocVQA config InfographicVQA: the validation split scored
locally, test for the RRC server (`--submission`, answers keyed on `questionId`).

Schema: `questionId`, `question`, `answers`, `answer_type`, `operation/reasoning`, `image`. Scored as DocVQA: the
RRC ANLS script officially, the release's `anls_metric` under the molmo profile.
"""

from __future__ import annotations

from typing import Any

from evals.items import EvalItem
from evals.metrics.scorers import ANLS_SCORING
from evals.tasks.fields import field, short_answer_item, strings
from evals.tasks.spec import TaskSpec


def read_row(row: dict[str, Any], index: int) -> EvalItem:
    """One row: every accepted answer, the answer type and the reasoning it needs in meta."""
    meta = {"answer_type": row.get("answer_type"), "operation/reasoning": row.get("operation/reasoning")}
    return short_answer_item(row, str(field(row, "questionId")), strings(row, "answers"), meta)


TASK = TaskSpec(
    name="infovqa",
    display_name="InfographicVQA",
    hf_id="lmms-lab-encoder/DocVQA",
    config="InfographicVQA",
    split="validation",
    kind="short",
    to_item=read_row,
    scoring=ANLS_SCORING,
    submission_split="test",
    submission_id="questionId",
    paper_column="infovqa",
)
