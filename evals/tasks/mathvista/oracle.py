"""MathVista through lmms-eval's `mathvista_testmini_format` task (lmms-eval 0.7.3 lmms_eval/tasks/mathvista/),
which carries MathVista's extraction; without OPENAI_API_KEY its GPT step extracts nothing
(`evals.lmms_bridge.judge_without_key`)."""

from typing import Any

from evals.items import EvalItem
from evals.tasks.oracle import Difference, Example, LmmsOracle, OracleCase


def official(prediction: str, doc: dict[str, Any]) -> dict[str, Any]:
    """MathVista's extract_answer and normalize_extracted_answer (lmms-eval's copies) with the quick-extraction rule
    on and the GPT step replaced by the response itself, the definition our scorer implements without a judge; the
    precision as an int, as calculate_score.py passes it."""
    from lmms_eval.tasks.mathvista.utils import mathvista_evaluator

    class Identity(type(mathvista_evaluator)):
        def create_test_prompt(self, demo_prompt: str, query: str, response: str) -> str:
            return response

        def get_chat_response(self, prompt: str, *args: Any, **kwargs: Any) -> str:
            return prompt

    problem = {key: doc[key] for key in ("question_type", "answer_type", "query", "choices")}
    extraction = Identity().extract_answer(prediction.strip(), problem, quick_extract=True)
    precision = int(doc["precision"]) if doc["answer_type"] == "float" else 0
    return {"parsed": mathvista_evaluator.normalize_extracted_answer(extraction, doc["choices"], doc["question_type"],
                                                                      doc["answer_type"], precision)}


def lmms_result(result: dict[str, Any]) -> tuple[float, Any]:
    sample = result["llm_as_judge_eval"]
    return float(sample["true_false"]), sample["prediction"]


def gold(item: EvalItem) -> str:
    """The option's text (the prompt asks for it), else the answer."""
    return item.choices[ord(item.answers[0]) - ord("A")] if item.choices else item.answers[0]


def _needs_the_judge(case: OracleCase) -> bool:
    response, item = case.prediction.strip(), case.item
    if item.choices:
        return response not in item.choices
    kind = {"integer": int, "float": float}.get(item.meta.get("answer_type"))
    try:
        kind(response)
    except (TypeError, ValueError):
        return True
    return False


NO_JUDGE = Difference(
    "mathvista-no-judge",
    "where MathVista's extraction needs GPT, lmms-eval without OPENAI_API_KEY extracts nothing (an option then "
    "becomes the one nearest to \"\", the shortest), we take the response itself (with a judge, `eval score "
    "--judge-model`, both ask the model)",
    _needs_the_judge,
)
PRECISION = Difference(
    "mathvista-precision",
    "the dataset stores `precision` as a float, which lmms-eval passes to round() (a TypeError it catches): it "
    "scores every float answer wrong; calculate_score.py passes int(precision)",
    lambda case: case.item.meta.get("answer_type") == "float",
)

ORACLE = LmmsOracle(
    task="mathvista_testmini_format",
    target=lambda item: item.meta["answer"],
    lmms_result=lmms_result,
    official=official,
    gold=gold,
    differences=(NO_JUDGE, PRECISION),
    examples=(
        Example(NO_JUDGE, 0, "D", "D (apple)", ours=1, lmms=0),
        Example(PRECISION, 1, "11.75", "11.75", ours=1, lmms=0),
    ),
)
