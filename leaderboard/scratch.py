"""Arrays reused from one call to the next, one set per thread.

The bootstrap makes the same few multi-megabyte arrays for every chunk of rounds; allocating them afresh each time
costs more than the arithmetic on them (the allocator hands large blocks back to the system and every page is
faulted in again), so each thread keeps its own and fills them in place.
"""

from __future__ import annotations

import threading

import numpy as np


class Scratch(threading.local):
    """`array(name, shape, dtype)`: this thread's array of that name, made (zeroed) when first asked for with
    that shape and dtype, and returned as the caller left it on later calls."""

    def __init__(self) -> None:
        self.arrays: dict[tuple, np.ndarray] = {}

    def array(self, name: str, shape: tuple[int, ...], dtype: type = np.float64) -> np.ndarray:
        key = (name, shape, np.dtype(dtype))
        found = self.arrays.get(key)
        if found is None:
            found = self.arrays[key] = np.zeros(shape, dtype)
        return found
