"""Ctrl-C as in a terminal, whatever the test runner was started with."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def sigint_as_in_a_terminal() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt here, and child processes start with its default disposition.

    A runner started in the background (``nohup``, ``&`` in a script, some CI agents) has SIGINT *ignored*;
    Python then leaves it ignored, children inherit that through exec, and a test's Ctrl-C never arrives.
    A handler (unlike "ignore") is reset to the default by exec, so children get the terminal's behaviour too.
    """
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
