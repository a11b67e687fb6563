"""VQA v2.0 (Goyal et al. 2017), lmms-lab-encoder/VQAv2: the validation split scored locally, test-dev for the
EvalAI server (`--submission`, answers keyed on `question_id`).

Schema: `answers` is a list of 10 {answer, answer_confidence, answer_id} dicts; `question_id`, `image_id`,
`question_type`, `answer_type`, `multiple_choice_answer`. Official profile: GT-Vision-Lab/VQA vqaEval.py (its
normalisation only when the annotators disagree, the leave-one-out mean); molmo profile: the release's
`vqa_score` after its clean-up.
"""

from __future__ import annotations

from typing import Any

from evals.items import EvalItem
from evals.metrics.scorers import TaskMetric, answer_metric, cleaned, molmo_vqa
from evals.metrics.vqa import vqa_normalize, vqa_v2_accuracy
from evals.tasks.fields import FieldError, field, image_bytes, text
from evals.tasks.spec import TaskSpec


def read_row(row: dict[str, Any], index: int) -> EvalItem:
    """One row: the ten annotators' answers, in order."""
    annotations = field(row, "answers")
    if not isinstance(annotations, list) or not all(isinstance(a, dict) and "answer" in a for a in annotations):
        raise FieldError("answers", "expected a list of {answer, ...} dicts")
    return EvalItem(
        id=str(field(row, "question_id")),
        question=text(row, "question"),
        answers=[str(a["answer"]) for a in annotations],
        images=(image_bytes(row, "image"),),
        meta={
            "image_id": field(row, "image_id"),
            "question_type": row.get("question_type"),
            "answer_type": row.get("answer_type"),
            "multiple_choice_answer": row.get("multiple_choice_answer"),
        },
    )


TASK = TaskSpec(
    name="vqav2",
    display_name="VQA v2.0",
    hf_id="lmms-lab-encoder/VQAv2",
    split="validation",
    kind="short",
    to_item=read_row,
    scoring={
        "official": TaskMetric("vqa_accuracy", (), answer_metric(vqa_v2_accuracy, vqa_normalize)),
        "molmo": TaskMetric("vqa_score", (), cleaned(molmo_vqa)),
    },
    submission_split="testdev",
    submission_id="question_id",
    paper_column="vqav2",
)
