"""Style control: Bradley-Terry with per-battle style covariates (LMArena's contextual Bradley-Terry).

P(A beats B) = sigmoid(theta_A - theta_B + beta . f), one feature per style count x (answer tokens, markdown
headers, list items, bold spans; our own: points marked on the image):
f = (x_A - x_B) / (x_A + x_B + 1), z-normalised over the battles (FastChat `rating_systems.py`,
`preprocess_for_style`). theta is then a model's strength with the style of its answers held apart; beta says
how much each style difference sways a vote. Ties count as half a win. The fit is unpenalised unless a ridge on
beta is asked for (arena-rank `ContextualBradleyTerry` penalises beta only). Methods and formulas:
docs/leaderboard.md.

Features vary per battle, so the fit cannot be aggregated into pair counts; but every sum over battles that the
fit needs splits into sums over each ordered pair's battles. Each battle therefore carries the number of its
pair (model_a, model_b), and each Newton step costs a few passes over the battles: a `bincount` into the pairs
for each per-pair sum, and small (pairs)-sized sums from there to the models.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from leaderboard.counts import codes
from leaderboard.logistic import expit, log_expit
from leaderboard.resampling import CellSampler
from leaderboard.schema import style_column

_TOL = 1e-10
_MAX_ITER = 100
_FIXED_ITERATIONS = 30
_WORKERS = min(2, os.cpu_count() or 1)
# natural-log units. A round's own Hessian makes its steps contract by a factor of about 50, so the strengths
# are then within about 1e-8 (2e-6 Elo) of the round's maximum, far below any bootstrap spread.
_BOOTSTRAP_TOL = 1e-6


@dataclass(frozen=True)
class StyleData:
    """The battles as arrays. Battle n is one of ordered pair q = pair[n]: model pair_a[q] (as model_a) against
    pair_b[q]."""

    models: tuple[str, ...]
    pair_a: np.ndarray  # (Q,) int
    pair_b: np.ndarray  # (Q,) int
    pair: np.ndarray  # (N,) int
    y: np.ndarray  # (N,) 1, 1/2 or 0: model_a's score
    features: np.ndarray  # (k, N): one row per feature, z-normalised
    names: tuple[str, ...]
    weight: np.ndarray  # (N,)
    mean: np.ndarray  # (k,) of the raw differences, before z-normalising
    std: np.ndarray  # (k,)

    @property
    def size(self) -> int:
        return len(self.y)

    def pair_sums(self, values: np.ndarray) -> np.ndarray:
        """Sums of per-battle values (N,) over each pair's battles: (Q,)."""
        return np.bincount(self.pair, values, len(self.pair_a))

    def model_sums(self, per_pair: np.ndarray) -> np.ndarray:
        """Per-pair totals (Q,) to per-model totals (M,): added for model_a, subtracted for model_b."""
        m = len(self.models)
        return np.bincount(self.pair_a, per_pair, m) - np.bincount(self.pair_b, per_pair, m)

    def pair_difference(self, theta: np.ndarray) -> np.ndarray:
        """theta_a - theta_b for every battle."""
        return (theta[self.pair_a] - theta[self.pair_b])[self.pair]

    def subset(self, rows: np.ndarray) -> StyleData:
        """The battles at `rows`."""
        return replace(self, pair=self.pair[rows], y=self.y[rows], features=self.features[:, rows],
                       weight=self.weight[rows])


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
    m = len(models)
    key = codes(battles["model_a"], index) * m + codes(battles["model_b"], index)
    seen = np.flatnonzero(np.bincount(key, minlength=m * m))  # the ordered pairs that met, numbered in order
    number = np.zeros(m * m, dtype=np.int64)
    number[seen] = np.arange(len(seen))
    y = np.array([1.0, 0.0, 0.5])[codes(battles["winner"], {"model_a": 0, "model_b": 1}, missing=2)]
    # One row at a time, in place: a (k, N) temporary of millions of battles costs more than the arithmetic.
    z = np.empty((len(features), len(battles)))
    mean, std = np.empty(len(features)), np.empty(len(features))
    for k, name in enumerate(features):
        x_a, x_b = (battles[style_column(name, side)].to_numpy(float, copy=True) for side in "ab")
        if name == "points":  # our vision feature: whether the answer marks points at all
            x_a, x_b = (x_a > 0) * 1.0, (x_b > 0) * 1.0
        np.subtract(x_a, x_b, out=z[k])
        x_a += x_b
        x_a += 1.0
        z[k] /= x_a  # (x_A - x_B) / (x_A + x_B + 1)
        mean[k] = z[k].mean()
        z[k] -= mean[k]
        std[k] = np.sqrt(z[k] @ z[k] / len(battles))
        if not std[k] > 0:
            raise ValueError(f"style feature {name!r} is the same in every battle, so it cannot be normalised "
                             "(leave it out with --style-features)")
        z[k] /= std[k]
    w = np.ones(len(battles)) if weight is None else np.asarray(weight, dtype=float)
    return StyleData(models, seen // m, seen % m, number[key], y, z, tuple(features), w, mean, std)


@dataclass(frozen=True)
class StyleFit:
    theta: np.ndarray  # (M,) mean zero
    beta: np.ndarray  # (k,)
    converged: bool
    iterations: int


def _linear(data: StyleData, theta: np.ndarray, beta: np.ndarray) -> np.ndarray:
    eta = beta @ data.features
    eta += data.pair_difference(theta)
    return eta


def _score(data: StyleData, residual: np.ndarray, theta: np.ndarray, beta: np.ndarray, ridge: float,
           theta_ridge: float) -> np.ndarray:
    """Gradient in (theta, beta) of the log-likelihood minus the ridges, from per-battle w (y - p)."""
    g_theta = data.model_sums(data.pair_sums(residual)) - theta_ridge * theta
    return np.concatenate([g_theta, data.features @ residual - ridge * beta])


def _gradient(data: StyleData, weight: np.ndarray, theta: np.ndarray, beta: np.ndarray,
              ridge: float, theta_ridge: float = 0.0) -> np.ndarray:
    """Gradient of the log-likelihood (minus the ridges) in (theta, beta)."""
    return _score(data, weight * (data.y - expit(_linear(data, theta, beta))), theta, beta, ridge, theta_ridge)


def information(data: StyleData, per_battle: np.ndarray) -> np.ndarray:
    """sum_n per_battle_n x_n x_n^T with x_n = (e_a - e_b, f_n): (M + k, M + k), from per-pair sums.

    With per_battle = w p (1 - p) this is the Hessian of the negative log-likelihood; with (w (y - p))^2 the
    empirical variance of the score (the sandwich's middle)."""
    m, k = len(data.models), len(data.names)
    pair = np.zeros((m, m))
    pair[data.pair_a, data.pair_b] = data.pair_sums(per_battle)
    pair += pair.T
    out = np.zeros((m + k, m + k))
    out[:m, :m] = np.diag(pair.sum(axis=1)) - pair
    weighted = np.empty(data.size)
    for j in range(k):  # one feature at a time: no (k, N) temporary
        np.multiply(data.features[j], per_battle, out=weighted)
        out[:m, m + j] = out[m + j, :m] = data.model_sums(data.pair_sums(weighted))
        out[m:, m + j] = data.features @ weighted
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
    m, k = len(data.models), len(data.names)
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
                               _score(data, w * (data.y - p), theta, beta, ridge, theta_ridge))
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
    m, k = len(data.models), len(data.names)
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

    A resample is battle counts c ~ Multinomial(N, 1/N) (the battles drawn with replacement, through
    `leaderboard.resampling`), so a round is the weighted fit with weights w c over the battles drawn at least
    once (about 63% of them). Each round starts at the full fit with one Newton step whose Hessian (the round's
    own, at the full fit's probabilities) it keeps for the following steps: they contract fast, and each costs
    one gradient. The first step needs no new probabilities at all. A round not converged after a few steps is
    finished by full Newton steps.
    """
    from tqdm.auto import tqdm

    m, k = len(data.models), len(data.names)
    p = expit(_linear(data, fit.theta, fit.beta))
    curvature = data.weight * p * (1 - p)
    residual = data.weight * (data.y - p)  # at the full fit; a round's first gradient weighs it by its counts
    fixed = _penalty(m, k, ridge, theta_ridge) + _gauge(m, k)
    sampler = CellSampler(np.ones(data.size, dtype=np.int64))  # one cell per battle
    generators = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(rounds)]

    def one_round(r: int) -> tuple[np.ndarray, np.ndarray, bool]:
        drawn = np.empty(data.size)
        drawn[sampler.order] = sampler.draw(generators[r], 1)[0]
        rows = np.flatnonzero(drawn)
        count, drawn_data = drawn[rows], data.subset(rows)
        weight = drawn_data.weight * count
        h_inv = np.linalg.inv(information(drawn_data, curvature[rows] * count) + fixed)
        theta, beta = fit.theta, fit.beta
        step = h_inv @ _score(drawn_data, residual[rows] * count, theta, beta, ridge, theta_ridge)
        for _ in range(_FIXED_ITERATIONS):
            theta, beta = theta + step[:m], beta + step[m:]
            if np.abs(step).max() < _BOOTSTRAP_TOL:
                return theta - theta.mean(), beta, True
            step = h_inv @ _gradient(drawn_data, weight, theta, beta, ridge, theta_ridge)
        again = fit_style(drawn_data, ridge, weight, init=(theta, beta), theta_ridge=theta_ridge)
        return again.theta, again.beta, again.converged

    thetas, betas, failed = np.empty((rounds, m)), np.empty((rounds, k)), 0
    with ThreadPoolExecutor(_WORKERS) as pool:  # one generator per round: the same numbers on any thread
        results = tqdm(pool.map(one_round, range(rounds)), total=rounds, desc="style bootstrap", unit="round",
                       disable=not progress)
        for r, (theta, beta, converged) in enumerate(results):
            thetas[r], betas[r] = theta, beta
            failed += not converged
    return thetas, betas, failed
