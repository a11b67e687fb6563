"""How each of the 11 benchmarks scores one model answer, under each scoring profile.

`official` (the default): each benchmark's official scorer applied to the raw output, where one exists, else
the rules docs/scoring.md sets out. `molmo`: the Molmo release's pipeline (allenai/molmo olmo/eval/
evaluators.py), its output clean-up and metric variants, the numbers the Molmo paper's table comes from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from evals.metrics.anls import anls, molmo_anls
from evals.metrics.counting import count_scores, parse_count, release_count
from evals.metrics.judge import AnswerJudge
from evals.metrics.mathvista import mathvista_molmo, mathvista_official
from evals.metrics.mmmu import mmmu_choice_score, mmmu_open_correct, parse_mmmu_open
from evals.metrics.multiple_choice import LETTERS, extract_choice, is_option_letter, select_mc_option
from evals.metrics.relaxed import relaxed_accuracy
from evals.metrics.text import collapse_whitespace, molmo_clean_prediction
from evals.metrics.vqa import (
    evalai_normalize,
    molmo_normalize,
    molmo_vqa_score,
    textvqa_accuracy,
    vqa_normalize,
    vqa_v2_accuracy,
)

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
    """How a task is scored under one profile: the primary metric's name, the secondary ones, the scorer."""

    metric: str
    secondary: tuple[str, ...]
    scorer: Scorer


def _gold_letter(answers: list[str], n_options: int) -> str:
    letter = answers[0].strip().upper()
    if not is_option_letter(letter, n_options):
        raise ValueError(f"the answer must be an option letter A-{LETTERS[n_options - 1]}, got {answers[0]!r}")
    return letter


def _choices(task: str, choices: list[str] | None) -> list[str]:
    if not choices:
        raise ValueError(f"{task} is multiple choice: the item needs its choices")
    return choices


def _or_none(text: str) -> str | None:
    return text or None


# ---------------------------------------------------------------------------------------------- official


def _extracted_choice(prediction: str, answer: str, choices: list[str], labelled: bool) -> ItemScore:
    letter, method = extract_choice(prediction, choices, labelled=labelled)
    return ItemScore(float(letter == answer), letter, {"nearest_option": float(method == "nearest")})


def _ai2d(prediction: str, answers: list[str], choices: list[str] | None, meta: dict[str, Any],
          judge: AnswerJudge | None) -> ItemScore:
    choices = _choices("ai2d", choices)
    labelled = not meta.get("unlabelled_options", False)
    return _extracted_choice(prediction, _gold_letter(answers, len(choices)), choices, labelled)


def _realworldqa(prediction: str, answers: list[str], choices: list[str] | None, meta: dict[str, Any],
                 judge: AnswerJudge | None) -> ItemScore:
    """Multiple choice when the answer is a letter A-D (options A-D when the item lists none); else the VQA
    normalisation's exact match."""
    if is_option_letter(answers[0].strip(), 4):
        options = choices or list(LETTERS[:4])
        return _extracted_choice(prediction, _gold_letter(answers, len(options)), options, labelled=True)
    predicted = vqa_normalize(prediction)
    return ItemScore(float(any(predicted == vqa_normalize(answer) for answer in answers)), _or_none(predicted))


def _chartqa(prediction: str, answers: list[str], choices: list[str] | None, meta: dict[str, Any],
             judge: AnswerJudge | None) -> ItemScore:
    return ItemScore(relaxed_accuracy(prediction, answers), _or_none(prediction.strip()))


def _vqav2(prediction: str, answers: list[str], choices: list[str] | None, meta: dict[str, Any],
           judge: AnswerJudge | None) -> ItemScore:
    return ItemScore(vqa_v2_accuracy(prediction, answers), _or_none(vqa_normalize(prediction)))


def _textvqa(prediction: str, answers: list[str], choices: list[str] | None, meta: dict[str, Any],
             judge: AnswerJudge | None) -> ItemScore:
    return ItemScore(textvqa_accuracy(prediction, answers), _or_none(evalai_normalize(prediction)))


def _anls(prediction: str, answers: list[str], choices: list[str] | None, meta: dict[str, Any],
          judge: AnswerJudge | None) -> ItemScore:
    return ItemScore(anls(prediction, answers), _or_none(collapse_whitespace(prediction)))


def _mmmu(prediction: str, answers: list[str], choices: list[str] | None, meta: dict[str, Any],
          judge: AnswerJudge | None) -> ItemScore:
    """Multiple choice when the item has choices, else an open question (MMMU's eval_utils.py)."""
    if choices:
        letter, score = mmmu_choice_score(prediction, choices, _gold_letter(answers, len(choices)))
        return ItemScore(score, letter)
    candidates = parse_mmmu_open(prediction)
    parsed = " | ".join(map(str, candidates)) if prediction.strip() else None
    return ItemScore(float(mmmu_open_correct(candidates, answers)), parsed)


def mathvista_answer(answers: list[str], choices: list[str] | None, meta: dict[str, Any]) -> str:
    """The dataset's answer string: `meta["answer"]` as read from the row, else the option a gold letter names,
    else the answer as given."""
    if "answer" in meta:
        return str(meta["answer"])
    if choices and is_option_letter(answers[0], len(choices)):
        return choices[LETTERS.index(answers[0])]
    return answers[0]


def _mathvista(prediction: str, answers: list[str], choices: list[str] | None, meta: dict[str, Any],
               judge: AnswerJudge | None) -> ItemScore:
    parsed = mathvista_official(prediction, choices=choices, meta=meta, judge=judge)
    return ItemScore(float(parsed == mathvista_answer(answers, choices, meta)), parsed)


def _count(count: int | None, answers: list[str]) -> ItemScore:
    exact, close = count_scores(count, answers[0])
    return ItemScore(exact, None if count is None else str(count), {"within_1": close})


def _counting(prediction: str, answers: list[str], choices: list[str] | None, meta: dict[str, Any],
              judge: AnswerJudge | None) -> ItemScore:
    return _count(parse_count(prediction), answers)


# ---------------------------------------------------------------------------------------------- molmo


def _cleaned(scorer: Scorer) -> Scorer:
    """`scorer` run on the release's clean-up of the output (`molmo_clean_prediction`), as its `VqaEval` does."""

    def score(prediction: str, answers: list[str], choices: list[str] | None, meta: dict[str, Any],
              judge: AnswerJudge | None) -> ItemScore:
        return scorer(molmo_clean_prediction(prediction), answers, choices, meta, judge)

    return score


def _selected(prediction: str, answer: int, names: list[str]) -> ItemScore:
    index = select_mc_option(prediction, names)
    return ItemScore(float(index == answer), LETTERS[index])


def _molmo_ai2d(prediction: str, answers: list[str], choices: list[str] | None, meta: dict[str, Any],
                judge: AnswerJudge | None) -> ItemScore:
    """The release's `mc` metric: the option names are the letters, or the option texts when the options were
    shown without letters (`ai2_diagram_no_letter`)."""
    choices = _choices("ai2d", choices)
    names = choices if meta.get("unlabelled_options", False) else list(LETTERS[: len(choices)])
    return _selected(prediction, LETTERS.index(_gold_letter(answers, len(choices))), names)


def _molmo_realworldqa(prediction: str, answers: list[str], choices: list[str] | None, meta: dict[str, Any],
                       judge: AnswerJudge | None) -> ItemScore:
    """The release's `real_world_qa_score`: `select_mc_option` over A-D, else `preprocess_answer` equality."""
    if is_option_letter(answers[0].strip(), 4):
        return _selected(prediction, LETTERS.index(_gold_letter(answers, 4)), list(LETTERS[:4]))
    predicted = molmo_normalize(prediction)
    return ItemScore(float(predicted == molmo_normalize(answers[0])), _or_none(predicted))


def _molmo_vqa(prediction: str, answers: list[str], choices: list[str] | None, meta: dict[str, Any],
               judge: AnswerJudge | None) -> ItemScore:
    return ItemScore(molmo_vqa_score(prediction, answers), _or_none(molmo_normalize(prediction)))


def _molmo_anls(prediction: str, answers: list[str], choices: list[str] | None, meta: dict[str, Any],
                judge: AnswerJudge | None) -> ItemScore:
    return ItemScore(molmo_anls(prediction, answers), _or_none(prediction))


def _molmo_mmmu(prediction: str, answers: list[str], choices: list[str] | None, meta: dict[str, Any],
                judge: AnswerJudge | None) -> ItemScore:
    """The release's `mmmu_score`: MMMU's parsers, empty options dropped first."""
    return _mmmu(prediction, answers, [c for c in choices if c] if choices else None, meta, judge)


def _molmo_mathvista(prediction: str, answers: list[str], choices: list[str] | None, meta: dict[str, Any],
                     judge: AnswerJudge | None) -> ItemScore:
    parsed = mathvista_molmo(prediction, choices=choices, meta=meta, judge=judge)
    return ItemScore(float(parsed == mathvista_answer(answers, choices, meta)), parsed)


def _molmo_counting(prediction: str, answers: list[str], choices: list[str] | None, meta: dict[str, Any],
                    judge: AnswerJudge | None) -> ItemScore:
    return _count(release_count(prediction), answers)


_MC = ("nearest_option",)
_WITHIN_1 = ("within_1",)

PROFILES: dict[str, dict[str, TaskMetric]] = {
    "official": {
        "ai2d": TaskMetric("mc_accuracy", _MC, _ai2d),
        "chartqa": TaskMetric("relaxed_accuracy", (), _chartqa),
        "vqav2": TaskMetric("vqa_accuracy", (), _vqav2),
        "docvqa": TaskMetric("anls", (), _anls),
        "infovqa": TaskMetric("anls", (), _anls),
        "textvqa": TaskMetric("vqa_accuracy", (), _textvqa),
        "realworldqa": TaskMetric("mc_or_exact_match", _MC, _realworldqa),
        "mmmu": TaskMetric("mmmu_accuracy", (), _mmmu),
        "mathvista": TaskMetric("mathvista_accuracy", (), _mathvista),
        "countbenchqa": TaskMetric("count_accuracy", _WITHIN_1, _counting),
        "pixmo_count": TaskMetric("count_accuracy", _WITHIN_1, _counting),
    },
    "molmo": {
        "ai2d": TaskMetric("mc", (), _cleaned(_molmo_ai2d)),
        "chartqa": TaskMetric("relaxed_correctness", (), _cleaned(_chartqa)),
        "vqav2": TaskMetric("vqa_score", (), _cleaned(_molmo_vqa)),
        "docvqa": TaskMetric("ansl", (), _cleaned(_molmo_anls)),
        "infovqa": TaskMetric("ansl", (), _cleaned(_molmo_anls)),
        "textvqa": TaskMetric("vqa_score", (), _cleaned(_molmo_vqa)),
        "realworldqa": TaskMetric("real_world_qa_score", (), _cleaned(_molmo_realworldqa)),
        "mmmu": TaskMetric("mmmu_score", (), _cleaned(_molmo_mmmu)),
        "mathvista": TaskMetric("math_vista_score", (), _cleaned(_molmo_mathvista)),
        "countbenchqa": TaskMetric("correct", _WITHIN_1, _molmo_counting),
        "pixmo_count": TaskMetric("correct", _WITHIN_1, _molmo_counting),
    },
}
TASK_METRICS = PROFILES[DEFAULT_PROFILE]


def task_metric(task: str, profile: str = DEFAULT_PROFILE) -> TaskMetric:
    """The scoring of `task` under `profile`; ValueError naming the valid profiles or tasks otherwise."""
    if profile not in PROFILES:
        raise ValueError(f"unknown scoring profile {profile!r}; valid profiles: {', '.join(PROFILES)}")
    try:
        return PROFILES[profile][task]
    except KeyError:
        raise ValueError(f"unknown task {task!r}; valid tasks: {', '.join(TASK_METRICS)}") from None


def answer_text(prediction: str, profile: str = DEFAULT_PROFILE) -> str:
    """The answer a profile submits to an evaluation server (VQA v2 test-dev, DocVQA/InfographicVQA test): the
    output as it is, stripped (the servers' scripts normalise it themselves), or the release's clean-up."""
    task_metric("vqav2", profile)  # an unknown profile is refused by name
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
    `judge` (the LLM step of MathVista's official extraction) only applies to MathVista.
    """
    spec = task_metric(task, profile)
    if not answers:
        raise ValueError(f"{task}: an item needs at least one ground-truth answer")
    if judge is not None and task != "mathvista":
        raise ValueError(f"an answer judge only applies to mathvista, not {task}")
    return spec.scorer(prediction, answers, choices, meta or {}, judge)
