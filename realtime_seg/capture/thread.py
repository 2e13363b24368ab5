"""The capture thread: reads a source into a :class:`LatestFrameSlot`, measures capture FPS, survives losses.

A source that stops delivering (an unplugged camera raises :class:`CameraLost`, or anything else
raises) is reported through ``on_state`` and reopened in the background with exponential backoff;
the thread never dies of it. ``stop()`` joins within a second.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from realtime_seg.capture.slot import LatestFrameSlot
from realtime_seg.capture.sources import Source
from realtime_seg.errors import CameraLost
from realtime_seg.frame import Frame

logger = logging.getLogger(__name__)


class CaptureState(enum.Enum):
    RUNNING = "running"
    LOST = "lost"  # stopped delivering; retrying in the background
    ENDED = "ended"  # a non-looping file reached its end
    STOPPED = "stopped"


@dataclass(frozen=True)
class CaptureEvent:
    """A capture state change, with a user-facing message (empty when running normally)."""

    state: CaptureState
    message: str = ""
    retry_in_s: float | None = None


class RateMeter:
    """Events per second over the last ``window`` events (monotonic clock)."""

    def __init__(self, window: int = 30, stale_s: float = 1.0) -> None:
        self.stale_s = stale_s
        self._times: deque[float] = deque(maxlen=window)
        self._lock = threading.Lock()

    def tick(self, t: float | None = None) -> None:
        with self._lock:
            self._times.append(time.monotonic() if t is None else t)

    @property
    def rate(self) -> float:
        with self._lock:
            if len(self._times) < 2:
                return 0.0
            if time.monotonic() - self._times[-1] > self.stale_s:  # the stream stopped: no stale figure
                return 0.0
            span = self._times[-1] - self._times[0]
            return (len(self._times) - 1) / span if span > 0 else 0.0

    def reset(self) -> None:
        with self._lock:
            self._times.clear()


class Worker:
    """Owns one daemon thread that runs ``_run`` until ``_stop`` is set; ``start`` / ``stop`` / ``alive``."""

    def __init__(self, thread_name: str) -> None:
        self._thread_name = thread_name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"{self._thread_name} already started")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self._thread_name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 1.0) -> bool:
        """Stop and join. Returns whether the thread ended within ``timeout``."""
        self._stop.set()
        t = self._thread
        if t is not None:
            t.join(timeout)
            if t.is_alive():
                logger.warning("thread %s did not stop within %.1f s", self._thread_name, timeout)
                return False
            self._thread = None
        return True

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


class CaptureThread(Worker):
    """Runs ``source.read()`` in a daemon thread and puts each frame, stamped, into ``slot``.

    The source should be opened by the caller first (so "no camera" is an error at start, not a state).
    """

    def __init__(
        self,
        source: Source,
        slot: LatestFrameSlot,
        *,
        on_event: Callable[[CaptureEvent], None] | None = None,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 5.0,
    ) -> None:
        if retry_initial_s <= 0 or retry_max_s < retry_initial_s:
            raise ValueError(f"need 0 < retry_initial_s <= retry_max_s, got {retry_initial_s}, {retry_max_s}")
        self.source, self.slot, self.on_event = source, slot, on_event
        self.retry_initial_s, self.retry_max_s = retry_initial_s, retry_max_s
        self.meter = RateMeter()
        self.frames = 0
        self.losses = 0
        self._state = CaptureState.STOPPED
        super().__init__(f"capture:{source.name}")

    @property
    def state(self) -> CaptureState:
        return self._state

    @property
    def fps(self) -> float:
        return self.meter.rate

    def _emit(self, event: CaptureEvent) -> None:
        self._state = event.state
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:  # a broken listener must not kill capture
                logger.exception("capture event listener failed")

    def _run(self) -> None:
        self._emit(CaptureEvent(CaptureState.RUNNING))
        try:
            while not self._stop.is_set():
                try:
                    image = self.source.read()
                except Exception as exc:
                    self._recover(exc)
                    continue
                if image is None:
                    self._emit(CaptureEvent(CaptureState.ENDED, f"{self.source.name}: end of stream"))
                    break
                t = time.monotonic()
                self.meter.tick(t)
                self.slot.put(Frame(self.frames, t, image))
                self.frames += 1
        finally:
            try:
                self.source.close()
            except Exception:
                logger.exception("closing %s failed", self.source.name)
            if self._state is not CaptureState.ENDED:
                self._emit(CaptureEvent(CaptureState.STOPPED))

    def _recover(self, exc: Exception) -> None:
        """Report the loss, then reopen with backoff until it works or we are stopped."""
        self.losses += 1
        reason = str(exc) if isinstance(exc, CameraLost) else f"{self.source.name} failed: {exc}"
        logger.warning("capture lost: %s", reason)
        self.meter.reset()
        delay = self.retry_initial_s
        while not self._stop.is_set():
            self._emit(CaptureEvent(CaptureState.LOST, f"{reason} - retrying in {delay:.1f} s", delay))
            try:
                self.source.close()
            except Exception:
                logger.debug("close after loss failed", exc_info=True)
            if self._stop.wait(delay):
                return
            try:
                self.source.open()
            except Exception as exc2:
                reason = f"{self.source.name} unavailable: {exc2}"
                delay = min(delay * 2, self.retry_max_s)
                continue
            logger.info("capture recovered: %s", self.source.name)
            self._emit(CaptureEvent(CaptureState.RUNNING, f"{self.source.name} is back"))
            return
