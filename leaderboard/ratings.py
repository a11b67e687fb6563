"""From battles to a leaderboard: selection, the Bradley-Terry fit, intervals, ranks and diagnostics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy.sparse.csgraph import connected_components
from scipy.special import expit

from leaderboard.battles import BattleDataError
from leaderboard.bootstrap import bootstrap_strengths
from leaderboard.bradley_terry import ELO_PER_NAT, RIDGE, fit_strengths, needs_ridge, sandwich_covariance
from leaderboard.counts import PairCounts, count_pairs

Z95 = 1.959963984540054  # standard normal 97.5% quantile


@dataclass(frozen=True)
class FitSettings:
    """Everything that decides the numbers; recorded beside the ratings."""

    ties: Literal["half", "drop"] = "half"
    ci: Literal["bootstrap", "sandwich"] = "bootstrap"
    rounds: int = 1000
    seed: int = 0
    anchor: tuple[str, float] | None = None
    center: float = 1000.0
    min_battles: int = 0
    category: str | None = None
    keep_named: bool = False

    def __post_init__(self) -> None:
        if self.ties not in ("half", "drop"):
            raise ValueError(f"ties must be 'half' or 'drop', got {self.ties!r}")
        if self.ci not in ("bootstrap", "sandwich"):
            raise ValueError(f"ci must be 'bootstrap' or 'sandwich', got {self.ci!r}")
        if self.ci == "bootstrap" and self.rounds < 2:
            raise ValueError(f"the bootstrap needs at least 2 rounds, got {self.rounds}")


@dataclass(frozen=True)
class FitConvergence:
    """Whether the maximum-likelihood fit converged, in how many Newton steps, and how many bootstrap rounds
    did not."""

    converged: bool = True
    iterations: int = 0
    bootstrap_rounds_not_converged: int = 0


@dataclass(frozen=True)
class Diagnostics:
    """Where the data make the plain MLE ill-posed, and what was done about it."""

    components: list[list[str]]  # connected components of the comparison graph (one when connected)
    ridge: float  # 0 unless the MLE does not exist
    never_won: list[str]
    never_lost: list[str]
    few_battles: list[str]
    self_battles: int = 0  # battles of a model against itself, dropped
    convergence: FitConvergence = field(default_factory=FitConvergence)

    @property
    def connected(self) -> bool:
        return len(self.components) == 1

    def warnings(self) -> list[str]:
        """One sentence per problem, for the command line and the report."""
        notes = []
        if not self.connected:
            groups = "; ".join("{" + ", ".join(group) + "}" for group in self.components)
            notes.append(
                f"the comparison graph is not connected ({len(self.components)} groups: {groups}); "
                "ratings are comparable only within a group"
            )
        if self.never_won:
            notes.append(f"never won a battle: {', '.join(self.never_won)}")
        if self.never_lost:
            notes.append(f"never lost a battle: {', '.join(self.never_lost)}")
        if self.ridge > 0:
            notes.append(
                f"the maximum-likelihood ratings are not finite, so a ridge penalty of {self.ridge} "
                "(natural-log units) keeps them finite; the affected ratings are bounds, not estimates"
            )
        if self.few_battles:
            notes.append(f"fewer battles than the minimum: {', '.join(self.few_battles)}")
        if self.self_battles:
            notes.append(f"{self.self_battles} battles of a model against itself were dropped (they carry no "
                         "information about ratings)")
        if not self.convergence.converged:
            notes.append(f"the rating fit did not converge in {self.convergence.iterations} Newton steps; the "
                         "ratings are not the maximum-likelihood estimate")
        if self.convergence.bootstrap_rounds_not_converged:
            notes.append(f"{self.convergence.bootstrap_rounds_not_converged} bootstrap rounds did not converge; "
                         "the intervals are approximate")
        return notes


@dataclass(frozen=True)
class Leaderboard:
    """Ratings on the Elo scale with 95% intervals, plus what is needed to present and audit them."""

    settings: FitSettings
    counts: PairCounts
    rating: np.ndarray  # (M,)
    lower: np.ndarray  # (M,)
    upper: np.ndarray  # (M,)
    diagnostics: Diagnostics
    selection: dict[str, int]
    samples: np.ndarray | None = None  # (rounds, M) bootstrap ratings, ci == "bootstrap"
    covariance: np.ndarray | None = None  # (M, M) in Elo^2, ci == "sandwich"
    flags: dict[str, list[str]] = field(default_factory=dict)

    @property
    def models(self) -> tuple[str, ...]:
        return self.counts.models

    @property
    def rank(self) -> np.ndarray:
        """1 + the number of models whose lower bound is above this model's upper bound."""
        return 1 + (self.lower[None, :] > self.upper[:, None]).sum(axis=1)

    def table(self) -> pd.DataFrame:
        """One row per model, best first: model, rating, lower, upper, rank, battles, wins, losses, ties, flags."""
        frame = self.counts.per_model().reset_index()
        frame.insert(1, "rating", self.rating)
        frame.insert(2, "lower", self.lower)
        frame.insert(3, "upper", self.upper)
        frame.insert(4, "rank", self.rank)
        frame["flags"] = [";".join(self.flags.get(model, [])) for model in self.models]
        order = np.lexsort((frame["model"].to_numpy(), -frame["rating"].to_numpy()))
        return frame.iloc[order].reset_index(drop=True)

    def win_probability(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """P(row beats column) predicted by the ratings, with a 95% interval from the rating difference.

        The interval comes from the distribution of R_i - R_j itself (bootstrap percentiles, or the sandwich
        variance C_ii + C_jj - 2 C_ij), not from overlapping marginal intervals.
        """
        diff = self.rating[:, None] - self.rating[None, :]
        if self.samples is not None:
            low = np.empty_like(diff)
            high = np.empty_like(diff)
            for i in range(len(self.models)):
                low[i], high[i] = np.quantile(self.samples[:, [i]] - self.samples, [0.025, 0.975], axis=0)
        else:
            c = self.covariance
            sd = np.sqrt(np.maximum(np.diag(c)[:, None] + np.diag(c)[None, :] - 2 * c, 0.0))
            low, high = diff - Z95 * sd, diff + Z95 * sd
        return expit(diff / ELO_PER_NAT), expit(low / ELO_PER_NAT), expit(high / ELO_PER_NAT)


def select_battles(battles: pd.DataFrame, settings: FitSettings) -> tuple[pd.DataFrame, dict[str, int]]:
    """Apply the category, anonymity and tie filters; returns the kept battles and what each filter removed."""
    selection = {"read": len(battles)}
    kept = battles
    mask = (kept["model_a"] != kept["model_b"]).to_numpy()
    selection["self_battles"] = int((~mask).sum())  # a model against itself says nothing about ratings
    kept = kept[mask]
    if settings.category is not None:
        if "category" not in kept.columns and "tags" not in kept.columns:
            raise BattleDataError(f"--category {settings.category!r} given, but the battles have no 'category' "
                                  "or 'category_tag' field")
        mask = np.zeros(len(kept), dtype=bool)
        if "category" in kept.columns:
            mask |= (kept["category"] == settings.category).to_numpy()
        if "tags" in kept.columns:
            tags = "," + kept["tags"] + ","
            mask |= tags.str.contains("," + settings.category + ",", regex=False).to_numpy()
        selection["other_categories"] = int((~mask).sum())
        kept = kept[mask]
    if "anony" in kept.columns and not settings.keep_named:
        mask = kept["anony"].to_numpy(bool)
        selection["named"] = int((~mask).sum())
        kept = kept[mask]
    if settings.ties == "drop":
        mask = kept["winner"].isin(("model_a", "model_b")).to_numpy()
        selection["ties"] = int((~mask).sum())
        kept = kept[mask]
    selection["used"] = len(kept)
    if len(kept) == 0:
        removed = ", ".join(f"{k}: {v}" for k, v in selection.items() if k not in ("read", "used"))
        raise BattleDataError(f"no battles left to fit after the filters (removed {removed})")
    return kept.reset_index(drop=True), selection


def fit_leaderboard(
    battles: pd.DataFrame, settings: FitSettings | None = None, progress: bool = False
) -> Leaderboard:
    """Fit Bradley-Terry ratings on the Elo scale with 95% intervals (bootstrap or sandwich)."""
    settings = settings or FitSettings()
    used, selection = select_battles(battles, settings)
    counts = count_pairs(used)
    models = counts.models
    scores = counts.scores
    ridge = RIDGE if needs_ridge(scores) else 0.0
    fit = fit_strengths(scores, ridge=ridge)
    theta = fit.theta
    anchor_index = None
    if settings.anchor is not None:
        name = settings.anchor[0]
        if name not in models:
            raise ValueError(f"--anchor: model {name!r} is not in the battles")
        anchor_index = models.index(name)

    def to_elo(strengths: np.ndarray) -> np.ndarray:
        elo = settings.center + ELO_PER_NAT * strengths
        if anchor_index is not None:
            elo = elo + (settings.anchor[1] - elo[..., [anchor_index]])
        return elo

    rating = to_elo(theta)
    samples = covariance = None
    unconverged_rounds = 0
    if settings.ci == "bootstrap":
        boot = bootstrap_strengths(counts, theta, settings.rounds, settings.seed, ridge, progress=progress)
        samples = to_elo(boot.theta)
        unconverged_rounds = boot.not_converged
        lower, upper = np.quantile(samples, [0.025, 0.975], axis=0)
    else:
        cov = sandwich_covariance(counts.wins, counts.ties, theta, ridge=ridge)
        if anchor_index is not None:
            shift = np.eye(len(models))
            shift[:, anchor_index] -= 1.0
            cov = shift @ cov @ shift.T
        covariance = ELO_PER_NAT**2 * cov
        half = Z95 * np.sqrt(np.maximum(np.diag(covariance), 0.0))
        lower, upper = rating - half, rating + half

    diagnostics = _diagnose(counts, ridge, settings.min_battles, selection,
                            FitConvergence(fit.converged, fit.iterations, unconverged_rounds))
    return Leaderboard(
        settings=settings,
        counts=counts,
        rating=rating,
        lower=lower,
        upper=upper,
        diagnostics=diagnostics,
        selection=selection,
        samples=samples,
        covariance=covariance,
        flags=_flags(models, diagnostics),
    )


def _diagnose(
    counts: PairCounts, ridge: float, min_battles: int, selection: dict[str, int], convergence: FitConvergence
) -> Diagnostics:
    models = counts.models
    scores = counts.scores
    n_groups, labels = connected_components(counts.games > 0, directed=False)
    groups = [[models[i] for i in np.flatnonzero(labels == g)] for g in range(n_groups)]
    groups.sort(key=lambda group: (-len(group), group))
    battles = counts.per_model()["battles"]
    return Diagnostics(
        components=groups,
        ridge=ridge,
        never_won=[m for m, s in zip(models, scores.sum(axis=1), strict=True) if s == 0],
        never_lost=[m for m, s in zip(models, scores.sum(axis=0), strict=True) if s == 0],
        few_battles=[m for m in models if battles[m] < min_battles],
        self_battles=selection.get("self_battles", 0),
        convergence=convergence,
    )


def _flags(models: tuple[str, ...], diagnostics: Diagnostics) -> dict[str, list[str]]:
    flags: dict[str, list[str]] = {model: [] for model in models}
    if not diagnostics.connected:
        for number, group in enumerate(diagnostics.components, start=1):
            for model in group:
                flags[model].append(f"group{number}")
    for name in ("never_won", "never_lost", "few_battles"):
        for model in getattr(diagnostics, name):
            flags[model].append(name)
    return flags
