"""AI2D (Kembhavi et al. 2016), the test split of lmms-lab-encoder/ai2d: diagrams with four options.

Schema: `question`, `options` (list), `answer` (the option index as a string, "0".."3"; an int is accepted too),
`image`. Rows carry no id: the row index is the item id. AI2D ships no scoring script for generated answers, so
the official profile reads the option with our deterministic rules (docs/scoring.md); the molmo profile is the
release's `mc` metric.
"""

from __future__ import annotations

from typing import Any

from evals.items import EvalItem
from evals.metrics.judge import AnswerJudge
from evals.metrics.multiple_choice import LETTERS
from evals.metrics.scorers import (
    ItemScore,
    TaskMetric,
    cleaned,
    extracted_choice,
    gold_letter,
    require_choices,
    selected_option,
)
from evals.tasks.fields import FieldError, field, image_bytes, letter, strings, text
from evals.tasks.spec import TaskSpec


def read_row(row: dict[str, Any], index: int) -> EvalItem:
    """One row: the option index becomes the option's letter."""
    options = strings(row, "options")
    raw = field(row, "answer")
    try:
        answer = int(raw)
    except (TypeError, ValueError) as err:
        raise FieldError("answer", f"not an option index: {raw!r}") from err
    if not 0 <= answer < len(options):
        raise FieldError("answer", f"option index {answer} out of range for {len(options)} options")
    return EvalItem(
        id=str(index),
        question=text(row, "question"),
        answers=[letter(answer)],
        images=(image_bytes(row, "image"),),
        choices=options,
    )


def official_score(prediction: str, answers: list[str], choices: list[str] | None, meta: dict[str, Any],
                   judge: AnswerJudge | None) -> ItemScore:
    """Our multiple-choice reading; options shown without letters are read by their text."""
    choices = require_choices("ai2d", choices)
    labelled = not meta.get("unlabelled_options", False)
    return extracted_choice(prediction, gold_letter(answers, len(choices)), choices, labelled)


def molmo_score(prediction: str, answers: list[str], choices: list[str] | None, meta: dict[str, Any],
                judge: AnswerJudge | None) -> ItemScore:
    """The release's `mc` metric: the option names are the letters, or the option texts when the options were
    shown without letters (`ai2_diagram_no_letter`)."""
    choices = require_choices("ai2d", choices)
    names = choices if meta.get("unlabelled_options", False) else list(LETTERS[: len(choices)])
    return selected_option(prediction, LETTERS.index(gold_letter(answers, len(choices))), names)


TASK = TaskSpec(
    name="ai2d",
    display_name="AI2D",
    hf_id="lmms-lab-encoder/ai2d",
    split="test",
    kind="multiple_choice",
    to_item=read_row,
    scoring={
        "official": TaskMetric("mc_accuracy", ("nearest_option",), official_score),
        "molmo": TaskMetric("mc", (), cleaned(molmo_score)),
    },
    paper_column="ai2d",
)
