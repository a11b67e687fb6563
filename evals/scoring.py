"""Scoring one answer of any benchmark under a scoring profile, through the benchmark folders' bindings.

`official` (the default): each benchmark's official scorer applied to the raw output, where one exists, else the
rules docs/scoring.md sets out. `molmo`: the Molmo release's pipeline (allenai/molmo olmo/eval/evaluators.py),
its output clean-up and metric variants, the numbers the Molmo paper's table comes from. Which scorer a task uses
under each profile is declared in its folder (`evals/tasks/<name>/`, `TaskSpec.scoring`).
"""

from __future__ import annotations

from typing import Any

from evals.metrics.judge import AnswerJudge
from evals.metrics.scorers import DEFAULT_PROFILE, PROFILES, ItemScore, TaskMetric
from evals.metrics.text import molmo_clean_prediction
from evals.tasks import TASKS, get_task

__all__ = ["DEFAULT_PROFILE", "PROFILES", "ItemScore", "TaskMetric", "answer_text", "score_item", "task_metric"]


def _check_profile(profile: str) -> None:
    if profile not in PROFILES:
        raise ValueError(f"unknown scoring profile {profile!r}; valid profiles: {', '.join(PROFILES)}")


def task_metric(task: str, profile: str = DEFAULT_PROFILE) -> TaskMetric:
    """The scoring of `task` under `profile`; ValueError naming the valid profiles or tasks otherwise."""
    _check_profile(profile)
    return get_task(task).scoring[profile]


def judged_tasks() -> list[str]:
    """The tasks whose scorers can ask an answer judge."""
    return [name for name, spec in TASKS.items() if spec.scoring[DEFAULT_PROFILE].judged]


def answer_text(prediction: str, profile: str = DEFAULT_PROFILE) -> str:
    """The answer a profile submits to an evaluation server (VQA v2 test-dev, DocVQA/InfographicVQA test): the
    output as it is, stripped (the servers' scripts normalise it themselves), or the release's clean-up."""
    _check_profile(profile)
    return molmo_clean_prediction(prediction) if profile == "molmo" else prediction.strip()


def score_item(
    task: str,
    prediction: str,
    answers: list[str],
    choices: list[str] | None = None,
    meta: dict[str, Any] | None = None,
    *,
    profile: str = DEFAULT_PROFILE,
    judge: AnswerJudge | None = None,
) -> ItemScore:
    """Score one raw model output of `task` against its ground-truth `answers` under a scoring `profile`.

    Multiple-choice items pass the option texts as `choices` and the correct letter as `answers[0]`. An answer
    `judge` (the LLM step of MathVista's official extraction) only applies to tasks whose scorer asks one.
    """
    metric = task_metric(task, profile)
    if not answers:
        raise ValueError(f"{task}: an item needs at least one ground-truth answer")
    if judge is not None and not metric.judged:
        raise ValueError(f"an answer judge only applies to {', '.join(judged_tasks())}, not {task}")
    return metric.scorer(prediction, answers, choices, meta or {}, judge)
