"""RealWorldQA (x.ai 2024), the test split of lmms-lab-encoder/RealWorldQA: driving and everyday scenes.

Schema: `question` (x.ai's text, options and instruction included), `answer`, `image`; rows carry no id, the row
index is the item id. The options are only in the question text, one per line as "A. text": a row whose answer
is one of those letters is multiple choice, any other row a short-answer question. RealWorldQA ships no scoring
script: officially, multiple choice is read with our deterministic rules and short answers compared after
vqaEval.py's normalisation (docs/scoring.md); the molmo profile is the release's `real_world_qa_score`.
"""

from __future__ import annotations

import re
from typing import Any

from evals.items import EvalItem
from evals.metrics.judge import AnswerJudge
from evals.metrics.multiple_choice import LETTERS, is_option_letter
from evals.metrics.scorers import (
    ItemScore,
    TaskMetric,
    cleaned,
    extracted_choice,
    gold_letter,
    or_none,
    selected_option,
)
from evals.metrics.vqa import molmo_normalize, vqa_normalize
from evals.tasks.fields import image_bytes, letter, text
from evals.tasks.spec import TaskSpec

_OPTION_LINE = re.compile(r"^([A-Z])\.\s+(.+?)\s*$", re.MULTILINE)


def read_row(row: dict[str, Any], index: int) -> EvalItem:
    """One row: the options parsed from the question when its answer is one of their letters."""
    question = text(row, "question")
    answer = text(row, "answer").strip()
    options = _OPTION_LINE.findall(question)
    letters = [name for name, _ in options]
    is_choice = bool(options) and letters == [letter(i) for i in range(len(options))] and answer in letters
    return EvalItem(
        id=str(index),
        question=question,
        answers=[answer],
        images=(image_bytes(row, "image"),),
        choices=[option for _, option in options] if is_choice else None,
        meta={"format": "multiple_choice" if is_choice else "short"},
    )


def official_score(prediction: str, answers: list[str], choices: list[str] | None, meta: dict[str, Any],
                   judge: AnswerJudge | None) -> ItemScore:
    """Multiple choice when the answer is a letter A-D (options A-D when the item lists none); else the VQA
    normalisation's exact match."""
    if is_option_letter(answers[0].strip(), 4):
        options = choices or list(LETTERS[:4])
        return extracted_choice(prediction, gold_letter(answers, len(options)), options, labelled=True)
    predicted = vqa_normalize(prediction)
    return ItemScore(float(any(predicted == vqa_normalize(answer) for answer in answers)), or_none(predicted))


def molmo_score(prediction: str, answers: list[str], choices: list[str] | None, meta: dict[str, Any],
                judge: AnswerJudge | None) -> ItemScore:
    """The release's `real_world_qa_score`: `select_mc_option` over A-D, else `preprocess_answer` equality."""
    if is_option_letter(answers[0].strip(), 4):
        return selected_option(prediction, LETTERS.index(gold_letter(answers, 4)), list(LETTERS[:4]))
    predicted = molmo_normalize(prediction)
    return ItemScore(float(predicted == molmo_normalize(answers[0])), or_none(predicted))


TASK = TaskSpec(
    name="realworldqa",
    display_name="RealWorldQA",
    hf_id="lmms-lab-encoder/RealWorldQA",
    split="test",
    kind="multiple_choice",
    to_item=read_row,
    scoring={
        "official": TaskMetric("mc_or_exact_match", ("nearest_option",), official_score),
        "molmo": TaskMetric("real_world_qa_score", (), cleaned(molmo_score)),
    },
    paper_column="realworldqa",
)
