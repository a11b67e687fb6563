"""MMMU (Yue et al. 2024), the validation split of lmms-lab-encoder/MMMU: college-level questions, 900 items.

Schema: `id` ("<split>_<Subject_Name>_<n>"), `question`, `options` (a Python list literal in a string; a real
list is accepted too), `answer`, `question_type` (multiple-choice | open), images in `image_1`..`image_7`. An
open question's `answer` is a string, sometimes a list literal of accepted answers (as MMMU's own
answer_dict_val.json lists them). The images are every `image_k` that the question or its options name as
`<image k>`, in k order, as lmms-eval's `mmmu_doc_to_visual` passes them (`image_1` when the text names none);
`meta["num_images"]` says how many `image_k` columns were filled. Official profile: MMMU's eval_utils.py (its
random pick taken at its expectation); molmo profile: the release's `mmmu_score`.
"""

from __future__ import annotations

import re
from typing import Any

from evals.items import EvalItem
from evals.metrics.judge import AnswerJudge
from evals.metrics.mmmu import mmmu_choice_score, mmmu_open_correct, parse_mmmu_open
from evals.metrics.scorers import ItemScore, TaskMetric, cleaned, gold_letter
from evals.tasks.fields import FieldError, image_bytes, letter, literal_list, text
from evals.tasks.spec import TaskSpec

_IMAGE_TOKEN = re.compile(r"<image (\d+)>")


def _subject(item_id: str) -> str:
    """MMMU ids read "<split>_<Subject_Name>_<n>": "validation_Art_Theory_3" -> "Art_Theory"."""
    parts = item_id.split("_")
    return "_".join(parts[1:-1])


def mmmu_images(row: dict[str, Any], options: list[str]) -> tuple[bytes, ...]:
    """The images an MMMU question names as `<image k>` in its text or options, by k (lmms-eval
    `mmmu_doc_to_visual`); `image_1` alone when the text names none, so the model still sees the picture."""
    named = {int(k) for value in (row.get("question") or "", *options) for k in _IMAGE_TOKEN.findall(value)}
    return tuple(image_bytes(row, f"image_{k}") for k in sorted(named or {1}))


def read_row(row: dict[str, Any], index: int) -> EvalItem:
    """One row: multiple choice with its option letters, or an open question with its accepted answers."""
    item_id = text(row, "id")
    question_type = text(row, "question_type")
    options = literal_list(row, "options")
    answer = text(row, "answer").strip()
    if question_type == "multiple-choice":
        if answer not in {letter(i) for i in range(len(options))}:
            raise FieldError("answer", f"{answer!r} is not one of the {len(options)} option letters")
        answers, choices = [answer], options
    elif question_type == "open":
        answers = literal_list(row, "answer") if answer.startswith("[") else [answer]
        choices = None
    else:
        raise FieldError("question_type", f"expected multiple-choice or open, got {question_type!r}")
    return EvalItem(
        id=item_id,
        question=text(row, "question"),
        answers=answers,
        images=mmmu_images(row, options),
        choices=choices,
        meta={
            "question_type": question_type,
            "subject": _subject(item_id),
            "subfield": row.get("subfield"),
            "topic_difficulty": row.get("topic_difficulty"),
            "img_type": row.get("img_type"),
            "num_images": sum(row.get(f"image_{k}") is not None for k in range(1, 8)),
        },
    )


def official_score(prediction: str, answers: list[str], choices: list[str] | None, meta: dict[str, Any],
                   judge: AnswerJudge | None) -> ItemScore:
    """Multiple choice when the item has choices, else an open question (MMMU's eval_utils.py)."""
    if choices:
        picked, score = mmmu_choice_score(prediction, choices, gold_letter(answers, len(choices)))
        return ItemScore(score, picked)
    candidates = parse_mmmu_open(prediction)
    parsed = " | ".join(map(str, candidates)) if prediction.strip() else None
    return ItemScore(float(mmmu_open_correct(candidates, answers)), parsed)


def molmo_score(prediction: str, answers: list[str], choices: list[str] | None, meta: dict[str, Any],
                judge: AnswerJudge | None) -> ItemScore:
    """The release's `mmmu_score`: MMMU's parsers, empty options dropped first."""
    return official_score(prediction, answers, [c for c in choices if c] if choices else None, meta, judge)


TASK = TaskSpec(
    name="mmmu",
    display_name="MMMU",
    hf_id="lmms-lab-encoder/MMMU",
    split="validation",
    kind="multiple_choice",
    to_item=read_row,
    scoring={
        "official": TaskMetric("mmmu_accuracy", (), official_score),
        "molmo": TaskMetric("mmmu_score", (), cleaned(molmo_score)),
    },
    paper_column="mmmu",
)
