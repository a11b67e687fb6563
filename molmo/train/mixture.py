"""The training data mixture: its datasets, and the seeded sampler that draws from them by rate, resumably."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from molmo.data.pixmo import Example, read_examples
from molmo.train.config import DataSection


@dataclass(frozen=True)
class Sample:
    """One draw from the mixture: which example, and the seed that formats it."""

    dataset: int
    index: int
    seed: int


class MixtureSampler:
    """Draws examples: a dataset by its rate, then that dataset's next example in a per-epoch shuffled order.

    Its whole state is the numpy generator's state, how many examples each dataset has given, and the
    number of draws; the orders are recomputed from (seed, dataset, epoch). So `state_dict` and
    `load_state_dict` put a resumed run on exactly the samples the uninterrupted run would have drawn.
    """

    def __init__(self, sizes: Sequence[int], rates: Sequence[float], seed: int) -> None:
        if any(size <= 0 for size in sizes):
            raise ValueError(f"every dataset of the mixture needs examples, sizes are {list(sizes)}")
        self.sizes = list(sizes)
        self.seed = seed
        self.probabilities = np.asarray(rates, dtype=np.float64) / float(sum(rates))
        self.rng = np.random.default_rng(seed)
        self.position = [0] * len(sizes)
        self.drawn = 0
        self._orders: dict[int, tuple[int, np.ndarray]] = {}  # dataset -> (epoch, order)

    def _order(self, dataset: int, epoch: int) -> np.ndarray:
        cached = self._orders.get(dataset)
        if cached is None or cached[0] != epoch:
            order = np.random.default_rng((self.seed, dataset, epoch)).permutation(self.sizes[dataset])
            self._orders[dataset] = cached = (epoch, order)
        return cached[1]

    def draw(self, n: int) -> list[Sample]:
        samples = []
        for dataset in self.rng.choice(len(self.sizes), size=n, p=self.probabilities):
            d = int(dataset)
            epoch, offset = divmod(self.position[d], self.sizes[d])
            self.position[d] += 1
            seed = int(np.random.SeedSequence((self.seed, self.drawn)).generate_state(1)[0])
            samples.append(Sample(d, int(self._order(d, epoch)[offset]), seed))
            self.drawn += 1
        return samples

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state, "position": list(self.position), "drawn": self.drawn}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if len(state["position"]) != len(self.sizes):
            raise ValueError("the checkpoint's mixture has a different number of datasets")
        self.rng.bit_generator.state = state["rng"]
        self.position = list(state["position"])
        self.drawn = int(state["drawn"])


def load_mixture(data: DataSection) -> list[Sequence[Example]]:
    """Every dataset of the mixture as a sequence of Examples (read lazily where the source allows)."""
    from molmo.data.synthetic import generate_examples

    mixture = []
    for dataset in data.datasets:
        if dataset.source is not None and dataset.source.startswith("synthetic:"):
            task = dataset.source.removeprefix("synthetic:")
            examples = generate_examples(task, dataset.limit or 0, dataset.seed, dataset.image_size, dataset.style)
        else:
            examples = read_examples(dataset.reader, dataset.source, split=dataset.split, style=dataset.style,
                                     images_dir=dataset.images_dir, limit=dataset.limit)
        if not len(examples):
            raise ValueError(f"dataset {dataset.name!r} ({dataset.source or dataset.reader}) has no examples")
        mixture.append(examples)
    return mixture
