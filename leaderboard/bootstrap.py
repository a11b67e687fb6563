"""Percentile bootstrap of Bradley-Terry strengths by multinomial resampling of the pair counts.

Resampling N battles with replacement is the same as drawing the per-(pair, outcome) cell counts from
Multinomial(N, n / N) (FastChat `rating_systems.py`, `compute_bootstrap_bt`; docs/leaderboard.md), drawn by
`leaderboard.resampling`. Each round is then re-fitted from the full-data strengths by Newton iterations that
keep the full-data Hessian, inverted once: a resample moves the Hessian by O(1/sqrt(N)), so the iterations
contract fast, and each costs a few passes over the round's (M, M) pair counts plus one product with the fixed
inverse instead of an O(M^3) solve. A round that has not converged after a few iterations (small or unbalanced
data) is finished by the full Newton fit, and one that does not converge even then is counted and reported.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
from tqdm.auto import tqdm

from leaderboard.bradley_terry import RIDGE, fit_strengths, hessian, needs_ridge
from leaderboard.counts import PairCounts
from leaderboard.resampling import CellSampler
from leaderboard.scratch import Scratch

_CHUNK_ELEMENTS = 2**19  # rounds per chunk x (cells or M^2): each chunk's arrays stay within a few MB of cache
_MIN_CHUNKS = 8  # so that small problems still spread over the workers
_FIXED_ITERATIONS = 25
_TOL = 1e-7  # natural-log units: 4e-6 Elo, far below any bootstrap spread
_WORKERS = min(2, os.cpu_count() or 1)


class BootstrapFit(NamedTuple):
    theta: np.ndarray  # (rounds, M), each round mean zero
    not_converged: int  # rounds whose fit did not converge


class _Cells(NamedTuple):
    """The (pair, outcome) cells with at least one battle, and where each cell's count goes in a (2, M, M)
    pair of matrices: wins at (winner, loser) in the first, ties at (i, j), i < j, in the second."""

    counts: np.ndarray  # (C,) battles per cell
    target: np.ndarray  # (C,) flat position in the (2, M, M) pair


def _cells(counts: PairCounts) -> _Cells:
    n = len(counts.models)
    i, j = np.triu_indices(n, k=1)
    per_outcome = np.stack([counts.wins[i, j], counts.wins[j, i], counts.ties[i, j]], axis=1)  # (pairs, 3)
    pair, outcome = np.nonzero(per_outcome)
    i, j = i[pair], j[pair]
    target = np.where(outcome == 1, j * n + i, i * n + j) + np.where(outcome == 2, n * n, 0)
    return _Cells(per_outcome[pair, outcome], target)


def bootstrap_strengths(
    counts: PairCounts,
    theta: np.ndarray,
    rounds: int,
    seed: int,
    ridge: float,
    progress: bool = False,
    pair_weight: np.ndarray | None = None,
) -> BootstrapFit:
    """Strengths re-fitted on `rounds` resamples of the battles.

    `ridge` is applied in every round when the full data needed it; a round whose resample breaks the
    existence condition on its own (a model that happens to draw no loss) gets the standard small ridge.
    With `pair_weight` (M, M), every pair's resampled scores are weighted as the full data's were.
    """
    n = len(counts.models)
    cells = _cells(counts)
    sampler = CellSampler(cells.counts)
    scored = counts.scores > 0  # directed edges of the full data: a round that keeps them all keeps its existence
    scores = counts.scores if pair_weight is None else counts.scores * pair_weight
    h_inv = np.linalg.inv(hessian(scores, theta) + ridge * np.eye(n) + np.full((n, n), 1.0 / n))

    per_chunk = max(1, min(_CHUNK_ELEMENTS // max(len(cells.counts), n * n), -(-rounds // _MIN_CHUNKS)))
    starts = list(range(0, rounds, per_chunk))
    # One generator per chunk, spawned from the seed: the same draws whichever thread runs which chunk.
    generators = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(len(starts))]
    # Where each drawn count goes in a chunk's (rounds, 2, M, M) counts: wins, then ties.
    target = np.arange(per_chunk)[:, None] * (2 * n * n) + cells.target[sampler.order]
    scratch = Scratch()

    def run(chunk: int) -> tuple[np.ndarray, int]:
        size = min(per_chunk, rounds - starts[chunk])
        draws = sampler.draw(generators[chunk], size)
        counted = scratch.array("counted", (size, 2, n, n))  # zero but at the targets, which every chunk rewrites
        counted.ravel()[target[:size].ravel()] = draws.ravel()
        s = scratch.array("scores", (size, n, n))
        np.add(counted[:, 1], np.swapaxes(counted[:, 1], 1, 2), out=s)
        s *= 0.5  # a tie is half a win for each side
        s += counted[:, 0]
        lam = np.full(size, ridge)
        if ridge == 0.0:
            lost = np.flatnonzero(((s == 0) & scored).any(axis=(1, 2)))
            if lost.size:
                lam[lost[needs_ridge(s[lost])]] = RIDGE
        if pair_weight is not None:
            s *= pair_weight
        fitted, converged = _fixed_hessian_newton(s, lam, theta, h_inv, scratch)
        rest = np.flatnonzero(~converged)
        if rest.size == 0:
            return fitted, 0
        finish = fit_strengths(s[rest], ridge=lam[rest], init=fitted[rest])
        fitted[rest] = finish.theta
        return fitted, int((~finish.converged).sum())

    out = np.empty((rounds, n))
    not_converged = 0
    with ThreadPoolExecutor(_WORKERS) as pool:  # numpy's uniform sampler, indexing and ufuncs release the GIL
        results = pool.map(run, range(len(starts)))
        for start, (fitted, failed) in tqdm(zip(starts, results, strict=True), total=len(starts), desc="bootstrap",
                                            unit="chunk", disable=not progress or len(starts) < 2):
            out[start : start + len(fitted)] = fitted
            not_converged += failed
    return BootstrapFit(out, not_converged)


def _fixed_hessian_newton(scores: np.ndarray, lam: np.ndarray, theta: np.ndarray, h_inv: np.ndarray,
                          scratch: Scratch) -> tuple[np.ndarray, np.ndarray]:
    """theta <- theta + H0^-1 g(theta) for a batch of rounds, H0 the full-data Hessian (mean-zero gauge).

    scores: (B, M, M) each round's s_ij. Per round, g_k = sum_j (s_kj - N_kj p_kj) - lam theta_k with
    p_kj = e^theta_k / (e^theta_k + e^theta_j); the fixed point is the round's own maximum. Every round of the
    batch takes the same steps until all have converged (more steps only refine one that has). Returns the
    strengths (B, M) and, per round, whether the last step was below the tolerance.
    """
    games, work = scratch.array("games", scores.shape), scratch.array("work", scores.shape)
    np.add(scores, np.swapaxes(scores, 1, 2), out=games)
    row_scores = scores.sum(axis=2)
    current = np.repeat(theta[None], len(scores), axis=0)
    converged = np.zeros(len(scores), dtype=bool)
    for _ in range(_FIXED_ITERATIONS):
        strength = np.exp(current - current.max(axis=1, keepdims=True))
        np.add(strength[:, :, None], strength[:, None, :], out=work)
        np.divide(games, work, out=work)  # N_kj / (e_k + e_j): times e_k, the expected score of k against j
        gradient = row_scores - strength * work.sum(axis=2) - lam[:, None] * current
        step = np.einsum("bk,kj->bj", gradient, h_inv)  # numpy's own loop: no BLAS threads beside ours
        current += step
        converged = np.abs(step).max(axis=1) < _TOL
        if converged.all():
            break
    current -= current.mean(axis=1, keepdims=True)
    return current, converged
