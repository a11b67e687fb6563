"""Pair sampling: which battle an annotator sees next.

A pair policy orders the model pairs; the annotator gets a battle of the first pair that still has one they
have not seen, and within that pair the least-assigned battle (one per prompt, so prompts get even shares too),
at random among equals. `UniformPairs` (the default) puts the least-assigned pair first, so votes spread evenly
over the pairs; `AdaptivePairs` puts first the pair whose next vote shrinks the leaderboard's uncertainty most
(docs/arena-sampling.md), from pure functions over counts (`AdaptivePolicy`, `pair_values`). Counts are of
assignments, each a vote given or expected (an unvoted assignment is shown again the next time its
annotator asks), so annotators asking at the same moment are spread too. The counts live on the pair and
battle rows and are raised in the transaction that stores the assignment, so a choice reads
O(pairs + prompts) rows, however many votes there are. Gold battles are mixed in at `gold_rate`; an
annotator never gets the same battle twice, and the side of answer `a` is a coin flip recorded in the
assignment.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Protocol, TypeVar

import numpy as np
from sqlalchemy import Integer, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from arena.db import Annotator, Answer, Assignment, Battle, ModelPair, Vote

K = TypeVar("K")

# The queries are built once; the annotator and the model pair are bound parameters.
_ANNOTATOR = bindparam("annotator_id", type_=Integer())
_UNSEEN = Battle.id.not_in(select(Assignment.battle_id).where(Assignment.annotator_id == _ANNOTATOR))
_OPEN = (
    select(Assignment).outerjoin(Assignment.vote)
    .where(Assignment.annotator_id == _ANNOTATOR, Vote.id.is_(None)).order_by(Assignment.id).limit(1)
)
_GOLD = select(Battle.id, Battle.n_assigned).where(Battle.is_gold, _UNSEEN).order_by(Battle.id)
_PAIRS = select(ModelPair.id, ModelPair.n_assigned).order_by(ModelPair.id)
_IN_PAIR = (
    select(Battle.id, Battle.n_assigned)
    .where(Battle.pair_id == bindparam("pair_id", type_=Integer()), _UNSEEN).order_by(Battle.id)
)
# The counts are raised in SQL (n = n + 1), so no count is lost between servers; no pair or battle object is held
# in the session to be kept in step.
_COUNT_PAIR = (update(ModelPair).where(ModelPair.id == bindparam("pair_id", type_=Integer()))
               .values(n_assigned=ModelPair.n_assigned + 1).execution_options(synchronize_session=False))
_COUNT_BATTLE = (update(Battle).where(Battle.id == bindparam("battle_id", type_=Integer()))
                 .values(n_assigned=Battle.n_assigned + 1).execution_options(synchronize_session=False))


def next_battle(session: Session, annotator: Annotator, rng: random.Random, *,
                gold_rate: float = 0.1, pairs: PairPolicy | None = None) -> Assignment | None:
    """The annotator's next assignment, committed before it is shown; None when no battle is left.

    `pairs` orders the model pairs (`UniformPairs()` when None).
    An assignment the annotator has not voted on yet is shown again (with a new `shown_at`) before a new one.
    The session should hold no other pending changes, since this commits (or, on a race, rolls back).
    """
    if not annotator.enabled:
        raise PermissionError(f"annotator {annotator.name!r} is disabled")
    now = time.time()
    assignment = session.scalars(_OPEN, {"annotator_id": annotator.id}).first()
    if assignment is not None:
        assignment.shown_at = now
        session.commit()
        return assignment
    choice = _pick_battle(session, annotator.id, rng, gold_rate, pairs or UNIFORM)
    if choice is None:
        return None
    battle_id, pair_id = choice
    assignment = Assignment(annotator_id=annotator.id, battle_id=battle_id, swapped=rng.random() < 0.5,
                            shown_at=now)
    try:
        session.add(assignment)
        session.flush()
        # Every writer locks the pair row before the battle row, so two of them cannot deadlock.
        if pair_id is not None:
            session.execute(_COUNT_PAIR, {"pair_id": pair_id})
        session.execute(_COUNT_BATTLE, {"battle_id": battle_id})
        session.commit()
    except IntegrityError:
        # Two requests of this annotator drew the same battle at once; the other one's assignment stands.
        session.rollback()
        return next_battle(session, annotator, rng, gold_rate=gold_rate, pairs=pairs)
    return assignment


def _pick_battle(session: Session, annotator_id: int, rng: random.Random, gold_rate: float,
                 policy: PairPolicy) -> tuple[int, int | None] | None:
    """(battle id, model pair id) of the battle to assign, or None when the annotator has seen them all.
    Gold battles come at `gold_rate`, and also once every other battle has been seen."""
    if rng.random() < gold_rate and (battle_id := _pick_gold(session, annotator_id, rng)) is not None:
        return battle_id, None
    pairs = [(pair_id, n_assigned) for pair_id, n_assigned in session.execute(_PAIRS)]
    for pair_id in policy.order(session, pairs, rng):
        battles = session.execute(_IN_PAIR, {"annotator_id": annotator_id, "pair_id": pair_id}).all()
        battle_id = _least(battles, rng)
        if battle_id is not None:
            return battle_id, pair_id
    battle_id = _pick_gold(session, annotator_id, rng)
    return None if battle_id is None else (battle_id, None)


def _pick_gold(session: Session, annotator_id: int, rng: random.Random) -> int | None:
    return _least(session.execute(_GOLD, {"annotator_id": annotator_id}).all(), rng)


def _least(items: Iterable[tuple[K, int]], rng: random.Random) -> K | None:
    """The key with the smallest count, chosen at random among equal counts; None when there are no items."""
    best: list[K] = []
    smallest: int | None = None
    for key, count in items:
        if smallest is None or count < smallest:
            best, smallest = [key], count
        elif count == smallest:
            best.append(key)
    return rng.choice(best) if best else None


class PairPolicy(Protocol):
    """Orders the model pairs for the next assignment, most wanted first."""

    def order(self, session: Session, pairs: Sequence[tuple[int, int]], rng: random.Random) -> list[int]:
        """`pairs` is (pair id, assignments) for every model pair; returns every pair id, most wanted first."""
        ...


class UniformPairs:
    """The least-assigned pair first, at random among equals: votes spread evenly over the model pairs."""

    def order(self, session: Session, pairs: Sequence[tuple[int, int]], rng: random.Random) -> list[int]:
        return [pair_id for pair_id, _ in sorted(pairs, key=lambda pair: (pair[1], rng.random()))]


UNIFORM = UniformPairs()

# ---------------------------------------------------------------------------------------------------------------
# Adaptive sampling: pure functions over counts. Strengths theta are in natural-log units, P(i beats j) =
# sigmoid(theta_i - theta_j) (Bradley-Terry; R = 1000 + theta * 400 / ln 10 on the Elo scale), ties count as half a
# win, and "can't tell" is left out, as in the leaderboard. Why the choice is sound: docs/arena-sampling.md.

PRIOR_PRECISION = 1.0  # a N(0, 1) prior per strength (sd 174 Elo): finite estimates before every pair has votes
REFRESH_EVERY = 200  # assignments between two fits of the strengths
FLOOR = 0.2  # a pair with fewer assignments than this share of the mean pair's goes first: no pair starves


def fit_strengths(n_models: int, low: np.ndarray, high: np.ndarray, score_low: np.ndarray, games: np.ndarray,
                  prior: float = PRIOR_PRECISION, iterations: int = 50) -> np.ndarray:
    """Bradley-Terry strengths (M,) from per-pair counts, by Newton's method on the posterior with a N(0, 1/prior)
    prior per strength, which keeps every estimate finite (a model that never lost, a pair never voted on).

    low, high: (P,) model indices of each pair; score_low: (P,) wins of `low` plus half the ties; games: (P,) votes.
    """
    theta = np.zeros(n_models)
    for _ in range(iterations):
        p = _sigmoid(theta[low] - theta[high])  # P(low beats high), (P,)
        residual = score_low - games * p
        gradient = np.bincount(low, residual, n_models) - np.bincount(high, residual, n_models) - prior * theta
        step = np.linalg.solve(_information(n_models, low, high, games * p * (1 - p), prior), gradient)
        theta += step
        if np.abs(step).max() < 1e-9:
            break
    return theta


def pair_values(theta: np.ndarray, low: np.ndarray, high: np.ndarray, n_assigned: np.ndarray,
                prior: float = PRIOR_PRECISION) -> np.ndarray:
    """How much one more vote on each pair would shrink the leaderboard's uncertainty, (P,).

    The uncertainty has two parts, each counted as a fraction of its current size so that neither dominates:
    the sum of the centred strengths' variances (the widths of the intervals), and the expected number of model
    pairs shown in the wrong order, sum over a<b of Phi(-|theta_a - theta_b| / sd_ab). A vote on pair (i, j) adds
    w x x^T to the information (x = e_i - e_j, w = p (1 - p)), which lowers the covariance S by
    w u u^T / (1 + w x^T u) with u = S x (Sherman-Morrison); the value is the first-order fall of the two parts.
    S is the inverse of the information of the assignments so far (votes given or expected) at `theta`.
    """
    n = len(theta)
    weight = _pair_weights(theta, low, high)  # (P,)
    covariance = np.linalg.inv(_information(n, low, high, n_assigned * weight, prior))  # (M, M)
    u = covariance[:, low] - covariance[:, high]  # S x for every candidate pair, (M, P)
    gain = weight / (1.0 + weight * (u[low, np.arange(len(low))] - u[high, np.arange(len(low))]))  # (P,)
    # Widths: the centred variances fall by gain * |u - mean(u)|^2.
    centred = u - u.mean(axis=0)
    total_variance = np.trace(covariance) - covariance.sum() / n
    widths = gain * (centred**2).sum(axis=0) / total_variance
    # Order: the variance of theta_a - theta_b falls by gain * (u_a - u_b)^2; weighted by how fast the wrong-order
    # probability falls with it (slope), summed over all (a, b) this is gain * u^T L u, L the slopes' Laplacian.
    gap = np.abs(theta[:, None] - theta[None, :])
    variance = np.diag(covariance)
    sd = np.sqrt(np.maximum(variance[:, None] + variance[None, :] - 2 * covariance, 1e-12))
    np.fill_diagonal(sd, 1.0)
    slope = np.exp(-0.5 * (gap / sd) ** 2) / math.sqrt(2 * math.pi) * gap / (2 * sd**3)  # d wrong / d sd^2, (M, M)
    wrong = np.triu(_normal_cdf(-gap / sd), k=1).sum()
    laplacian = np.diag(slope.sum(axis=1)) - slope
    order = gain * (u * (laplacian @ u)).sum(axis=0) / max(wrong, 1e-12)
    return widths + order


def adaptive_order(values: np.ndarray, n_assigned: np.ndarray, rng: random.Random,
                   floor: float = FLOOR) -> list[int]:
    """Pair positions, most wanted first: pairs under the floor (fewer assignments than `floor` x the mean), least
    assigned first; then the rest by value; ties at random."""
    starving = n_assigned < floor * n_assigned.mean() if n_assigned.any() else np.ones(len(n_assigned), bool)
    noise = np.random.default_rng(rng.getrandbits(64)).random(len(values))
    return np.lexsort((noise, np.where(starving, n_assigned, -values), ~starving)).tolist()


class AdaptivePolicy:
    """The adaptive choice over counts, with the strengths re-fitted every `refresh_every` assignments.

    `order` needs only the assignment counts; `refresh` takes the vote outcomes. The sampling depends on past
    outcomes only, so the leaderboard's fit of all the votes stays valid (docs/arena-sampling.md).
    """

    def __init__(self, n_models: int, low: np.ndarray, high: np.ndarray, refresh_every: int = REFRESH_EVERY,
                 floor: float = FLOOR, prior: float = PRIOR_PRECISION) -> None:
        self.n_models, self.low, self.high = n_models, np.asarray(low), np.asarray(high)
        self.refresh_every, self.floor, self.prior = refresh_every, floor, prior
        self.theta = np.zeros(n_models)
        self.fitted_at: int | None = None  # total assignments at the last fit

    def needs_refresh(self, n_assigned: np.ndarray) -> bool:
        return self.fitted_at is None or n_assigned.sum() >= self.fitted_at + self.refresh_every

    def refresh(self, score_low: np.ndarray, games: np.ndarray, n_assigned: np.ndarray) -> None:
        self.theta = fit_strengths(self.n_models, self.low, self.high, score_low, games, self.prior)
        self.fitted_at = int(n_assigned.sum())

    def order(self, n_assigned: np.ndarray, rng: random.Random) -> list[int]:
        values = pair_values(self.theta, self.low, self.high, n_assigned, self.prior)
        return adaptive_order(values, n_assigned, rng, self.floor)


class AdaptivePairs:
    """`arena serve --sampling adaptive`: `AdaptivePolicy` over the study's pairs, its counts read from the store.

    One object per server process, shared by its sessions; several processes each keep their own and agree up to
    the votes between two refreshes.
    """

    def __init__(self, refresh_every: int = REFRESH_EVERY, floor: float = FLOOR) -> None:
        self.refresh_every, self.floor = refresh_every, floor
        self._lock = threading.Lock()
        self._policy: AdaptivePolicy | None = None
        self._pair_ids: list[int] = []

    def order(self, session: Session, pairs: Sequence[tuple[int, int]], rng: random.Random) -> list[int]:
        pair_ids = [pair_id for pair_id, _ in pairs]
        n_assigned = np.array([n for _, n in pairs], dtype=float)
        with self._lock:
            if self._policy is None or pair_ids != self._pair_ids:
                self._policy, self._pair_ids = self._build(session, pair_ids), pair_ids
            policy = self._policy
            if policy.needs_refresh(n_assigned):
                score_low, games = _pair_outcomes(session, pair_ids)
                policy.refresh(score_low, games, n_assigned)
            ranked = policy.order(n_assigned, rng)
        return [pair_ids[q] for q in ranked]

    def _build(self, session: Session, pair_ids: list[int]) -> AdaptivePolicy:
        rows = session.execute(select(ModelPair.id, ModelPair.model_low_id, ModelPair.model_high_id)
                               .where(ModelPair.id.in_(pair_ids)))
        ends = {pair_id: (model_low, model_high) for pair_id, model_low, model_high in rows}
        models = sorted({model for pair in ends.values() for model in pair})
        index = {model_id: i for i, model_id in enumerate(models)}
        low = np.array([index[ends[pair_id][0]] for pair_id in pair_ids], dtype=int)
        high = np.array([index[ends[pair_id][1]] for pair_id in pair_ids], dtype=int)
        return AdaptivePolicy(len(models), low, high, self.refresh_every, self.floor)


def _pair_outcomes(session: Session, pair_ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Per pair (in `pair_ids` order): wins of the lower-id model plus half the ties, and the votes counted, from
    enabled annotators' votes ("can't tell" left out)."""
    answer_a = aliased(Answer)
    rows = session.execute(
        select(Battle.pair_id, answer_a.model_id == ModelPair.model_low_id, Vote.choice, func.count())
        .select_from(Vote)
        .join(Battle, Vote.battle_id == Battle.id).join(ModelPair, Battle.pair_id == ModelPair.id)
        .join(answer_a, Battle.answer_a_id == answer_a.id).join(Annotator, Vote.annotator_id == Annotator.id)
        .where(Annotator.enabled, Vote.choice != "cant_tell")
        .group_by(Battle.pair_id, answer_a.model_id == ModelPair.model_low_id, Vote.choice)
    ).all()
    position = {pair_id: q for q, pair_id in enumerate(pair_ids)}
    score_low, games = np.zeros(len(pair_ids)), np.zeros(len(pair_ids))
    for pair_id, a_is_low, choice, count in rows:
        if pair_id not in position:
            continue
        q = position[pair_id]
        games[q] += count
        a_score = {"a_better": 1.0, "b_better": 0.0}.get(choice, 0.5)
        score_low[q] += count * (a_score if a_is_low else 1.0 - a_score)
    return score_low, games


def _information(n: int, low: np.ndarray, high: np.ndarray, weight: np.ndarray, prior: float) -> np.ndarray:
    """sum over pairs of weight x x^T (x = e_low - e_high) plus prior * I: (M, M); each pair listed once."""
    info = np.zeros((n, n))
    info[low, high] = -weight  # each pair appears once
    info[high, low] = -weight
    info[np.diag_indices(n)] = np.bincount(low, weight, n) + np.bincount(high, weight, n) + prior
    return info


def _pair_weights(theta: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    p = _sigmoid(theta[low] - theta[high])
    return p * (1.0 - p)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    from scipy.special import ndtr

    return ndtr(x)
