"""One torch thread for tests of tiny models: with pytest -n 2 on 2 cores, more threads only spin against each
other (and cost ten times the work on a busy machine)."""

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
