import pytest

from tests.torch_threads import one_torch_thread as _one_torch_thread


@pytest.fixture(scope="module")
def one_torch_thread():
    """A module's tests run torch on one thread (use with `pytest.mark.usefixtures`)."""
    with _one_torch_thread():
        yield
