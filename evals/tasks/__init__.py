"""The benchmarks: one folder per benchmark under `evals/tasks/`, and everything the harness derives from them.

A benchmark folder `evals/tasks/<name>/` is a package holding, in its own files:

- `__init__.py`: `TASK`, its `TaskSpec` (hub dataset, split, submission split and id field, the row reader,
  the scorer bound to each scoring profile, its column in the Molmo paper's Table 1 if it is one of the paper's
  11), with the benchmark's schema notes and scoring rules in the module docstring;
- `fixture.py`: the fixture builder, `features()` (the hub dataset's `datasets` features), `generate(rng, n)`
  (rows in that schema, drawn from a known truth) and `check(item, truth)` (the row says what was drawn);
- `oracle.py`, when lmms-eval has the benchmark: `ORACLE`, what the lmms-eval oracle test needs (lmms-eval's task
  name, how to read its results, the official definition where lmms-eval carries one, extra predictions, and the
  deliberate differences between lmms-eval and our official profile, each with an example);

and its recorded prompts stay in `prompts/<name>.yaml`. Nothing else names a benchmark: the registry below, the
scoring profiles (`evals.scoring`), the runner's submission files, `python -m evals.fixtures`, `eval compare`,
`--tasks all` and the generic tests all read the folders. `python -m evals.tasks` prints the catalogue.

Order: the paper's 11 in the order of the paper table's columns, then the others by name. Groups for `--tasks`:
`all` (every benchmark) and `paper` (the paper's 11, the ones `avg11` averages).

Revisions: commit hashes cannot be looked up without the hub, which the machines this project is built on cannot
reach, so every spec asks for `revision="main"`; the runner records the fingerprint of the data it actually read
(`evals.data.dataset_fingerprint`) as the revision of each run.
"""

from __future__ import annotations

import csv
import importlib
import importlib.util
import pkgutil
from collections.abc import Callable
from dataclasses import replace
from types import ModuleType
from typing import Any

from evals.items import EvalItem
from evals.registry import REFERENCE_DIR
from evals.tasks.fields import FieldError, image_bytes, letter
from evals.tasks.spec import Kind, TaskSpec

PAPER_TABLE = REFERENCE_DIR / "molmo_paper_table1.csv"

__all__ = [
    "GROUPS",
    "PAPER_TABLE",
    "PAPER_TASKS",
    "TASKS",
    "FieldError",
    "Kind",
    "TaskSpec",
    "discover",
    "get_task",
    "image_bytes",
    "letter",
    "paper_columns",
    "resolve_tasks",
    "submission_task",
    "task_part",
]


def paper_columns() -> list[str]:
    """The header of the Molmo paper's Table 1 (results/reference/molmo_paper_table1.csv)."""
    with open(PAPER_TABLE, encoding="utf-8") as handle:
        return next(csv.reader(handle))


def discover(path: list[str], package: str) -> dict[str, TaskSpec]:
    """The `TASK` of every sub-package of `package` (found on `path`), the paper's 11 first in the order of the
    paper table's columns, then the others by name. ValueError when a folder's task is not named as the folder,
    or names a paper column the table lacks."""
    found = []
    for module in pkgutil.iter_modules(path):
        if not module.ispkg:
            continue
        spec = importlib.import_module(f"{package}.{module.name}").TASK
        if spec.name != module.name:
            raise ValueError(f"{package}.{module.name}: TASK is named {spec.name!r}; a benchmark is named by its "
                             "folder")
        found.append(spec)
    columns = paper_columns()
    for spec in found:
        if spec.paper_column is not None and spec.paper_column not in columns:
            raise ValueError(f"{package}.{spec.name}: paper_column {spec.paper_column!r} is not a column of "
                             f"{PAPER_TABLE}")
    paper = sorted((spec for spec in found if spec.paper_column), key=lambda spec: columns.index(spec.paper_column))
    others = sorted((spec for spec in found if not spec.paper_column), key=lambda spec: spec.name)
    return {spec.name: spec for spec in [*paper, *others]}


TASKS: dict[str, TaskSpec] = discover(__path__, __name__)
PAPER_TASKS: tuple[str, ...] = tuple(name for name, spec in TASKS.items() if spec.paper_column)
GROUPS: dict[str, tuple[str, ...]] = {"all": tuple(TASKS), "paper": PAPER_TASKS}


def get_task(name: str) -> TaskSpec:
    """The spec of a task by its short name, with the known names in the error."""
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; valid tasks: {', '.join(TASKS)}") from None


def resolve_tasks(names: str) -> list[str]:
    """The tasks a comma-separated list names, in its order, each once; `all` stands for every benchmark and
    `paper` for the paper's 11. ValueError naming an unknown name and the valid ones."""
    chosen: list[str] = []
    for name in (part.strip() for part in names.split(",")):
        if not name:
            continue
        for task in GROUPS.get(name, (name,)):
            if task not in TASKS:
                raise ValueError(f"unknown task {task!r}; valid tasks: {', '.join(TASKS)} "
                                 f"(or {', '.join(repr(group) for group in GROUPS)})")
            if task not in chosen:
                chosen.append(task)
    if not chosen:
        raise ValueError(f"no task in {names!r}; valid tasks: {', '.join(TASKS)}")
    return chosen


def _unanswered(to_item: Callable[[dict[str, Any], int], EvalItem]) -> Callable[[dict[str, Any], int], EvalItem]:
    """The same reader for a split whose answers stay on the evaluation server (`answers` absent or null)."""

    def read(row: dict[str, Any], index: int) -> EvalItem:
        return to_item(dict(row, answers=row.get("answers") or []), index)

    return read


def submission_task(name: str) -> TaskSpec:
    """The spec of a task's server-scored split (VQA v2 test-dev, DocVQA and InfographicVQA test)."""
    spec = get_task(name)
    if spec.submission_split is None:
        with_server = ", ".join(t for t, s in TASKS.items() if s.submission_split)
        raise ValueError(f"{name} has no evaluation-server split; tasks with one: {with_server}")
    return replace(spec, split=spec.submission_split, to_item=_unanswered(spec.to_item))


def task_part(name: str, part: str) -> ModuleType | None:
    """A benchmark folder's module `part` ("fixture", "oracle"), or None when the folder has none."""
    get_task(name)
    module = f"{__name__}.{name}.{part}"
    return importlib.import_module(module) if importlib.util.find_spec(module) is not None else None
