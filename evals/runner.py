"""The evaluation runner: tasks x one model -> append-only sample records, a run record and a summary.

A run folder holds `samples.jsonl` (one line per item, flushed after every batch, so a killed run restarts
where it stopped), `run.json` (what was run and the scores) and, while data-parallel ranks work,
`shards/rank-N.jsonl`. Ranks take every world_size-th item; rank 0 merges the shards once all are done.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from evals.adapters.base import GenerationRequest, ModelAdapter
from evals.data import dataset_fingerprint, load_items
from evals.items import EvalItem
from evals.metrics.bootstrap import bootstrap_interval
from evals.prompts import prompt_hash, render_prompt
from evals.scoring import DEFAULT_PROFILE, answer_text, score_item
from evals.tasks import TaskSpec, get_task, submission_task
from molmo_arena.common.files import write_lines, write_text

SCHEMA = "molmo-arena/run/v1"
_PACKAGES = ("molmo-arena", "numpy", "torch", "transformers", "datasets", "pillow", "tokenizers")


@dataclass(frozen=True)
class RunConfig:
    """What decides the samples of a run; a resumed run must match it (the batch size may change)."""

    tasks: tuple[str, ...]
    prompt_set: str
    limit: int | None = None
    batch_size: int = 8
    seed: int = 0
    data: dict[str, str] = field(default_factory=dict)  # task -> local copy in the hub schema
    submission: bool = False  # the server-scored split: predictions go to submission/<task>.json, unscored
    scoring: str = DEFAULT_PROFILE  # the scoring profile (evals.metrics.scorers.PROFILES)

    def spec(self, task: str) -> TaskSpec:
        return submission_task(task) if self.submission else get_task(task)


@dataclass(frozen=True)
class Shard:
    """This process's part of a data-parallel run (torchrun sets RANK and WORLD_SIZE)."""

    rank: int = 0
    world_size: int = 1

    @classmethod
    def from_env(cls) -> Shard:
        return cls(int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1")))


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _seed_everything(seed: int) -> None:
    import random

    random.seed(seed)
    try:
        import torch
    except ImportError:
        return
    torch.manual_seed(seed)


def read_records(path: Path) -> list[dict[str, Any]]:
    """Complete lines of a samples file; a line cut short by a kill is dropped (and truncated away)."""
    if not path.exists():
        return []
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        with open(path, "r+b") as handle:
            handle.truncate(end)
    return [json.loads(line) for line in data[:end].splitlines() if line.strip()]


def _write_json(path: Path, document: dict[str, Any] | list[Any]) -> None:
    """Write JSON whole or not at all, so a reader never sees half a file."""
    write_text(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def _identity(adapter: ModelAdapter, config: RunConfig) -> dict[str, Any]:
    """The part of run.json that a resumed run must reproduce."""
    tasks = {}
    for task in config.tasks:
        spec = config.spec(task)
        data = config.data.get(task)
        tasks[task] = {
            "dataset": spec.hf_id,
            "config": spec.config,
            "split": spec.split,
            "revision": spec.revision,
            "local_data": data,
            "data_fingerprint": dataset_fingerprint(spec, data),
            "prompt_file": f"prompts/{task}.yaml",
            "prompt_sha256": prompt_hash(task),
        }
    settings = {k: v for k, v in asdict(config).items() if k != "batch_size"}  # batching changes no answer
    return json.loads(json.dumps({"model": adapter.describe(), "config": settings, "tasks": tasks}))


class EvaluationRun:
    """One run folder; `run()` does this shard's missing items and, on rank 0, the summary."""

    def __init__(self, adapter: ModelAdapter, config: RunConfig, out_dir: str | Path, shard: Shard | None = None,
                 progress: Callable[[Iterable, str, int], Iterable] | None = None) -> None:
        self.adapter = adapter
        self.config = config
        self.out = Path(out_dir)
        self.shard = shard or Shard()
        self.progress = progress or (lambda iterable, _desc, _total: iterable)

    @property
    def samples_path(self) -> Path:
        if self.shard.world_size == 1:
            return self.out / "samples.jsonl"
        return self.out / "shards" / f"rank-{self.shard.rank}.jsonl"

    def _check_identity(self, identity: dict[str, Any]) -> None:
        run_json = self.out / "run.json"
        if not run_json.exists():
            if self.shard.rank == 0:
                self.out.mkdir(parents=True, exist_ok=True)
                _write_json(run_json, {"schema": SCHEMA, "status": "running", **identity})
            return
        earlier = json.loads(run_json.read_text())
        for key in ("model", "config", "tasks"):
            if earlier.get(key) != identity[key]:
                raise ValueError(
                    f"{run_json}: this folder holds a run with a different {key} "
                    f"(was {json.dumps(earlier.get(key), sort_keys=True)[:300]}); resume it with the same "
                    "settings or choose a new --out"
                )

    def run(self) -> dict[str, Any] | None:
        """Evaluate what is missing; returns the run record on rank 0 (None on other ranks)."""
        _seed_everything(self.config.seed)
        identity = _identity(self.adapter, self.config)
        self._check_identity(identity)
        self.samples_path.parent.mkdir(parents=True, exist_ok=True)
        done = {(r["task"], r["id"]) for r in read_records(self.samples_path)}
        with open(self.samples_path, "a", encoding="utf-8") as sink:
            for task in self.config.tasks:
                items = load_items(self.config.spec(task), self.config.data.get(task), self.config.limit)
                mine = [(i, item) for i, item in enumerate(items) if i % self.shard.world_size == self.shard.rank]
                todo = [(i, item) for i, item in mine if (task, item.id) not in done]
                self._evaluate(task, todo, sink)
        if self.shard.world_size > 1:
            (self.out / "shards" / f"rank-{self.shard.rank}.done").write_text("done\n")
            if self.shard.rank != 0:
                return None
            self._merge_shards()
        return self._finish(identity)

    def _evaluate(self, task: str, todo: list[tuple[int, EvalItem]], sink) -> None:
        prompts = {item.id: render_prompt(task, self.config.prompt_set, item) for _, item in todo}
        # Length-sorted batches waste little padding; image and text-only items are never mixed.
        todo = sorted(todo, key=lambda pair: (not pair[1].images, -len(prompts[pair[1].id].text), pair[0]))
        size = self.config.batch_size
        batches = [todo[start : start + size] for start in range(0, len(todo), size)]
        for batch in self.progress(batches, task, len(batches)):
            records = self._answer(task, batch, prompts)
            for record in records:
                sink.write(json.dumps(record, ensure_ascii=False) + "\n")
            sink.flush()
            os.fsync(sink.fileno())

    def _answer(self, task: str, batch: list[tuple[int, EvalItem]], prompts) -> list[dict[str, Any]]:
        requests = [
            GenerationRequest(prompts[item.id].text, item.images, prompts[item.id].max_new_tokens,
                              prompts[item.id].max_crops, task=task)
            for _, item in batch
        ]
        start = time.perf_counter()
        try:
            outcomes: list[Any] = self.adapter.generate(requests)
        except Exception:  # one bad item must not sink its batch: retry one by one
            outcomes = []
            for request in requests:
                try:
                    outcomes.append(self.adapter.generate([request])[0])
                except Exception as error:  # recorded in the sample, scored 0
                    outcomes.append(error)
        seconds = (time.perf_counter() - start) / len(batch)
        return [self._record(task, index, item, prompts[item.id], outcome, seconds)
                for (index, item), outcome in zip(batch, outcomes, strict=True)]

    def _record(self, task: str, index: int, item: EvalItem, prompt, outcome, seconds: float) -> dict[str, Any]:
        record: dict[str, Any] = {
            "task": task,
            "index": index,
            "id": item.id,
            "prompt": prompt.text,
            "prompt_sha256": prompt.prompt_hash,
            "images": len(item.images),
            "answers": item.answers,
            "choices": item.choices,
        }
        meta = dict(item.meta, unlabelled_options=prompt.unlabelled_options)
        record["meta"] = _json_safe(meta)  # what the metric saw, so `eval score` rescores the record as is
        if isinstance(outcome, Exception):
            prediction, error, model_prompt, tokens = "", f"{type(outcome).__name__}: {outcome}", None, None
        else:
            prediction, model_prompt, tokens = outcome.text, outcome.prompt, outcome.output_tokens
            error = None if prediction.strip() else "empty output"
        record.update(model_prompt=model_prompt, prediction=prediction, error=error, output_tokens=tokens,
                      seconds=round(seconds, 6))
        if self.config.submission:  # the answers are on the evaluation server
            record.update(scoring=self.config.scoring, parsed=answer_text(prediction, self.config.scoring),
                          score=None, secondary={})
            return record
        return score_record(record, self.config.scoring)

    def _merge_shards(self) -> None:
        shards = self.out / "shards"
        waited = 0.0
        while len(list(shards.glob("rank-*.done"))) < self.shard.world_size:
            if waited > 24 * 3600:
                raise TimeoutError(f"{shards}: not every rank finished")
            time.sleep(0.2)
            waited += 0.2
        records = [r for rank in range(self.shard.world_size) for r in read_records(shards / f"rank-{rank}.jsonl")]
        order = {task: position for position, task in enumerate(self.config.tasks)}
        records.sort(key=lambda r: (order[r["task"]], r["index"]))
        write_lines(self.out / "samples.jsonl", (json.dumps(r, ensure_ascii=False) for r in records))

    def _finish(self, identity: dict[str, Any]) -> dict[str, Any]:
        records = read_records(self.out / "samples.jsonl")
        by_task = {task: [r for r in records if r["task"] == task] for task in self.config.tasks}
        if self.config.submission:
            (self.out / "submission").mkdir(exist_ok=True)
            for task, rows in by_task.items():
                _write_json(self.out / "submission" / f"{task}.json", submission_entries(task, rows))
            scores = {task: {"items": len(rows), "errors": sum(r["error"] is not None for r in rows)}
                      for task, rows in by_task.items()}
        else:
            scores = {task: summarise(task, rows, self.config.seed) for task, rows in by_task.items()}
        document = {"schema": SCHEMA, "status": "complete", **identity, "packages": package_versions(),
                    "scores": scores}
        if callable(usage := getattr(self.adapter, "usage", None)):  # API adapters: this process's requests, tokens
            document["usage"] = usage()
        _write_json(self.out / "run.json", document)
        return document


def score_record(record: dict[str, Any], profile: str) -> dict[str, Any]:
    """`record` (a sample: task, prediction, answers, choices, meta, error) scored under `profile`: its
    `scoring`, `parsed`, `score` (0 for a failed item) and `secondary` set anew. `eval compare` and `eval score`
    rescore a run's samples this way."""
    scored = score_item(record["task"], record["prediction"], record["answers"], record["choices"], record["meta"],
                        profile=profile)
    return dict(record, scoring=profile, parsed=scored.parsed, score=0.0 if record["error"] else scored.score,
                secondary=scored.secondary)


def summarise(task: str, records: list[dict[str, Any]], seed: int = 0) -> dict[str, Any]:
    """A task's score (mean x 100) with its bootstrap 95% interval, failures and unparsed answers counted, and,
    for a task whose spec names `breakdown` fields, the score by each of their values."""
    if not records:
        return {"score": None, "lower": None, "upper": None, "items": 0, "errors": 0, "unparsed": 0}
    values = [r["score"] for r in records]
    lower, upper = bootstrap_interval(values, seed=seed)
    secondary = sorted({name for r in records for name in r["secondary"]})
    summary = {
        "score": round(100 * sum(values) / len(values), 4),
        "lower": round(100 * lower, 4),
        "upper": round(100 * upper, 4),
        "items": len(records),
        "errors": sum(r["error"] is not None for r in records),
        "unparsed": sum(r["parsed"] is None and r["error"] is None for r in records),
        "secondary": {name: round(100 * sum(r["secondary"].get(name, 0.0) for r in records) / len(records), 4)
                      for name in secondary},
    }
    if fields := get_task(task).breakdown:
        summary["breakdown"] = {name: breakdown(records, name) for name in fields}
    return summary


def breakdown(records: list[dict[str, Any]], name: str) -> dict[str, dict[str, float | int]]:
    """The score (mean x 100), the items and the sum of scores (the number correct, for 0/1 scores) of the records
    by the value of their meta field `name`, values in sorted order (batching changes the order of the records)."""
    groups: dict[str, list[float]] = {}
    for record in records:
        groups.setdefault(str(record["meta"].get(name)), []).append(record["score"])
    return {value: {"score": round(100 * sum(scores) / len(scores), 4), "items": len(scores),
                    "correct": round(sum(scores), 4)} for value, scores in sorted(groups.items())}


def submission_entries(task: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One {id field: int, "answer": text} entry per item, in item order, as the task's server expects (the id
    field its spec names: EvalAI's VQA v2 keys on question_id, the RRC's DocVQA/InfographicVQA on questionId; both
    take the short answer text)."""
    key = get_task(task).submission_id
    ordered = sorted(records, key=lambda r: r["index"])
    return [{key: int(r["id"]) if r["id"].isdigit() else r["id"], "answer": r["parsed"] or ""} for r in ordered]


def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
