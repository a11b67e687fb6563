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
import pyarrow as pa
import pyarrow.compute as pc

from leaderboard.schema import STYLE_COUNTS, style_column

SIMULATED_JUDGE = "simulated-annotator-{:03d}"
# Per-answer style counts: a typical value and how one answer's count is drawn around its model's habit.
STYLE_HABITS = {
    "tokens": (250.0, lambda rng, mean: np.round(rng.lognormal(np.log(mean), 0.5))),
    "headers": (1.0, lambda rng, mean: rng.poisson(mean)),
    "lists": (3.0, lambda rng, mean: rng.poisson(mean)),
    "bold": (2.0, lambda rng, mean: rng.poisson(mean)),
    "points": (0.3, lambda rng, mean: rng.poisson(3.0, len(mean)) * (rng.random(len(mean)) < np.minimum(mean, 1.0))),
}


def simulate_battles(
    ratings: Mapping[str, float],
    n_battles: int,
    seed: int = 0,
    tie_rate: float = 0.25,
    categories: Sequence[str] = (),
    judges: int = 20,
    start_time: float = 1_700_000_000.0,
    popularity: Sequence[float] | None = None,
    style: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Battles between drawn pairs, outcomes from the Elo-scale Bradley-Terry model.

    Pairs are uniform, or with `popularity` (one weight per model) drawn as a live arena skews them: each side
    in proportion to its model's weight. With `style` ({feature: beta}), every answer gets style counts (each
    model with its own verbosity and markdown habits) in columns `style_<feature>_a/_b`, and the votes follow
    the style-controlled model: logit = (R_a - R_b) ln(10) / 400 + sum beta z, z the feature
    (x_a - x_b) / (x_a + x_b + 1) standardised over the battles, as the style fit defines it.

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
    logit = (strength[a] - strength[b]) * np.log(10.0) / 400.0
    counts = {}
    if style:
        habit = rng.normal(0.0, 0.5, (len(names), len(STYLE_HABITS)))
        for k, feature in enumerate(style):
            base, draw = STYLE_HABITS[feature]
            x_a, x_b = (draw(rng, base * np.exp(habit[side, k])) for side in (a, b))
            counts[style_column(feature, "a")], counts[style_column(feature, "b")] = x_a, x_b
            if feature == "points":  # the feature is whether an answer marks points (leaderboard.style)
                x_a, x_b = (x_a > 0) * 1.0, (x_b > 0) * 1.0
            raw = (x_a - x_b) / (x_a + x_b + 1.0)
            logit = logit + style[feature] * (raw - raw.mean()) / raw.std()
    p = 1.0 / (1.0 + np.exp(-logit))
    t = np.minimum(tie_rate, 2.0 * np.minimum(p, 1.0 - p))
    u = rng.random(n_battles)
    outcome = np.where(u < p - t / 2, 0, np.where(u < 1.0 - t, 1, 2))
    bothbad = rng.random(n_battles) < 0.5
    outcome = np.where((outcome == 2) & bothbad, 3, outcome)
    judge = rng.integers(0, max(judges, 1), n_battles)
    frame = pd.DataFrame(
        {
            "battle_id": pc.binary_join_element_wise(
                "sim-", pc.utf8_lpad(pa.array(np.arange(n_battles)).cast(pa.string()), 7, "0"), "").to_pandas(),
            "model_a": _pick(names, a),
            "model_b": _pick(names, b),
            "winner": _pick(["model_a", "model_b", "tie", "tie (bothbad)"], outcome),
            "judge": _pick([SIMULATED_JUDGE.format(j) for j in range(max(judges, 1))], judge),
            "tstamp": np.round(start_time + np.sort(rng.random(n_battles)) * 86_400.0 * 14, 3),
            "anony": True,
        }
        | counts
    )
    if categories:
        category = rng.integers(0, len(categories), n_battles)
        frame["category"] = _pick(list(categories), category)
        question = pc.utf8_lpad(pa.array(rng.integers(0, 1500, n_battles)).cast(pa.string()), 4, "0")
        frame["question_id"] = pc.binary_join_element_wise(pa.array(list(categories)).take(category), question,
                                                           "-").to_pandas()
    return frame


def _pick(words: list[str], index: np.ndarray) -> pd.Series:
    """words[index] as pandas text, built in Arrow (a list of millions of Python strings is slow)."""
    return pa.array(words, type=pa.string()).take(pa.array(index)).to_pandas()


def _conv_metadata(battles: pd.DataFrame) -> list[tuple[str, pa.Array]]:
    """The style count columns as FastChat's `conv_metadata` fields: a number, or an object whose first part
    holds the count (the others zero)."""

    fields = []
    for count in STYLE_COUNTS:
        for side in "ab":
            column = style_column(count.feature, side)
            if column not in battles.columns:
                continue
            values = pa.array(battles[column].to_numpy(np.int64))
            if count.parts:
                zeros = pa.array(np.zeros(len(battles), dtype=np.int64))
                values = pa.StructArray.from_arrays([values] + [zeros] * (len(count.parts) - 1), list(count.parts))
            fields.append((count.key.format(side=side), values))
    return fields


def _fastchat_table(battles: pd.DataFrame):
    """The battles as an Arrow table in FastChat's layout (style counts nested in `conv_metadata`)."""

    plain = battles[[c for c in battles.columns if not c.startswith("style_")]]
    table = pa.Table.from_pandas(plain, preserve_index=False)
    fields = _conv_metadata(battles)
    if fields:
        names, arrays = zip(*fields, strict=True)
        table = table.append_column("conv_metadata", pa.StructArray.from_arrays(list(arrays), list(names)))
    return table


def write_battles_jsonl(battles: pd.DataFrame, path: str | Path) -> None:
    """One JSON object per line; gzipped (with a fixed header time, so the bytes are reproducible) for `.gz`."""
    path = Path(path)
    records = _fastchat_table(battles).to_pylist() if any(c.startswith("style_") for c in battles.columns) \
        else battles.to_dict("records")
    lines = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    data = lines.encode("utf-8")
    if path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)


def write_battles_parquet(battles: pd.DataFrame, path: str | Path) -> None:
    """The battles as Parquet in FastChat's layout."""
    import pyarrow.parquet as pq

    pq.write_table(_fastchat_table(battles), path)
