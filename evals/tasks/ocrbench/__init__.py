"""OCRBench (Liu et al. 2024, arXiv 2305.07895), the test split of echo840/OCRBench: 1,000 questions on text in
images from 29 source datasets, in 10 question types.

Schema (its dataset card): `dataset` (the source, e.g. IIIT5K, textVQA, FUNSD, HME100k), `question`,
`question_type` (Regular / Irregular / Artistic / Handwriting / Digit String / Non-Semantic Text Recognition,
Scene Text-centric VQA, Doc-oriented VQA, Key Information Extraction, Handwritten Mathematical Expression
Recognition), `answer` (a list of accepted answers; a plain string is accepted too), `image`. Rows carry no id: the
row index is the item id.

Official profile: OCRBench's rule (`metric.py`): an accepted answer, lower-cased and stripped, is a substring of the
lower-cased output; for the HME100k formulas case counts and every space is dropped. A run reports the accuracy,
and by `group` (the five groups of the official report, the six recognition types together as "Text Recognition")
and by `question_type` the number correct (`correct`, out of 1,000 on the full set, the official score) and the
accuracy. The Molmo release has no OCRBench evaluator; the molmo profile applies its clean-up of the output first.
"""

from __future__ import annotations

from typing import Any

from evals.items import EvalItem
from evals.metrics.judge import AnswerJudge
from evals.metrics.scorers import ItemScore, TaskMetric, cleaned, or_none
from evals.tasks.fields import FieldError, field, image_bytes, text
from evals.tasks.ocrbench.metric import ocrbench_correct, ocrbench_reading
from evals.tasks.spec import TaskSpec

RECOGNITION = (
    "Regular Text Recognition",
    "Irregular Text Recognition",
    "Artistic Text Recognition",
    "Handwriting Recognition",
    "Digit String Recognition",
    "Non-Semantic Text Recognition",
)


def group(question_type: str) -> str:
    """The official report's group of a question type."""
    return "Text Recognition" if question_type in RECOGNITION else question_type


def read_row(row: dict[str, Any], index: int) -> EvalItem:
    """One row: every accepted answer; the source dataset, the question type and its group in meta."""
    answer = field(row, "answer")
    answers = [answer] if isinstance(answer, str) else answer
    if not isinstance(answers, list | tuple) or not answers or not all(isinstance(a, str) for a in answers):
        raise FieldError("answer", "expected a string or a non-empty list of strings")
    question_type = text(row, "question_type")
    return EvalItem(
        id=str(index),
        question=text(row, "question"),
        answers=list(answers),
        images=(image_bytes(row, "image"),),
        meta={"dataset": text(row, "dataset"), "question_type": question_type, "group": group(question_type)},
    )


def official_score(prediction: str, answers: list[str], choices: list[str] | None, meta: dict[str, Any],
                   judge: AnswerJudge | None) -> ItemScore:
    """OCRBench's substring rule, by the item's source dataset."""
    dataset = str(meta.get("dataset", ""))
    return ItemScore(float(ocrbench_correct(prediction, answers, dataset)),
                     or_none(ocrbench_reading(prediction, dataset)))


TASK = TaskSpec(
    name="ocrbench",
    display_name="OCRBench",
    hf_id="echo840/OCRBench",
    split="test",
    kind="short",
    to_item=read_row,
    scoring={
        "official": TaskMetric("ocrbench_accuracy", (), official_score),
        "molmo": TaskMetric("ocrbench_accuracy", (), cleaned(official_score)),
    },
    breakdown=("group", "question_type"),
)
