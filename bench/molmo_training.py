"""Molmo training throughput: tokens/s of whole optimizer steps on packed synthetic PixMo-like data.

A step is what `molmo.train.trainer.Trainer.train_step` does: forward (bf16 autocast on GPU, fp32 on CPU),
loss, backward, per-component gradient clipping, AdamW, the LR schedule. Tokens are the packed sequences'
real (non-padding) tokens: 316 image tokens per 128 px image at max_crops=1, plus the annotations. Data
packing (image pre-processing) is timed apart. The first `--warmup` steps are not counted.

    .venv/bin/python bench/molmo_training.py                       # the tiny preset
    .venv/bin/python bench/molmo_training.py --preset small --micro-batch 1 --steps 3 --warmup 1 \\
        --activation-checkpointing                                 # ~0.9B parameters (CLIP ViT-L + Qwen2-0.5B)
"""

from __future__ import annotations

import argparse
import time

import torch

from molmo.train.config import config_from_dict
from molmo.train.trainer import Trainer


def bench_config(args: argparse.Namespace) -> dict:
    """The tiny synthetic mixture at the requested preset and batch size."""
    task_reader = {"count": "pixmo_count", "points": "pixmo_points", "text": "pixmo_docs_other",
                   "chart": "pixmo_docs_charts"}
    return {
        "model": {"preset": args.preset, "tokenizer": "tiny"},
        "data": {
            "max_seq_len": 1024,
            "max_crops": args.max_crops,
            "datasets": [{"name": task, "reader": reader, "source": f"synthetic:{task}", "rate": 1.0,
                          "limit": 64, "image_size": args.image_size} for task, reader in task_reader.items()],
        },
        "optim": {"components": {
            "vit": {"modules": ["vision_encoder"], "lr": 6e-6, "warmup_steps": 10},
            "connector": {"modules": ["connector"], "lr": 2e-4, "warmup_steps": 10},
            "llm": {"modules": ["language_model"], "lr": 2e-5, "warmup_steps": 10},
        }},
        "train": {"max_steps": args.steps + args.warmup, "global_batch_size": args.micro_batch,
                  "micro_batch_size": args.micro_batch, "activation_checkpointing": args.activation_checkpointing},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--micro-batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=10, help="timed steps")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--max-crops", type=int, default=1)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    parser.add_argument("--activation-checkpointing", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    trainer = Trainer(config_from_dict(bench_config(args), "bench"), "/tmp/molmo-bench-training", progress=False)
    parameters = sum(p.numel() for p in trainer.module.parameters())
    packing = compute = tokens = images = 0.0
    for step in range(args.warmup + args.steps):
        tick = time.perf_counter()
        batch = trainer.next_batch()
        packed = time.perf_counter()
        stats = trainer.train_step(batch)
        if trainer.env.device.type == "cuda":
            torch.cuda.synchronize()
        done = time.perf_counter()
        if step >= args.warmup:
            packing, compute = packing + packed - tick, compute + done - packed
            tokens, images = tokens + stats["tokens"], images + len(batch)
    print(f"preset {args.preset}: {parameters / 1e6:.1f}M parameters on {trainer.env.device} "
          f"({'bf16 autocast' if trainer.autocast_dtype else 'fp32'}), {torch.get_num_threads()} threads")
    print(f"  {args.steps} steps of {args.micro_batch} images, {tokens / args.steps:.0f} tokens a step")
    print(f"  train step: {compute / args.steps:.3f} s, {tokens / compute:,.0f} tokens/s, "
          f"{images / compute:.1f} images/s")
    print(f"  with packing: {tokens / (compute + packing):,.0f} tokens/s (packing {packing / args.steps:.3f} s a step)")
    if trainer.env.device.type == "cuda":
        print(f"  peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")


if __name__ == "__main__":
    main()
