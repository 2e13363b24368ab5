"""Recording the live output to MP4 in a background thread, so encoding never stalls the display.

Frames are stamped with their capture time (variable frame rate: the file plays at the speed it was
seen). The queue is bounded; a frame that arrives while it is full is dropped and counted. The file
is written under a temporary name and renamed when complete, so a recording is whole or absent.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from fractions import Fraction
from pathlib import Path
from typing import Any

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
        self.tmp_path = self.path.with_name(f".{self.path.stem}.part.mp4")
        self.written = 0
        self.dropped = 0
        self.error: BaseException | None = None
        self._q: queue.Queue[tuple[np.ndarray, float] | None] = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None
        self._t0: float | None = None
        self._last_pts = -1

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
            self.tmp_path.unlink(missing_ok=True)
            raise OutputError(f"recording {self.path} failed: {self.error}") from self.error
        if self.written == 0:
            self.tmp_path.unlink(missing_ok=True)
            raise OutputError(f"recording {self.path} has no frames")
        os.replace(self.tmp_path, self.path)
        logger.info("recorded %d frames to %s (%d dropped)", self.written, self.path, self.dropped)
        return self.path

    def _run(self) -> None:
        import av

        container: Any = None
        stream: Any = None
        try:
            while True:
                item = self._q.get()
                if item is None:
                    break
                frame, t = item
                if container is None:
                    h, w = frame.shape[:2]
                    container = av.open(str(self.tmp_path), "w", format="mp4")
                    stream = container.add_stream("libx264", rate=max(1, round(self.fps_hint)))
                    stream.width, stream.height = w - w % 2, h - h % 2
                    stream.pix_fmt = "yuv420p"
                    stream.codec_context.time_base = _MS
                    stream.options = {"preset": "veryfast", "crf": str(self.crf)}
                    self._t0 = t
                h, w = stream.height, stream.width
                vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame[:h, :w]), format="bgr24")
                pts = round((t - (self._t0 or t)) * 1000)
                pts = max(pts, self._last_pts + 1)
                vf.pts, vf.time_base = pts, _MS
                self._last_pts = pts
                for packet in stream.encode(vf):
                    container.mux(packet)
                self.written += 1
            if stream is not None:
                for packet in stream.encode():
                    container.mux(packet)
        except Exception as exc:  # reported by close()
            logger.exception("recording failed")
            self.error = exc
            while True:  # keep draining so writers never block
                try:
                    if self._q.get(timeout=0.5) is None:
                        break
                except queue.Empty:
                    break
        finally:
            if container is not None:
                container.close()
