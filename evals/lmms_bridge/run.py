"""Run lmms-eval tasks on one of our adapters and write a run folder in our record format.

`run.json` names the model (the adapter's `describe()`), lmms-eval's version, each task's resolved config with
its sha256 (prompts and generation settings included), the data files' sha256 where a task reads local data,
the package versions and lmms-eval's scores; `samples.jsonl` holds one line per document: the exact prompt,
the answer, the target and the per-document metrics. Same inputs, same files (no dates are written).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evals.lmms_bridge import MODEL_NAME, require_lmms_eval
from molmo_arena.common.files import file_sha256

SCHEMA = "molmo-arena/lmms-eval-run/1"


_FUNCTION_REPR = re.compile(r"<function (\S+) at 0x[0-9a-f]+>")


def _plain(value: Any) -> Any:
    """A task config as JSON: functions by name (lmms-eval's dump holds their repr, whose address changes from
    run to run), everything else as lmms-eval holds it."""
    if isinstance(value, str):
        return _FUNCTION_REPR.sub(r"<function \1>", value)
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if callable(value):
        return f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', repr(value))}"
    if value is None or isinstance(value, (int, float, bool)):
        return value
    return str(value)


def json_sha256(value: Any) -> str:
    """sha256 of `value`'s canonical JSON (sorted keys)."""
    return hashlib.sha256(json.dumps(_plain(value), sort_keys=True).encode()).hexdigest()


def task_configs(task_manager: Any, tasks: list[str], data: dict[str, Path]) -> list[str | dict[str, Any]]:
    """What to hand lmms-eval: a task's name, or its config re-pointed at a local Parquet file (`data`).

    A local file replaces only where the documents come from: prompts, generation settings and metrics stay
    the registered task's own, so an offline copy of a benchmark is scored exactly as the hub one would be.
    """
    known = set(task_manager.all_tasks)
    unknown = [task for task in [*tasks, *data] if task not in known]
    if unknown:
        raise ValueError(f"--tasks: lmms-eval has no task {unknown[0]!r} (see `lmms-eval tasks`, or add a folder of "
                         "task YAML files with --include-path)")
    missing = [task for task in data if task not in tasks]
    if missing:
        raise ValueError(f"--data {missing[0]}=...: {missing[0]!r} is not among --tasks")
    chosen: list[str | dict[str, Any]] = []
    for task in tasks:
        if task not in data:
            chosen.append(task)
            continue
        config = dict(task_manager._get_config(task))
        if "task" not in config:
            raise ValueError(f"--data {task}=...: {task!r} is a group of tasks; give a local file per task")
        split = config.get("test_split") or config.get("validation_split")
        config["dataset_path"] = "parquet"
        config["dataset_kwargs"] = {"data_files": {split: str(data[task])}}
        config.pop("dataset_name", None)
        chosen.append(config)
    return chosen


def _scores(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """lmms-eval's `metric,filter` keys as {task: {metric[/filter]: {"value": v, "stderr": s}}}."""
    scores: dict[str, dict[str, Any]] = {}
    for task, row in sorted(results["results"].items()):
        metrics: dict[str, Any] = {}
        for key, value in row.items():
            metric, _, filter_name = key.partition(",")
            if not filter_name or "_stderr" in metric:
                continue
            name = metric if filter_name == "none" else f"{metric}/{filter_name}"
            stderr = row.get(f"{metric}_stderr,{filter_name}")
            metrics[name] = {"value": value, "stderr": stderr if isinstance(stderr, (int, float)) else None}
        scores[task] = {"documents": results.get("n-samples", {}).get(task, {}).get("effective"), "metrics": metrics}
    return scores


def _samples(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for task, samples in sorted(results.get("samples", {}).items()):
        metric_names = {name.split(",")[0] for name in results["results"].get(task, {})}
        for sample in sorted(samples, key=lambda s: int(s["doc_id"])):
            arguments = sample["arguments"]
            response = sample["filtered_resps"][0] if sample["filtered_resps"] else None
            rows.append({
                "task": task,
                "doc_id": int(sample["doc_id"]),
                "prompt": arguments[0] if arguments else None,
                "generation_kwargs": _plain(arguments[1]) if len(arguments) > 1 else None,
                "prediction": response,
                "target": _plain(sample.get("target")),
                "metrics": {name: _plain(sample[name]) for name in sorted(metric_names) if name in sample},
            })
    return rows


def _write(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    partial.replace(path)


def run_lmms_eval(spec: str, tasks: list[str], out: Path, include_path: Path | None = None,
                  data: dict[str, Path] | None = None, limit: int | None = None, batch_size: int = 8,
                  seed: int = 0, device: str = "cpu", dtype: str = "auto",
                  progress: Callable[[str], None] = print) -> dict[str, Any]:
    """Evaluate `spec` on lmms-eval `tasks`; write `out/run.json` and `out/samples.jsonl`; return the record."""
    version = require_lmms_eval()
    data = dict(data or {})
    for task, path in data.items():
        if not Path(path).is_file():
            raise FileNotFoundError(f"--data {task}={path}: no such file")
    if include_path is not None and not include_path.is_dir():
        raise FileNotFoundError(f"--include-path {include_path}: no such folder")
    from loguru import logger

    logger.remove()  # lmms-eval logs every task file it indexes at DEBUG; warnings are what a user needs
    logger.add(sys.stderr, level="WARNING")
    from lmms_eval.evaluator import simple_evaluate
    from lmms_eval.tasks import TaskManager

    from evals.lmms_bridge import judge_without_key
    from evals.lmms_bridge.model import MolmoArenaModel
    from evals.runner import package_versions

    judge_without_key()
    progress("indexing lmms-eval tasks")
    task_manager = TaskManager("WARNING", include_path=str(include_path) if include_path else None,
                               model_name=MODEL_NAME)
    chosen = task_configs(task_manager, tasks, data)
    model = MolmoArenaModel(spec, batch_size=batch_size, device=device, dtype=dtype)
    results = simple_evaluate(model=model, tasks=chosen, limit=limit, task_manager=task_manager, log_samples=True,
                              random_seed=seed, numpy_random_seed=seed, torch_random_seed=seed,
                              fewshot_random_seed=seed, verbosity="WARNING")
    if results is None:  # only a non-zero rank of a distributed run gets None
        raise RuntimeError("lmms-eval returned no results")
    configs = {task: _plain(config) for task, config in sorted(results["configs"].items())}
    samples = _samples(results)
    # A task's prompts come from its code as much as its config: the hash of the prompts sent pins both.
    prompts = {task: json_sha256([row["prompt"] for row in samples if row["task"] == task]) for task in configs}
    record = {
        "schema": SCHEMA,
        "status": "complete",
        "model": {"spec": spec, **model.adapter.describe()},
        "tasks": tasks,
        "limit": limit,
        "seed": seed,
        "batch_size": batch_size,
        "include_path": str(include_path) if include_path else None,
        "data": {task: {"path": str(path), "sha256": file_sha256(Path(path))} for task, path in sorted(data.items())},
        "lmms_eval": {"version": version, "task_versions": results.get("versions", {}),
                      "task_config_sha256": {task: json_sha256(config) for task, config in configs.items()},
                      "prompts_sha256": prompts,
                      "task_configs": configs},
        "packages": {**package_versions(), "lmms-eval": version},
        "scores": _scores(results),
    }
    out.mkdir(parents=True, exist_ok=True)
    _write(out / "samples.jsonl", "".join(json.dumps(row, sort_keys=True) + "\n" for row in samples))
    _write(out / "run.json", json.dumps(record, indent=2, sort_keys=True) + "\n")
    return record
