"""How each of the 11 benchmarks scores one model answer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from evals.metrics.anls import anls
from evals.metrics.counting import count_scores
from evals.metrics.math import (
    AnswerJudge,
    mathvista_score,
    mmmu_open_correct,
    parse_mmmu_choice,
    parse_mmmu_open,
)
from evals.metrics.multiple_choice import LETTERS, extract_choice, is_option_letter
from evals.metrics.relaxed import relaxed_accuracy
from evals.metrics.text import clean_prediction
from evals.metrics.vqa import molmo_normalize_answer, normalize_answer, vqa_scores


@dataclass(frozen=True)
class ItemScore:
    """The score of one answer: `score` in [0, 1] (the task's primary metric), the extracted answer `parsed`
    (None: nothing could be read from the output), and secondary metrics, each in [0, 1]."""

    score: float
    parsed: str | None
    secondary: dict[str, float] = field(default_factory=dict)


Scorer = Callable[[str, list[str], list[str] | None, dict[str, Any]], ItemScore]


@dataclass(frozen=True)
class TaskMetric:
    """How a task is scored: the primary metric's name, the secondary ones, whether Molmo's prediction clean-up
    (`clean_prediction`) runs first, and the scoring function."""

    metric: str
    secondary: tuple[str, ...]
    clean: bool
    scorer: Scorer


def _gold_letter(answers: list[str], n_options: int) -> str:
    letter = answers[0].strip().upper()
    if not is_option_letter(letter, n_options):
        raise ValueError(f"the answer must be an option letter A-{LETTERS[n_options - 1]}, got {answers[0]!r}")
    return letter


def _multiple_choice(prediction: str, answer: str, choices: list[str], labelled: bool) -> ItemScore:
    letter, method = extract_choice(prediction, choices, labelled=labelled)
    return ItemScore(float(letter == answer), letter, {"nearest_option": float(method == "nearest")})


def _score_ai2d(prediction: str, answers: list[str], choices: list[str] | None, meta: dict[str, Any]) -> ItemScore:
    if not choices:
        raise ValueError("ai2d is multiple choice: the item needs its choices")
    labelled = not meta.get("unlabelled_options", False)
    return _multiple_choice(prediction, _gold_letter(answers, len(choices)), choices, labelled)


def _score_realworldqa(
    prediction: str, answers: list[str], choices: list[str] | None, meta: dict[str, Any]
) -> ItemScore:
    """Multiple choice when the answer is a letter A-D (options A-D when the item lists none); else Molmo's
    normalised exact match (harness.md §5.7)."""
    if is_option_letter(answers[0].strip(), 4):
        options = choices or list(LETTERS[:4])
        return _multiple_choice(prediction, _gold_letter(answers, len(options)), options, labelled=True)
    predicted = molmo_normalize_answer(prediction)
    correct = any(predicted == molmo_normalize_answer(answer) for answer in answers)
    return ItemScore(float(correct), predicted or None)


def _score_vqa(prediction: str, answers: list[str], choices: list[str] | None, meta: dict[str, Any]) -> ItemScore:
    official, molmo = vqa_scores(prediction, answers)
    return ItemScore(official, normalize_answer(prediction) or None, {"vqa_molmo": molmo})


def _score_anls(prediction: str, answers: list[str], choices: list[str] | None, meta: dict[str, Any]) -> ItemScore:
    return ItemScore(anls(prediction, answers), prediction or None)


def _score_relaxed(prediction: str, answers: list[str], choices: list[str] | None, meta: dict[str, Any]) -> ItemScore:
    return ItemScore(relaxed_accuracy(prediction, answers), prediction or None)


def _score_mmmu(prediction: str, answers: list[str], choices: list[str] | None, meta: dict[str, Any]) -> ItemScore:
    """Multiple choice when the item has choices, else an open question (official MMMU parsers)."""
    if choices:
        letter = parse_mmmu_choice(prediction, choices)
        return ItemScore(float(letter == _gold_letter(answers, len(choices))), letter)
    if not prediction.strip():
        return ItemScore(0.0, None)
    candidates = parse_mmmu_open(prediction)
    return ItemScore(float(mmmu_open_correct(candidates, answers)), " | ".join(map(str, candidates)))


def _score_mathvista(
    prediction: str,
    answers: list[str],
    choices: list[str] | None,
    meta: dict[str, Any],
    judge: AnswerJudge | None = None,
) -> ItemScore:
    parsed, score = mathvista_score(prediction, answers[0], choices=choices, meta=meta, judge=judge)
    return ItemScore(score, parsed)


def _score_count(prediction: str, answers: list[str], choices: list[str] | None, meta: dict[str, Any]) -> ItemScore:
    count, exact, close = count_scores(prediction, answers[0])
    return ItemScore(exact, None if count is None else str(count), {"within_1": close})


_VQA = TaskMetric("vqa_accuracy", ("vqa_molmo",), clean=True, scorer=_score_vqa)
_ANLS = TaskMetric("anls", (), clean=True, scorer=_score_anls)
_COUNT = TaskMetric("count_accuracy", ("within_1",), clean=False, scorer=_score_count)
_MC = ("nearest_option",)

TASK_METRICS: dict[str, TaskMetric] = {
    "ai2d": TaskMetric("mc_accuracy", _MC, clean=True, scorer=_score_ai2d),
    "chartqa": TaskMetric("relaxed_accuracy", (), clean=True, scorer=_score_relaxed),
    "vqav2": _VQA,
    "docvqa": _ANLS,
    "infovqa": _ANLS,
    "textvqa": _VQA,
    "realworldqa": TaskMetric("mc_or_exact_match", _MC, clean=True, scorer=_score_realworldqa),
    "mmmu": TaskMetric("mmmu_accuracy", (), clean=True, scorer=_score_mmmu),
    "mathvista": TaskMetric("mathvista_accuracy", (), clean=False, scorer=_score_mathvista),
    "countbenchqa": _COUNT,
    "pixmo_count": _COUNT,
}


def task_metric(task: str) -> TaskMetric:
    """The scoring of `task`; ValueError naming the valid tasks if it is unknown."""
    try:
        return TASK_METRICS[task]
    except KeyError:
        raise ValueError(f"unknown task {task!r}; valid tasks: {', '.join(TASK_METRICS)}") from None


def score_item(
    task: str,
    prediction: str,
    answers: list[str],
    choices: list[str] | None = None,
    meta: dict[str, Any] | None = None,
    *,
    judge: AnswerJudge | None = None,
) -> ItemScore:
    """Score one raw model output of `task` against its ground-truth `answers`.

    Multiple-choice items pass the option texts as `choices` and the correct letter as `answers[0]`. Molmo's
    prediction clean-up (keep what follows "Answer:", most common of several lines) runs first for the
    VQA-family tasks, as in Molmo's evaluator. An answer `judge` is only used by MathVista.
    """
    spec = task_metric(task)
    if not answers:
        raise ValueError(f"{task}: an item needs at least one ground-truth answer")
    if spec.clean:
        prediction = clean_prediction(prediction)
    if judge is not None:
        if spec.scorer is not _score_mathvista:
            raise ValueError(f"an answer judge only applies to mathvista, not {task}")
        return _score_mathvista(prediction, answers, choices, meta or {}, judge)
    return spec.scorer(prediction, answers, choices, meta or {})
