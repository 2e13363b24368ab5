from collections.abc import Iterator

import pytest

from tests.thread_check import no_new_threads


@pytest.fixture(autouse=True)
def _no_thread_leak() -> Iterator[None]:
    with no_new_threads():
        yield
