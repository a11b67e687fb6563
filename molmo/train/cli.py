"""`molmo-arena train --config PATH`: train Molmo from a config, on one process or under torchrun.

    molmo-arena train --config molmo/train/configs/tiny_synthetic.yaml
    torchrun --nproc-per-node 8 -m molmo_arena train --config molmo/train/configs/stage1_caption.yaml \\
        --out results/runs/stage1 --resume

Only argparse is imported here; torch and the trainer load when the command runs.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path
from typing import Any


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


def _factory(spec: str) -> Any:
    module, sep, name = spec.partition(":")
    if not sep:
        raise ValueError(f"--eval-adapter {spec!r}: expected MODULE:FUNCTION")
    return getattr(importlib.import_module(module), name)


def run(args: argparse.Namespace) -> int:
    from molmo.train.config import load_config
    from molmo.train.trainer import Trainer

    config = load_config(args.config, _overrides(args))
    out = args.out or Path("results") / "runs" / f"train-{args.config.stem}"
    trainer = Trainer(config, out, adapter_factory=_factory(args.eval_adapter), progress=not args.no_progress)
    records = trainer.run(resume=args.resume, stop_after=args.stop_after)
    if trainer.env.is_main and records:
        last = records[-1]
        print(f"step {last['step']}: loss {last['loss']:.4f}, {last['tokens_per_s']:.0f} tokens/s; run folder {out}")
    return 0
