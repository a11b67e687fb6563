"""Harness overhead: the share of an evaluation run spent outside the model's own generate() call.

Runs a tiny random Hugging Face VLM (LLaVA layout) over the 11 benchmark fixtures at batch size 8 and times
`model.generate` (the forward passes) against the whole run (data loading, prompt rendering, the processor,
scoring, sample records). Target: overhead at most 5% of total time.

    .venv/bin/python bench/eval_overhead.py [--items 16] [--batch-size 8]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from evals.adapters.hf import HFAdapter
from evals.fixtures import write_all_fixtures
from evals.runner import EvaluationRun, RunConfig
from evals.tasks import TASKS
from evals.tiny_models import save_tiny_llava


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=16, help="items per benchmark")
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        paths = write_all_fixtures(root / "data", n=args.items)
        adapter = HFAdapter(str(save_tiny_llava(root / "model")))
        inner = adapter.model.generate
        spent = {"generate": 0.0, "processor": 0.0}

        def timed_generate(*a, **k):
            start = time.perf_counter()
            try:
                return inner(*a, **k)
            finally:
                spent["generate"] += time.perf_counter() - start

        processor = adapter.processor
        call = type(processor).__call__

        def timed_processor(self, *a, **k):
            start = time.perf_counter()
            try:
                return call(self, *a, **k)
            finally:
                spent["processor"] += time.perf_counter() - start

        adapter.model.generate = timed_generate
        type(processor).__call__ = timed_processor
        config = RunConfig(tasks=tuple(TASKS), prompt_set="generic", batch_size=args.batch_size,
                           data={task: str(path) for task, path in paths.items()})
        start = time.perf_counter()
        EvaluationRun(adapter, config, root / "run").run()
        total = time.perf_counter() - start
    items = args.items * len(TASKS)
    harness = total - spent["generate"] - spent["processor"]
    print(f"{items} items, batch size {args.batch_size}, tiny LLaVA-layout model on CPU")
    print(f"total {total:.2f} s; model.generate {spent['generate']:.2f} s; processor {spent['processor']:.2f} s")
    print(f"harness (data, prompts, scoring, records): {harness:.2f} s = {1000 * harness / items:.1f} ms/item "
          f"= {100 * harness / total:.1f}% of the run")
    print(f"everything but model.generate: {100 * (total - spent['generate']) / total:.1f}% of the run")


if __name__ == "__main__":
    main()
