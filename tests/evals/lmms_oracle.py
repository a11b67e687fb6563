"""lmms-eval's own task code run over our fixtures, as the oracle of test_lmms_eval_oracle.py.

Run in the lmms-eval side environment: `python -m tests.evals.lmms_oracle REQUEST.json OUT.json`. The request
names a fixture file per task and the cases to score, `[doc index, prediction, field overrides]`; the output
holds, per task, what lmms-eval's registered task makes of each fixture document (`doc_to_text`,
`doc_to_target`, the pixels `doc_to_visual` gives) and, per case, its score through the task's filters and
`process_results`, as lmms-eval's evaluator calls them, and the official definition's value where lmms-eval carries
a copy of the official code (`official`).
Everything runs offline; MathVista's LLM judge fails without a key (`evals.lmms_bridge.judge_without_key`).
"""

from __future__ import annotations

import ast
import hashlib
import json
import random
import re
import sys
from collections.abc import Callable
from typing import Any

# Our task name -> lmms-eval's task of the same benchmark and split.
LMMS_TASKS = {
    "ai2d": "ai2d",
    "chartqa": "chartqa",
    "vqav2": "vqav2_val",
    "docvqa": "docvqa_val",
    "infovqa": "infovqa_val",
    "textvqa": "textvqa_val",
    "realworldqa": "realworldqa",
    "mmmu": "mmmu_val",
    "mathvista": "mathvista_testmini_format",
    "countbenchqa": "countbenchqa",
    "pixmo_count": "pixmo_count",
}


def _pixels(image: Any) -> list[Any]:
    rgb = image.convert("RGB")
    return [*rgb.size, hashlib.sha256(rgb.tobytes()).hexdigest()]


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _copy(doc: dict[str, Any], overrides: dict[str, Any] | None) -> dict[str, Any]:
    """The document with `overrides` applied, its lists and dicts copied: `process_results` may rewrite them (the
    VQA tasks normalise the answers in place)."""
    copied = {key: json.loads(json.dumps(value)) if isinstance(value, list | dict) else value
              for key, value in doc.items()}
    return copied | (overrides or {})


def _score(task: str, result: dict[str, Any]) -> tuple[float, Any]:
    """(score, what lmms-eval parsed) from `process_results`' per-document metrics."""
    from lmms_eval.tasks.mmmu.utils import evaluate_mmmu

    if task == "mmmu":
        sample = result["mmmu_acc"]
        return evaluate_mmmu([sample])[1]["acc"], _plain(sample["parsed_pred"][0])
    if task == "mathvista":
        sample = result["llm_as_judge_eval"]
        return float(sample["true_false"]), _plain(sample["prediction"])
    key = {"chartqa": "relaxed_overall", "docvqa": "anls", "infovqa": "anls", "countbenchqa": "acc",
           "pixmo_count": "acc"}.get(task, "exact_match")
    value = result[key]
    return float(value["anls"] if isinstance(value, dict) else value), None


def official_vqa_v2(prediction: str, answers: list[str]) -> float:
    """GT-Vision-Lab/VQA vqaEval.py `evaluate` at master for one question, with the peer's copy of its two
    normalisation functions (lmms-eval's `EvalAIAnswerProcessor`, given vqaEval.py's own comma test)."""
    from lmms_eval.tasks._task_utils.vqa_eval_metric import EvalAIAnswerProcessor

    class Processor(EvalAIAnswerProcessor):
        COMMA_STRIP = re.compile(r"(\d)(\,)(\d)")

    processor = Processor()
    gts = [{"answer": a.replace("\n", " ").replace("\t", " ").strip(), "answer_id": i} for i, a in enumerate(answers)]
    res = prediction.replace("\n", " ").replace("\t", " ").strip()
    if len({g["answer"] for g in gts}) > 1:
        for g in gts:
            g["answer"] = processor.process_digit_article(processor.process_punctuation(g["answer"]))
        res = processor.process_digit_article(processor.process_punctuation(res))
    accuracies = [min(1, len([o for o in gts if o != g and o["answer"] == res]) / 3) for g in gts]
    return sum(accuracies) / len(accuracies)


def official_mathvista(evaluator: Any, prediction: str, doc: dict[str, Any]) -> str | None:
    """MathVista's extract_answer and normalize_extracted_answer (lmms-eval's copies) with the quick-extraction
    rule on and the GPT step replaced by the response itself, the definition our scorer implements without a
    judge; the precision as an int, as calculate_score.py passes it."""
    class Identity(type(evaluator)):
        def create_test_prompt(self, demo_prompt: str, query: str, response: str) -> str:
            return response

        def get_chat_response(self, prompt: str, *args: Any, **kwargs: Any) -> str:
            return prompt

    problem = {key: doc[key] for key in ("question_type", "answer_type", "query", "choices")}
    extraction = Identity().extract_answer(prediction.strip(), problem, quick_extract=True)
    precision = int(doc["precision"]) if doc["answer_type"] == "float" else 0
    return evaluator.normalize_extracted_answer(extraction, doc["choices"], doc["question_type"],
                                                doc["answer_type"], precision)


def official_mmmu_open(prediction: str, doc: dict[str, Any]) -> float | None:
    """MMMU's parse_open_response and eval_open (lmms-eval's copies); its answer_dict_val.json lists an open
    question's accepted answers, whose repr the hub row holds. None for a multiple-choice question."""
    from lmms_eval.tasks.mmmu.utils import eval_open, parse_open_response

    if doc["question_type"] != "open":
        return None
    answer = ast.literal_eval(doc["answer"]) if doc["answer"].startswith("[") else doc["answer"]
    return float(eval_open(answer, parse_open_response(prediction)))


def official(evaluator: Any) -> dict[str, Callable[[str, dict[str, Any]], Any]]:
    """The official definition of a task's score of one raw prediction, where lmms-eval carries the official code:
    its copies of vqaEval.py's normalisation, MMF's TextVQA processor, the RRC ANLS script, pix2struct's relaxed
    correctness, MMMU's open-question parser and MathVista's extraction, called on the prediction as given
    (lmms-eval's task class strips it first). Benchmarks without an official script have none."""
    from lmms_eval.api.metrics import anls
    from lmms_eval.tasks.chartqa.utils import relaxed_correctness
    from lmms_eval.tasks.textvqa.utils import textvqa_process_results

    return {
        "vqav2": lambda prediction, doc: official_vqa_v2(prediction, [a["answer"] for a in doc["answers"]]),
        "textvqa": lambda prediction, doc: textvqa_process_results(doc, [prediction])["exact_match"],
        "docvqa": lambda prediction, doc: anls(doc["answers"], [prediction])["anls"],
        "infovqa": lambda prediction, doc: anls(doc["answers"], [prediction])["anls"],
        "chartqa": lambda prediction, doc: float(relaxed_correctness(prediction, doc["answer"])),
        "mmmu": official_mmmu_open,
        "mathvista": lambda prediction, doc: official_mathvista(evaluator, prediction, doc),
    }


def run(request: dict[str, Any]) -> dict[str, Any]:
    from loguru import logger

    from evals.lmms_bridge import judge_without_key
    from evals.lmms_bridge.run import task_configs

    judge_without_key()
    from lmms_eval.tasks import TaskManager, get_task_dict
    from lmms_eval.tasks.mathvista.utils import mathvista_evaluator

    logger.remove()  # every judge call without a key logs an error; the test needs none of it
    logger.add(sys.stderr, level="CRITICAL")

    random.seed(0)  # MMMU's parser falls back to random.choice
    definitions = official(mathvista_evaluator)
    manager = TaskManager("WARNING", model_name="molmo_arena")
    out: dict[str, Any] = {}
    for task, path in request["fixtures"].items():
        name = LMMS_TASKS[task]
        lmms_task = get_task_dict(task_configs(manager, [name], {name: path}), manager)[name]
        docs = list(lmms_task.test_docs())
        report: dict[str, Any] = {"docs": [], "cases": [], "oracle": []}
        for doc in docs:
            report["docs"].append({"text": lmms_task.doc_to_text(doc), "target": _plain(lmms_task.doc_to_target(doc)),
                                   "visuals": [_pixels(v) for v in lmms_task.doc_to_visual(doc)]})
        for index, prediction, overrides in request["cases"].get(task, []):
            doc = _copy(docs[index], overrides)
            responses: Any = [[prediction]]
            for ensemble in lmms_task._filters:
                for step in ensemble.filters:
                    responses = step.apply(responses, [doc])
            (filtered,) = list(responses)  # take_first leaves the one response of each document
            score, parsed = _score(task, lmms_task.process_results(doc, [filtered]))
            report["cases"].append({"score": score, "parsed": parsed, "filtered": filtered})
            definition = definitions.get(task)
            report["oracle"].append(definition(prediction, _copy(docs[index], overrides)) if definition else None)
        out[task] = report
    return out


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as handle:
        result = run(json.load(handle))
    with open(sys.argv[2], "w", encoding="utf-8") as handle:
        json.dump(result, handle)
