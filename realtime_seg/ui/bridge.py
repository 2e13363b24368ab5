"""The worker bridge: capture and processing run in plain Python threads; results reach the GUI by a signal.

Newest wins, as in napari's status checker: the processing thread stores its latest result and emits
``resultReady`` only when the GUI has taken the previous one, so the GUI's event queue never holds
more than one pending frame however slow painting gets.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from PyQt6.QtCore import QObject, pyqtSignal

from realtime_seg.capture.slot import LatestFrameSlot
from realtime_seg.capture.sources import Source
from realtime_seg.capture.thread import CaptureEvent, CaptureThread
from realtime_seg.models.registry import AUTO_MODEL
from realtime_seg.pipeline.live import LivePipeline, LiveResult
from realtime_seg.pipeline.settings import ProcessingSettings

logger = logging.getLogger(__name__)


class PipelineBridge(QObject):
    """Owns the capture thread and the live pipeline; converts their callbacks into Qt signals."""

    resultReady = pyqtSignal()  # noqa: N815 - Qt naming; take the result with take_result()
    statusChanged = pyqtSignal(object)  # noqa: N815 - LiveStatus
    captureChanged = pyqtSignal(object)  # noqa: N815 - CaptureEvent

    def __init__(
        self, settings: ProcessingSettings, parent: QObject | None = None, *, fallback_model: str | None = AUTO_MODEL
    ) -> None:
        """``fallback_model``: what runs when ``settings.model`` fails to load at start (a saved model that broke
        since); ``None`` shows the video unprocessed instead (a model named on the command line)."""
        super().__init__(parent)
        self.slot = LatestFrameSlot()
        self.capture: CaptureThread | None = None
        self.source: Source | None = None
        self._lock = threading.Lock()
        self._latest: LiveResult | None = None
        self._signalled = False
        self.taps: list[Callable[[LiveResult], None]] = []  # also called with each result, in the processing thread
        self.live = LivePipeline(
            self.slot,
            settings,
            on_result=self._on_result,
            on_status=self.statusChanged.emit,
            capture_fps=lambda: self.capture.fps if self.capture is not None else 0.0,
            fallback_model=fallback_model,
        )

    def start(self) -> None:
        """Start processing; connect the signals first, so the first status (the backend) is not missed."""
        self.live.start()

    # called in the processing thread
    def _on_result(self, result: LiveResult) -> None:
        for tap in list(self.taps):
            try:
                tap(result)
            except Exception:
                logger.exception("result tap failed")
        with self._lock:
            self._latest = result
            if self._signalled:
                return
            self._signalled = True
        self.resultReady.emit()

    def take_result(self) -> LiveResult | None:
        """The newest result (GUI thread); re-arms the signal."""
        with self._lock:
            r, self._latest, self._signalled = self._latest, None, False
        return r

    def set_source(self, source: Source) -> None:
        """Switch to an opened ``source`` (stops and closes the previous one)."""
        self.stop_capture()
        self.source = source
        self.capture = CaptureThread(source, self.slot, on_event=self._on_capture_event)
        self.capture.start()

    def _on_capture_event(self, event: CaptureEvent) -> None:
        self.captureChanged.emit(event)

    def stop_capture(self) -> None:
        if self.capture is not None:
            self.capture.stop(timeout=1.0)
            self.capture = None
            self.source = None

    def stop(self) -> bool:
        """Join every thread (each within a second) and release the camera."""
        self.stop_capture()
        ok = self.live.stop(timeout=1.0)
        self.slot.close()
        return ok
