"""Per-pair win and tie counts: the sufficient statistics of a Bradley-Terry fit with ties as half wins.

Aggregating once makes every later step (each Newton iteration, each bootstrap round) cost O(models^2)
whatever the number of battles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class PairCounts:
    """`wins[i, j]`: battles model i won against model j; `ties[i, j]` (symmetric): ties between i and j."""

    models: tuple[str, ...]
    wins: np.ndarray  # (M, M)
    ties: np.ndarray  # (M, M)

    @property
    def scores(self) -> np.ndarray:
        """s_ij = wins of i over j + half the ties between them."""
        return self.wins + 0.5 * self.ties

    @property
    def games(self) -> np.ndarray:
        """N_ij = battles between i and j, in either seat."""
        return self.wins + self.wins.T + self.ties

    def per_model(self) -> pd.DataFrame:
        """Battles, wins, losses and ties of each model."""
        wins = self.wins.sum(axis=1)
        losses = self.wins.sum(axis=0)
        ties = self.ties.sum(axis=1)
        return pd.DataFrame(
            {"battles": wins + losses + ties, "wins": wins, "losses": losses, "ties": ties},
            index=pd.Index(self.models, name="model"),
        ).astype(int)


def codes(column: pd.Series, index: dict[str, int], missing: int = -1) -> np.ndarray:
    """Position of each value in `index` (`missing` for others and for nulls): one lookup per distinct value,
    through the categorical's own codes (as `load_battles` returns them) or one factorisation."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        found, uniques = column.cat.codes.to_numpy(), column.cat.categories
    else:
        found, uniques = pd.factorize(column)
    lookup = np.array([index.get(value, missing) for value in uniques] + [missing], dtype=np.int64)
    return lookup[found]  # -1 (null) takes the last entry


def count_pairs(battles: pd.DataFrame, models: tuple[str, ...] | None = None) -> PairCounts:
    """Aggregate battles (model_a, model_b, winner) into per-pair counts; models sorted by name by default."""
    if models is None:
        models = tuple(sorted(set(pd.unique(battles["model_a"])) | set(pd.unique(battles["model_b"]))))
    n = len(models)
    index = {model: i for i, model in enumerate(models)}
    a = codes(battles["model_a"], index)
    b = codes(battles["model_b"], index)
    if (a < 0).any() or (b < 0).any():
        raise ValueError("battles name a model outside the given model list")
    cell = a * (3 * n)  # in place from here: each temporary of millions of battles costs page faults
    b *= 3
    cell += b
    cell += codes(battles["winner"], {"model_a": 0, "model_b": 1}, missing=2)  # 2: a tie of either kind
    cell = np.bincount(cell, minlength=3 * n * n).reshape(n, n, 3).astype(float)
    # cell[a, b]: battles of model_a = a against model_b = b that a won, that b won, that were tied.
    return PairCounts(models, cell[:, :, 0] + cell[:, :, 1].T, cell[:, :, 2] + cell[:, :, 2].T)
