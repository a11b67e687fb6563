"""Online Elo in timestamp order: a secondary, order-dependent view beside the Bradley-Terry ratings."""

from __future__ import annotations

import numpy as np
import pandas as pd

_OUTCOME = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie (bothbad)": 0.5}


def online_elo(battles: pd.DataFrame, k: float = 4.0, scale: float = 400.0, initial: float = 1000.0) -> pd.Series:
    """Elo updated one battle at a time: R_a += k (S - E_a), R_b -= k (S - E_a),
    with E_a = 1 / (1 + 10^((R_b - R_a) / scale)).

    Battles are taken in `tstamp` order when it is present (ties in time keep file order), else in file order.
    """
    if "tstamp" in battles.columns:
        battles = battles.iloc[np.argsort(battles["tstamp"].to_numpy(), kind="stable")]
    ratings: dict[str, float] = {}
    for a, b, winner in zip(battles["model_a"], battles["model_b"], battles["winner"], strict=True):
        ra = ratings.get(a, initial)
        rb = ratings.get(b, initial)
        expected = 1.0 / (1.0 + 10.0 ** ((rb - ra) / scale))
        delta = k * (_OUTCOME[winner] - expected)
        ratings[a] = ra + delta
        ratings[b] = rb - delta
    return pd.Series(ratings, name="online_elo").sort_index()
