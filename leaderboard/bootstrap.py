"""Percentile bootstrap of Bradley-Terry strengths by multinomial resampling of the pair counts.

Resampling N battles with replacement is the same as drawing the per-(pair, outcome) cell counts from
Multinomial(N, n / N) (FastChat `rating_systems.py`, `compute_bootstrap_bt`; docs/leaderboard.md). Each round
is then re-fitted from the full-data strengths by Newton iterations that keep the full-data Hessian, factorised
once: a resample moves the Hessian by O(1/sqrt(N)), so the iterations contract fast and each costs O(pairs)
plus one (M, M) product instead of an O(M^3) solve. A round that has not converged after a few iterations
(small or unbalanced data) is finished by the full Newton fit, and one that does not converge even then is
counted and reported.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
from tqdm.auto import tqdm

from leaderboard.bradley_terry import RIDGE, fit_strengths, hessian, needs_ridge
from leaderboard.counts import PairCounts
from leaderboard.logistic import expit

_BATCH_ELEMENTS = 8_000_000  # rounds per batch x cells: bounds memory at a few hundred MB
_FIXED_ITERATIONS = 25
_TOL = 1e-7  # natural-log units: 4e-6 Elo, far below any bootstrap spread
_WORKERS = min(2, os.cpu_count() or 1)


class BootstrapFit(NamedTuple):
    theta: np.ndarray  # (rounds, M), each round mean zero
    not_converged: int  # rounds whose fit did not converge


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
    i, j = np.triu_indices(n, k=1)
    cells = np.stack([counts.wins[i, j], counts.wins[j, i], counts.ties[i, j]], axis=1)  # (P, 3)
    observed = cells.sum(axis=1) > 0
    i, j, cells = i[observed], j[observed], cells[observed]
    weight = np.ones(len(i)) if pair_weight is None else pair_weight[i, j]
    pairs = len(i)
    # Directed edges of the full data (i scored against j): a round that keeps them all keeps its existence.
    edge_ij, edge_ji = cells[:, 0] + cells[:, 2] > 0, cells[:, 1] + cells[:, 2] > 0
    from scipy import sparse

    incidence = sparse.csr_matrix(
        (np.concatenate([np.ones(pairs), -np.ones(pairs)]), (np.tile(np.arange(pairs), 2), np.concatenate([i, j]))),
        shape=(pairs, n),
    ).T.tocsr()  # (M, P): +1 at the first model of a pair, -1 at the second
    gauge = np.full((n, n), 1.0 / n)
    scores = counts.scores if pair_weight is None else counts.scores * pair_weight
    h_inv = np.linalg.inv(hessian(scores, theta) + ridge * np.eye(n) + gauge)

    per_batch = max(1, min(_BATCH_ELEMENTS // (3 * pairs), -(-rounds // _WORKERS)))
    starts = list(range(0, rounds, per_batch))
    # One generator per batch, spawned from the seed: the same draws whichever thread runs which batch.
    generators = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(len(starts))]

    def run(batch: int) -> tuple[np.ndarray, int]:
        size = min(per_batch, rounds - starts[batch])
        draw = multinomial_counts(generators[batch], cells.ravel(), size).reshape(size, pairs, 3)
        s_ij = (draw[:, :, 0] + 0.5 * draw[:, :, 2]).T * weight[:, None]  # (P, rounds): pairs along axis 0
        s_ji = (draw[:, :, 1] + 0.5 * draw[:, :, 2]).T * weight[:, None]
        lam = np.full(size, ridge)
        if ridge == 0.0:
            lost = ((s_ij == 0) & edge_ij[:, None]).any(axis=0) | ((s_ji == 0) & edge_ji[:, None]).any(axis=0)
            if lost.any():
                dense = _dense(s_ij[:, lost], s_ji[:, lost], i, j, n)
                lam[np.flatnonzero(lost)[needs_ridge(dense)]] = RIDGE
        fitted, converged = _fixed_hessian_newton(s_ij, s_ij + s_ji, lam, theta, i, j, incidence, h_inv)
        rest = np.flatnonzero(~converged)
        if rest.size == 0:
            return fitted, 0
        finish = fit_strengths(_dense(s_ij[:, rest], s_ji[:, rest], i, j, n), ridge=lam[rest], init=fitted[rest])
        fitted[rest] = finish.theta
        return fitted, int((~finish.converged).sum())

    out = np.empty((rounds, n))
    not_converged = 0
    with ThreadPoolExecutor(_WORKERS) as pool:  # numpy's sampling and ufuncs release the GIL
        results = pool.map(run, range(len(starts)))
        for start, (fitted, failed) in tqdm(zip(starts, results, strict=True), total=len(starts), desc="bootstrap",
                                            unit="batch", disable=not progress or len(starts) < 2):
            out[start : start + len(fitted)] = fitted
            not_converged += failed
    return BootstrapFit(out, not_converged)


def multinomial_counts(rng: np.random.Generator, counts: np.ndarray, size: int) -> np.ndarray:
    """`size` draws of Multinomial(N, counts / N), N = counts.sum(): the cell counts of N battles resampled
    with replacement.

    Drawn as independent Poisson(counts) per cell, which given its total T is Multinomial(T, counts / N), then
    brought to N exactly: T - N of the T drawn battles removed uniformly at random, or N - T more drawn from
    counts / N (either leaves N independent draws from counts / N). numpy's Poisson sampler is faster than the
    chain of conditional binomials its multinomial sampler runs.
    """
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    draws = rng.poisson(counts, size=(size, len(counts)))
    cumulative = np.cumsum(counts)
    for row in draws:
        excess = int(row.sum()) - total
        if excess > 0:
            drop = rng.choice(total + excess, excess, replace=False)
            np.subtract.at(row, np.searchsorted(np.cumsum(row), drop, side="right"), 1)
        elif excess < 0:
            np.add.at(row, np.searchsorted(cumulative, rng.integers(0, total, -excess), side="right"), 1)
    return draws


def _dense(s_ij: np.ndarray, s_ji: np.ndarray, i: np.ndarray, j: np.ndarray, n: int) -> np.ndarray:
    """(P, B) pair scores as a batch (B, M, M) of score matrices."""
    scores = np.zeros((s_ij.shape[1], n, n))
    scores[:, i, j] = s_ij.T
    scores[:, j, i] = s_ji.T
    return scores


def _fixed_hessian_newton(s_ij, games, lam, theta, i, j, incidence, h_inv) -> tuple[np.ndarray, np.ndarray]:
    """theta <- theta + H0^-1 g(theta) for every round at once, H0 the full-data Hessian (mean-zero gauge).

    Per round, g_k = sum over pairs of (s_kl - N_kl p_kl) - lam theta_k; the fixed point is the round's own
    maximum. Pair arrays are (P, rounds). Returns the strengths (rounds, M) and, per round, whether the last
    step was below the tolerance.
    """
    rounds = s_ij.shape[1]
    current = np.repeat(theta[:, None], rounds, axis=1)  # (M, rounds)
    converged = np.zeros(rounds, dtype=bool)
    active = np.arange(rounds)
    for _ in range(_FIXED_ITERATIONS):
        t = current[:, active]
        p = expit(t[i] - t[j])
        residual = s_ij[:, active] - games[:, active] * p  # the first model's score minus its expectation
        step = h_inv @ (incidence @ residual - lam[active] * t)
        current[:, active] = t + step
        done = np.abs(step).max(axis=0) < _TOL
        converged[active[done]] = True
        active = active[~done]
        if active.size == 0:
            break
    current -= current.mean(axis=0)
    return current.T.copy(), converged
