"""MMStar through lmms-eval's `mmstar` task (lmms-eval 0.7.3 lmms_eval/tasks/mmstar/), which scores with its own
letter extraction (`extract_mcq_answer`) rather than MMStar's rule; the official definition is MMStar's script."""

from typing import Any

from evals.items import EvalItem
from evals.tasks.oracle import Difference, Example, LmmsOracle, letter_alone


def official(prediction: str, doc: dict[str, Any]) -> dict[str, Any]:
    """MMStar-Benchmark/MMStar eval/vlmeval/evaluate/mmstar.py `MMStar_eval`, its test of one line, with its
    control flow: the tests in turn, an index past the end counting as a miss."""
    answer = str(doc["answer"]).lower().strip().replace("\n", " ")
    predict = str(prediction).lower().strip().replace("\n", " ")
    try:
        hit = (answer == predict[0] or (predict[0] == "(" and answer == predict[1])
               or (predict[0:7] == "option " and answer == predict[7])
               or (predict[0:14] == "the answer is " and answer == predict[14]))
    except IndexError:
        hit = False
    return {"score": float(hit)}


def lmms_result(result: dict[str, Any]) -> tuple[float, Any]:
    return float(result["average"]["score"]), None


def official_forms(item: EvalItem, gold: str) -> list[str]:
    """The forms MMStar's rule reads, in other cases and spacings, and prefixes with nothing after them."""
    option = item.choices[ord(gold) - ord("A")] if item.choices else ""
    low = gold.lower()
    return [f"option {low}", f"OPTION {gold}", f"the answer is {low}", f"The Answer Is ({gold})", f"({low}",
            f"the answer\nis {gold}", f"answer is {gold}", f"{low}) {option}", f"{gold}{option}", "(", "option ",
            "the answer is ", f"  {gold}  ", f"\n\n{gold}"]


EXTRACTION = Difference(
    "mmstar-extraction",
    "MMStar's evaluation reads only the answer's first character, or the one after \"(\", \"option \" or \"the "
    "answer is \"; lmms-eval's extract_mcq_answer ranks capital letters anywhere in the output by form and position",
    lambda case: not letter_alone(case.prediction),
)
LOWER_CASE = Difference(
    "mmstar-lower-case",
    "MMStar's evaluation lower-cases the answer and the output, so \"b\" is B; lmms-eval's extract_mcq_answer reads "
    "capital letters only",
    lambda case: letter_alone(case.prediction) and case.prediction.strip()[0].islower(),
)

ORACLE = LmmsOracle(
    task="mmstar",
    target=lambda item: item.answers[0],
    lmms_result=lmms_result,
    official=official,
    predictions=official_forms,
    options_in_text=False,
    differences=(EXTRACTION, LOWER_CASE),
    examples=(
        Example(EXTRACTION, 0, "The answer is (B)", "B (coloured geometric shapes)", ours=0, lmms=1),
        Example(LOWER_CASE, 0, "b", "B (coloured geometric shapes)", ours=1, lmms=0),
    ),
)
