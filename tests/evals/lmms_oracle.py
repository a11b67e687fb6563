"""lmms-eval's own task code run over our fixtures, as the oracle of test_lmms_eval_oracle.py.

Run in the lmms-eval side environment: `python -m tests.evals.lmms_oracle REQUEST.json OUT.json`. The request
names a fixture file per task and the cases to score, `[doc index, prediction, field overrides]`; the output
holds, per task, where lmms-eval's registered task reads its documents from (`dataset`), what it makes of each
fixture document (`doc_to_text`, `doc_to_target`, the pixels `doc_to_visual` gives) and, per case, its score
through the task's filters and `process_results`, as lmms-eval's evaluator calls them, and the official
definition's value where lmms-eval carries a copy of the official code (`official`). What each benchmark needs is
in its folder's `oracle.py` (`evals.tasks.oracle`).
Everything runs offline; MathVista's LLM judge fails without a key (`evals.lmms_bridge.judge_without_key`).
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from typing import Any


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


def run(request: dict[str, Any]) -> dict[str, Any]:
    from loguru import logger

    from evals.lmms_bridge import judge_without_key
    from evals.lmms_bridge.run import task_configs
    from evals.tasks import task_part

    judge_without_key()
    from lmms_eval.tasks import TaskManager, get_task_dict

    logger.remove()  # every judge call without a key logs an error; the test needs none of it
    logger.add(sys.stderr, level="CRITICAL")

    random.seed(0)  # MMMU's parser falls back to random.choice
    manager = TaskManager("WARNING", model_name="molmo_arena")
    out: dict[str, Any] = {}
    for task, path in request["fixtures"].items():
        oracle = task_part(task, "oracle").ORACLE
        registered = manager._get_config(oracle.task)
        lmms_task = get_task_dict(task_configs(manager, [oracle.task], {oracle.task: path}), manager)[oracle.task]
        docs = list(lmms_task.test_docs())
        report: dict[str, Any] = {"docs": [], "cases": [], "oracle": [],
                                  "dataset": [registered.get("dataset_path"), registered.get("dataset_name"),
                                              registered.get("test_split")]}
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
            score, parsed = oracle.lmms_result(lmms_task.process_results(doc, [filtered]))
            report["cases"].append({"score": score, "parsed": _plain(parsed), "filtered": filtered})
            official = oracle.official(prediction, _copy(docs[index], overrides)) if oracle.official else None
            report["oracle"].append(_plain(official))
        out[task] = report
    return out


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as handle:
        result = run(json.load(handle))
    with open(sys.argv[2], "w", encoding="utf-8") as handle:
        json.dump(result, handle)
