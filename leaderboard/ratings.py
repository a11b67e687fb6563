"""From battles to a leaderboard: selection, the Bradley-Terry fit, intervals, ranks and diagnostics."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import pandas as pd

from leaderboard.battles import BattleDataError
from leaderboard.bootstrap import bootstrap_strengths
from leaderboard.bradley_terry import ELO_PER_NAT, RIDGE, fit_strengths, needs_ridge, sandwich_covariance
from leaderboard.counts import PairCounts, codes, count_pairs
from leaderboard.logistic import expit
from leaderboard.schema import FASTCHAT_FEATURES, STYLE_COUNTS, style_column
from leaderboard.style import bootstrap_style, fit_style, style_data, style_sandwich
from leaderboard.voters import FlaggedJudge, anomalous_judges, daily_vote_cap, pair_weights

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
    style_control: bool = False
    style_features: tuple[str, ...] | None = None  # None: FastChat's four, plus points where every battle has them
    style_ridge: float = 0.0
    daily_votes_per_judge: int | None = None
    outlier_test: bool = False
    keep_outliers: bool = False
    reweight_pairs: bool = False

    def __post_init__(self) -> None:
        if self.ties not in ("half", "drop"):
            raise ValueError(f"ties must be 'half' or 'drop', got {self.ties!r}")
        if self.ci not in ("bootstrap", "sandwich"):
            raise ValueError(f"ci must be 'bootstrap' or 'sandwich', got {self.ci!r}")
        if self.ci == "bootstrap" and self.rounds < 2:
            raise ValueError(f"the bootstrap needs at least 2 rounds, got {self.rounds}")
        if self.style_ridge < 0:
            raise ValueError(f"the style ridge must be zero or positive, got {self.style_ridge}")
        if self.daily_votes_per_judge is not None and self.daily_votes_per_judge < 1:
            raise ValueError(f"the daily vote cap must be at least 1, got {self.daily_votes_per_judge}")


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
    anomalous_judges: list[FlaggedJudge] = field(default_factory=list)
    plain_convergence: FitConvergence | None = None  # with style control: the plain fit's

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
        if self.plain_convergence is not None and not self.plain_convergence.converged:
            notes.append(f"the fit without style control did not converge in {self.plain_convergence.iterations} "
                         "Newton steps")
        if self.anomalous_judges:
            names = ", ".join(flag.judge for flag in self.anomalous_judges[:10])
            more = f" and {len(self.anomalous_judges) - 10} more" if len(self.anomalous_judges) > 10 else ""
            notes.append(f"{len(self.anomalous_judges)} judges vote against the crowd beyond chance (anomalous-voter "
                         f"test): {names}{more}")
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
    style: StyleControl | None = None

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
            low, high = difference_bounds(self.samples)
        else:
            c = self.covariance
            sd = np.sqrt(np.maximum(np.diag(c)[:, None] + np.diag(c)[None, :] - 2 * c, 0.0))
            low, high = diff - Z95 * sd, diff + Z95 * sd
        return expit(diff / ELO_PER_NAT), expit(low / ELO_PER_NAT), expit(high / ELO_PER_NAT)


def percentile_bounds(samples: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The 2.5% and 97.5% quantiles along `axis`, as `np.quantile` computes them (linear interpolation), from
    one partial sort that places the four order statistics they need."""
    count = samples.shape[axis]
    positions = [q * (count - 1) for q in (0.025, 0.975)]
    below = [int(np.floor(p)) for p in positions]
    above = [min(b + 1, count - 1) for b in below]
    part = np.partition(samples, sorted(set(below + above)), axis=axis)
    low, high = (np.take(part, b, axis) + (p - b) * (np.take(part, a, axis) - np.take(part, b, axis))
                 for p, b, a in zip(positions, below, above, strict=True))
    return low, high


def difference_bounds(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(M, M) 2.5% and 97.5% quantiles of R_i - R_j over the bootstrap rounds (rounds, M).

    One half of the pairs is computed (R_j - R_i = -(R_i - R_j)), each model's differences as contiguous rows,
    split between two threads (numpy's partial sort releases the GIL)."""
    n = samples.shape[1]
    by_model = np.ascontiguousarray(samples.T)
    low, high = np.zeros((n, n)), np.zeros((n, n))

    def rows(models: range) -> None:
        for i in models:
            low[i, i + 1:], high[i, i + 1:] = percentile_bounds(by_model[i] - by_model[i + 1:], axis=1)

    # Model i has n - 1 - i pairs below it: split where half of all pairs are done.
    middle = int(np.searchsorted(np.cumsum(np.arange(n - 1, 0, -1)), n * (n - 1) // 4))
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(rows, (range(middle), range(middle, n - 1))))
    upper_half = np.triu_indices(n, k=1)
    low.T[upper_half], high.T[upper_half] = -high[upper_half], -low[upper_half]
    return low, high


def battle_columns(settings: FitSettings) -> tuple[str, ...]:
    """The battle fields a fit with these settings reads besides model_a, model_b and winner (`select_battles`
    and the style fit use nothing else)."""
    columns = ()
    if not settings.keep_named:
        columns += ("anony",)
    if settings.category is not None:
        columns += ("category", "category_tag")
    if settings.daily_votes_per_judge is not None or settings.outlier_test:
        columns += ("judge", "tstamp")
    if settings.style_control:
        columns += ("conv_metadata",)
    return columns


def select_battles(
    battles: pd.DataFrame, settings: FitSettings
) -> tuple[pd.DataFrame, dict[str, int], list[FlaggedJudge]]:
    """Apply the filters in FastChat's order (`elo_analysis.py`, `report_elo_analysis_results`): self-battles,
    category, anonymity, ties, the daily vote cap, then the anomalous-voter test. Returns the kept battles, what
    each filter removed, and the judges the voter test flagged.

    Filters that look at one battle at a time are masks over all battles; the voter controls, which look at a
    judge's battles together, see the battles kept so far. The frame is copied once, at the end."""
    selection = {"read": len(battles)}
    alive = np.ones(len(battles), dtype=bool)

    def keep(mask: np.ndarray, reason: str) -> None:
        """Keep the battles where `mask` (over all battles) holds."""
        selection[reason] = int(np.count_nonzero(alive & ~mask))
        alive[...] = alive & mask

    def kept() -> pd.DataFrame:
        return battles if alive.all() else battles[alive]

    keep((battles["model_a"] != battles["model_b"]).to_numpy(), "self_battles")  # no information about ratings
    if settings.category is not None:
        if "category" not in battles.columns and "tags" not in battles.columns:
            raise BattleDataError(f"--category {settings.category!r} given, but the battles have no 'category' "
                                  "or 'category_tag' field")
        mask = np.zeros(len(battles), dtype=bool)
        if "category" in battles.columns:
            mask |= (battles["category"] == settings.category).to_numpy()
        if "tags" in battles.columns:
            mask |= ("," + battles["tags"] + ",").str.contains("," + settings.category + ",",
                                                               regex=False).to_numpy()
        keep(mask, "other_categories")
    if "anony" in battles.columns and not settings.keep_named:
        keep(battles["anony"].to_numpy(bool), "named")
    if settings.ties == "drop":
        keep(battles["winner"].isin(("model_a", "model_b")).to_numpy(), "ties")
    if settings.daily_votes_per_judge is not None:
        _require(battles, ("judge", "tstamp"), "--daily-votes-per-judge")
        capped = np.ones(len(battles), dtype=bool)
        capped[np.flatnonzero(alive)] = daily_vote_cap(kept(), settings.daily_votes_per_judge)
        keep(capped, "over_daily_cap")
    flagged: list[FlaggedJudge] = []
    if settings.outlier_test:
        _require(battles, ("judge",), "--outlier-test")
        flagged = anomalous_judges(kept())
        if not settings.keep_outliers:
            keep(~battles["judge"].isin([flag.judge for flag in flagged]).to_numpy(), "anomalous_judges")
    if settings.style_control:
        features = _style_features(battles, settings)
        missing = np.zeros(len(battles), dtype=bool)
        for name in features:
            for side in "ab":
                missing |= battles[style_column(name, side)].isna().to_numpy()
        keep(~missing, "no_style_counts")
    selection["used"] = int(np.count_nonzero(alive))
    if selection["used"] == 0:
        removed = ", ".join(f"{k}: {v}" for k, v in selection.items() if k not in ("read", "used"))
        raise BattleDataError(f"no battles left to fit after the filters (removed {removed})")
    return kept().reset_index(drop=True), selection, flagged


def _require(battles: pd.DataFrame, fields: tuple[str, ...], option: str) -> None:
    for name in fields:
        if name not in battles.columns:
            raise BattleDataError(f"{option} needs the battles' {name!r} field, which they do not have")


def _style_features(battles: pd.DataFrame, settings: FitSettings) -> tuple[str, ...]:
    """The style features of the fit: those asked for, or FastChat's four plus points where the battles have
    point counts. Every feature asked for must be in the battles' conv_metadata."""
    if settings.style_features is not None:
        wanted = settings.style_features
    else:
        wanted = FASTCHAT_FEATURES + (("points",) if style_column("points", "a") in battles.columns else ())
    for name in wanted:
        if name not in {count.feature for count in STYLE_COUNTS}:
            raise BattleDataError(f"unknown style feature {name!r} (known: "
                                  f"{', '.join(count.feature for count in STYLE_COUNTS)})")
        for side in "ab":
            if style_column(name, side) not in battles.columns:
                key = next(c.key for c in STYLE_COUNTS if c.feature == name).format(side=side)
                raise BattleDataError(f"--style-control needs the style count {key!r} in the battles' "
                                      "conv_metadata, which they do not have")
    return tuple(wanted)


@dataclass(frozen=True)
class StyleControl:
    """The style coefficients of a style-controlled fit, and the plain fit of the same battles beside it."""

    features: tuple[str, ...]
    beta: np.ndarray  # (k,) logit per standard deviation of the feature
    lower: np.ndarray
    upper: np.ndarray
    ridge: float
    plain: Leaderboard


def fit_leaderboard(
    battles: pd.DataFrame, settings: FitSettings | None = None, progress: bool = False
) -> Leaderboard:
    """Fit Bradley-Terry ratings on the Elo scale with 95% intervals (bootstrap or sandwich); with style
    control, the style-controlled ratings, with the plain fit and the coefficients in `style`."""
    settings = settings or FitSettings()
    used, selection, flagged = select_battles(battles, settings)
    counts = count_pairs(used)
    models = counts.models
    weight = pair_weights(counts.games) if settings.reweight_pairs else None
    scores = counts.scores if weight is None else counts.scores * weight
    ridge = RIDGE if needs_ridge(scores) else 0.0
    fit = fit_strengths(scores, ridge=ridge)
    to_elo = EloScale.of(settings, models)
    samples = covariance = None
    unconverged_rounds = 0
    if settings.ci == "bootstrap":
        boot = bootstrap_strengths(counts, fit.theta, settings.rounds, settings.seed, ridge, progress=progress,
                                   pair_weight=weight)
        samples, unconverged_rounds = to_elo(boot.theta), boot.not_converged
    else:
        covariance = ELO_PER_NAT**2 * sandwich_covariance(counts.wins, counts.ties, fit.theta, ridge=ridge,
                                                          pair_weight=weight)
    convergence = FitConvergence(fit.converged, fit.iterations, unconverged_rounds)
    board = _board(settings, counts, to_elo(fit.theta), samples, covariance, to_elo, selection,
                   _diagnose(counts, ridge, settings.min_battles, selection, convergence, flagged))
    if not settings.style_control:
        return board
    return _style_board(used, board, weight, progress)


@dataclass(frozen=True)
class EloScale:
    """Strengths (natural-log units, any leading batch axes) to Elo-scale ratings: centred, or anchored."""

    center: float
    anchor_index: int | None = None
    anchor_rating: float = 0.0

    @classmethod
    def of(cls, settings: FitSettings, models: tuple[str, ...]) -> EloScale:
        if settings.anchor is None:
            return cls(settings.center)
        if settings.anchor[0] not in models:
            raise ValueError(f"--anchor: model {settings.anchor[0]!r} is not in the battles")
        return cls(settings.center, models.index(settings.anchor[0]), settings.anchor[1])

    def __call__(self, strengths: np.ndarray) -> np.ndarray:
        elo = self.center + ELO_PER_NAT * strengths
        if self.anchor_index is not None:
            elo = elo + (self.anchor_rating - elo[..., [self.anchor_index]])
        return elo


def _board(settings: FitSettings, counts: PairCounts, rating: np.ndarray, samples: np.ndarray | None,
           covariance: np.ndarray | None, scale: EloScale, selection: dict[str, int],
           diagnostics: Diagnostics) -> Leaderboard:
    """The leaderboard from Elo-scale ratings and either bootstrap samples or an Elo^2 covariance."""
    if samples is not None:
        lower, upper = percentile_bounds(samples)
    else:
        if scale.anchor_index is not None:  # R - R_anchor: the anchor's own noise moves every rating
            shift = np.eye(len(rating))
            shift[:, scale.anchor_index] -= 1.0
            covariance = shift @ covariance @ shift.T
        half = Z95 * np.sqrt(np.maximum(np.diag(covariance), 0.0))
        lower, upper = rating - half, rating + half
    return Leaderboard(settings=settings, counts=counts, rating=rating, lower=lower, upper=upper,
                       diagnostics=diagnostics, selection=selection, samples=samples, covariance=covariance,
                       flags=_flags(counts.models, diagnostics))


def _style_board(used: pd.DataFrame, plain: Leaderboard, weight: np.ndarray | None, progress: bool) -> Leaderboard:
    settings, counts = plain.settings, plain.counts
    models = counts.models
    battle_weight = None
    if weight is not None:  # arena-rank reweights every battle of a pair by the pair's weight
        index = {model: i for i, model in enumerate(models)}
        battle_weight = weight[codes(used["model_a"], index), codes(used["model_b"], index)]
    data = style_data(used, models, _style_features(used, settings), battle_weight)
    theta_ridge = plain.diagnostics.ridge  # where the plain MLE is not finite, neither is this one
    start = (plain.rating - plain.rating.mean()) / ELO_PER_NAT  # the plain fit is close: fewer Newton steps
    fit = fit_style(data, settings.style_ridge, init=(start, np.zeros(len(data.names))), theta_ridge=theta_ridge)
    to_elo = EloScale.of(settings, models)
    k = len(data.names)
    samples = covariance = None
    unconverged_rounds = 0
    if settings.ci == "bootstrap":
        thetas, betas, unconverged_rounds = bootstrap_style(data, fit, settings.rounds, settings.seed,
                                                            settings.style_ridge, progress, theta_ridge)
        samples = to_elo(thetas)
        beta_lower, beta_upper = percentile_bounds(betas)
    else:
        cov = style_sandwich(data, fit, settings.style_ridge, theta_ridge)
        covariance = ELO_PER_NAT**2 * cov[: len(models), : len(models)]
        half = Z95 * np.sqrt(np.maximum(np.diag(cov)[len(models):], 0.0))
        beta_lower, beta_upper = fit.beta - half, fit.beta + half
    convergence = FitConvergence(fit.converged, fit.iterations, unconverged_rounds)
    diagnostics = replace(plain.diagnostics, convergence=convergence, plain_convergence=plain.diagnostics.convergence)
    board = _board(settings, counts, to_elo(fit.theta), samples, covariance, to_elo, plain.selection, diagnostics)
    style = StyleControl(data.names, fit.beta, beta_lower[:k], beta_upper[:k], settings.style_ridge, plain)
    return replace(board, style=style)


def _diagnose(
    counts: PairCounts, ridge: float, min_battles: int, selection: dict[str, int], convergence: FitConvergence,
    flagged: list[FlaggedJudge],
) -> Diagnostics:
    models = counts.models
    scores = counts.scores
    labels = _components(counts.games > 0)
    n_groups = int(labels.max()) + 1
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
        anomalous_judges=flagged,
    )


def _components(linked: np.ndarray) -> np.ndarray:
    """Connected-component label of each model of an undirected (M, M) adjacency, numbered in order of each
    component's first model."""
    labels = np.full(len(linked), -1)
    for start in range(len(linked)):
        if labels[start] >= 0:
            continue
        group = labels.max() + 1
        reached = np.zeros(len(linked), dtype=bool)
        reached[start] = True
        while True:
            grown = reached | linked[reached].any(axis=0)
            if (grown == reached).all():
                break
            reached = grown
        labels[reached] = group
    return labels


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
