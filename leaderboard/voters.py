"""Voter controls: a daily vote cap per judge, the anomalous-voter test, and pair reweighting.

- The cap keeps each judge's first K votes of each calendar day (FastChat `elo_analysis.py`, `limit_user_votes`;
  days in UTC here).
- The anomalous-voter test is FastChat's (`elo_analysis.py`, `get_model_pair_stats` and `outlier_detect`; the
  Chatbot Arena paper, Chiang et al. 2024, section on detecting anomalous users): each of a judge's votes gets
  one-sided empirical p-values against everyone's decisive votes on the same pair, and two betting martingales
  M+ = prod 1/(2 p+), M- = prod 1/(2 p-) grow when the judge keeps voting against the crowd; a judge is flagged
  as soon as either passes 1/alpha (Ville's inequality bounds the chance of flagging a judge who votes like the
  crowd by alpha).
- Pair reweighting gives every battle of the pair {a, b} the weight 1 / max(n_ab, 50), normalised to mean one,
  so that pairs shown more often do not dominate (arena-rank `PairDataset`, `reweighted=True`).
Details: docs/leaderboard.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MIN_VOTES = 5  # judges with fewer votes are not tested
MAX_VOTES = 100  # votes tested per judge, in time order
ALPHA = 0.05
MIN_PAIR_COUNT = 50


def daily_vote_cap(battles: pd.DataFrame, per_day: int) -> np.ndarray:
    """Mask of the battles kept: each judge's first `per_day` votes of each UTC day, in time order. Battles with
    no judge are not capped (they cannot be told apart)."""
    order = np.argsort(battles["tstamp"].to_numpy(), kind="stable")
    ranked = battles.iloc[order]
    day = np.floor(ranked["tstamp"].to_numpy() / 86_400.0)
    nth = ranked.groupby([ranked["judge"].to_numpy(), day], sort=False).cumcount().to_numpy()
    keep = np.ones(len(battles), dtype=bool)
    keep[order] = (nth < per_day) | (ranked["judge"].to_numpy() == "")
    return keep


@dataclass(frozen=True)
class FlaggedJudge:
    judge: str
    votes: int  # the vote (in time order) at which the martingale passed 1/alpha
    side: str  # "favours the lower-named model" or "favours the higher-named model"


def anomalous_judges(battles: pd.DataFrame, alpha: float = ALPHA) -> list[FlaggedJudge]:
    """Judges whose votes disagree with everyone's on the same pairs more than chance allows (FastChat's test).

    Votes are scored from the pair's first model by name: 1 it won, 0 it lost, 1/2 a tie; the crowd is every
    decisive vote on the pair (ties left out, as in FastChat). p+ = P(crowd <= vote), p- = P(crowd >= vote).
    A pair whose battles were all ties gives no evidence (factor 1); FastChat's product turns NaN there.
    """
    if "tstamp" in battles.columns:
        battles = battles.iloc[np.argsort(battles["tstamp"].to_numpy(), kind="stable")]
    model_a, model_b = battles["model_a"].to_numpy(object), battles["model_b"].to_numpy(object)
    first_is_a = model_a < model_b
    pair = pd.factorize(pd.Series(np.where(first_is_a, model_a, model_b) + "\x00"
                                  + np.where(first_is_a, model_b, model_a)))[0]
    winner = battles["winner"].to_numpy()
    vote = np.where(winner == "model_a", first_is_a * 1.0, np.where(winner == "model_b", (~first_is_a) * 1.0, 0.5))
    decisive = np.isin(winner, ("model_a", "model_b"))
    wins = np.bincount(pair, decisive & (vote == 1.0))
    losses = np.bincount(pair, decisive & (vote == 0.0))
    crowd = (wins + losses)[pair]
    with np.errstate(divide="ignore", invalid="ignore"):
        p_upper = np.where(vote == 1.0, 1.0, losses[pair] / crowd)  # P(crowd <= vote)
        p_lower = np.where(vote == 0.0, 1.0, wins[pair] / crowd)  # P(crowd >= vote)
        log_upper = np.where(crowd > 0, -np.log(2.0 * p_upper), 0.0)
        log_lower = np.where(crowd > 0, -np.log(2.0 * p_lower), 0.0)
    judges = battles["judge"].to_numpy()
    frame = pd.DataFrame({"judge": judges, "up": log_upper, "down": log_lower})
    frame = frame[judges != ""]
    frame["nth"] = frame.groupby("judge", sort=False).cumcount()
    counts = frame.groupby("judge", sort=False)["nth"].transform("size")
    frame = frame[(counts >= MIN_VOTES).to_numpy() & (frame["nth"] < MAX_VOTES).to_numpy()]
    threshold = np.log(1.0 / alpha)
    flagged = []
    for side, column in (("favours the higher-named model", "up"), ("favours the lower-named model", "down")):
        cumulative = frame.groupby("judge", sort=False)[column].cumsum()
        over = frame.loc[cumulative > threshold, ["judge", "nth"]].groupby("judge", sort=False)["nth"].min()
        flagged.extend(FlaggedJudge(judge, int(nth) + 1, side) for judge, nth in over.items())
    first = {}
    for flag in sorted(flagged, key=lambda f: (f.judge, f.votes)):
        first.setdefault(flag.judge, flag)
    return sorted(first.values(), key=lambda f: f.judge)


def pair_weights(counts_games: np.ndarray, floor: int = MIN_PAIR_COUNT) -> np.ndarray:
    """(M, M) symmetric weight per pair, 1 / max(n_ab, floor), scaled so the battles' mean weight is one."""
    with np.errstate(divide="ignore"):
        weight = np.where(counts_games > 0, 1.0 / np.maximum(counts_games, floor), 0.0)
    total = counts_games.sum()
    return weight * total / (weight * counts_games).sum()
