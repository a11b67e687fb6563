"""Simulated battles among models of known strength: for the shipped sample, the tests and the benchmarks.

Every simulated battle is labelled as such (judges are named `simulated-annotator-NNN`).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

SIMULATED_JUDGE = "simulated-annotator-{:03d}"


def simulate_battles(
    ratings: Mapping[str, float],
    n_battles: int,
    seed: int = 0,
    tie_rate: float = 0.25,
    categories: Sequence[str] = (),
    judges: int = 20,
    start_time: float = 1_700_000_000.0,
    popularity: Sequence[float] | None = None,
) -> pd.DataFrame:
    """Battles between drawn pairs, outcomes from the Elo-scale Bradley-Terry model.

    Pairs are uniform, or with `popularity` (one weight per model) drawn as a live arena skews them: each side
    in proportion to its model's weight.

    A battle is a tie with probability t = min(tie_rate, 2 min(p, 1 - p)), else model_a wins with probability
    p - t/2: so the expected half-win score of model_a is exactly p and a half-win fit recovers `ratings`.
    Half of the ties are "tie (bothbad)".
    """
    names = list(ratings)
    if len(names) < 2:
        raise ValueError("simulating battles needs at least two models")
    strength = np.array([ratings[name] for name in names], dtype=float)
    rng = np.random.default_rng(seed)
    if popularity is None:
        a = rng.integers(0, len(names), n_battles)
        b = (a + rng.integers(1, len(names), n_battles)) % len(names)
    else:
        weight = np.asarray(popularity, dtype=float) / np.sum(popularity)
        a = rng.choice(len(names), n_battles, p=weight)
        b = rng.choice(len(names), n_battles, p=weight)
        while (same := np.flatnonzero(a == b)).size:
            b[same] = rng.choice(len(names), same.size, p=weight)
    p = 1.0 / (1.0 + 10.0 ** ((strength[b] - strength[a]) / 400.0))
    t = np.minimum(tie_rate, 2.0 * np.minimum(p, 1.0 - p))
    u = rng.random(n_battles)
    winner = np.where(u < p - t / 2, "model_a", np.where(u < 1.0 - t, "model_b", "tie"))
    bothbad = rng.random(n_battles) < 0.5
    winner = np.where((winner == "tie") & bothbad, "tie (bothbad)", winner)
    frame = pd.DataFrame(
        {
            "battle_id": [f"sim-{i:07d}" for i in range(n_battles)],
            "model_a": np.asarray(names, dtype=object)[a],
            "model_b": np.asarray(names, dtype=object)[b],
            "winner": winner,
            "judge": [SIMULATED_JUDGE.format(j) for j in rng.integers(0, max(judges, 1), n_battles)],
            "tstamp": np.round(start_time + np.sort(rng.random(n_battles)) * 86_400.0 * 14, 3),
            "anony": True,
        }
    )
    if categories:
        frame["category"] = np.asarray(list(categories), dtype=object)[rng.integers(0, len(categories), n_battles)]
        frame["question_id"] = [f"{c}-{q:04d}" for c, q in zip(frame["category"], rng.integers(0, 1500, n_battles),
                                                                strict=True)]
    return frame


def write_battles_jsonl(battles: pd.DataFrame, path: str | Path) -> None:
    """One JSON object per line; gzipped (with a fixed header time, so the bytes are reproducible) for `.gz`."""
    path = Path(path)
    lines = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in battles.to_dict("records"))
    data = lines.encode("utf-8")
    if path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
