"""`python -m evals.tasks [--differences]`: the benchmark catalogue, or the table of deliberate differences between
our official profile and lmms-eval, as Markdown, read from the benchmark folders."""

from __future__ import annotations

import argparse

from evals.tasks import TASKS, task_part
from evals.tasks.oracle import LmmsOracle


def _oracles() -> dict[str, LmmsOracle]:
    return {task: part.ORACLE for task in TASKS if (part := task_part(task, "oracle")) is not None}


def catalogue() -> str:
    """One row per benchmark: its dataset, splits, paper column, metrics per profile, breakdown, lmms-eval task."""
    oracles = _oracles()
    lines = ["| task | benchmark | dataset | split | server split | paper column | official metric | molmo metric "
             "| breakdown | lmms-eval task |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, spec in TASKS.items():
        dataset = spec.hf_id + (f" ({spec.config})" if spec.config else "")
        server = f"{spec.submission_split} ({spec.submission_id})" if spec.submission_split else "–"
        cells = [name, spec.display_name, dataset, spec.split, server, spec.paper_column or "–",
                 spec.scoring["official"].metric, spec.scoring["molmo"].metric, ", ".join(spec.breakdown) or "–",
                 oracles[name].task if name in oracles else "–"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def differences() -> str:
    """One row per deliberate difference: the benchmarks that list it, its example and both scores, why."""
    oracles = _oracles()
    lines = ["| id | benchmarks | prediction | answer | ours | lmms-eval | why |", "|---|---|---|---|---|---|---|"]
    for oracle in oracles.values():
        for example in oracle.examples:
            difference = example.difference
            tasks = ", ".join(task for task, other in oracles.items() if difference in other.differences)
            lines.append(f"| `{difference.id}` | {tasks} | `{example.prediction!r}` | {example.answer} | "
                         f"{example.ours:g} | {example.lmms:g} | {difference.why} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m evals.tasks", description=__doc__)
    parser.add_argument("--differences", action="store_true",
                        help="print the deliberate differences from lmms-eval instead of the catalogue")
    args = parser.parse_args(argv)
    print(differences() if args.differences else catalogue())


if __name__ == "__main__":
    main()
