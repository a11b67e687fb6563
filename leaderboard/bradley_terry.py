"""Bradley-Terry maximum likelihood on per-pair counts, and its sandwich covariance.

Strengths theta are in natural-log units, centred to mean zero: P(i beats j) = sigmoid(theta_i - theta_j).
On the Elo scale R = center + theta * 400 / ln(10), so P(i beats j) = 1 / (1 + 10^((R_j - R_i) / 400)).
With ties counted as half wins the log-likelihood sum_ij s_ij log sigmoid(theta_i - theta_j) depends on the
battles only through s_ij (wins + ties / 2), so Newton's method runs on (M, M) matrices.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from leaderboard.logistic import expit, log_expit

ELO_PER_NAT = 400.0 / np.log(10.0)
_TRUSTED_STEP = 0.5  # natural-log units
RIDGE = 0.05  # penalty that keeps strengths finite when the MLE does not exist; reported wherever used


def needs_ridge(scores: np.ndarray) -> np.ndarray | bool:
    """True when the maximum-likelihood strengths are not finite; (M, M) or a batch (B, M, M) of s_ij.

    The MLE exists exactly when the graph with an edge i -> j wherever i scored against j is strongly
    connected (Ford, 1957): otherwise some group of models never lost (or never won) to the rest. Tested by
    growing the sets that reach model 0 and that model 0 reaches, batched, until they stop growing.
    """
    edges = (scores > 0).astype(float)
    single = edges.ndim == 2
    edges = edges[None] if single else edges
    connected = np.ones(len(edges), dtype=bool)
    for graph in (edges, np.swapaxes(edges, 1, 2)):
        reached = np.zeros(graph.shape[:2])
        reached[:, 0] = 1.0
        while True:
            grown = np.maximum(reached, (np.einsum("bi,bij->bj", reached, graph) > 0).astype(float))
            if np.array_equal(grown, reached):
                break
            reached = grown
        connected &= reached.min(axis=1) > 0
    return bool(not connected[0]) if single else ~connected


class StrengthFit(NamedTuple):
    """Fitted strengths and whether each fit converged (a bool, or one per batch element)."""

    theta: np.ndarray  # (M,) or (B, M), mean zero
    converged: bool | np.ndarray
    iterations: int


def fit_strengths(
    scores: np.ndarray,
    ridge: float | np.ndarray = 0.0,
    init: np.ndarray | None = None,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> StrengthFit:
    """Maximise the (optionally ridge-penalised) likelihood by damped Newton steps.

    scores: (M, M) or a batch (B, M, M) of s_ij. ridge: a penalty (ridge / 2) * |theta|^2, scalar or one per
    batch element; zero unless the data need it (see `needs_ridge`). A fit has converged when its last Newton
    step moved no strength by more than `tol`; one that has not after `max_iter` steps is reported as such in
    `converged`, never passed off as a maximum.
    """
    single = scores.ndim == 2
    s = scores[None] if single else scores
    batch, n, _ = s.shape
    lam = np.broadcast_to(np.asarray(ridge, dtype=float), (batch,))[:, None]
    games = s + np.swapaxes(s, 1, 2)
    theta = np.zeros((batch, n)) if init is None else np.array(np.broadcast_to(init, (batch, n)), dtype=float)
    theta -= theta.mean(axis=1, keepdims=True)
    gauge = np.full((n, n), 1.0 / n)
    eye = np.eye(n)
    converged = np.zeros(batch, dtype=bool)

    def objective(t: np.ndarray, rows: np.ndarray) -> np.ndarray:
        diff = t[:, :, None] - t[:, None, :]
        return -(s[rows] * log_expit(diff)).sum(axis=(1, 2)) + 0.5 * lam[rows, 0] * (t * t).sum(axis=1)

    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007 - the count is reported
        p = expit(theta[:, :, None] - theta[:, None, :])
        gradient = (s - games * p).sum(axis=2) - lam * theta
        weight = games * p * (1.0 - p)
        hessian = np.einsum("bi,ij->bij", weight.sum(axis=2), eye) - weight + lam[:, :, None] * eye + gauge
        step = np.linalg.solve(hessian, gradient[:, :, None])[:, :, 0]
        # Small steps stay where the quadratic model holds; longer ones are halved until the objective falls.
        rows = np.flatnonzero(np.abs(step).max(axis=1) > _TRUSTED_STEP)
        if rows.size:
            current = objective(theta[rows], rows)
            for _ in range(60):
                worse = objective(theta[rows] + step[rows], rows) > current + 1e-12 * np.abs(current)
                if not worse.any():
                    break
                step[rows[worse]] *= 0.5
        theta = theta + step
        converged = np.abs(step).max(axis=1) < tol
        if converged.all():
            break
    theta -= theta.mean(axis=1, keepdims=True)
    return StrengthFit(theta[0], bool(converged[0]), iterations) if single else \
        StrengthFit(theta, converged, iterations)


def hessian(scores: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Observed information H of the negative log-likelihood at theta: (M, M), H @ ones = 0."""
    games = scores + scores.T
    p = expit(theta[:, None] - theta[None, :])
    weight = games * p * (1.0 - p)
    return np.diag(weight.sum(axis=1)) - weight


def score_outer(wins: np.ndarray, ties: np.ndarray, theta: np.ndarray, pair_weight: np.ndarray | None = None
                ) -> np.ndarray:
    """G = sum over battles of (w (y - p))^2 x x^T with x = e_i - e_j: the empirical variance of the score.

    Per pair: i's wins give (1 - p)^2, j's wins give p^2, ties give (1/2 - p)^2, with p = P(i beats j); w is the
    pair's weight (one unless pairs are reweighted). Each ordered half below holds one side's wins and half the
    ties; adding its transpose completes the pair.
    """
    p = expit(theta[:, None] - theta[None, :])
    half = wins * (1.0 - p) ** 2 + 0.5 * ties * (0.5 - p) ** 2
    per_pair = half + half.T
    if pair_weight is not None:
        per_pair = per_pair * pair_weight**2
    np.fill_diagonal(per_pair, 0.0)
    return np.diag(per_pair.sum(axis=1)) - per_pair


def sandwich_covariance(
    wins: np.ndarray, ties: np.ndarray, theta: np.ndarray, ridge: float = 0.0, pair_weight: np.ndarray | None = None
) -> np.ndarray:
    """Cov(theta) ~ H^-1 G H^-1 in the mean-zero gauge: robust to ties that the half-win likelihood misstates
    (and to pair weights, arena-rank's `sandwich` intervals)."""
    n = len(theta)
    scores = wins + 0.5 * ties
    h = hessian(scores if pair_weight is None else scores * pair_weight, theta)
    if ridge > 0:
        h_inv = np.linalg.inv(h + ridge * np.eye(n))
    else:
        gauge = np.full((n, n), 1.0 / n)
        h_inv = np.linalg.inv(h + gauge) - gauge
    return h_inv @ score_outer(wins, ties, theta, pair_weight) @ h_inv
