"""Style control: Bradley-Terry with per-battle style covariates (LMArena's contextual Bradley-Terry).

P(A beats B) = sigmoid(theta_A - theta_B + beta . f), one feature per style count x (answer tokens, markdown
headers, list items, bold spans; our own: points marked on the image):
f = (x_A - x_B) / (x_A + x_B + 1), z-normalised over the battles (FastChat `rating_systems.py`,
`preprocess_for_style`). theta is then a model's strength with the style of its answers held apart; beta says
how much each style difference sways a vote. Ties count as half a win. The fit is unpenalised unless a ridge on
beta is asked for (arena-rank `ContextualBradleyTerry` penalises beta only). Methods and formulas:
docs/leaderboard.md.

Features vary per battle, so the fit cannot be aggregated into pair counts: each Newton step is O(N k) through
`np.bincount`, the Hessian's model block still (M, M).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from leaderboard.counts import codes
from leaderboard.logistic import expit, log_expit
from leaderboard.schema import style_column

_TOL = 1e-10
_MAX_ITER = 100
_FIXED_ITERATIONS = 30
_WORKERS = min(2, os.cpu_count() or 1)
_BOOTSTRAP_TOL = 1e-7  # natural-log units: 4e-6 Elo, far below any bootstrap spread


@dataclass(frozen=True)
class StyleData:
    """The battles as arrays: model indices, outcomes, z-normalised features and optional battle weights."""

    models: tuple[str, ...]
    a: np.ndarray  # (N,) int
    b: np.ndarray  # (N,) int
    y: np.ndarray  # (N,) 1, 1/2 or 0: model_a's score
    features: np.ndarray  # (N, k)
    names: tuple[str, ...]
    weight: np.ndarray  # (N,)
    mean: np.ndarray  # (k,) of the raw differences, before z-normalising
    std: np.ndarray  # (k,)


def available_features(battles: pd.DataFrame, wanted: tuple[str, ...]) -> tuple[str, ...]:
    """The wanted features whose counts every battle carries for both sides."""
    return tuple(
        name for name in wanted
        if all(style_column(name, side) in battles.columns and battles[style_column(name, side)].notna().all()
               for side in "ab")
    )


def style_data(battles: pd.DataFrame, models: tuple[str, ...], features: tuple[str, ...],
               weight: np.ndarray | None = None) -> StyleData:
    """Arrays for the fit. A feature that does not vary over the battles cannot be normalised and is refused."""
    index = {model: i for i, model in enumerate(models)}
    a, b = (codes(battles[side], index) for side in ("model_a", "model_b"))
    y = np.array([1.0, 0.0, 0.5])[codes(battles["winner"], {"model_a": 0, "model_b": 1}, missing=2)]
    raw = np.empty((len(battles), len(features)))
    for k, name in enumerate(features):
        if name == "points":  # our vision feature: whether the answer marks points at all
            x_a, x_b = ((battles[style_column(name, side)].to_numpy(float) > 0) * 1.0 for side in "ab")
        else:
            x_a, x_b = (battles[style_column(name, side)].to_numpy(float) for side in "ab")
        raw[:, k] = (x_a - x_b) / (x_a + x_b + 1.0)
    mean, std = raw.mean(axis=0), raw.std(axis=0)
    flat = [name for name, s in zip(features, std, strict=True) if not s > 0]
    if flat:
        raise ValueError(f"style feature {flat[0]!r} is the same in every battle, so it cannot be normalised "
                         "(leave it out with --style-features)")
    w = np.ones(len(battles)) if weight is None else np.asarray(weight, dtype=float)
    return StyleData(models, a, b, y, (raw - mean) / std, tuple(features), w, mean, std)


@dataclass(frozen=True)
class StyleFit:
    theta: np.ndarray  # (M,) mean zero
    beta: np.ndarray  # (k,)
    converged: bool
    iterations: int


def _linear(data: StyleData, theta: np.ndarray, beta: np.ndarray) -> np.ndarray:
    return theta[data.a] - theta[data.b] + data.features @ beta


def _gradient(data: StyleData, weight: np.ndarray, theta: np.ndarray, beta: np.ndarray,
              ridge: float, theta_ridge: float = 0.0) -> np.ndarray:
    """Gradient of the log-likelihood (minus the ridges) in (theta, beta)."""
    m = len(data.models)
    r = weight * (data.y - expit(_linear(data, theta, beta)))
    g_theta = np.bincount(data.a, r, m) - np.bincount(data.b, r, m) - theta_ridge * theta
    return np.concatenate([g_theta, data.features.T @ r - ridge * beta])


def information(data: StyleData, per_battle: np.ndarray) -> np.ndarray:
    """sum_n per_battle_n x_n x_n^T with x_n = (e_a - e_b, f_n): (M + k, M + k), through bincounts.

    With per_battle = w p (1 - p) this is the Hessian of the negative log-likelihood; with (w (y - p))^2 the
    empirical variance of the score (the sandwich's middle)."""
    m, k = len(data.models), data.features.shape[1]
    pair = np.bincount(data.a * m + data.b, per_battle, m * m).reshape(m, m)
    pair = pair + pair.T
    out = np.zeros((m + k, m + k))
    out[:m, :m] = np.diag(pair.sum(axis=1)) - pair
    weighted = data.features * per_battle[:, None]
    cross = np.stack([np.bincount(data.a, weighted[:, j], m) - np.bincount(data.b, weighted[:, j], m)
                      for j in range(k)], axis=1)
    out[:m, m:] = cross
    out[m:, :m] = cross.T
    out[m:, m:] = data.features.T @ weighted
    return out


def _gauge(m: int, k: int) -> np.ndarray:
    """1/M on the model block: adding it makes the Hessian invertible and keeps steps mean-zero in theta."""
    gauge = np.zeros((m + k, m + k))
    gauge[:m, :m] = 1.0 / m
    return gauge


def _penalty(m: int, k: int, ridge: float, theta_ridge: float) -> np.ndarray:
    """The ridges' Hessian: `ridge` on beta; `theta_ridge` on theta, only where the data leave the maximum
    likelihood infinite (as in the plain fit, leaderboard.bradley_terry.needs_ridge)."""
    return np.diag(np.concatenate([np.full(m, theta_ridge), np.full(k, ridge)]))


def fit_style(data: StyleData, ridge: float = 0.0, weight: np.ndarray | None = None,
              init: tuple[np.ndarray, np.ndarray] | None = None, theta_ridge: float = 0.0) -> StyleFit:
    """Maximise the weighted log-likelihood - (ridge / 2) |beta|^2 - (theta_ridge / 2) |theta|^2 by damped
    Newton steps."""
    m, k = len(data.models), data.features.shape[1]
    w = data.weight if weight is None else weight
    theta, beta = (np.zeros(m), np.zeros(k)) if init is None else (init[0].copy(), init[1].copy())
    penalty = _penalty(m, k, ridge, theta_ridge)
    gauge = _gauge(m, k)

    def objective(t: np.ndarray, c: np.ndarray) -> float:
        eta = _linear(data, t, c)
        return float(-(w * (data.y * log_expit(eta) + (1 - data.y) * log_expit(-eta))).sum()
                     + 0.5 * ridge * c @ c + 0.5 * theta_ridge * t @ t)

    converged, iterations = False, 0
    for iterations in range(1, _MAX_ITER + 1):  # noqa: B007 - the count is reported
        p = expit(_linear(data, theta, beta))
        step = np.linalg.solve(information(data, w * p * (1 - p)) + penalty + gauge,
                               _gradient(data, w, theta, beta, ridge, theta_ridge))
        if np.abs(step).max() > 0.5:  # far from the optimum: halve until the objective falls
            current = objective(theta, beta)
            while objective(theta + step[:m], beta + step[m:]) > current and np.abs(step).max() > 1e-12:
                step *= 0.5
        theta, beta = theta + step[:m], beta + step[m:]
        if np.abs(step).max() < _TOL:
            converged = True
            break
    return StyleFit(theta - theta.mean(), beta, converged, iterations)


def style_sandwich(data: StyleData, fit: StyleFit, ridge: float = 0.0, theta_ridge: float = 0.0) -> np.ndarray:
    """Cov(theta, beta) ~ H^-1 G H^-1 over ratings and coefficients together (the block sandwich), in the
    mean-zero gauge for theta; H includes the ridges."""
    m, k = len(data.models), data.features.shape[1]
    p = expit(_linear(data, fit.theta, fit.beta))
    h = information(data, data.weight * p * (1 - p)) + _penalty(m, k, ridge, theta_ridge)
    gauge = _gauge(m, k)
    h_inv = np.linalg.inv(h + gauge) - gauge
    g = information(data, (data.weight * (data.y - p)) ** 2)
    return h_inv @ g @ h_inv


def bootstrap_style(data: StyleData, fit: StyleFit, rounds: int, seed: int, ridge: float = 0.0,
                    progress: bool = False, theta_ridge: float = 0.0) -> tuple[np.ndarray, np.ndarray, int]:
    """(theta, beta) re-fitted on `rounds` resamples of the battles: (rounds, M), (rounds, k) and the number of
    rounds that did not converge.

    A resample is battle counts c ~ Multinomial(N, 1/N) (the battles drawn with replacement), so a round is the
    weighted fit with weights w c. Each round starts at the full fit with one Newton step whose Hessian (the
    round's own, at the full fit's probabilities) it keeps for the following steps: they contract fast, and each
    costs one gradient. A round not converged after a few steps is finished by full Newton steps.
    """
    from tqdm.auto import tqdm

    m, k = len(data.models), data.features.shape[1]
    n = len(data.y)
    p = expit(_linear(data, fit.theta, fit.beta))
    curvature = data.weight * p * (1 - p)
    fixed = _penalty(m, k, ridge, theta_ridge) + _gauge(m, k)
    generators = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(rounds)]

    def one_round(r: int) -> tuple[np.ndarray, np.ndarray, bool]:
        drawn = np.bincount(generators[r].integers(0, n, n), minlength=n)
        weight = data.weight * drawn
        h_inv = np.linalg.inv(information(data, curvature * drawn) + fixed)
        theta, beta = fit.theta.copy(), fit.beta.copy()
        for _ in range(_FIXED_ITERATIONS):
            step = h_inv @ _gradient(data, weight, theta, beta, ridge, theta_ridge)
            theta, beta = theta + step[:m], beta + step[m:]
            if np.abs(step).max() < _BOOTSTRAP_TOL:
                return theta - theta.mean(), beta, True
        again = fit_style(data, ridge, weight, init=(theta, beta), theta_ridge=theta_ridge)
        return again.theta, again.beta, again.converged

    thetas, betas, failed = np.empty((rounds, m)), np.empty((rounds, k)), 0
    with ThreadPoolExecutor(_WORKERS) as pool:  # one generator per round: the same numbers on any thread
        results = tqdm(pool.map(one_round, range(rounds)), total=rounds, desc="style bootstrap", unit="round",
                       disable=not progress)
        for r, (theta, beta, converged) in enumerate(results):
            thetas[r], betas[r] = theta, beta
            failed += not converged
    return thetas, betas, failed
