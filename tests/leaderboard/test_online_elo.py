import pandas as pd
import pytest

from leaderboard.online_elo import online_elo


def test_updates_follow_the_elo_rule_in_timestamp_order():
    battles = pd.DataFrame(
        {"model_a": ["x", "x"], "model_b": ["y", "y"], "winner": ["tie", "model_a"], "tstamp": [20.0, 10.0]}
    )
    elo = online_elo(battles)
    # First (t=10): x wins at equal ratings: +-4 * (1 - 0.5) = 2.
    # Then (t=20): a tie, E_x = 1 / (1 + 10^(-4/400)).
    expected_x = 1002.0 + 4 * (0.5 - 1 / (1 + 10 ** (-4 / 400)))
    assert elo["x"] == pytest.approx(expected_x)
    assert elo["x"] + elo["y"] == pytest.approx(2000.0)


def test_file_order_without_timestamps():
    battles = pd.DataFrame({"model_a": ["x", "y"], "model_b": ["y", "x"], "winner": ["model_a", "model_a"]})
    elo = online_elo(battles)
    assert elo["x"] == pytest.approx(1002.0 - 4 * (1 - 1 / (1 + 10 ** (4 / 400))))
