"""TextVQA through lmms-eval's `textvqa_val` task (lmms-eval 0.7.3 lmms_eval/tasks/textvqa/), which follows MMF's
evaluator on every case. Its `doc_to_text` capitalises the question; its `doc_to_target` names a column
(`answer`) the hub rows lack, so lmms-eval renders the name itself; its score reads `answers`."""

from typing import Any

from evals.tasks.oracle import LmmsOracle


def official(prediction: str, doc: dict[str, Any]) -> dict[str, Any]:
    """MMF's TextVQA accuracy (lmms-eval's copy of its processor) on the raw prediction."""
    from lmms_eval.tasks.textvqa.utils import textvqa_process_results

    return {"score": textvqa_process_results(doc, [prediction])["exact_match"]}


ORACLE = LmmsOracle(
    task="textvqa_val",
    target=lambda item: "answer",
    official=official,
    question_in_text=lambda item: item.question.capitalize(),
    agrees_everywhere=True,
)
