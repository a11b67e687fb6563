"""MMMU through lmms-eval's `mmmu_val` task (lmms-eval 0.7.3 lmms_eval/tasks/mmmu/), which carries MMMU's
open-question parser; its multiple-choice parser reads more forms than MMMU's eval_utils.py."""

import ast
from typing import Any

from evals.items import EvalItem
from evals.tasks.oracle import Difference, Example, LmmsOracle, OracleCase, numbers, wrappers


def eval_utils_choice(response: str, options: list[str]) -> str | None:
    """MMMU eval_utils.py `parse_multi_choice_response` as the script runs it, up to its random pick (None)."""
    letters = [chr(65 + k) for k in range(len(options))]
    for mark in [",", ".", "!", "?", ";", ":", "'"]:
        response = response.strip(mark)
    response = f" {response} "
    candidates = [letter for letter in letters if f"({letter})" in response]
    marks = [f"({letter})" for letter in candidates]
    if not candidates:
        candidates = [letter for letter in letters if f" {letter} " in response]
        marks = [f" {letter} " for letter in candidates]
    if not candidates and len(response.split()) > 5:
        response = response.lower()
        candidates = [letter for letter, option in zip(letters, options, strict=True) if option.lower() in response]
        marks = [options[letters.index(letter)].lower() for letter in candidates]
    if not candidates:
        return None
    starts = [response.rfind(mark) for mark in marks]
    return candidates[starts.index(max(starts))]


def official(prediction: str, doc: dict[str, Any]) -> dict[str, Any]:
    """Multiple choice: eval_utils.py's parser as above. Open questions: MMMU's parse_open_response and eval_open
    (lmms-eval's copies); its answer_dict_val.json lists an open question's accepted answers, whose repr the hub
    row holds."""
    if doc["question_type"] != "open":
        return {"parsed": eval_utils_choice(prediction, ast.literal_eval(doc["options"]))}
    from lmms_eval.tasks.mmmu.utils import eval_open, parse_open_response

    answer = ast.literal_eval(doc["answer"]) if doc["answer"].startswith("[") else doc["answer"]
    return {"score": float(eval_open(answer, parse_open_response(prediction)))}


def lmms_result(result: dict[str, Any]) -> tuple[float, Any]:
    """The document's accuracy through lmms-eval's own aggregation, and the answer it parsed."""
    from lmms_eval.tasks.mmmu.utils import evaluate_mmmu

    sample = result["mmmu_acc"]
    return evaluate_mmmu([sample])[1]["acc"], sample["parsed_pred"][0]


def open_forms(item: EvalItem, gold: str) -> list[str]:
    """An open answer inside the sentences MMMU's parser cuts at."""
    if item.choices:
        return []
    return [f"so the answer is {gold}", f"x = {gold}", f"The result is {gold} m.", f"It could be {gold}"]


def single_answer(item: EvalItem) -> list[tuple[str, dict[str, Any]]]:
    """An open question with one accepted answer, as most have."""
    if item.choices:
        return []
    single = item.answers[-1]
    return [(prediction, {"answer": single}) for prediction in
            wrappers(single) + numbers(single) + [f"so the answer is {single}", f"x = {single}"]]


def _lmms_extra_form(case: OracleCase) -> bool:
    """lmms-eval's letter forms that MMMU's eval_utils.py lacks: "X " without a space before it, and "X."."""
    letter = case.lmms["parsed"]
    padded = f" {case.prediction.strip().strip(',.!?;:' + chr(39))} "
    return f"{letter} " in padded or f"{letter}." in padded


UNPARSED = Difference(
    "mmmu-unparsed",
    "when MMMU's parser finds no option, eval_utils.py picks one at random: we score the expected value 1/n and "
    "count the answer unparsed, lmms-eval draws a letter",
    lambda case: case.ours.parsed is None and not _lmms_extra_form(case),
)
LETTER_FORMS = Difference(
    "mmmu-letter-forms",
    "lmms-eval's MMMU parser also reads a letter followed by a space without one before it, and \"X.\"; "
    "eval_utils.py reads only \"(X)\" and \" X \", so these answers are unparsed officially",
    lambda case: case.ours.parsed is None and _lmms_extra_form(case),
)
ANSWER_LIST = Difference(
    "mmmu-answer-list",
    "an open question with several accepted answers holds their list's repr in the hub row; MMMU's "
    "answer_dict_val.json has the list, which we read; lmms-eval compares against the repr as one string",
    lambda case: not case.item.choices and len(case.item.answers) > 1,
)

ORACLE = LmmsOracle(
    task="mmmu_val",
    target=lambda item: repr(item.answers) if len(item.answers) > 1 else item.answers[0],
    lmms_result=lmms_result,
    official=official,
    predictions=open_forms,
    variants=single_answer,
    differences=(UNPARSED, LETTER_FORMS, ANSWER_LIST),
    examples=(
        Example(UNPARSED, 0, "I cannot tell", "B (55 cm^2)", ours=0.25, lmms=0),
        Example(LETTER_FORMS, 0, "A. 12 cm^2", "B (55 cm^2)", ours=0.25, lmms=0),
        Example(ANSWER_LIST, 1, "0.125", "1/8 or 0.125", ours=1, lmms=0, overrides={"answer": "['1/8', '0.125']"}),
    ),
)
