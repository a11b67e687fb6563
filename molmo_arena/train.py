"""`molmo-arena train --config PATH`: train Molmo from a config, on one process or under torchrun.

    molmo-arena train --config molmo/train/configs/tiny_synthetic.yaml
    torchrun --nproc-per-node 8 -m molmo_arena train --config molmo/train/configs/stage1_caption.yaml \\
        --out results/runs/stage1 --resume

A config's eval section runs the benchmark harness on the weights being trained, at checkpoints (or every
train.eval_every steps), into OUT/evals/step-N/. Only argparse is imported here; torch, the trainer and the
harness load when the command runs.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

    from evals.adapters.base import ModelAdapter
    from molmo.config import MolmoConfig
    from molmo.train.config import EvalSection, TrainingConfig
    from molmo.train.trainer import Evaluate, Trainer

AdapterFactory = Callable[["nn.Module", Any, "MolmoConfig", "EvalSection"], "ModelAdapter"]
"""(model, tokenizer, model config, eval section) -> the harness's adapter for the weights being trained."""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the `train` command to the console's sub-parsers."""
    parser = subparsers.add_parser("train", help="train Molmo (stage 1 captioning, stage 2 fine-tuning)",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, required=True, help="a YAML config (see molmo/train/configs/)")
    parser.add_argument("--out", type=Path, help="run folder (default results/runs/train-<config name>)")
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    parser.add_argument("--max-steps", type=int, help="override train.max_steps (the schedule's length)")
    parser.add_argument("--stop-after", type=int,
                        help="stop after this step, saving a checkpoint, without shortening the schedule")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override any config key, e.g. --set train.micro_batch_size=2 (value read as YAML)")
    parser.add_argument("--eval-adapter", metavar="MODULE:FUNCTION", default="evals.adapters.molmo:training_adapter",
                        help="adapter factory (model, tokenizer, model_config, eval_section) -> ModelAdapter, "
                             "used by the config's eval section at checkpoints (default: the in-repo Molmo in place)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def harness_evaluation(section: EvalSection, out: Path, tokenizer: Any, seed: int,
                       adapter_factory: AdapterFactory) -> Evaluate:
    """The trainer's evaluation callback: the eval section's benchmarks through the harness, into
    out/evals/step-N/ (a run folder like `molmo-arena eval run` writes); returns the score of each task."""

    def evaluate(model: nn.Module, step: int) -> dict[str, float | None]:
        from evals.runner import EvaluationRun, RunConfig

        adapter = adapter_factory(model, tokenizer, model.config, section)
        run = RunConfig(tasks=section.tasks, prompt_set=section.prompt_set, limit=section.limit,
                        batch_size=section.batch_size, seed=seed, data=dict(section.data))
        record = EvaluationRun(adapter, run, out / "evals" / f"step-{step:06d}").run()
        return {task: summary.get("score") for task, summary in record["scores"].items()}

    return evaluate


def build_trainer(config: TrainingConfig, out: Path, *, adapter_factory: AdapterFactory | None = None,
                  progress: bool = True) -> Trainer:
    """A trainer for `config` in this process's place in the job (starting the process group under torchrun), with
    the harness as its evaluation callback when the config has an eval section. The train command and the demo
    both make their trainer here."""
    from molmo.train.distributed import init_distributed
    from molmo.train.model_setup import load_tokenizer
    from molmo.train.trainer import Trainer

    env = init_distributed()
    tokenizer = load_tokenizer(config)
    evaluate = None
    if config.eval is not None:
        from evals.adapters.molmo import training_adapter

        factory = adapter_factory or training_adapter
        evaluate = harness_evaluation(config.eval, out, tokenizer, config.train.seed, factory)
    return Trainer(config, out, env=env, tokenizer=tokenizer, evaluate=evaluate, progress=progress)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    import yaml

    overrides: dict[str, Any] = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set {item!r}: expected KEY=VALUE")
        overrides[key] = yaml.safe_load(value)
    if args.max_steps is not None:
        overrides["train.max_steps"] = args.max_steps
    return overrides


def _factory(spec: str) -> AdapterFactory:
    module, sep, name = spec.partition(":")
    if not sep:
        raise ValueError(f"--eval-adapter {spec!r}: expected MODULE:FUNCTION")
    return getattr(importlib.import_module(module), name)


def run(args: argparse.Namespace) -> int:
    from molmo.train.config import load_config

    config = load_config(args.config, _overrides(args))
    out = args.out or Path("results") / "runs" / f"train-{args.config.stem}"
    trainer = build_trainer(config, out, adapter_factory=_factory(args.eval_adapter), progress=not args.no_progress)
    records = trainer.run(resume=args.resume, stop_after=args.stop_after)
    if trainer.env.is_main and records:
        last = records[-1]
        print(f"step {last['step']}: loss {last['loss']:.4f}, {last['tokens_per_s']:.0f} tokens/s; run folder {out}")
    return 0
