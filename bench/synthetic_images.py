"""Synthetic images per second: the training data (`molmo.data.synthetic`) and the benchmark fixtures
(`evals.fixtures`), both drawn with `molmo.data.drawing`. Best of `--repeats`, after one warm-up call.

    .venv/bin/python bench/synthetic_images.py
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from evals.fixtures import generate
from evals.tasks import TASKS as BENCHMARKS
from molmo.data.synthetic import TASKS, generate_rows


def best_rate(make: Callable[[], object], items: int, repeats: int) -> float:
    """Items per second of the fastest of `repeats` calls."""
    make()
    fastest = min(_seconds(make) for _ in range(repeats))
    return items / fastest


def _seconds(make: Callable[[], object]) -> float:
    start = time.perf_counter()
    make()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=100, help="training images per task and call")
    parser.add_argument("--fixtures", type=int, default=16, help="fixture rows per benchmark and call")
    parser.add_argument("--size", type=int, default=128, help="training image side in pixels")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    print(f"training data, {args.size} px (molmo.data.synthetic):")
    for task in TASKS:
        rate = best_rate(lambda t=task: generate_rows(t, args.images, size=args.size), args.images, args.repeats)
        print(f"  {task:15s} {rate:8.0f} images/s")
    print("benchmark fixtures (evals.fixtures):")
    for task in BENCHMARKS:
        rate = best_rate(lambda t=task: generate(t, args.fixtures), args.fixtures, args.repeats)
        print(f"  {task:15s} {rate:8.0f} rows/s")


if __name__ == "__main__":
    main()
