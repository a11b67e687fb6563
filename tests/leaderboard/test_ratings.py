import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from leaderboard.battles import BattleDataError
from leaderboard.ratings import FitSettings, fit_leaderboard
from leaderboard.simulate import simulate_battles

from .conftest import TRUE_RATINGS

SANDWICH = FitSettings(ci="sandwich")


def _centred_truth(models) -> np.ndarray:
    truth = np.array([TRUE_RATINGS[m] for m in models])
    return truth - truth.mean() + 1000.0


def test_recovers_known_ratings(battles):
    board = fit_leaderboard(battles, FitSettings(rounds=300))
    assert board.models == tuple(sorted(TRUE_RATINGS))
    assert board.rating.mean() == pytest.approx(1000.0)
    np.testing.assert_allclose(board.rating, _centred_truth(board.models), atol=25)
    assert list(board.table()["model"]) == ["alpha", "bravo", "charlie", "delta", "echo"]
    assert np.all(board.lower < board.rating) and np.all(board.rating < board.upper)


@pytest.mark.parametrize(("ci", "simulations", "rounds"), [("sandwich", 200, 0), ("bootstrap", 60, 200)])
def test_intervals_cover_the_truth_about_95_percent_of_the_time(ci, simulations, rounds):
    covered = []
    for seed in range(simulations):
        sample = simulate_battles(TRUE_RATINGS, 1500, seed=1000 + seed)
        settings = FitSettings(ci=ci, rounds=max(rounds, 2), seed=seed)
        board = fit_leaderboard(sample, settings)
        truth = _centred_truth(board.models)
        covered.extend((board.lower <= truth) & (truth <= board.upper))
    coverage = np.mean(covered)
    assert 0.90 <= coverage <= 0.985, coverage


def test_bootstrap_and_sandwich_intervals_agree(battles):
    boot = fit_leaderboard(battles, FitSettings(rounds=1000))
    sand = fit_leaderboard(battles, SANDWICH)
    np.testing.assert_allclose(boot.rating, sand.rating)
    np.testing.assert_allclose(boot.upper - boot.lower, sand.upper - sand.lower, rtol=0.15)


def test_both_kinds_of_tie_are_half_wins_and_can_be_dropped():
    rows = [("a", "b", "tie")] * 10 + [("a", "b", "tie (bothbad)")] * 10 + [("b", "c", "model_a")] * 6 \
        + [("b", "c", "model_b")] * 2 + [("c", "a", "model_b")] * 9 + [("c", "a", "model_a")] * 1
    battles = pd.DataFrame(rows, columns=["model_a", "model_b", "winner"])
    board = fit_leaderboard(battles, SANDWICH)
    counts = board.table().set_index("model")
    assert counts.loc["a", "ties"] == 20 and counts.loc["a", "wins"] == 9
    dropped = fit_leaderboard(battles, replace(SANDWICH, ties="drop"))
    assert dropped.selection["ties"] == 20
    assert dropped.table().set_index("model").loc["a", "ties"] == 0
    # Half wins pull a and b together; without the ties only the b-c and c-a results separate them.
    gap = lambda bd: abs(bd.rating[0] - bd.rating[1])  # noqa: E731
    assert gap(board) < gap(dropped)


def test_anchor_fixes_one_rating_and_keeps_differences(battles):
    plain = fit_leaderboard(battles, SANDWICH)
    anchored = fit_leaderboard(battles, replace(SANDWICH, anchor=("charlie", 1114.0)))
    i = anchored.models.index("charlie")
    assert anchored.rating[i] == pytest.approx(1114.0)
    assert anchored.lower[i] == pytest.approx(1114.0) and anchored.upper[i] == pytest.approx(1114.0)
    np.testing.assert_allclose(np.diff(anchored.rating), np.diff(plain.rating))
    booted = fit_leaderboard(battles, FitSettings(rounds=200, anchor=("charlie", 1114.0)))
    assert booted.lower[i] == pytest.approx(1114.0) and booted.upper[i] == pytest.approx(1114.0)
    with pytest.raises(ValueError, match="model 'zulu' is not in the battles"):
        fit_leaderboard(battles, replace(SANDWICH, anchor=("zulu", 1000.0)))


def test_disconnected_graph_is_reported_and_ratings_stay_finite():
    rows = [("a", "b", "model_a"), ("b", "a", "model_a"), ("a", "b", "model_a"),
            ("c", "d", "model_b"), ("d", "c", "model_b"), ("c", "d", "model_a")]
    battles = pd.DataFrame(rows, columns=["model_a", "model_b", "winner"])
    board = fit_leaderboard(battles, FitSettings(rounds=100))
    assert not board.diagnostics.connected
    assert board.diagnostics.components == [["a", "b"], ["c", "d"]]
    assert board.diagnostics.ridge > 0
    assert any("not connected" in note for note in board.diagnostics.warnings())
    flags = board.table().set_index("model")["flags"]
    assert flags["a"] == "group1" and flags["d"] == "group2"
    assert np.all(np.isfinite(board.rating)) and np.all(np.isfinite(board.upper))


def test_model_that_never_lost_is_flagged(battles):
    extra = pd.DataFrame([("zulu", "alpha", "model_a")] * 5 + [("echo", "zulu", "model_b")] * 5,
                         columns=["model_a", "model_b", "winner"])
    board = fit_leaderboard(pd.concat([battles, extra]), SANDWICH)
    assert board.diagnostics.never_lost == ["zulu"]
    assert board.diagnostics.ridge > 0
    assert "never_lost" in board.table().set_index("model").loc["zulu", "flags"]
    assert np.isfinite(board.rating).all()


def test_minimum_battles_flags_without_dropping(battles):
    board = fit_leaderboard(battles, replace(SANDWICH, min_battles=10_000))
    table = board.table()
    assert len(table) == 5
    assert set(table["flags"]) == {"few_battles"}


def test_category_and_anonymity_filters(battles):
    chart = fit_leaderboard(battles, replace(SANDWICH, category="chart"))
    assert chart.selection["used"] == int((battles["category"] == "chart").sum())
    named = battles.assign(anony=[i % 4 == 0 for i in range(len(battles))])
    board = fit_leaderboard(named, SANDWICH)
    assert board.selection["named"] == int((~named["anony"]).sum())
    assert fit_leaderboard(named, replace(SANDWICH, keep_named=True)).selection["used"] == len(battles)
    with pytest.raises(BattleDataError, match="no battles left"):
        fit_leaderboard(battles, replace(SANDWICH, category="poetry"))


def test_rank_counts_models_that_are_clearly_better():
    strong = simulate_battles({"top": 1400, "mid_a": 1000, "mid_b": 1001, "low": 600}, 8000, seed=3)
    table = fit_leaderboard(strong, SANDWICH).table().set_index("model")
    assert table.loc["top", "rank"] == 1
    assert table.loc["mid_a", "rank"] == 2 and table.loc["mid_b", "rank"] == 2
    assert table.loc["low", "rank"] == 4


def test_pairwise_interval_uses_the_rating_difference(battles):
    board = fit_leaderboard(battles, SANDWICH)
    p, _, high = board.win_probability()
    i, j = board.models.index("alpha"), board.models.index("bravo")
    d = board.rating[i] - board.rating[j]
    assert p[i, j] == pytest.approx(1 / (1 + 10 ** (-d / 400)))
    assert p[i, j] + p[j, i] == pytest.approx(1.0)
    c = board.covariance
    sd = np.sqrt(c[i, i] + c[j, j] - 2 * c[i, j])
    assert high[i, j] == pytest.approx(1 / (1 + 10 ** (-(d + 1.959963984540054 * sd) / 400)))
    # Anchoring bravo collapses its marginal interval to a point but leaves the pair's interval unchanged.
    anchored = fit_leaderboard(battles, replace(SANDWICH, anchor=("bravo", 1000.0)))
    assert anchored.upper[j] - anchored.lower[j] == pytest.approx(0.0)
    np.testing.assert_allclose(anchored.win_probability()[2], high)


def test_same_seed_same_numbers_other_seed_other_bounds(battles):
    first = fit_leaderboard(battles, FitSettings(rounds=200, seed=7))
    again = fit_leaderboard(battles, FitSettings(rounds=200, seed=7))
    other = fit_leaderboard(battles, FitSettings(rounds=200, seed=8))
    np.testing.assert_array_equal(first.lower, again.lower)
    assert not np.array_equal(first.lower, other.lower)


def test_invalid_settings_are_refused():
    with pytest.raises(ValueError, match="ties must be"):
        FitSettings(ties="third")
    with pytest.raises(ValueError, match="at least 2 rounds"):
        FitSettings(rounds=1)


def test_count_resampling_equals_resampling_the_battles(battles):
    """The multinomial bootstrap on pair counts gives the bounds of the textbook bootstrap over battles."""
    from leaderboard.bradley_terry import ELO_PER_NAT, fit_strengths
    from leaderboard.counts import count_pairs

    ours = fit_leaderboard(battles, FitSettings(rounds=1000, seed=1))
    rng = np.random.default_rng(2)
    refits = []
    for _ in range(1000):
        sample = battles.iloc[rng.integers(0, len(battles), len(battles))]
        refits.append(1000 + ELO_PER_NAT * fit_strengths(count_pairs(sample, ours.models).scores).theta)
    lower, upper = np.quantile(np.array(refits), [0.025, 0.975], axis=0)
    half = (ours.upper - ours.lower) / 2
    np.testing.assert_allclose(ours.lower, lower, atol=0.15 * half.max())
    np.testing.assert_allclose(ours.upper, upper, atol=0.15 * half.max())


def test_fixed_hessian_rounds_equal_full_newton_fits(battles, monkeypatch):
    """Each bootstrap round's strengths are that resample's own maximum-likelihood fit."""
    from leaderboard import bootstrap
    from leaderboard.bradley_terry import fit_strengths
    from leaderboard.counts import count_pairs

    counts = count_pairs(battles)
    theta = fit_strengths(counts.scores).theta
    rounds = []
    newton = bootstrap._fixed_hessian_newton

    def recorded(scores, *args):
        fitted, converged = newton(scores, *args)
        rounds.append((scores.copy(), fitted.copy(), converged.copy()))
        return fitted, converged

    monkeypatch.setattr(bootstrap, "_fixed_hessian_newton", recorded)
    fast = bootstrap.bootstrap_strengths(counts, theta, 50, seed=3, ridge=0.0)
    assert fast.not_converged == 0 and sum(len(fitted) for _, fitted, _ in rounds) == 50
    for scores, fitted, converged in rounds:
        assert converged.all()
        assert (scores.sum(axis=(1, 2)) == len(battles)).all()  # every round resamples all the battles
        np.testing.assert_allclose(fitted, fit_strengths(scores).theta, atol=1e-6)


def test_rounds_that_do_not_converge_are_counted_and_reported(battles, monkeypatch, tmp_path, capsys):
    from leaderboard import bootstrap, bradley_terry
    from leaderboard.simulate import write_battles_jsonl
    from molmo_arena import main

    monkeypatch.setattr(bootstrap, "_FIXED_ITERATIONS", 1)
    stopped = lambda *args, **kwargs: bradley_terry.fit_strengths(*args, **kwargs | {"max_iter": 1})  # noqa: E731
    monkeypatch.setattr(bootstrap, "fit_strengths", stopped)
    board = fit_leaderboard(battles, FitSettings(rounds=40))
    assert board.diagnostics.convergence.bootstrap_rounds_not_converged == 40
    assert any("40 bootstrap rounds did not converge" in note for note in board.diagnostics.warnings())
    monkeypatch.setattr("leaderboard.ratings.fit_strengths", stopped)
    path = tmp_path / "b.jsonl"
    write_battles_jsonl(battles, path)
    assert main(["leaderboard", "fit", str(path), "--out", str(tmp_path / "out"), "--ci", "sandwich",
                 "--quiet"]) == 0
    assert "warning: the rating fit did not converge in 1 Newton steps" in capsys.readouterr().err
    document = json.loads((tmp_path / "out/ratings.json").read_text())
    assert document["diagnostics"]["converged"] is False


def test_self_battles_are_dropped_counted_and_reported(battles):
    selfish = pd.concat([battles, pd.DataFrame([("alpha", "alpha", "model_a")] * 7,
                                               columns=["model_a", "model_b", "winner"])], ignore_index=True)
    board = fit_leaderboard(selfish, SANDWICH)
    plain = fit_leaderboard(battles, SANDWICH)
    np.testing.assert_allclose(board.rating, plain.rating)
    assert board.selection["self_battles"] == 7 and board.diagnostics.self_battles == 7
    assert any("7 battles of a model against itself were dropped" in n for n in board.diagnostics.warnings())


def test_percentile_bounds_are_numpys_quantiles():
    from leaderboard.ratings import percentile_bounds

    for rounds in (2, 3, 40, 1000, 1001):
        samples = np.random.default_rng(rounds).normal(size=(rounds, 7))
        low, high = percentile_bounds(samples)
        np.testing.assert_allclose(low, np.quantile(samples, 0.025, axis=0), rtol=1e-12)
        np.testing.assert_allclose(high, np.quantile(samples, 0.975, axis=0), rtol=1e-12)


def test_category_selects_category_tag_labels(tmp_path):
    from leaderboard.battles import load_battles

    from .dumps import chatbot_arena_battles, write_records

    battles = load_battles(write_records(chatbot_arena_battles(40), tmp_path / "clean_battle.json"))
    board = fit_leaderboard(battles, replace(SANDWICH, category="math_v0.1.math"))
    assert board.selection["used"] == 8  # every fifth battle is labelled math
    assert board.selection["other_categories"] == 32


def test_bootstrap_pair_intervals_are_quantiles_of_the_rating_difference(battles):
    board = fit_leaderboard(battles, FitSettings(rounds=300, seed=2))
    _, low, high = board.win_probability()
    for i in range(len(board.models)):
        for j in range(len(board.models)):
            if i != j:
                lo, hi = np.quantile(board.samples[:, i] - board.samples[:, j], [0.025, 0.975])
                assert low[i, j] == pytest.approx(1 / (1 + 10 ** (-lo / 400)), abs=1e-12)
                assert high[i, j] == pytest.approx(1 / (1 + 10 ** (-hi / 400)), abs=1e-12)


@pytest.mark.parametrize("settings", [
    FitSettings(ci="sandwich"), FitSettings(ci="sandwich", keep_named=True), FitSettings(rounds=20, ties="drop"),
    FitSettings(ci="sandwich", category="ocr"), FitSettings(ci="sandwich", daily_votes_per_judge=30),
    FitSettings(ci="sandwich", outlier_test=True), FitSettings(ci="sandwich", style_control=True),
])
def test_a_fit_reads_only_the_columns_its_settings_name(tmp_path, settings):
    """`battle_columns` names every field the fit uses: reading just those gives the same leaderboard."""
    from leaderboard.battles import load_battles
    from leaderboard.ratings import battle_columns
    from leaderboard.simulate import write_battles_parquet

    battles = simulate_battles(TRUE_RATINGS, 3000, seed=4, categories=("chart", "ocr"), judges=12,
                               style={"tokens": 0.3, "headers": 0.0, "lists": 0.05, "bold": 0.1})
    battles["anony"] = np.arange(len(battles)) % 5 != 0
    path = tmp_path / "battles.parquet"
    write_battles_parquet(battles, path)
    every = fit_leaderboard(load_battles(path), settings)
    needed = fit_leaderboard(load_battles(path, battle_columns(settings)), settings)
    assert needed.selection == every.selection
    np.testing.assert_array_equal(needed.rating, every.rating)
    np.testing.assert_array_equal(needed.upper, every.upper)

