"""Generation throughput of the in-repo Molmo with and without the KV cache.

Greedy decoding of image prompts at batch 1 and 8 on a preset with random weights; no row stops at EOS, so
each produces exactly `--new-tokens` tokens. Without the cache every step re-runs the prompt, image included;
with it the image and the prompt are run once. Prints new tokens/s for each and the ratio.

    .venv/bin/python bench/molmo_generation.py [--preset tiny] [--new-tokens 32] [--repeats 3] [--device cpu]
        [--threads N]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from PIL import Image

from molmo.checkpoint import random_init
from molmo.config import get_preset
from molmo.generation import generate
from molmo.processing import MolmoBatch, MolmoProcessor, tiny_tokenizer

QUESTIONS = ["What is the value of the tallest bar?", "How many shapes are there?", "What does the sign say?",
             "Which option is correct?"]


def make_batch(processor: MolmoProcessor, size: int, seed: int = 0) -> MolmoBatch:
    """`size` prompts, each with its own 336 x 336 image (the global view + one crop: 316 image tokens)."""
    rng = np.random.default_rng(seed)
    images = [Image.fromarray(rng.integers(0, 256, (336, 336, 3), dtype=np.uint8)) for _ in range(size)]
    return processor([QUESTIONS[i % len(QUESTIONS)] for i in range(size)], images)


def tokens_per_second(model, processor: MolmoProcessor, batch: MolmoBatch, new_tokens: int, use_cache: bool,
                      repeats: int) -> float:
    """Best of `repeats`: new tokens (all rows) per second of wall time."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        result = generate(model, processor, batch, max_new_tokens=new_tokens, use_cache=use_cache)
        best = min(best, time.perf_counter() - start)
    produced = sum(len(ids) for ids in result.token_ids)
    return produced / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    config = get_preset(args.preset)
    model = random_init(config).to(args.device)
    processor = MolmoProcessor(tiny_tokenizer(), config.image_config())
    processor.eos_token_id = -1  # never stop early: every row produces --new-tokens tokens
    print(f"preset {args.preset}: {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters, "
          f"{args.new_tokens} new tokens, device {args.device}, {torch.get_num_threads()} threads")
    for size in (1, 8):
        batch = make_batch(processor, size)
        generate(model, processor, batch, max_new_tokens=2)  # warm-up
        cached = tokens_per_second(model, processor, batch, args.new_tokens, True, args.repeats)
        uncached = tokens_per_second(model, processor, batch, args.new_tokens, False, args.repeats)
        print(f"batch {size} (prompt {batch.input_ids.shape[1]} tokens): KV cache {cached:8.1f} tokens/s, "
              f"no cache {uncached:8.1f} tokens/s, ratio {cached / uncached:5.1f}x")


if __name__ == "__main__":
    main()
