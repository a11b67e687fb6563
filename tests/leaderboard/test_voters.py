import datetime

import numpy as np
import pandas as pd
import pytest

from leaderboard.battles import BattleDataError
from leaderboard.ratings import FitSettings, fit_leaderboard
from leaderboard.simulate import simulate_battles
from leaderboard.voters import anomalous_judges, daily_vote_cap

from .conftest import TRUE_RATINGS


def _fastchat_daily_cap(battles, per_day):
    """FastChat's `limit_user_votes` as written there (a UTC calendar day here): per date, groupby judge, head."""
    battles = battles.sort_values("tstamp", kind="stable").assign(
        date=lambda f: f["tstamp"].map(lambda t: datetime.datetime.fromtimestamp(t, datetime.UTC).date()))
    kept = [battles[battles["date"] == day].groupby("judge").head(per_day) for day in battles["date"].unique()]
    return set(pd.concat(kept)["battle_id"])


def _fastchat_outliers(battles, alpha=0.05):
    """FastChat's `get_model_pair_stats` + `outlier_detect`, loop for loop (an empty crowd gives no evidence)."""
    battles = battles.sort_values("tstamp", kind="stable")
    stats = {}
    for row in battles.itertuples():
        pair = tuple(sorted([row.model_a, row.model_b]))
        cell = stats.setdefault(pair, {"win": 0, "loss": 0})
        if row.winner in ("model_a", "model_b"):
            won = (row.winner == "model_a") == (row.model_a == pair[0])
            cell["win" if won else "loss"] += 1
    flagged = set()
    counts = battles["judge"].value_counts()
    for judge in counts[counts >= 5].index:
        upper, lower = 1.0, 1.0
        for row in battles[battles["judge"] == judge].head(100).itertuples():
            pair = tuple(sorted([row.model_a, row.model_b]))
            vote = 0.5 if row.winner.startswith("tie") else float((row.winner == "model_a") == (row.model_a == pair[0]))
            crowd = np.array([1] * stats[pair]["win"] + [0] * stats[pair]["loss"])
            if crowd.size == 0:
                continue
            with np.errstate(divide="ignore"):
                upper *= 1 / (2 * (crowd <= vote).mean())
                lower *= 1 / (2 * (crowd >= vote).mean())
            if upper > 1 / alpha or lower > 1 / alpha:
                flagged.add(judge)
                break
    return flagged


@pytest.fixture
def with_contrarians():
    """Honest judges, plus three who always vote for the lower-rated model. (With the simulator's 25% ties, a
    lopsided pair's weaker model never wins, and FastChat's test reads a tie there as infinitely unlikely.)"""
    honest = simulate_battles(TRUE_RATINGS, 4000, seed=2, judges=30, tie_rate=0.1)
    contrary = simulate_battles(TRUE_RATINGS, 60, seed=3, judges=3, tie_rate=0.1)
    stronger = contrary["model_a"].map(TRUE_RATINGS) > contrary["model_b"].map(TRUE_RATINGS)
    contrary = contrary.assign(winner=np.where(stronger, "model_b", "model_a"),
                               judge=contrary["judge"].str.replace("simulated", "contrarian"),
                               battle_id=contrary["battle_id"] + "-c")
    return pd.concat([honest, contrary], ignore_index=True)


def test_daily_cap_keeps_the_first_votes_of_each_judge_each_day():
    battles = simulate_battles(TRUE_RATINGS, 3000, seed=4, judges=6)
    for per_day in (1, 5, 40):
        kept = battles[daily_vote_cap(battles, per_day)]
        assert set(kept["battle_id"]) == _fastchat_daily_cap(battles, per_day)
    unjudged = battles.assign(judge="")
    assert daily_vote_cap(unjudged, 1).all()


def test_outlier_test_flags_what_fastchats_flags(with_contrarians):
    flagged = anomalous_judges(with_contrarians)
    names = {flag.judge for flag in flagged}
    assert names == _fastchat_outliers(with_contrarians)
    assert {"contrarian-annotator-000", "contrarian-annotator-001", "contrarian-annotator-002"} <= names
    assert len(names) <= 4  # honest judges are flagged at most at the test's 5% level
    assert all(flag.votes <= 20 for flag in flagged if flag.judge.startswith("contrarian"))


def test_flagged_judges_leave_the_fit_unless_kept(with_contrarians):
    removed = fit_leaderboard(with_contrarians, FitSettings(ci="sandwich", outlier_test=True))
    assert removed.selection["anomalous_judges"] >= 60
    assert any("anomalous-voter test" in note for note in removed.diagnostics.warnings())
    kept = fit_leaderboard(with_contrarians, FitSettings(ci="sandwich", outlier_test=True, keep_outliers=True))
    assert "anomalous_judges" not in kept.selection
    assert [f.judge for f in kept.diagnostics.anomalous_judges] == [f.judge for f in
                                                                    removed.diagnostics.anomalous_judges]
    plain = fit_leaderboard(with_contrarians, FitSettings(ci="sandwich"))
    np.testing.assert_allclose(kept.rating, plain.rating)


def test_voter_options_need_their_fields(battles):
    with pytest.raises(BattleDataError, match="--daily-votes-per-judge needs the battles' 'tstamp' field"):
        fit_leaderboard(battles.drop(columns="tstamp"), FitSettings(ci="sandwich", daily_votes_per_judge=3))
    with pytest.raises(BattleDataError, match="--outlier-test needs the battles' 'judge' field"):
        fit_leaderboard(battles.drop(columns="judge"), FitSettings(ci="sandwich", outlier_test=True))


def test_pair_reweighting_equals_a_weighted_per_battle_fit(battles):
    from scipy.optimize import minimize
    from scipy.special import log_expit

    from leaderboard.bradley_terry import ELO_PER_NAT

    skewed = pd.concat([battles, battles[battles["model_a"].isin(["alpha", "bravo"])
                                         & battles["model_b"].isin(["alpha", "bravo"])]] * 5, ignore_index=True)
    board = fit_leaderboard(skewed, FitSettings(ci="sandwich", reweight_pairs=True))
    models = list(board.models)
    a, b = (skewed[c].map(models.index).to_numpy() for c in ("model_a", "model_b"))
    y = skewed["winner"].map({"model_a": 1.0, "model_b": 0.0}).fillna(0.5).to_numpy()
    pair = np.minimum(a, b) * 10 + np.maximum(a, b)
    w = 1 / np.maximum(pd.Series(pair).map(pd.Series(pair).value_counts()).to_numpy(), 50)

    def loss(free):
        theta = np.concatenate([[0.0], free])
        d = theta[a] - theta[b]
        r = w * (y - 1 / (1 + np.exp(-d)))
        grad = np.bincount(b, r, 5) - np.bincount(a, r, 5)
        return -(w * (y * log_expit(d) + (1 - y) * log_expit(-d))).sum(), grad[1:]

    theta = np.concatenate([[0.0], minimize(loss, np.zeros(4), jac=True, method="L-BFGS-B",
                                            options={"gtol": 1e-12, "ftol": 1e-16}).x])
    expected = (theta - theta.mean()) * ELO_PER_NAT + 1000
    assert np.abs(board.rating - expected).max() < 0.01
    plain = fit_leaderboard(skewed, FitSettings(ci="sandwich"))
    assert np.abs(board.rating - plain.rating).max() > 0.1
