import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import log_expit

from leaderboard.bradley_terry import ELO_PER_NAT
from leaderboard.ratings import FitSettings, fit_leaderboard
from leaderboard.schema import style_column
from leaderboard.simulate import simulate_battles

TRUTH = {"alpha": 1120.0, "bravo": 1040.0, "charlie": 1000.0, "delta": 930.0, "echo": 910.0}
BETA = {"tokens": 0.35, "headers": 0.0, "lists": 0.1, "bold": -0.15}
STYLE = FitSettings(ci="sandwich", style_control=True)


def _design_matrix_fit(battles, models, features, ridge=0.0, weight=None):
    """An independent fit of the same model: the explicit design matrix X = [e_a - e_b (first model pinned at 0),
    z-scored features], y in {1, 1/2, 0}, and scipy's L-BFGS on the logistic log-likelihood."""
    n, m = len(battles), len(models)
    a = battles["model_a"].map(models.index).to_numpy()
    b = battles["model_b"].map(models.index).to_numpy()
    x = np.zeros((n, m - 1 + len(features)))
    for side, sign in ((a, 1.0), (b, -1.0)):
        rows = np.flatnonzero(side > 0)
        x[rows, side[rows] - 1] += sign
    for k, name in enumerate(features):
        x_a, x_b = (battles[style_column(name, s)].to_numpy(float) for s in "ab")
        if name == "points":
            x_a, x_b = (x_a > 0) * 1.0, (x_b > 0) * 1.0
        f = (x_a - x_b) / (x_a + x_b + 1)
        x[:, m - 1 + k] = (f - f.mean()) / f.std()
    y = battles["winner"].map({"model_a": 1.0, "model_b": 0.0}).fillna(0.5).to_numpy()
    w = np.ones(n) if weight is None else weight

    def loss(params):
        eta = x @ params
        value = -(w * (y * log_expit(eta) + (1 - y) * log_expit(-eta))).sum()
        grad = -x.T @ (w * (y - 1 / (1 + np.exp(-eta))))
        beta = params[m - 1:]
        return value + 0.5 * ridge * beta @ beta, grad + np.concatenate([np.zeros(m - 1), ridge * beta])

    params = minimize(loss, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B",
                      options={"gtol": 1e-11, "ftol": 1e-16, "maxiter": 20_000}).x
    theta = np.concatenate([[0.0], params[: m - 1]])
    return (theta - theta.mean()) * ELO_PER_NAT + 1000.0, params[m - 1:]


@pytest.fixture(scope="module")
def styled():
    return simulate_battles(TRUTH, 8000, seed=5, style=BETA)


@pytest.mark.parametrize("ridge", [0.0, 50.0])
def test_equals_a_logistic_regression_on_the_design_matrix(styled, ridge):
    board = fit_leaderboard(styled, FitSettings(ci="sandwich", style_control=True, style_ridge=ridge))
    rating, beta = _design_matrix_fit(styled, list(board.models), board.style.features, ridge)
    assert board.diagnostics.convergence.converged
    assert np.max(np.abs(board.rating - rating)) < 0.01
    np.testing.assert_allclose(board.style.beta, beta, atol=1e-5)


def test_pair_reweighting_equals_the_weighted_design_matrix_fit(styled):
    board = fit_leaderboard(styled, FitSettings(ci="sandwich", style_control=True, reweight_pairs=True))
    models = list(board.models)
    pair = styled[["model_a", "model_b"]].apply(sorted, axis=1).str.join("|")
    n_pair = pair.map(pair.value_counts()).to_numpy(float)
    weight = 1 / np.maximum(n_pair, 50)
    rating, beta = _design_matrix_fit(styled, models, board.style.features, weight=weight / weight.mean())
    assert np.max(np.abs(board.rating - rating)) < 0.01
    np.testing.assert_allclose(board.style.beta, beta, atol=1e-5)


def test_style_control_recovers_the_true_ratings_the_plain_fit_misses(styled):
    board = fit_leaderboard(styled, STYLE)
    truth = np.array([TRUTH[m] for m in board.models])
    truth = truth - truth.mean() + 1000
    assert np.all(np.abs(board.rating - truth) < board.upper - board.lower)  # within two half-widths
    assert np.abs(board.style.plain.rating - truth).max() > 2 * np.abs(board.rating - truth).max()
    assert board.style.features == ("tokens", "headers", "lists", "bold")


@pytest.mark.parametrize(("ci", "simulations"), [("sandwich", 120), ("bootstrap", 25)])
def test_coefficient_intervals_cover_the_truth_about_95_percent_of_the_time(ci, simulations):
    beta = {"tokens": 0.4, "lists": -0.2, "points": 0.25}
    covered = []
    for seed in range(simulations):
        battles = simulate_battles(TRUTH, 2500, seed=100 + seed, style=beta)
        board = fit_leaderboard(battles, FitSettings(ci=ci, rounds=100, seed=seed, style_control=True,
                                                     style_features=tuple(beta)))
        truth = np.array(list(beta.values()))
        covered.extend((board.style.lower <= truth) & (truth <= board.style.upper))
    assert 0.88 <= np.mean(covered) <= 0.99, np.mean(covered)


def test_bootstrap_and_sandwich_agree(styled):
    sandwich = fit_leaderboard(styled, STYLE)
    boot = fit_leaderboard(styled, FitSettings(rounds=200, style_control=True))
    assert boot.diagnostics.convergence.bootstrap_rounds_not_converged == 0
    np.testing.assert_allclose(boot.upper - boot.lower, sandwich.upper - sandwich.lower, rtol=0.25)
    np.testing.assert_allclose(boot.style.upper - boot.style.lower, sandwich.style.upper - sandwich.style.lower,
                               rtol=0.25)


def test_a_ridge_shrinks_the_coefficients_only(styled):
    free = fit_leaderboard(styled, STYLE)
    shrunk = fit_leaderboard(styled, FitSettings(ci="sandwich", style_control=True, style_ridge=1e6))
    assert np.abs(shrunk.style.beta).max() < 0.01 * np.abs(free.style.beta).max()
    np.testing.assert_allclose(shrunk.rating, shrunk.style.plain.rating, atol=0.5)  # no style term left


def test_battles_without_style_counts_are_refused_by_name(battles):
    from leaderboard.battles import BattleDataError

    with pytest.raises(BattleDataError, match="needs the style count 'sum_assistant_a_tokens' in the battles' "
                                              "conv_metadata"):
        fit_leaderboard(battles, STYLE)


def test_each_bootstrap_round_is_its_resamples_own_fit(styled, monkeypatch):
    """A round's (theta, beta) is the full Newton fit of the battles weighted by the counts it drew."""
    from leaderboard import style

    drawn = []

    class Recording(style.CellSampler):
        def draw(self, rng, size):
            draws = super().draw(rng, size)
            drawn.append(draws[0].copy())
            return draws

    monkeypatch.setattr(style, "CellSampler", Recording)
    monkeypatch.setattr(style, "_WORKERS", 1)
    board = fit_leaderboard(styled, STYLE)
    models = board.models
    data = style.style_data(styled, models, board.style.features)
    fit = style.fit_style(data)
    thetas, betas, failed = style.bootstrap_style(data, fit, 6, seed=3)
    assert failed == 0 and len(drawn) == 6 and all(counts.sum() == data.size for counts in drawn)
    for theta, beta, counts in zip(thetas, betas, drawn, strict=True):
        again = style.fit_style(data, weight=data.weight * counts, init=(fit.theta, fit.beta))
        assert again.converged
        np.testing.assert_allclose(theta, again.theta, atol=1e-6)
        np.testing.assert_allclose(beta, again.beta, atol=1e-6)
