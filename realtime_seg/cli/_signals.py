"""Ctrl-C and SIGTERM for the command line: both stop a run cleanly, once.

- The first SIGINT raises :class:`KeyboardInterrupt`, the first SIGTERM :class:`Terminated` (a subclass), in
  the main thread, so every clean-up path (threads stopped, temporary files removed, ``--keep-partial``
  finishing its file) is the same for both; the command exits with 130 or 143 (128 + the signal number).
- Later signals do not interrupt that clean-up (a second Ctrl-C while ``--keep-partial`` finishes its file
  used to kill the process): they only say that the run is stopping. The fourth one quits at once, as
  FFmpeg does, leaving any temporary file behind.
- A signal the parent set to be ignored (``nohup``, a background job's SIGINT) stays ignored.

The handlers are installed by :func:`realtime_seg.cli.main` before anything heavy is imported, and the
previous handlers are put back when it returns (``main`` is also called in-process, by tests).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import FrameType

#: the hard-exit after this many signals in total
HARD_EXIT_AFTER = 4


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled exactly like Ctrl-C (exit code 143 instead of 130)."""


def exit_code(exc: KeyboardInterrupt) -> int:
    return 128 + (signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)


@contextmanager
def signals_stop_the_run(*, program: bool = False) -> Iterator[None]:
    """Within the block, SIGINT/SIGTERM behave as described in the module docstring.

    ``program``: the block is the whole process's work (the command line, not a call from Python). Once a stop
    signal came, later ones are then ignored until the process exits, so one that arrives after the clean-up
    cannot turn the exit code (130 / 143) into a death by signal."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = [0]

    def handler(signum: int, frame: FrameType | None) -> None:
        received[0] += 1
        if received[0] == 1:
            raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()
        if received[0] >= HARD_EXIT_AFTER:
            os._exit(128 + signum)
        left = HARD_EXIT_AFTER - received[0]
        with suppress(OSError, ValueError):
            sys.stderr.write(
                f"realtime-seg: stopping; finishing the output files (signal {left} more time(s) to quit at once, "
                "leaving temporary files behind)\n"
            )

    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(sig) is not signal.SIG_IGN:
            previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, signal.SIG_IGN if program and received[0] else old)
