"""VQA scoring speed: `score_item("vqav2", ...)` over seeded predictions with 10 annotator answers each.

Generates VQA-like items (yes/no, counts written as digits or words, short phrases with articles, capitals and
punctuation), then times one cold pass of scoring (normalisation caches cleared first) and the bootstrap
interval. Prints items/s (wall clock) beside the CPU time, which a busy shared machine inflates less.
Target: 100,000 items in under 2 s on a 2-core machine. Single process.

    .venv/bin/python bench/eval_scoring.py [--items 100000] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
import time

from evals.metrics import vqa
from evals.metrics.bootstrap import bootstrap_interval
from evals.scoring import score_item

_NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
_SYLLABLES = ["ba", "ko", "ri", "te", "mun", "sal", "dor", "pi", "ven", "lu", "ar", "qui"]


def _vocabulary(rng: random.Random, size: int) -> list[str]:
    words = {"".join(rng.choices(_SYLLABLES, k=rng.randint(2, 3))) for _ in range(size * 2)}
    return sorted(words)[:size]


def _variant(rng: random.Random, answer: str) -> str:
    """How an annotator or a model might write `answer`."""
    roll = rng.random()
    if roll < 0.1:
        return answer.capitalize() + "."
    if roll < 0.15 and answer.isdigit() and int(answer) <= 10:
        return _NUMBER_WORDS[int(answer)]
    if roll < 0.2:
        return "the " + answer
    if roll < 0.23:
        return answer + "!"
    return answer


def make_items(n_items: int, seed: int) -> list[tuple[str, list[str]]]:
    """(prediction, 10 answers) pairs: yes/no 38%, numbers 12%, phrases 50%, as in VQA v2 val."""
    rng = random.Random(seed)
    phrases = _vocabulary(rng, 5000)
    items = []
    for _ in range(n_items):
        kind = rng.random()
        if kind < 0.38:
            pool = ["yes", "no"]
        elif kind < 0.5:
            pool = [str(rng.randint(0, 20)) for _ in range(3)]
        else:
            pool = [" ".join(rng.choices(phrases, k=rng.randint(1, 2))) for _ in range(3)]
        consensus = rng.choice(pool)
        answers = [_variant(rng, consensus if rng.random() < 0.7 else rng.choice(pool)) for _ in range(10)]
        prediction = _variant(rng, rng.choice(pool))
        if rng.random() < 0.05:
            prediction = f"The image shows it.\nAnswer: {prediction}"
        items.append((prediction, answers))
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    items = make_items(args.items, args.seed)
    vqa.clear_caches()
    start, start_cpu = time.perf_counter(), time.process_time()
    scores = [score_item("vqav2", prediction, answers).score for prediction, answers in items]
    scoring_s, scoring_cpu_s = time.perf_counter() - start, time.process_time() - start_cpu
    start = time.perf_counter()
    low, high = bootstrap_interval(scores, seed=0)
    bootstrap_s = time.perf_counter() - start

    mean = sum(scores) / len(scores)
    print(
        f"scored {len(items):,} VQA items (10 answers each) in {scoring_s:.2f} s wall, {scoring_cpu_s:.2f} s CPU: "
        f"{len(items) / scoring_s:,.0f} items/s"
    )
    print(f"bootstrap 95% interval (10,000 resamples) in {bootstrap_s:.3f} s")
    print(f"score {100 * mean:.2f} [{100 * low:.2f}, {100 * high:.2f}]")


if __name__ == "__main__":
    main()
