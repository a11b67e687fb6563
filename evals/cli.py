"""`molmo-arena eval ...`: the evaluation harness's sub-commands.

`eval run` evaluates a model over benchmark tasks into a resumable run folder; `eval score TASK
PREDICTIONS.jsonl` scores model outputs made anywhere with the task's metric; `eval compare RUN` shows runs
beside the Molmo paper's published numbers; `eval lmms-eval` runs lmms-eval's tasks on any model spec. Heavy
imports happen inside the commands, so the console starts fast.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from molmo_arena.common.arguments import positive_int
from molmo_arena.common.files import read_json_lines

if TYPE_CHECKING:
    from evals.metrics.judge import ChatCompletionsJudge

PROFILES = ("official", "molmo")  # evals.metrics.scorers.PROFILES, named here so the console starts fast
SCORING_HELP = ("scoring profile: official (each benchmark's official scorer on the raw output; default) or molmo "
                "(the Molmo release's clean-up and metric variants); docs/scoring.md")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the `eval` command and its sub-commands to the console's sub-parsers."""
    parser = subparsers.add_parser("eval", help="run and score the benchmarks (the Molmo paper's 11 and more)",
                                   description=__doc__)
    commands = parser.add_subparsers(dest="eval_command", metavar="SUBCOMMAND", required=True)
    _add_run_parser(commands)
    _add_compare_parser(commands)
    _add_lmms_eval_parser(commands)
    score = commands.add_parser(
        "score",
        help="score a JSONL file of predictions",
        description=(
            "Score one task's predictions. Each JSON line holds `id`, `prediction`, `answers` (list of strings; the "
            "correct letter for multiple choice), optional `choices` (option texts) and optional `meta`. Lines "
            "with a `task` field naming another task are skipped, and a line with an `error` scores 0, so a run's "
            "samples.jsonl can be rescored as is."
        ),
    )
    score.add_argument("task", help="task short name, e.g. vqav2, docvqa, ai2d")
    score.add_argument("predictions", type=Path, help="JSONL file of predictions")
    score.add_argument("--out", type=Path, help="write one JSON line of scores per prediction here")
    score.add_argument("--scoring", choices=PROFILES, default="official", help=SCORING_HELP)
    score.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    score.add_argument("--resamples", type=positive_int, default=10_000, help="bootstrap resamples (default 10000)")
    judge = score.add_argument_group("MathVista answer judge (optional, OpenAI-compatible chat completions)")
    judge.add_argument("--judge-model", help="model name; setting it turns the judge on")
    judge.add_argument("--judge-base-url", help="base URL, e.g. http://localhost:8000/v1")
    judge.add_argument("--judge-api-key-env", help="name of the environment variable holding the API key")
    judge.add_argument("--judge-cache", type=Path, help="cache folder (default: judge_cache/ beside PREDICTIONS)")
    score.set_defaults(func=run_score)


def _check(condition: bool, where: str, field: str, message: str) -> None:
    if not condition:
        raise ValueError(f"{where}: field {field!r}: {message}")


def _is_strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def read_predictions(path: Path, task: str | None = None) -> list[tuple[int, dict[str, Any]]]:
    """(line number, record) for each non-blank line of a predictions file, validated; ValueError naming the
    file, the line and the field on the first bad record. With `task`, lines of other tasks are skipped."""
    records: list[tuple[int, dict[str, Any]]] = []
    first_line: dict[str, int] = {}
    for number, record in read_json_lines(path):
        where = f"{path}:{number}"
        if task is not None and record.get("task", task) != task:
            continue
        item_id = record.get("id")
        _check(
            isinstance(item_id, str | int) and not isinstance(item_id, bool),
            where,
            "id",
            f"expected a string or an integer, got {item_id!r}",
        )
        _check(str(item_id) not in first_line, where, "id", f"duplicate of line {first_line.get(str(item_id))}")
        first_line[str(item_id)] = number
        _check(
            isinstance(record.get("prediction"), str),
            where,
            "prediction",
            f"expected a string, got {record.get('prediction')!r}",
        )
        answers = record.get("answers")
        _check(
            _is_strings(answers) and bool(answers), where, "answers", f"expected a list of strings, got {answers!r}"
        )
        choices = record.get("choices")
        _check(
            choices is None or _is_strings(choices),
            where,
            "choices",
            f"expected a list of strings, got {choices!r}",
        )
        meta = record.get("meta")
        _check(meta is None or isinstance(meta, dict), where, "meta", f"expected an object, got {meta!r}")
        records.append((number, record))
    if not records:
        raise ValueError(f"{path}: no predictions" + (f" for task {task!r}" if task else ""))
    return records


def _judge(args: argparse.Namespace) -> ChatCompletionsJudge | None:
    if args.judge_model is None:
        return None
    from evals.scoring import judged_tasks

    if args.task not in judged_tasks():
        raise ValueError(f"--judge-model: the answer judge only applies to {', '.join(judged_tasks())}, not "
                         f"{args.task}")
    if not args.judge_base_url or not args.judge_api_key_env:
        raise ValueError("--judge-model needs --judge-base-url and --judge-api-key-env")
    from evals.metrics.judge import ChatCompletionsJudge

    return ChatCompletionsJudge(
        base_url=args.judge_base_url,
        model=args.judge_model,
        api_key_env=args.judge_api_key_env,
        cache_dir=args.judge_cache or args.predictions.parent / "judge_cache",
    )


def run_score(args: argparse.Namespace) -> int:
    """Score a predictions file; print the task score (×100), its bootstrap 95% interval, items and unparsed."""
    from evals.metrics.bootstrap import bootstrap_interval
    from evals.scoring import score_item, task_metric
    from molmo_arena.common.files import write_lines

    metric = task_metric(args.task, args.scoring)
    judge = _judge(args)
    records = read_predictions(args.predictions, args.task)
    rows, scores, unparsed = [], [], 0
    secondary: dict[str, list[float]] = {}
    for number, record in records:
        try:
            result = score_item(
                args.task,
                record["prediction"],
                record["answers"],
                record.get("choices"),
                record.get("meta"),
                profile=args.scoring,
                judge=judge,
            )
        except ValueError as error:
            raise ValueError(f"{args.predictions}:{number}: {error}") from None
        score = 0.0 if record.get("error") else result.score  # a run's failed item stays failed, as the run scored it
        rows.append(
            json.dumps({"id": record["id"], "score": score, "parsed": result.parsed, "secondary": result.secondary})
        )
        scores.append(score)
        unparsed += result.parsed is None
        for name, value in result.secondary.items():
            secondary.setdefault(name, []).append(value)
    if args.out is not None:
        write_lines(args.out, rows)
    low, high = bootstrap_interval(scores, seed=args.seed, n_resamples=args.resamples)
    mean = sum(scores) / len(scores)
    print(
        f"{args.task} {metric.metric} ({args.scoring} scoring): {100 * mean:.2f} "
        f"(95% bootstrap CI {100 * low:.2f}-{100 * high:.2f}, seed {args.seed}); "
        f"items {len(scores)}, unparsed {unparsed}"
    )
    for name, values in secondary.items():
        print(f"  {name}: {100 * sum(values) / len(values):.2f}")
    if judge is not None:
        tokens = judge.prompt_tokens + judge.completion_tokens
        print(f"  judge: {judge.requests} requests, {judge.cache_hits} from the cache, {tokens} tokens")
    return 0


def _add_run_parser(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser(
        "run",
        help="evaluate a model over benchmark tasks (resumable)",
        description="Evaluate a model over benchmark tasks. Sample records are appended to OUT/samples.jsonl after "
        "every batch, so re-running the same command resumes a killed run; OUT/run.json records the model, data "
        "fingerprints, prompt hashes, seeds, package versions and the scores. Under torchrun each rank takes every "
        "WORLD_SIZE-th item and rank 0 merges.",
    )
    _add_model_options(run)
    run.add_argument("--tasks", required=True, metavar="LIST",
                     help="comma-separated task names; 'all' is every benchmark, 'paper' the Molmo paper's 11")
    run.add_argument("--limit", type=positive_int, help="only the first N items of each task")
    run.add_argument("--prompt-set", help="recorded prompt set (default: the model's own family, e.g. molmo)")
    run.add_argument("--data", action="append", default=[], metavar="TASK=PATH",
                     help="a local copy of TASK in the hub schema (Parquet, JSON lines or save_to_disk); repeatable")
    run.add_argument("--data-dir", type=Path, metavar="DIR",
                     help="a folder with TASK.parquet / TASK.jsonl / TASK/ per task (as python -m evals.fixtures "
                     "writes)")
    run.add_argument("--scoring", choices=PROFILES, default="official", help=SCORING_HELP)
    run.add_argument("--out", type=Path, help="run folder (default: results/runs/<model>-<prompt set>)")
    run.add_argument("--submission", action="store_true",
                     help="run the server-scored split (VQA v2 test-dev, DocVQA/InfographicVQA test) and write "
                     "OUT/submission/TASK.json for the evaluation server instead of scoring")
    run.set_defaults(func=run_run)


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    """The options every command that loads a model shares: which model, how it runs, the seed."""
    parser.add_argument("--model", required=True, metavar="SPEC", help="KIND:TARGET, e.g. molmo:/path/to/checkpoint")
    parser.add_argument("--batch-size", type=positive_int, default=8, help="requests per generate call (default 8)")
    parser.add_argument("--seed", type=int, default=0, help="seed for everything random (default 0)")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu; under torchrun cuda:LOCAL_RANK)")
    parser.add_argument("--dtype", default="auto", choices=("auto", "float32", "bfloat16", "float16"))


def _add_compare_parser(commands: argparse._SubParsersAction) -> None:
    compare = commands.add_parser(
        "compare",
        help="show runs beside the Molmo paper's published numbers",
        description="Print a Markdown table: the paper's Table 1 (results/reference/molmo_paper_table1.csv) and "
        "each run's per-task scores. The paper's numbers come from the Molmo release's own scoring, so by default "
        "each run is shown under the molmo profile, rescored from its samples.jsonl when it was scored otherwise.",
    )
    compare.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="run folders (or their run.json)")
    compare.add_argument("--reference", type=Path,
                         help="a table in the layout of results/reference/molmo_paper_table1.csv (default: that one)")
    compare.add_argument("--models", help="comma-separated reference models to show (default: all)")
    compare.add_argument("--scoring", choices=PROFILES, default="molmo",
                         help="scoring profile the runs are shown under (default molmo, as the paper's table)")
    compare.set_defaults(func=run_compare)


def _add_lmms_eval_parser(commands: argparse._SubParsersAction) -> None:
    bridge = commands.add_parser(
        "lmms-eval",
        help="run lmms-eval tasks on any model spec (needs the lmms-eval extra)",
        description="Run lmms-eval tasks through the lmms-eval bridge: the model is any of our specs, the tasks are "
        "lmms-eval's (or YAML task folders given with --include-path), and OUT/run.json plus OUT/samples.jsonl "
        "record the model, lmms-eval's version, each task's config hash, the data hashes and the scores.",
    )
    _add_model_options(bridge)
    bridge.add_argument("--tasks", required=True, metavar="LIST", help="comma-separated lmms-eval task names")
    bridge.add_argument("--include-path", type=Path, metavar="DIR", help="a folder of extra lmms-eval task YAML files")
    bridge.add_argument("--data", action="append", default=[], metavar="TASK=PATH",
                        help="read TASK's documents from a local Parquet file in its dataset's schema, keeping its "
                        "prompts and metrics (for machines without the hub); repeatable")
    bridge.add_argument("--limit", type=positive_int, help="only the first N documents of each task")
    bridge.add_argument("--out", type=Path, required=True, help="run folder")
    bridge.set_defaults(func=run_lmms_eval_command)


def _task_data(args: argparse.Namespace, tasks: list[str]) -> dict[str, str]:
    data: dict[str, str] = {}
    if args.data_dir is not None:
        for task in tasks:
            found = [p for p in (args.data_dir / f"{task}.parquet", args.data_dir / f"{task}.jsonl",
                                 args.data_dir / task) if p.exists()]
            if not found:
                raise ValueError(f"--data-dir {args.data_dir}: no {task}.parquet, {task}.jsonl or {task}/ in it")
            data[task] = str(found[0])
    for entry in args.data:
        task, sep, path = entry.partition("=")
        if not sep or task not in tasks:
            raise ValueError(f"--data {entry!r}: expected TASK=PATH with TASK one of {', '.join(tasks)}")
        data[task] = path
    return data


def run_run(args: argparse.Namespace) -> int:
    """Evaluate a model over tasks into a resumable run folder and print the summary."""
    from evals.tasks import resolve_tasks

    try:
        tasks = resolve_tasks(args.tasks)
    except ValueError as error:
        raise ValueError(f"--tasks: {error}") from None
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, got {args.batch_size}")
    data = _task_data(args, tasks)
    if args.submission:
        from evals.tasks import submission_task

        for task in tasks:
            submission_task(task)  # a task without a server split is refused before any model loads

    from tqdm.auto import tqdm

    from evals.adapters import load_adapter
    from evals.runner import EvaluationRun, RunConfig, Shard

    shard = Shard.from_env()
    device = args.device
    if shard.world_size > 1 and device == "cuda":
        device = f"cuda:{os.environ.get('LOCAL_RANK', shard.rank)}"
    adapter = load_adapter(args.model, device=device, dtype=args.dtype)
    prompt_set = args.prompt_set or adapter.prompt_family
    config = RunConfig(tasks=tuple(tasks), prompt_set=prompt_set, limit=args.limit, batch_size=args.batch_size,
                       seed=args.seed, data=data, submission=args.submission, scoring=args.scoring)
    out = args.out or Path("results/runs") / f"{_slug(args.model)}-{prompt_set}"
    progress = lambda batches, task, total: tqdm(batches, desc=task, total=total, unit="batch",  # noqa: E731
                                                 disable=shard.rank != 0)
    record = EvaluationRun(adapter, config, out, shard, progress).run()
    if record is not None:
        print(summary_table(record))
        print(f"wrote {out / 'samples.jsonl'} and {out / 'run.json'}")
    return 0


def run_lmms_eval_command(args: argparse.Namespace) -> int:
    """Run lmms-eval tasks on a model spec into a run folder and print the scores."""
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    if not tasks:
        raise ValueError(f"--tasks {args.tasks!r}: name at least one lmms-eval task")
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, got {args.batch_size}")
    data: dict[str, Path] = {}
    for entry in args.data:
        task, sep, path = entry.partition("=")
        if not sep or not task or not path:
            raise ValueError(f"--data {entry!r}: expected TASK=PATH")
        data[task] = Path(path)
    from evals.lmms_bridge.run import run_lmms_eval

    record = run_lmms_eval(args.model, tasks, args.out, include_path=args.include_path, data=data, limit=args.limit,
                           batch_size=args.batch_size, seed=args.seed, device=args.device, dtype=args.dtype)
    lines = ["| task | metric | value | stderr | documents |", "|---|---|---|---|---|"]
    for task, score in record["scores"].items():
        for metric, value in score["metrics"].items():
            stderr = "–" if value["stderr"] is None else f"{value['stderr']:.4f}"
            shown = f"{value['value']:.4f}" if isinstance(value["value"], (int, float)) else str(value["value"])
            lines.append(f"| {task} | {metric} | {shown} | {stderr} | {score['documents']} |")
    print("\n".join(lines))
    print(f"wrote {args.out / 'samples.jsonl'} and {args.out / 'run.json'}")
    return 0


def _slug(text: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9._-]+", "_", text.rstrip("/").split("/")[-1] if ":" in text else text).strip("_")


def summary_table(record: dict[str, Any]) -> str:
    """The run's scores as a Markdown table: task, score, 95% interval, items, errors, unparsed."""
    lines = ["| task | score | 95% interval | items | errors | unparsed |", "|---|---|---|---|---|---|"]
    for task, score in record["scores"].items():
        if "score" not in score:  # a submission run: the server scores it
            lines.append(f"| {task} | (submission file) | – | {score['items']} | {score['errors']} | – |")
            continue
        if score["score"] is None:
            lines.append(f"| {task} | – | – | 0 | 0 | 0 |")
            continue
        lines.append(f"| {task} | {score['score']:.1f} | {score['lower']:.1f} – {score['upper']:.1f} | "
                     f"{score['items']} | {score['errors']} | {score['unparsed']} |")
    for task, score in record["scores"].items():
        for name, groups in score.get("breakdown", {}).items():
            cells = [f"{value} {group['score']:.1f} ({group['correct']:g}/{group['items']})"
                     for value, group in groups.items()]
            lines.append(f"{task} by {name}: " + "; ".join(cells))
    return "\n".join(lines)


def _scores_under(record: dict[str, Any], samples: Path, profile: str) -> dict[str, Any]:
    """A finished run's per-task scores under `profile`: as recorded when the run was scored with it, else its
    samples rescored."""
    from evals.runner import read_records, score_record, summarise

    config = record["config"]
    if config.get("scoring") == profile or config.get("submission"):
        return record["scores"]
    if not samples.exists():
        raise ValueError(f"{samples}: needed to rescore the run under the {profile} profile, and missing")
    rescored = [score_record(sample, profile) for sample in read_records(samples)]
    return {task: summarise(task, [r for r in rescored if r["task"] == task], config.get("seed", 0))
            for task in config["tasks"]}


def run_compare(args: argparse.Namespace) -> int:
    """Print the paper's Table 1 rows beside each run's per-task scores: a column per paper benchmark, then one per
    other benchmark a run has ("–" in the paper's rows), and the average over the paper's 11."""
    import csv

    from evals.tasks import PAPER_TABLE, PAPER_TASKS, TASKS

    args.reference = args.reference or PAPER_TABLE
    with open(args.reference, encoding="utf-8") as handle:
        reference = list(csv.DictReader(handle))
    paper = {task: TASKS[task].paper_column for task in PAPER_TASKS}
    missing = [column for column in paper.values() if reference and column not in reference[0]]
    if missing:
        raise ValueError(f"{args.reference}: missing column {missing[0]!r}")
    wanted = {m.strip() for m in args.models.split(",")} if args.models else None
    rows = [(r["model"] + " (paper)", {task: float(r[column]) for task, column in paper.items()}) for r in reference
            if wanted is None or r["model"] in wanted]
    for run in args.runs:
        path = run / "run.json" if run.is_dir() else run
        if not path.exists():
            raise ValueError(f"{path}: no such run record")
        record = json.loads(path.read_text())
        if "scores" not in record:
            raise ValueError(f"{path}: the run has not finished (no scores yet)")
        name = record["model"].get("model", str(run))
        scores = _scores_under(record, path.parent / "samples.jsonl", args.scoring)
        rows.append((f"{name} ({record['config']['prompt_set']} prompts, {args.scoring} scoring)",
                     {task: score.get("score") for task, score in scores.items()}))
    others = [task for task in TASKS if task not in paper and any(task in values for _, values in rows)]
    columns = [*paper, *others]
    header = "| model | " + " | ".join(columns) + " | avg11 |"
    lines = [header, "|---|" + "---|" * (len(columns) + 1)]
    for name, values in rows:
        cells = ["–" if values.get(task) is None else f"{values[task]:.1f}" for task in columns]
        eleven = [values.get(task) for task in paper]
        average = "–" if None in eleven else f"{sum(eleven) / len(eleven):.1f}"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {average} |")
    print("\n".join(lines))
    return 0
