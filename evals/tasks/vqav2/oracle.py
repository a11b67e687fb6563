"""VQA v2 through lmms-eval's `vqav2_val` task (lmms-eval 0.7.3 lmms_eval/tasks/vqav2/). Its `doc_to_target`
names a column (`answer`) the hub rows lack, so lmms-eval renders the name itself; its score reads `answers`."""

import re
from typing import Any

from evals.items import EvalItem
from evals.tasks.oracle import Difference, Example, LmmsOracle, junk, most_common_answer, wrappers


def vqa_override(answers: list[str]) -> dict[str, Any]:
    """The `answers` field of a row whose annotators gave `answers`."""
    return {"answers": [{"answer": a, "answer_confidence": "yes", "answer_id": k + 1} for k, a in enumerate(answers)]}


def official(prediction: str, doc: dict[str, Any]) -> dict[str, Any]:
    """GT-Vision-Lab/VQA vqaEval.py `evaluate` at master for one question, with the peer's copy of its two
    normalisation functions (lmms-eval's `EvalAIAnswerProcessor`, given vqaEval.py's own comma test)."""
    from lmms_eval.tasks._task_utils.vqa_eval_metric import EvalAIAnswerProcessor

    class Processor(EvalAIAnswerProcessor):
        COMMA_STRIP = re.compile(r"(\d)(\,)(\d)")

    processor = Processor()
    answers = [a["answer"] for a in doc["answers"]]
    gts = [{"answer": a.replace("\n", " ").replace("\t", " ").strip(), "answer_id": i} for i, a in enumerate(answers)]
    res = prediction.replace("\n", " ").replace("\t", " ").strip()
    if len({g["answer"] for g in gts}) > 1:
        for g in gts:
            g["answer"] = processor.process_digit_article(processor.process_punctuation(g["answer"]))
        res = processor.process_digit_article(processor.process_punctuation(res))
    accuracies = [min(1, len([o for o in gts if o != g and o["answer"] == res]) / 3) for g in gts]
    return {"score": sum(accuracies) / len(accuracies)}


def unanimous(item: EvalItem) -> list[tuple[str, dict[str, Any]]]:
    """The same question with ten annotators agreeing, so that both branches of vqaEval.py's disagreement test
    are scored."""
    gold = most_common_answer(item)
    override = vqa_override([gold] * 10)
    return [(prediction, override) for prediction in wrappers(gold) + junk()]


UNANIMOUS = Difference(
    "vqa-unanimous",
    "vqaEval.py (at master) normalises prediction and answers only when the annotators disagree; lmms-eval "
    "normalises always (its pull request 794)",
    lambda case: len({a.strip() for a in case.item.answers}) == 1,
)

ORACLE = LmmsOracle(
    task="vqav2_val",
    target=lambda item: "answer",
    official=official,
    variants=unanimous,
    differences=(UNANIMOUS,),
    examples=(Example(UNANIMOUS, 0, "Black.", "10 × black", ours=0, lmms=1, overrides=vqa_override(["black"] * 10)),),
)
