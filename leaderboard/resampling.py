"""Exact resampling of battles through their cell counts: Poisson draws by table inversion, brought to a
multinomial.

Resampling N battles with replacement draws the counts of the cells they fall into (a cell is a pair and an
outcome) from Multinomial(N, n / N). The draws here are independent Poisson(n_c) counts, brought to N exactly:
given its total T, a vector of independent Poisson counts is Multinomial(T, n / N), so removing T - N of the T
drawn battles uniformly at random, or drawing N - T more from n / N, leaves N independent draws from n / N
(docs/leaderboard.md, "Bootstrap").

Poisson counts are drawn by inversion, X = min{k : F(k) > U} with U uniform on [0, 1) and F the Poisson CDF of
the cell's mean, through a guide table (Chen and Asau 1974; Devroye, "Non-Uniform Random Variate Generation",
1986, section III.2.4) that starts each search at most a step or two below the answer. Each distinct mean gets
one table over [n - 12 sqrt(n) - 10, n + 12 sqrt(n) + 40]: the mass outside it is below 1e-25, far below the
2^-53 resolution of U itself, so the draws are exact as far as a double-precision uniform can tell. Cells are
kept sorted by their mean so that neighbouring cells read neighbouring tables. One uniform and a few array
passes per cell make this about three times faster than numpy's Poisson sampler on arena-sized data.
"""

from __future__ import annotations

import math

import numpy as np

from leaderboard.scratch import Scratch

_GUIDE = 4


class CellSampler:
    """Draws of Multinomial(N, counts / N), N = counts.sum(), for fixed integer cell counts.

    `order` sorts the cells by count; `draw` returns the cells in that order (callers index their own per-cell
    arrays by `order` once instead of unsorting every draw), in an array the calling thread gets back, refilled,
    from its next call with the same size.
    """

    def __init__(self, counts: np.ndarray) -> None:
        counts = np.asarray(counts)
        if counts.ndim != 1 or (counts < 0).any() or (counts != np.round(counts)).any():
            raise ValueError("cell counts must be a vector of non-negative integers")
        counts = counts.astype(np.int64)
        self.order = np.argsort(counts, kind="stable")
        self.counts = counts[self.order]
        self.total = int(self.counts.sum())
        self.cumulative = np.cumsum(self.counts)
        means, sizes = np.unique(self.counts, return_counts=True)
        lowest = [max(0, math.floor(v - 12.0 * math.sqrt(v) - 10.0)) for v in means.tolist()]
        highest = [math.ceil(v + 12.0 * math.sqrt(v) + 40.0) for v in means.tolist()]
        log_factorial = np.array([math.lgamma(k + 1.0) for k in range(max(highest) + 1)])
        cdfs, guides, offset = [], [], 0
        for mean, low, high in zip(means.tolist(), lowest, highest, strict=True):
            k = np.arange(low, high + 1)
            pmf = np.exp(k * math.log(mean) - mean - log_factorial[k]) if mean > 0 else (k == 0) * 1.0
            cdf = np.cumsum(pmf, dtype=np.longdouble)  # extended precision where the platform has it
            cdf = (cdf / cdf[-1]).astype(float)
            cdf[-1] = np.inf  # the last entry takes the (negligible) tail: every search ends there at the latest
            # guide[m], m = 0..K: the first entry whose CDF exceeds m / K. For U in [m/K, (m+1)/K) the answer lies
            # in [guide[m], guide[m + 1]].
            G = _GUIDE * len(k)
            guides.append(offset + np.searchsorted(cdf, np.arange(G + 1) / G, side="right"))
            cdfs.append(cdf)
            offset += len(k)
        self._cdf = np.concatenate(cdfs)
        self._guide = np.concatenate(guides).astype(np.int32)
        table_sizes = np.array([high - low + 1 for low, high in zip(lowest, highest, strict=True)])
        table_start = np.concatenate([[0], np.cumsum(table_sizes)[:-1]])
        owner = np.repeat(np.arange(len(means)), sizes)  # each sorted cell's table
        self._buckets = _GUIDE * table_sizes[owner].astype(float)
        self._first_bucket = (_GUIDE * table_start + np.arange(len(means)))[owner]  # each table has K + 1 guide entries
        self._shift = (np.array(lowest) - table_start)[owner].astype(np.int32)  # table position -> count
        self._scratch = Scratch()

    def poisson(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """(size, cells) independent Poisson(count) draws, cells in `order`."""
        shape = (size, len(self.counts))
        u, where = self._scratch.array("u", shape), self._scratch.array("where", shape)
        bucket, k = self._scratch.array("bucket", shape, np.int32), self._scratch.array("k", shape, np.int32)
        rng.random(out=u)
        np.multiply(u, self._buckets, out=where)
        where += self._first_bucket
        bucket[...] = where  # the integer part: U's guide bucket
        np.take(self._guide, bucket, out=k)
        np.take(self._cdf, k, out=where)
        # Most draws end at the guide's entry; the others (a tenth) search their bucket by bisection.
        rest = np.flatnonzero(where <= u)
        low, high, target = k.flat[rest] + 1, self._guide[bucket.flat[rest] + 1], u.flat[rest]
        while (open_ := low < high).any():
            middle = (low + high) // 2
            right = self._cdf[middle] <= target
            low = np.where(open_ & right, middle + 1, low)
            high = np.where(open_ & ~right, middle, high)
        k.flat[rest] = low
        k += self._shift
        return k

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """(size, cells) draws of Multinomial(N, counts / N), cells in `order`: Poisson draws brought to N."""
        draws = self.poisson(rng, size)
        for row in draws:
            excess = int(row.sum()) - self.total
            if excess > 0:  # remove `excess` of the drawn battles, chosen uniformly
                drop = rng.choice(self.total + excess, excess, replace=False)
                np.subtract.at(row, np.searchsorted(np.cumsum(row), drop, side="right"), 1)
            elif excess < 0:  # add battles drawn from counts / N
                extra = rng.integers(0, self.total, -excess)
                np.add.at(row, np.searchsorted(self.cumulative, extra, side="right"), 1)
        return draws


def multinomial_counts(rng: np.random.Generator, counts: np.ndarray, size: int) -> np.ndarray:
    """`size` draws of Multinomial(N, counts / N), N = counts.sum(), in the cells' own order: the cell counts of
    N battles resampled with replacement."""
    sampler = CellSampler(counts)
    draws = np.empty((size, len(sampler.order)), dtype=np.int64)
    draws[:, sampler.order] = sampler.draw(rng, size)
    return draws
