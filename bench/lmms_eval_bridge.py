"""Our harness beside lmms-eval on the same model, data and generation length: where does the time go?

Both run one adapter (a tiny random LLaVA-layout VLM) over the same ChartQA fixture at the same batch size and 16
new tokens: `molmo-arena eval run` with the `generic` prompts, and lmms-eval's registered `chartqa` task through
the bridge (`--data` pointing it at the fixture). `model.generate` and the processor are timed inside the shared
adapter, so what is left is each harness's own overhead (data, prompts, scoring, records). lmms-eval's task
index, built once per process, is timed apart. Run it in the side environment:

    .venv-lmms-eval/bin/python bench/lmms_eval_bridge.py [--items 128] [--batch-size 8]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def timed(spent: dict[str, float], key: str, call: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            spent[key] += time.perf_counter() - start
    return wrapper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=128, help="ChartQA fixture documents")
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="ERROR")
    from lmms_eval.evaluator import simple_evaluate
    from lmms_eval.tasks import TaskManager

    from evals.fixtures import write_fixture
    from evals.lmms_bridge import MODEL_NAME
    from evals.lmms_bridge import model as bridge
    from evals.lmms_bridge.model import MolmoArenaModel
    from evals.lmms_bridge.run import task_configs
    from evals.runner import EvaluationRun, RunConfig
    from evals.tiny_models import save_tiny_llava

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        data = write_fixture("chartqa", root / "data", n=args.items)
        model = MolmoArenaModel(f"hf:{save_tiny_llava(root / 'model')}", batch_size=args.batch_size)
        adapter = model.adapter
        spent = {"generate": 0.0, "processor": 0.0, "png": 0.0}
        bridge.image_bytes = timed(spent, "png", bridge.image_bytes)  # the bridge's own cost: PIL image -> PNG
        adapter.model.generate = timed(spent, "generate", adapter.model.generate)
        processor_type = type(adapter.processor)
        processor_type.__call__ = timed(spent, "processor", processor_type.__call__)

        rows = []
        config = RunConfig(tasks=("chartqa",), prompt_set="generic", batch_size=args.batch_size,
                           data={"chartqa": str(data)})
        start = time.perf_counter()
        EvaluationRun(adapter, config, root / "ours").run()
        rows.append(("molmo-arena eval run", time.perf_counter() - start, dict(spent)))

        start = time.perf_counter()
        task_manager = TaskManager("ERROR", model_name=MODEL_NAME)
        index = time.perf_counter() - start
        spent.update(generate=0.0, processor=0.0, png=0.0)
        start = time.perf_counter()
        simple_evaluate(model=model, tasks=task_configs(task_manager, ["chartqa"], {"chartqa": data}),
                        task_manager=task_manager, log_samples=True, verbosity="ERROR")
        rows.append(("lmms-eval chartqa via the bridge", time.perf_counter() - start, dict(spent)))

    print(f"{args.items} ChartQA fixture items, batch size {args.batch_size}, 16 new tokens, tiny LLaVA-layout model")
    print("| harness | total s | model.generate s | processor s | overhead s | overhead ms/item | items/s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, total, parts in rows:
        overhead = total - parts["generate"] - parts["processor"]
        print(f"| {name} | {total:.2f} | {parts['generate']:.2f} | {parts['processor']:.2f} | {overhead:.2f} | "
              f"{1000 * overhead / args.items:.1f} | {args.items / total:.1f} |")
    print(f"of the bridge run's overhead, encoding lmms-eval's decoded images as PNG for the adapter: "
          f"{rows[1][2]['png']:.2f} s")
    print(f"lmms-eval's task index (once per process, not in the table): {index:.1f} s")


if __name__ == "__main__":
    main()
