"""A stand-in for an unplugged webcam (no webcam exists on test machines)."""

from __future__ import annotations

import numpy as np

from realtime_seg.capture.sources import Source, SyntheticSource
from realtime_seg.errors import CameraLost, CaptureError


class UnpluggedSource(Source):
    """A camera stand-in that is unplugged after ``fail_after`` frames and comes back after ``reopen_fails``
    failed reopen attempts (``None``: never). No webcam exists on test machines."""

    name = "flaky camera"

    def __init__(
        self, fail_after: int, reopen_fails: int | None, size_wh: tuple[int, int] = (32, 24), fps: float = 100
    ) -> None:
        self.inner = SyntheticSource(size_wh, fps=fps)
        self.fail_after, self.reopen_fails = fail_after, reopen_fails
        self.reads = 0
        self.opens = 0
        self.unplugged = False

    def open(self) -> None:
        self.opens += 1
        if self.unplugged:
            if self.reopen_fails is None or self.opens <= 1 + self.reopen_fails:
                raise CaptureError("no camera at index 0")
            self.unplugged = False
            self.reads = 0
        self.inner.open()

    def read(self) -> np.ndarray | None:
        if self.reads >= self.fail_after and self.opens == 1:
            self.unplugged = True
            raise CameraLost("camera 0 stopped delivering frames (unplugged?)")
        self.reads += 1
        return self.inner.read()

    def close(self) -> None:
        self.inner.close()

    @property
    def size_wh(self) -> tuple[int, int]:
        return self.inner.size_wh

    @property
    def fps(self) -> float:
        return self.inner.fps
