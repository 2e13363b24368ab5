"""The napari-style leak check: a test must not leave a thread it started running."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def no_new_threads(grace_s: float = 1.0) -> Iterator[None]:
    """Fail if a Python thread started inside the block is still alive ``grace_s`` after it ends."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + grace_s
    while True:
        # ONNX Runtime / Qt helper threads are not Python threads; only ours show up here
        left = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert not left, f"threads left running: {[t.name for t in left]}"
