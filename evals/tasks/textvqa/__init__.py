"""TextVQA (Singh et al. 2019), the validation split of lmms-lab-encoder/textvqa.

Schema: `question_id`, `question`, 10 `answers`, `ocr_tokens` (kept for an optional OCR hint), `image_id`.
Official profile: MMF's TextVQA evaluator (facebookresearch/mmf mmf/utils/m4c_evaluators.py); molmo profile:
the release's `vqa_score` after its clean-up.
"""

from __future__ import annotations

from typing import Any

from evals.items import EvalItem
from evals.metrics.scorers import TaskMetric, answer_metric, cleaned, molmo_vqa
from evals.metrics.vqa import evalai_normalize, textvqa_accuracy
from evals.tasks.fields import field, short_answer_item, strings
from evals.tasks.spec import TaskSpec


def read_row(row: dict[str, Any], index: int) -> EvalItem:
    """One row: the ten answers, the OCR tokens in meta."""
    return short_answer_item(row, str(field(row, "question_id")), strings(row, "answers"),
                             {"image_id": row.get("image_id"), "ocr_tokens": row.get("ocr_tokens") or []})


TASK = TaskSpec(
    name="textvqa",
    display_name="TextVQA",
    hf_id="lmms-lab-encoder/textvqa",
    split="validation",
    kind="short",
    to_item=read_row,
    scoring={
        "official": TaskMetric("vqa_accuracy", (), answer_metric(textvqa_accuracy, evalai_normalize)),
        "molmo": TaskMetric("vqa_score", (), cleaned(molmo_vqa)),
    },
    paper_column="textvqa",
)
