import numpy as np
from scipy import stats

from leaderboard.resampling import CellSampler, multinomial_counts

MEANS = np.array([0, 1, 2, 3, 7, 10, 31, 99, 250, 1000, 4118, 25_000])


class _Uniforms:
    """A generator stand-in that hands out chosen uniforms, so that draws can be checked value by value."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = values

    def random(self, out: np.ndarray) -> np.ndarray:
        out[...] = self.values
        return out


def test_poisson_draws_invert_the_cdf_as_scipy_does():
    """X = min{k : F(k) > U} for every mean and uniform; out to the smallest and largest uniforms numpy draws
    (2^-53 and 1 - 2^-53, which reach the tables' ends) up to the tables' rounding, 1e-10 in probability."""
    rng = np.random.default_rng(0)
    u = np.concatenate([rng.random((2000, len(MEANS))), np.tile([[1e-9], [0.5], [1 - 1e-9]], (1, len(MEANS)))])
    np.testing.assert_array_equal(_invert(u), stats.poisson.ppf(u, MEANS))
    extreme = np.tile([[2.0**-53], [1e-12], [1 - 1e-12], [1 - 2.0**-53]], (1, len(MEANS)))
    drawn = _invert(extreme)
    assert (stats.poisson.cdf(drawn, MEANS) > extreme - 1e-10).all()
    assert (stats.poisson.cdf(drawn - 1, MEANS) <= extreme + 1e-10).all()


def _invert(u: np.ndarray) -> np.ndarray:
    """The sampler's draws for the given uniforms, one column per mean of MEANS."""
    sampler = CellSampler(MEANS)
    drawn = np.empty(u.shape, dtype=np.int64)
    drawn[:, sampler.order] = sampler.poisson(_Uniforms(u[:, sampler.order]), len(u))
    return drawn


def test_poisson_draws_follow_the_poisson_distribution():
    sampler = CellSampler(np.repeat([3, 40, 900], 20))  # cells that share a table draw independently
    draws = sampler.poisson(np.random.default_rng(1), 2000)
    for mean in (3, 40, 900):
        values = draws[:, sampler.counts == mean].ravel()
        # One bin per value where at least five draws are expected; the tails pooled into the first and last.
        support = np.arange(int(stats.poisson.ppf(1e-3, mean)), int(stats.poisson.isf(1e-3, mean)) + 1)
        inner = support[1:-1]
        observed = np.concatenate([[(values <= support[0]).sum()], np.bincount(values, minlength=support[-1])[inner],
                                   [(values >= support[-1]).sum()]])
        expected = values.size * np.concatenate([[stats.poisson.cdf(support[0], mean)], stats.poisson.pmf(inner, mean),
                                                 [stats.poisson.sf(support[-1] - 1, mean)]])
        assert stats.chisquare(observed, expected).pvalue > 1e-3, mean
    # Independence between cells: the correlation of two cells' draws is zero within sampling error.
    assert abs(np.corrcoef(draws[:, 0], draws[:, 1])[0, 1]) < 4 / np.sqrt(len(draws))


def test_resampled_counts_follow_the_multinomial():
    """Mean, variance and covariance of the cell counts are those of Multinomial(N, n / N), and N is exact."""
    counts = np.array([50, 3, 0, 120, 7, 20])
    draws = multinomial_counts(np.random.default_rng(0), counts, 40_000)
    total, p = counts.sum(), counts / counts.sum()
    assert (draws.sum(axis=1) == total).all() and (draws[:, 2] == 0).all()
    np.testing.assert_allclose(draws.mean(axis=0), total * p, atol=0.1)
    expected = total * (np.diag(p) - np.outer(p, p))
    np.testing.assert_allclose(np.cov(draws.T), expected, atol=0.03 * expected.max())
