import random
from collections import Counter

import numpy as np
import pytest
from scipy.stats import norm
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from arena import sampling
from arena.annotators import disable_annotator
from arena.db import Annotator, Assignment, Battle, Model, ModelPair
from arena.export import export_battles
from arena.sampling import next_battle
from arena.votes import record_vote
from leaderboard.battles import load_battles
from leaderboard.bradley_terry import fit_strengths as leaderboard_fit
from leaderboard.counts import count_pairs


def _pair(battle: Battle) -> frozenset[str]:
    return frozenset((battle.answer_a.model.name, battle.answer_b.model.name))


def test_votes_spread_evenly_over_pairs_and_prompts(session: Session, session_factory: sessionmaker,
                                                    make_study, annotators) -> None:
    make_study(n_models=5, n_prompts=4)  # 10 pairs x 4 prompts = 40 battles
    rng = random.Random(0)
    people = [session.get(Annotator, i) for i in annotators(15)]
    per_pair, per_battle, per_prompt = Counter(), Counter(), Counter()
    for _round in range(8):
        for person in people:
            assignment = next_battle(session, person, rng, gold_rate=0)
            record_vote(session_factory, person.id, assignment.battle_id, rng.choice(["left_better", "tie_good"]))
            per_pair[_pair(assignment.battle)] += 1
            per_battle[assignment.battle_id] += 1
            per_prompt[assignment.battle.prompt_id] += 1
    assert len(per_pair) == 10 and max(per_pair.values()) - min(per_pair.values()) <= 1
    assert len(per_battle) == 40 and max(per_battle.values()) - min(per_battle.values()) <= 2
    assert len(per_prompt) == 4 and max(per_prompt.values()) - min(per_prompt.values()) <= 2
    seen = session.execute(select(Assignment.annotator_id, Assignment.battle_id)).all()
    assert len(seen) == len(set(seen)) == 15 * 8
    session.expire_all()  # the sampler's counts agree with the assignments
    assert {b.id: b.n_assigned for b in session.scalars(select(Battle))} == dict(per_battle)
    pair_counts = session.scalars(select(ModelPair.n_assigned)).all()
    assert sorted(pair_counts) == sorted(per_pair.values())


def test_an_annotator_sees_every_battle_once_then_none(session: Session, session_factory, make_study,
                                                       annotators) -> None:
    make_study(n_models=3, n_prompts=3, gold=True)
    person = session.get(Annotator, annotators(1)[0])
    rng, shown = random.Random(1), []
    while (assignment := next_battle(session, person, rng)) is not None:
        shown.append(assignment.battle_id)
        record_vote(session_factory, person.id, assignment.battle_id, "tie_bad")
    assert sorted(shown) == sorted(session.scalars(select(Battle.id))) and len(shown) == 3 * 3 + 3


def test_an_unvoted_assignment_is_shown_again(session: Session, session_factory, make_study, annotators) -> None:
    make_study(n_models=3, n_prompts=2)
    person = session.get(Annotator, annotators(1)[0])
    first = next_battle(session, person, random.Random(0))
    shown_at = first.shown_at
    again = next_battle(session, person, random.Random(5))
    assert (again.id, again.battle_id, again.swapped) == (first.id, first.battle_id, first.swapped)
    assert again.shown_at >= shown_at
    record_vote(session_factory, person.id, first.battle_id, "cant_tell")
    assert next_battle(session, person, random.Random(0)).battle_id != first.battle_id
    assert session.scalar(select(func.count()).select_from(Assignment)) == 2


def test_gold_items_come_at_the_configured_rate(session: Session, session_factory, make_study, annotators) -> None:
    make_study(n_models=4, n_prompts=10, gold=True)  # 60 battles and 10 gold items
    rng, gold, draws, swapped = random.Random(2), 0, 0, 0
    for person in [session.get(Annotator, i) for i in annotators(16)]:
        for _ in range(20):
            assignment = next_battle(session, person, rng, gold_rate=0.1)
            record_vote(session_factory, person.id, assignment.battle_id, "left_better")
            gold += assignment.battle.is_gold
            swapped += assignment.swapped
            draws += 1
    assert 0.06 <= gold / draws <= 0.14
    assert 0.4 <= swapped / draws <= 0.6


def test_gold_rate_zero_and_one(session: Session, session_factory, make_study, annotators) -> None:
    make_study(n_models=3, n_prompts=3, gold=True)
    never, always = (session.get(Annotator, i) for i in annotators(2))
    rng = random.Random(3)
    kinds = {}
    for person, rate in ((never, 0.0), (always, 1.0)):
        kinds[rate] = []
        for _ in range(5):
            assignment = next_battle(session, person, rng, gold_rate=rate)
            record_vote(session_factory, person.id, assignment.battle_id, "right_better")
            kinds[rate].append(assignment.battle.is_gold)
    assert kinds == {0.0: [False] * 5, 1.0: [True, True, True, False, False]}


def test_a_disabled_annotator_gets_nothing(session: Session, make_study, annotators) -> None:
    make_study(n_models=2, n_prompts=1)
    person = session.get(Annotator, annotators(1)[0])
    disable_annotator(session, person.name)
    with pytest.raises(PermissionError, match="disabled"):
        next_battle(session, person, random.Random(0))


def test_a_parallel_request_of_the_same_annotator_wins_cleanly(session: Session, session_factory, make_study,
                                                               annotators, monkeypatch) -> None:
    make_study(n_models=3, n_prompts=2)
    person = session.get(Annotator, annotators(1)[0])
    battle = session.scalars(select(Battle).order_by(Battle.id)).first()
    real_pick = sampling._pick_battle

    def other_request_wins_first(*args):
        # Between this request's read and its write, another request stores the same battle.
        monkeypatch.setattr(sampling, "_pick_battle", real_pick)
        with session_factory() as other:
            other.add(Assignment(annotator_id=person.id, battle_id=battle.id, swapped=True, shown_at=1.0))
            other.commit()
        return battle.id, battle.pair_id

    monkeypatch.setattr(sampling, "_pick_battle", other_request_wins_first)
    assignment = next_battle(session, person, random.Random(0))
    assert (assignment.battle_id, assignment.swapped) == (battle.id, True)
    assert session.scalar(select(func.count()).select_from(Assignment)) == 1
    session.expire_all()
    assert sum(session.scalars(select(Battle.n_assigned))) == 0  # the failed attempt left no count behind


# Adaptive sampling: the pure functions over counts, then through the store.

def _simulated_counts(theta: np.ndarray, per_pair: int, seed: int):
    """Every pair voted `per_pair` times from Bradley-Terry with 20% ties: (low, high, score_low, games, wins, ties)."""
    rng = np.random.default_rng(seed)
    low, high = np.triu_indices(len(theta), k=1)
    p = 1 / (1 + np.exp(theta[high] - theta[low]))
    draws = rng.random((len(low), per_pair))
    low_wins = (draws < p[:, None] - 0.1).sum(axis=1)
    tied = (draws >= 0.9).sum(axis=1)
    games = np.full(len(low), float(per_pair))
    wins, ties = np.zeros((len(theta),) * 2), np.zeros((len(theta),) * 2)
    wins[low, high], wins[high, low] = low_wins, per_pair - low_wins - tied
    ties[low, high] = ties[high, low] = tied
    return low, high, low_wins + 0.5 * tied, games, wins, ties


def test_the_sampler_fit_is_the_leaderboard_fit_as_its_prior_vanishes():
    theta = np.array([0.0, 0.4, -0.3, 1.1, 0.2, -0.8])
    low, high, score_low, games, wins, ties = _simulated_counts(theta, 60, seed=0)
    ours = sampling.fit_strengths(len(theta), low, high, score_low, games, prior=1e-9)
    reference = leaderboard_fit(wins + 0.5 * ties).theta  # the leaderboard's MLE (itself checked against choix)
    assert np.allclose(ours - ours.mean(), reference, atol=1e-6)
    shrunk = sampling.fit_strengths(len(theta), low, high, score_low, games, prior=50.0)
    assert np.abs(shrunk).max() < np.abs(reference).max()  # the prior pulls towards 0
    never_voted = sampling.fit_strengths(3, np.array([0, 0, 1]), np.array([1, 2, 2]), np.zeros(3), np.zeros(3))
    assert np.array_equal(never_voted, np.zeros(3))


def test_pair_values_are_the_first_order_fall_of_widths_and_wrong_order_risk():
    """Brute force: add each candidate vote's information, invert again, measure how much each variance fell."""
    theta = np.array([0.0, 0.05, 0.3, 0.9, -0.6])
    low, high = np.triu_indices(5, k=1)
    n_assigned = np.array([30, 5, 12, 40, 8, 22, 3, 17, 9, 25], dtype=float)
    prior = 0.5
    values = sampling.pair_values(theta, low, high, n_assigned, prior)

    def information(counts):
        info = prior * np.eye(5)
        for i, j, count in zip(low, high, counts, strict=True):
            p = 1 / (1 + np.exp(theta[j] - theta[i]))
            x = np.zeros(5)
            x[i], x[j] = 1, -1
            info += count * p * (1 - p) * np.outer(x, x)
        return info

    def parts(covariance):
        centre = np.eye(5) - 1 / 5
        a, b = np.triu_indices(5, k=1)
        variance = covariance[a, a] + covariance[b, b] - 2 * covariance[a, b]
        return np.trace(centre @ covariance @ centre), variance, a, b

    before = np.linalg.inv(information(n_assigned))
    width, variance, a, b = parts(before)
    gap, sd = np.abs(theta[a] - theta[b]), np.sqrt(variance)
    wrong = norm.cdf(-gap / sd).sum()
    slope = norm.pdf(gap / sd) * gap / (2 * sd**3)
    for q in range(len(low)):
        more = n_assigned.copy()
        more[q] += 1
        width_after, variance_after, _, _ = parts(np.linalg.inv(information(more)))
        expected = (width - width_after) / width + (slope * (variance - variance_after)).sum() / wrong
        assert values[q] == pytest.approx(expected, rel=1e-9)


def test_the_adaptive_choice_follows_the_widest_interval_then_the_order_and_feeds_starving_ones():
    theta = np.array([0.0, 0.08, 1.5, 3.0])  # two close leaders, a distant third, a far fourth
    low, high = np.triu_indices(4, k=1)
    pairs = list(zip(low.tolist(), high.tolist(), strict=True))
    early = sampling.pair_values(theta, low, high, np.full(len(low), 20.0))
    # The far model's interval is the widest (its games say little): its most informative opponent comes first.
    assert pairs[int(np.argmax(early))] == (2, 3)
    n_assigned = np.full(len(low), 2000.0)
    values = sampling.pair_values(theta, low, high, n_assigned)
    assert pairs[int(np.argmax(values))] == (0, 1)  # later the order of the close leaders matters most
    assert values[pairs.index((0, 3))] == values.min()  # p = 0.95: little to learn
    rng = random.Random(0)
    assert pairs[sampling.adaptive_order(values, n_assigned, rng)[0]] == (0, 1)
    n_assigned[pairs.index((2, 3))] = 10  # under the floor (0.2 x mean): served first, however little it is worth
    n_assigned[pairs.index((0, 3))] = 20  # also starving (the mean is now 138): least assigned first
    ranked = sampling.adaptive_order(values, n_assigned, rng)
    assert [pairs[q] for q in ranked[:2]] == [(2, 3), (0, 3)]
    assert sorted(ranked) == list(range(len(pairs)))
    fresh = sampling.adaptive_order(np.zeros(len(pairs)), np.zeros(len(pairs)), rng)
    assert sorted(fresh) == list(range(len(pairs)))  # nothing voted yet: every pair is starving


def test_adaptive_sampling_through_the_store(session: Session, session_factory, make_study, annotators,
                                             tmp_path) -> None:
    """Votes from a 'true' order model-0 >> model-1 > model-2 >> model-3: the adaptive sampler keeps the pair whose
    outcome is all but certain (model-0 against model-3) at its floor, and every pair at or above it; its outcome
    counts match the exported battles."""
    models = make_study(n_models=4, n_prompts=40)  # 6 pairs x 40 prompts
    strength = {"model-0": 3.0, "model-1": 0.4, "model-2": 0.0, "model-3": -3.0}
    policy = sampling.AdaptivePairs(refresh_every=12)
    rng, outcomes = random.Random(0), random.Random(1)
    per_pair = Counter()
    for person in [session.get(Annotator, i) for i in annotators(12)]:
        for _ in range(20):
            assignment = next_battle(session, person, rng, gold_rate=0, pairs=policy)
            left, right = assignment.left.model.name, assignment.right.model.name
            p_left = 1 / (1 + np.exp(strength[right] - strength[left]))
            choice = "left_better" if outcomes.random() < p_left else "right_better"
            record_vote(session_factory, person.id, assignment.battle_id, choice)
            per_pair[_pair(assignment.battle)] += 1
    floor = sampling.FLOOR * 240 / 6
    assert len(per_pair) == 6 and min(per_pair.values()) >= floor - 1
    assert per_pair[frozenset(("model-0", "model-3"))] <= floor + 1 < 240 / 6
    pair_ids = list(session.scalars(select(ModelPair.id).order_by(ModelPair.id)))
    score_low, games = sampling._pair_outcomes(session, pair_ids)
    ends = {p.id: (p.model_low_id, p.model_high_id) for p in session.scalars(select(ModelPair))}
    names = {m.id: m.name for m in session.scalars(select(Model))}
    export_battles(session, tmp_path / "battles.jsonl")
    counts = count_pairs(load_battles(tmp_path / "battles.jsonl"), tuple(models))
    for q, pair_id in enumerate(pair_ids):
        i, j = (models.index(names[model]) for model in ends[pair_id])
        assert games[q] == counts.games[i, j]
        assert score_low[q] == counts.wins[i, j] + 0.5 * counts.ties[i, j]
