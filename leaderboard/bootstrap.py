"""Percentile bootstrap of Bradley-Terry strengths by multinomial resampling of the pair counts.

Resampling N battles with replacement is the same as drawing the per-(pair, outcome) cell counts from
Multinomial(N, n / N); each round is then a warm-started Newton fit on (M, M) matrices, in batches.
"""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from leaderboard.bradley_terry import RIDGE, fit_strengths, needs_ridge
from leaderboard.counts import PairCounts

_BATCH_ELEMENTS = 4_000_000  # rounds per batch x M^2: bounds memory at a few hundred MB for any M


def bootstrap_strengths(
    counts: PairCounts,
    theta: np.ndarray,
    rounds: int,
    seed: int,
    ridge: float,
    progress: bool = False,
) -> np.ndarray:
    """Strengths re-fitted on `rounds` resamples of the battles: (rounds, M), each round mean zero.

    `ridge` is applied in every round when the full data needed it; a round whose resample breaks the
    existence condition on its own (a model that happens to draw no loss) gets the standard small ridge.
    """
    n = len(counts.models)
    i, j = np.triu_indices(n, k=1)
    cells = np.stack([counts.wins[i, j], counts.wins[j, i], counts.ties[i, j]], axis=1)  # (P, 3)
    observed = cells.sum(axis=1) > 0
    i, j, cells = i[observed], j[observed], cells[observed]
    total = int(cells.sum())
    rng = np.random.default_rng(seed)
    per_batch = max(1, _BATCH_ELEMENTS // (n * n))
    out = np.empty((rounds, n))
    starts = range(0, rounds, per_batch)
    for start in tqdm(starts, desc="bootstrap", unit="batch", disable=not progress or len(starts) < 2):
        size = min(per_batch, rounds - start)
        draw = rng.multinomial(total, cells.ravel() / total, size=size).reshape(size, -1, 3).astype(float)
        scores = np.zeros((size, n, n))
        scores[:, i, j] = draw[:, :, 0] + 0.5 * draw[:, :, 2]
        scores[:, j, i] = draw[:, :, 1] + 0.5 * draw[:, :, 2]
        lam = np.full(size, ridge)
        if ridge == 0.0:
            lam[needs_ridge(scores)] = RIDGE
        out[start : start + size] = fit_strengths(scores, ridge=lam, init=theta)
    return out

