"""MMStar (Chen et al. 2024, arXiv 2403.20330), the `val` split of Lin-Chen/MMStar: 1,500 multiple-choice questions
that need the image, 250 in each of 6 core capabilities, 3 finer axes each (18 in all).

Schema (the dataset's parquet, as lmms-eval 0.7.3 lmms_eval/tasks/mmstar/ reads it): `index` (int), `question`
(the question, then "\\nOptions: A: ..., B: ..., C: ..., D: ..." inline), `image`, `answer` (the letter),
`category` (coarse perception, fine-grained perception, instance reasoning, logical reasoning, science &
technology, math), `l2_category` (the finer axis), `meta_info` ({source, split, image_path}). The item keeps the
question as written, options included, as lmms-eval and MMStar's own evaluation show it; the options are also
parsed into `choices` when they read as "A: ..., B: ..." in order (otherwise the item has none, and scoring reads
letters A-D). `index` is the item id.

Official profile: MMStar's own rule (`metric.py`): the answer's letter as the first character of the output, or
after "(", "option " or "the answer is ". Runs report the accuracy and the score by `category` and `l2_category`
(MMStar's category scores are item accuracies within the category; lmms-eval averages the three axes' accuracies
instead, which equals it when the axes are the same size). The Molmo release has no MMStar evaluator; the molmo
profile applies its clean-up and `select_mc_option` over the option letters, as its multiple-choice metrics do.
"""

from __future__ import annotations

import re
from typing import Any

from evals.items import EvalItem
from evals.metrics.judge import AnswerJudge
from evals.metrics.multiple_choice import LETTERS
from evals.metrics.scorers import ItemScore, TaskMetric, cleaned, gold_letter, selected_option
from evals.tasks.fields import FieldError, field, image_bytes, text
from evals.tasks.mmstar.metric import mmstar_reading
from evals.tasks.spec import TaskSpec

_OPTIONS = "\nOptions: "
_LABEL = re.compile(r"(?:^|, )([A-Z]): ")


def options(question: str) -> list[str] | None:
    """The option texts of a question that ends in "\\nOptions: A: ..., B: ...", None when they do not read as the
    letters A, B, ... in order."""
    if _OPTIONS not in question:
        return None
    parts = _LABEL.split(question.rsplit(_OPTIONS, 1)[1])
    labels, texts = parts[1::2], parts[2::2]
    if parts[0] or not labels or labels != list(LETTERS[: len(labels)]):
        return None
    return [option.strip() for option in texts]


def read_row(row: dict[str, Any], index: int) -> EvalItem:
    """One row: the question as written, its parsed options, the letter answer, the categories in meta."""
    question = text(row, "question")
    choices = options(question)
    answer = text(row, "answer").strip()
    letters = LETTERS[: len(choices)] if choices else LETTERS[:4]
    if len(answer) != 1 or answer not in letters:
        raise FieldError("answer", f"{answer!r} is not one of the option letters {', '.join(letters)}")
    meta_info = row.get("meta_info") or {}
    return EvalItem(
        id=str(field(row, "index")),
        question=question,
        answers=[answer],
        images=(image_bytes(row, "image"),),
        choices=choices,
        meta={"category": text(row, "category"), "l2_category": text(row, "l2_category"),
              "source": meta_info.get("source") if isinstance(meta_info, dict) else None},
    )


def _letters(choices: list[str] | None) -> str:
    return LETTERS[: len(choices)] if choices else LETTERS[:4]


def official_score(prediction: str, answers: list[str], choices: list[str] | None, meta: dict[str, Any],
                   judge: AnswerJudge | None) -> ItemScore:
    """MMStar's rule: the letter it reads at the start of the output equals the answer's."""
    letters = _letters(choices)
    reading = mmstar_reading(prediction, letters)
    return ItemScore(float(reading == gold_letter(answers, len(letters))), reading)


def molmo_score(prediction: str, answers: list[str], choices: list[str] | None, meta: dict[str, Any],
                judge: AnswerJudge | None) -> ItemScore:
    """The release's `select_mc_option` over the option letters."""
    letters = _letters(choices)
    return selected_option(prediction, letters.index(gold_letter(answers, len(letters))), list(letters))


TASK = TaskSpec(
    name="mmstar",
    display_name="MMStar",
    hf_id="Lin-Chen/MMStar",
    split="val",
    kind="multiple_choice",
    to_item=read_row,
    scoring={
        "official": TaskMetric("mmstar_accuracy", (), official_score),
        "molmo": TaskMetric("mc", (), cleaned(molmo_score)),
    },
    breakdown=("category", "l2_category"),
)
