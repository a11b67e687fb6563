"""MathVista (Lu et al. 2024), the testmini split of AI4Math/MathVista: 1,000 math questions on images.

Schema: `pid`, `question`, `decoded_image`, `choices`, `question_type` (multi_choice | free_form), `answer_type`,
`precision`, `unit`, and the official `query` (hint, question, choices). `answer` holds the choice text for
multi_choice rows: the item's answer is that choice's letter, the text stays in `meta["answer"]`. Official
profile: MathVista's extraction and normalisation (lupantech/MathVista evaluation/extract_answer.py,
calculate_score.py), its GPT step an optional answer judge; molmo profile: the release's `math_vista_score`.
"""

from __future__ import annotations

from typing import Any

from evals.items import EvalItem
from evals.metrics.judge import AnswerJudge
from evals.metrics.mathvista import mathvista_molmo, mathvista_official
from evals.metrics.multiple_choice import LETTERS, is_option_letter
from evals.metrics.scorers import ItemScore, TaskMetric, cleaned
from evals.tasks.fields import FieldError, field, image_bytes, letter, strings, text
from evals.tasks.spec import TaskSpec


def read_row(row: dict[str, Any], index: int) -> EvalItem:
    """One row: a multi_choice answer becomes its option's letter; the fields the extraction needs go in meta."""
    question_type = text(row, "question_type")
    answer = text(row, "answer")
    if question_type == "multi_choice":
        choices = strings(row, "choices")
        if answer not in choices:
            raise FieldError("answer", f"{answer!r} is not one of the choices")
        answers = [letter(choices.index(answer))]
    elif question_type == "free_form":
        choices, answers = None, [answer]
    else:
        raise FieldError("question_type", f"expected multi_choice or free_form, got {question_type!r}")
    return EvalItem(
        id=str(field(row, "pid")),
        question=text(row, "question"),
        answers=answers,
        images=(image_bytes(row, "decoded_image"),),
        choices=choices,
        meta={
            "question_type": question_type,
            "answer_type": text(row, "answer_type"),
            "answer": answer,
            "precision": row.get("precision"),
            "unit": row.get("unit"),
            "query": text(row, "query"),
        },
    )


def mathvista_answer(answers: list[str], choices: list[str] | None, meta: dict[str, Any]) -> str:
    """The dataset's answer string: `meta["answer"]` as read from the row, else the option a gold letter names,
    else the answer as given."""
    if "answer" in meta:
        return str(meta["answer"])
    if choices and is_option_letter(answers[0], len(choices)):
        return choices[LETTERS.index(answers[0])]
    return answers[0]


def official_score(prediction: str, answers: list[str], choices: list[str] | None, meta: dict[str, Any],
                   judge: AnswerJudge | None) -> ItemScore:
    """The official extraction (the judge, when given, as its GPT step) equal to the dataset's answer."""
    parsed = mathvista_official(prediction, choices=choices, meta=meta, judge=judge)
    return ItemScore(float(parsed == mathvista_answer(answers, choices, meta)), parsed)


def molmo_score(prediction: str, answers: list[str], choices: list[str] | None, meta: dict[str, Any],
                judge: AnswerJudge | None) -> ItemScore:
    """The release's `use_api=False` extraction (the judge, when given, as the official one)."""
    parsed = mathvista_molmo(prediction, choices=choices, meta=meta, judge=judge)
    return ItemScore(float(parsed == mathvista_answer(answers, choices, meta)), parsed)


TASK = TaskSpec(
    name="mathvista",
    display_name="MathVista",
    hf_id="AI4Math/MathVista",
    split="testmini",
    kind="math",
    to_item=read_row,
    scoring={
        "official": TaskMetric("mathvista_accuracy", (), official_score, judged=True),
        "molmo": TaskMetric("math_vista_score", (), cleaned(molmo_score), judged=True),
    },
    paper_column="mathvista",
)
