"""The seeded percentile bootstrap interval of a task score."""

import numpy as np
import pytest

from evals.metrics.bootstrap import bootstrap_interval


def test_deterministic_for_a_seed_and_different_across_seeds():
    scores = np.random.default_rng(1).choice([0.0, 0.3, 0.6, 0.9, 1.0], size=500)
    assert bootstrap_interval(scores, seed=3) == bootstrap_interval(scores, seed=3)
    assert bootstrap_interval(scores, seed=3) != bootstrap_interval(scores, seed=4)


def test_matches_resampling_items_directly():
    scores = np.random.default_rng(2).binomial(1, 0.7, size=400).astype(float)
    low, high = bootstrap_interval(scores, seed=0, n_resamples=20_000)
    rng = np.random.default_rng(5)
    means = scores[rng.integers(0, len(scores), size=(20_000, len(scores)))].mean(axis=1)
    naive_low, naive_high = np.percentile(means, [2.5, 97.5])
    assert low == pytest.approx(naive_low, abs=0.006)
    assert high == pytest.approx(naive_high, abs=0.006)
    # Normal approximation: mean ± 1.96 standard errors.
    half_width = 1.96 * scores.std() / np.sqrt(len(scores))
    assert (high - low) / 2 == pytest.approx(half_width, rel=0.1)
    assert low < scores.mean() < high


def test_continuous_scores_and_edge_cases():
    scores = np.random.default_rng(3).random(300)
    low, high = bootstrap_interval(scores, seed=0, n_resamples=2_000)
    assert low < scores.mean() < high
    assert bootstrap_interval([1.0, 1.0, 1.0]) == (1.0, 1.0)
    assert bootstrap_interval([0.5]) == (0.5, 0.5)
    with pytest.raises(ValueError, match="empty"):
        bootstrap_interval([])
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_interval([1.0], confidence=1.0)
    with pytest.raises(ValueError, match="n_resamples"):
        bootstrap_interval([1.0], n_resamples=0)
