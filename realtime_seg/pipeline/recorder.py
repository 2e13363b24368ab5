"""Recording the live output to MP4 in a background thread, so encoding never stalls the display.

Frames are stamped with their capture time (variable frame rate: the file plays at the speed it was
seen). The queue is bounded; a frame that arrives while it is full is dropped and counted. Encoding
goes through the offline :class:`~realtime_seg.io.video_writer.VideoWriter`: the file is written under a
temporary name and renamed when complete (after an encoder failure, what was recorded is kept).
"""

from __future__ import annotations

import logging
import queue
import threading
from fractions import Fraction
from pathlib import Path

import numpy as np

from realtime_seg.errors import OutputError

logger = logging.getLogger(__name__)

_MS = Fraction(1, 1000)


class Recorder:
    """``start()``, then ``write(frame, t)`` from any thread, then ``close()`` (joins, renames)."""

    def __init__(self, path: str | Path, *, fps_hint: float = 30.0, queue_size: int = 8, crf: int = 20) -> None:
        self.path = Path(path)
        if self.path.suffix.lower() != ".mp4":
            raise OutputError(f"recordings are MP4 files; got {self.path.name!r}")
        if not self.path.parent.is_dir():
            raise OutputError(f"recording folder does not exist: {self.path.parent}")
        self.fps_hint, self.crf = fps_hint, crf
        self.tmp_path: Path | None = None
        self.written = 0
        self.dropped = 0
        self.error: BaseException | None = None
        self._q: queue.Queue[tuple[np.ndarray, float] | None] = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None
        self._t0: float | None = None

    def start(self) -> Recorder:
        self._thread = threading.Thread(target=self._run, name=f"recorder:{self.path.name}", daemon=True)
        self._thread.start()
        return self

    @property
    def recording(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def write(self, frame: np.ndarray, t: float) -> bool:
        """Queue a BGR uint8 frame captured at monotonic time ``t``; ``False`` if dropped (queue full)."""
        if self._thread is None:
            raise RuntimeError("recorder not started")
        try:
            self._q.put_nowait((frame, t))
        except queue.Full:
            self.dropped += 1
            return False
        return True

    def close(self, timeout: float = 10.0) -> Path:
        """Finish the file and move it into place. Raises :class:`OutputError` if encoding failed."""
        t = self._thread
        if t is not None:
            self._q.put(None)
            t.join(timeout)
            self._thread = None
        if self.error is not None:
            kept = " (the frames before the failure were kept)" if self.path.is_file() else ""
            raise OutputError(f"recording {self.path} failed: {self.error}{kept}") from self.error
        if self.written == 0:
            raise OutputError(f"recording {self.path} has no frames")
        logger.info("recorded %d frames to %s (%d dropped)", self.written, self.path, self.dropped)
        return self.path

    def _run(self) -> None:
        from realtime_seg.io.video_writer import VideoWriter

        writer: VideoWriter | None = None
        try:
            while True:
                item = self._q.get()
                if item is None:
                    break
                frame, t = item
                if writer is None:
                    h, w = frame.shape[:2]
                    writer = VideoWriter(
                        self.path, fps=self.fps_hint, size_wh=(w, h), time_base=_MS, crf=self.crf, keep_partial=True
                    )
                    self.tmp_path = writer.tmp_path
                    self._t0 = t
                writer.write(frame, pts=round((t - (self._t0 or t)) * 1000))
                self.written += 1
            if writer is not None:
                writer.close()
                writer = None
        except Exception as exc:  # reported by close(); what was recorded so far is kept
            logger.exception("recording failed")
            self.error = exc
            while True:  # keep draining so writers never block
                try:
                    if self._q.get(timeout=0.5) is None:
                        break
                except queue.Empty:
                    break
        finally:
            if writer is not None:
                writer.abort()
