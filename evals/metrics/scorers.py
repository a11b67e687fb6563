"""What a benchmark's scorer is, and the scorers several benchmarks share.

A scorer turns one raw model output into an `ItemScore`, given the item's ground-truth answers, its option texts
(multiple choice), its meta fields and an optional answer judge. Each benchmark folder (`evals/tasks/<name>/`)
binds one `TaskMetric` per scoring profile: `official` (the benchmark's official script on the raw output, the
default) and `molmo` (the Molmo release's pipeline, allenai/molmo olmo/eval/evaluators.py, with its clean-up of
the output). docs/scoring.md describes both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from evals.metrics.anls import anls, molmo_anls
from evals.metrics.counting import count_scores, parse_count, release_count
from evals.metrics.judge import AnswerJudge
from evals.metrics.multiple_choice import LETTERS, extract_choice, is_option_letter, select_mc_option
from evals.metrics.text import collapse_whitespace, molmo_clean_prediction
from evals.metrics.vqa import molmo_normalize, molmo_vqa_score

PROFILES = ("official", "molmo")
DEFAULT_PROFILE = "official"


@dataclass(frozen=True)
class ItemScore:
    """The score of one answer: `score` in [0, 1] (the task's primary metric), the extracted answer `parsed`
    (None: nothing could be read from the output), and secondary metrics, each in [0, 1]."""

    score: float
    parsed: str | None
    secondary: dict[str, float] = field(default_factory=dict)


Scorer = Callable[[str, list[str], "list[str] | None", dict[str, Any], "AnswerJudge | None"], ItemScore]


@dataclass(frozen=True)
class TaskMetric:
    """How a task is scored under one profile: the primary metric's name, the secondary ones, the scorer, and
    whether the scorer can ask an answer judge (MathVista's GPT extraction step)."""

    metric: str
    secondary: tuple[str, ...]
    scorer: Scorer
    judged: bool = False


def gold_letter(answers: list[str], n_options: int) -> str:
    """The correct option's letter, checked to be one of the first `n_options`."""
    letter = answers[0].strip().upper()
    if not is_option_letter(letter, n_options):
        raise ValueError(f"the answer must be an option letter A-{LETTERS[n_options - 1]}, got {answers[0]!r}")
    return letter


def require_choices(task: str, choices: list[str] | None) -> list[str]:
    """The item's option texts; a multiple-choice item without them is refused by name."""
    if not choices:
        raise ValueError(f"{task} is multiple choice: the item needs its choices")
    return choices


def or_none(text: str) -> str | None:
    """An empty reading is no reading."""
    return text or None


def cleaned(scorer: Scorer) -> Scorer:
    """`scorer` run on the release's clean-up of the output (`molmo_clean_prediction`), as its `VqaEval` does."""

    def score(prediction: str, answers: list[str], choices: list[str] | None, meta: dict[str, Any],
              judge: AnswerJudge | None) -> ItemScore:
        return scorer(molmo_clean_prediction(prediction), answers, choices, meta, judge)

    return score


def extracted_choice(prediction: str, answer: str, choices: list[str], labelled: bool) -> ItemScore:
    """Our deterministic multiple-choice reading (`extract_choice`) against the correct letter; whether the nearest
    option had to be taken is the secondary metric `nearest_option`."""
    letter, method = extract_choice(prediction, choices, labelled=labelled)
    return ItemScore(float(letter == answer), letter, {"nearest_option": float(method == "nearest")})


def selected_option(prediction: str, answer: int, names: list[str]) -> ItemScore:
    """The release's `select_mc_option` over the option names against the correct option's index."""
    index = select_mc_option(prediction, names)
    return ItemScore(float(index == answer), LETTERS[index])


def answer_metric(metric: Callable[[str, list[str]], float], reading: Callable[[str], str]) -> Scorer:
    """A scorer from a metric of (prediction, answers) and the reading of the prediction it reports as parsed."""

    def score(prediction: str, answers: list[str], choices: list[str] | None, meta: dict[str, Any],
              judge: AnswerJudge | None) -> ItemScore:
        return ItemScore(metric(prediction, answers), or_none(reading(prediction)))

    return score


# The RRC ANLS script (DocVQA, InfographicVQA), the release's `anls_metric` and its `vqa_score` (VQA v2, TextVQA).
anls_score = answer_metric(anls, collapse_whitespace)
molmo_anls_score = answer_metric(molmo_anls, str)
molmo_vqa = answer_metric(molmo_vqa_score, molmo_normalize)


def _count(count: int | None, answers: list[str]) -> ItemScore:
    exact, close = count_scores(count, answers[0])
    return ItemScore(exact, None if count is None else str(count), {"within_1": close})


def count_score(prediction: str, answers: list[str], choices: list[str] | None, meta: dict[str, Any],
                judge: AnswerJudge | None) -> ItemScore:
    """Our counting reading (`parse_count`); within-one as the secondary metric."""
    return _count(parse_count(prediction), answers)


def molmo_count_score(prediction: str, answers: list[str], choices: list[str] | None, meta: dict[str, Any],
                      judge: AnswerJudge | None) -> ItemScore:
    """The release's `PointCountEval` reading, without clean-up."""
    return _count(release_count(prediction), answers)


# The bindings benchmarks share: DocVQA and InfographicVQA (the RRC's ANLS), CountBenchQA and PixMo-Count.
ANLS_SCORING = {
    "official": TaskMetric("anls", (), anls_score),
    "molmo": TaskMetric("ansl", (), cleaned(molmo_anls_score)),
}
COUNT_SCORING = {
    "official": TaskMetric("count_accuracy", ("within_1",), count_score),
    "molmo": TaskMetric("correct", ("within_1",), molmo_count_score),
}
