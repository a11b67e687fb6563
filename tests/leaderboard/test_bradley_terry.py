import choix
import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import log_expit

from leaderboard.bradley_terry import ELO_PER_NAT, fit_strengths, needs_ridge, sandwich_covariance
from leaderboard.counts import count_pairs


def _plain_mle(battles) -> np.ndarray:
    """An independent fit: L-BFGS on the per-battle likelihood, ties as y = 1/2, one model pinned at zero."""
    models = sorted(set(battles["model_a"]) | set(battles["model_b"]))
    a = battles["model_a"].map(models.index).to_numpy()
    b = battles["model_b"].map(models.index).to_numpy()
    y = battles["winner"].map({"model_a": 1.0, "model_b": 0.0}).fillna(0.5).to_numpy()

    def loss(free):
        theta = np.concatenate([[0.0], free])
        d = theta[a] - theta[b]
        value = -(y * log_expit(d) + (1 - y) * log_expit(-d)).sum()
        residual = y - 1 / (1 + np.exp(-d))
        grad = np.bincount(a, -residual, len(models)) - np.bincount(b, -residual, len(models))
        return value, grad[1:]

    free = minimize(loss, np.zeros(len(models) - 1), jac=True, method="L-BFGS-B",
                    options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 10_000}).x
    theta = np.concatenate([[0.0], free])
    return theta - theta.mean()


def test_matches_a_plain_per_battle_maximum_likelihood_fit(battles):
    theta = fit_strengths(count_pairs(battles).scores).theta
    assert np.max(np.abs(theta - _plain_mle(battles))) * ELO_PER_NAT < 0.05


def test_matches_choix_on_the_same_counts(battles):
    counts = count_pairs(battles)
    # choix has no ties: doubling every count turns each tie into one win for each side, the same likelihood.
    reference = choix.ilsr_pairwise_dense(2 * counts.scores, tol=1e-12)
    reference -= reference.mean()
    assert np.max(np.abs(fit_strengths(counts.scores).theta - reference)) * ELO_PER_NAT < 0.01


def test_batched_fit_equals_one_at_a_time(battles):
    scores = count_pairs(battles).scores
    batch = np.stack([scores, scores.T, 2 * scores])
    fitted = fit_strengths(batch).theta
    for one, many in zip(batch, fitted, strict=True):
        np.testing.assert_allclose(fit_strengths(one).theta, many, atol=1e-9)
    np.testing.assert_allclose(fitted[1], -fitted[0], atol=1e-9)  # everyone's results reversed


def test_existence_condition():
    full = np.ones((4, 4)) - np.eye(4)
    assert not needs_ridge(full)
    never_lost = full.copy()
    never_lost[:, 0] = 0
    assert needs_ridge(never_lost)
    two_groups = np.zeros((4, 4))
    two_groups[0, 1] = two_groups[1, 0] = two_groups[2, 3] = two_groups[3, 2] = 1
    assert needs_ridge(two_groups)
    dominant_pair = full.copy()
    dominant_pair[2:, :2] = 0  # {2, 3} never score against {0, 1}, though each has wins and losses
    assert needs_ridge(dominant_pair)
    np.testing.assert_array_equal(needs_ridge(np.stack([full, never_lost, dominant_pair])), [False, True, True])


def test_ridge_keeps_a_model_that_never_lost_finite():
    scores = np.array([[0, 30, 20], [0, 0, 15], [0, 10, 0]], dtype=float)
    theta = fit_strengths(scores, ridge=0.05).theta
    assert np.all(np.isfinite(theta))
    assert theta[0] > theta[1] + 2 and theta[0] > theta[2] + 2


def test_sandwich_agrees_with_the_textbook_variance_when_there_are_no_ties():
    # Two models, n decisive battles: Var(theta_0 - theta_1) = 1 / (n p (1 - p)).
    wins = np.array([[0.0, 70.0], [30.0, 0.0]])
    ties = np.zeros((2, 2))
    theta = fit_strengths(wins).theta
    assert theta[0] - theta[1] == pytest.approx(np.log(70 / 30))
    cov = sandwich_covariance(wins, ties, theta)
    var_diff = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    assert var_diff == pytest.approx(1 / (100 * 0.7 * 0.3))


def test_a_fit_stopped_early_says_it_did_not_converge(battles):
    scores = count_pairs(battles).scores
    assert fit_strengths(scores).converged
    stopped = fit_strengths(scores, max_iter=1)
    assert not stopped.converged and stopped.iterations == 1
    batch = fit_strengths(np.stack([scores, scores]), init=np.stack([fit_strengths(scores).theta,
                                                                     np.zeros(len(scores))]), max_iter=1)
    np.testing.assert_array_equal(batch.converged, [True, False])


def test_logistic_functions_equal_scipys_over_the_whole_range():
    from scipy.special import expit as scipy_expit
    from scipy.special import log_expit as scipy_log_expit

    from leaderboard.logistic import expit, log_expit

    x = np.concatenate([np.linspace(-800, 800, 20_001), [-1e308, 1e308, 0.0]])
    np.testing.assert_allclose(expit(x), scipy_expit(x), rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(log_expit(x), scipy_log_expit(x), rtol=1e-13, atol=1e-300)
