"""The one-slot buffer between the capture thread and the processing thread: the newest frame wins."""

from __future__ import annotations

import threading

from realtime_seg.frame import Frame


class LatestFrameSlot:
    """Holds at most one frame. ``put`` replaces it; ``get`` waits for a frame newer than the last one taken.

    A frame replaced before anyone took it counts as dropped. ``max_pending`` records the most frames
    ever waiting at once (at most 1 by construction; reported by ``app --measure`` as evidence).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._taken = True
        self._last_taken_index = -1
        self._closed = False
        self.dropped = 0
        self.put_count = 0
        self.max_pending = 0

    def put(self, frame: Frame) -> None:
        with self._cond:
            if not self._taken:
                self.dropped += 1
            self._frame = frame
            self._taken = False
            self.put_count += 1
            self.max_pending = max(self.max_pending, self.pending)
            self._cond.notify_all()

    @property
    def pending(self) -> int:
        """Frames waiting to be taken: 0 or 1."""
        return 0 if self._taken or self._frame is None else 1

    def get(self, timeout: float | None = None) -> Frame | None:
        """The newest frame not yet taken; waits up to ``timeout`` seconds. ``None`` on timeout or close."""
        with self._cond:
            ok = self._cond.wait_for(lambda: self._closed or not self._taken, timeout)
            if not ok or self._closed or self._frame is None:
                return None
            self._taken = True
            self._last_taken_index = self._frame.index
            return self._frame

    def peek(self) -> Frame | None:
        """The newest frame, taken or not, without taking it (the virtual camera shows it while processing pauses)."""
        with self._cond:
            return self._frame

    def close(self) -> None:
        """Wake every waiter; later ``get`` calls return ``None`` at once."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def reopen(self) -> None:
        with self._cond:
            self._closed = False
            self._frame = None
            self._taken = True

    @property
    def closed(self) -> bool:
        return self._closed
