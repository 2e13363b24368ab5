"""Live sources behind one interface: a camera, a file played as if it were a camera, generated frames.

``open()`` raises :class:`CaptureError` with a message a user understands; ``read()`` returns the next
BGR uint8 frame, ``None`` at the end of a non-looping file, and raises :class:`CameraLost` when a
source that was streaming stops delivering. Paced sources (files, synthetic) sleep so frames arrive at
the source's own frame rate, as a camera's would.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import cv2
import numpy as np

from realtime_seg.errors import CameraLost, CaptureError, VideoError
from realtime_seg.io.images import cover_resize

if TYPE_CHECKING:
    from realtime_seg.io.video import VideoReader

logger = logging.getLogger(__name__)


class Source(ABC):
    """A live frame source. Subclasses set ``name``; ``size_wh`` and ``fps`` are known after ``open()``."""

    name: str = "source"

    @abstractmethod
    def open(self) -> None:
        """Open (or reopen after a loss) the source; raises :class:`CaptureError` if it cannot."""

    @abstractmethod
    def read(self) -> np.ndarray | None:
        """The next frame (BGR uint8), ``None`` at the end of the stream; :class:`CameraLost` if it stopped."""

    @abstractmethod
    def close(self) -> None:
        """Release the device or file. Safe to call twice."""

    #: set by subclasses (at the latest in ``open()``)
    _size: tuple[int, int] = (0, 0)
    _fps: float = 0.0

    @property
    def size_wh(self) -> tuple[int, int]:
        return self._size

    @property
    def fps(self) -> float:
        return self._fps

    def __enter__(self) -> Source:
        self.open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class _Pacer:
    """Sleeps so successive calls are ``1/fps`` apart (catching up without bursts after a stall)."""

    def __init__(self, fps: float) -> None:
        self.period = 1.0 / fps
        self._next: float | None = None

    def wait(self) -> None:
        now = time.monotonic()
        if self._next is None or now - self._next > self.period:  # first frame, or we fell behind: resync
            self._next = now
        elif self._next > now:
            time.sleep(self._next - now)
        self._next += self.period

    def reset(self) -> None:
        self._next = None


# -- cameras -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CameraInfo:
    """A camera found on this machine. ``size_wh`` is its default resolution when it could be probed."""

    index: int
    name: str
    size_wh: tuple[int, int] | None = None

    @property
    def label(self) -> str:
        res = f" ({self.size_wh[0]}x{self.size_wh[1]})" if self.size_wh else ""
        return f"{self.index}: {self.name}{res}"


def list_cameras(*, probe: bool = False, sysfs: Path = Path("/sys/class/video4linux")) -> list[CameraInfo]:
    """Cameras with their names (Linux: from sysfs, capture nodes only). ``probe=True`` opens each one
    briefly to read its default resolution. Elsewhere, indices 0-3 are probed with OpenCV."""
    found: list[CameraInfo] = []
    if sys.platform.startswith("linux"):
        if not sysfs.is_dir():
            return []
        for dev in sorted(sysfs.glob("video*"), key=lambda p: int(p.name[5:]) if p.name[5:].isdigit() else 1 << 30):
            if not dev.name[5:].isdigit():
                continue
            try:
                if (dev / "index").is_file() and (dev / "index").read_text().strip() != "0":
                    continue  # metadata node of a camera listed already
                name = (dev / "name").read_text().strip() or dev.name
            except OSError:
                continue
            index = int(dev.name[5:])
            found.append(CameraInfo(index, name, _probe_size(index) if probe else None))
        return found
    for index in range(4):
        size = _probe_size(index)
        if size is not None:
            found.append(CameraInfo(index, f"camera {index}", size))
    return found


def _probe_size(index: int) -> tuple[int, int] | None:
    cap = cv2.VideoCapture(index)
    try:
        if not cap.isOpened():
            return None
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        return (w, h) if w > 0 and h > 0 else None
    finally:
        cap.release()


class CameraSource(Source):
    """A webcam through OpenCV. High resolutions ask for MJPG, which most USB cameras need for 720p30+."""

    def __init__(self, index: int = 0, width: int = 1280, height: int = 720, fps: float = 30.0) -> None:
        if index < 0:
            raise ValueError(f"camera index must be >= 0, got {index}")
        if width <= 0 or height <= 0 or fps <= 0:
            raise ValueError(f"width, height and fps must be positive, got {width}x{height} @ {fps}")
        self.index, self.width, self.height, self.requested_fps = index, width, height, fps
        self.name = f"camera {index}"
        self._cap: cv2.VideoCapture | None = None
        self._size = (width, height)
        self._fps = fps

    def open(self) -> None:
        self.close()
        backend = cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY
        level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # our error says it better than its WARN
        try:
            cap = cv2.VideoCapture(self.index, backend)
        finally:
            cv2.utils.logging.setLogLevel(level)
        if not cap.isOpened():
            cap.release()
            raise CaptureError(
                f"no camera at index {self.index}: is a webcam connected (and not used by another program)? "
                "Use --input FILE to play a video file instead."
            )
        if self.width * self.height > 640 * 480:
            cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*"MJPG"))
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        cap.set(cv2.CAP_PROP_FPS, self.requested_fps)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        ok, frame = cap.read()
        if not ok or frame is None:
            cap.release()
            raise CaptureError(f"camera {self.index} opened but delivers no frames")
        self._size = (frame.shape[1], frame.shape[0])
        got = cap.get(cv2.CAP_PROP_FPS)
        self._fps = float(got) if got and got > 0 and math.isfinite(got) else self.requested_fps
        self._cap = cap
        logger.info("camera %d open: %dx%d @ %.1f fps", self.index, *self._size, self._fps)

    def read(self) -> np.ndarray | None:
        if self._cap is None:
            raise CameraLost(f"camera {self.index} is not open")
        ok, frame = self._cap.read()
        if not ok or frame is None:
            raise CameraLost(f"camera {self.index} stopped delivering frames (unplugged?)")
        return frame

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


# -- files ---------------------------------------------------------------------------------------


class FileSource(Source):
    """A video file played as if it were a camera: at its own frame rate (``paced``), looping (``loop``).

    Decoding goes through the offline :class:`~realtime_seg.io.video.VideoReader` (PyAV): upright frames,
    corrupt files reported in the reader's words. Looping reopens the file at its end.
    """

    def __init__(self, path: str | Path, *, loop: bool = True, paced: bool = True) -> None:
        self.path = Path(path)
        self.loop, self.paced = loop, paced
        self.name = self.path.name
        self._reader: VideoReader | None = None
        self._size = (0, 0)
        self._fps = 30.0
        self._pacer = _Pacer(self._fps)
        self._delivered = 0

    def _open_reader(self) -> VideoReader:
        from realtime_seg.io.video import VideoReader

        try:
            return VideoReader(self.path)
        except VideoError as exc:
            raise CaptureError(f"cannot play {self.path.name}: {exc}") from exc

    def open(self) -> None:
        self.close()
        if not self.path.is_file():
            raise CaptureError(f"input file not found: {self.path}")
        reader = self._open_reader()
        fps = float(reader.info.fps)
        self._fps = fps if 0 < fps < 1000 and math.isfinite(fps) else 30.0
        self._size = reader.info.size_wh
        self._pacer = _Pacer(self._fps)
        self._reader = reader
        self._delivered = 0

    def read(self) -> np.ndarray | None:
        if self._reader is None:
            raise CameraLost(f"{self.name} is not open")
        try:
            frame = next(self._reader).image
        except StopIteration:
            if not self.loop:
                return None
            self._reader.close()
            self._reader = None
            try:
                self._reader = self._open_reader()
                frame = next(self._reader).image
            except (CaptureError, StopIteration) as exc:
                raise CameraLost(f"{self.name} could not be restarted for looping: {exc}") from exc
        except VideoError as exc:
            raise CameraLost(f"{self.name}: {exc}") from exc
        self._delivered += 1
        if self.paced:
            self._pacer.wait()
        return frame

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


# -- generated -----------------------------------------------------------------------------------


class SyntheticSource(Source):
    """Generated frames at ``fps``: a photo panned slowly (``image``), or moving shapes when none is given.

    Stands in for a camera in tests and demos (no webcam exists on CI machines). ``frames=None`` streams
    forever; otherwise ``read()`` returns ``None`` after that many frames.
    """

    def __init__(
        self,
        size_wh: tuple[int, int] = (320, 240),
        fps: float = 30.0,
        *,
        image: np.ndarray | None = None,
        frames: int | None = None,
        paced: bool = True,
        name: str = "synthetic",
    ) -> None:
        w, h = size_wh
        if w <= 0 or h <= 0 or fps <= 0:
            raise ValueError(f"size and fps must be positive, got {size_wh} @ {fps}")
        if image is not None and (image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3):
            raise ValueError(f"image must be BGR uint8 (H, W, 3), got {image.dtype} {image.shape}")
        self._size, self._fps, self.frames, self.paced, self.name = (w, h), float(fps), frames, paced, name
        self._base = None if image is None else cover_resize(image, (int(w * 1.15), int(h * 1.15)))
        self._pacer = _Pacer(self._fps)
        self._i = 0
        self._open = False

    def open(self) -> None:
        self._open = True
        self._pacer.reset()

    def read(self) -> np.ndarray | None:
        if not self._open:
            raise CameraLost(f"{self.name} is not open")
        if self.frames is not None and self._i >= self.frames:
            return None
        frame = self.render(self._i)
        self._i += 1
        if self.paced:
            self._pacer.wait()
        return frame

    def render(self, i: int) -> np.ndarray:
        """Frame ``i`` (deterministic)."""
        w, h = self._size
        phase = 2 * math.pi * i / (self._fps * 4)  # one pan cycle every 4 s
        if self._base is not None:
            bh, bw = self._base.shape[:2]
            x = int(round((bw - w) * 0.5 * (1 + math.sin(phase))))
            y = int(round((bh - h) * 0.5 * (1 + math.sin(phase * 0.5))))
            return np.ascontiguousarray(self._base[y : y + h, x : x + w])
        frame = np.empty((h, w, 3), np.uint8)
        frame[:] = (70, 60, 50)
        frame[:, :, 1] = np.linspace(40, 110, w, dtype=np.uint8)[None, :]
        cx = int(w * (0.5 + 0.3 * math.sin(phase)))
        cv2.circle(frame, (cx, h // 2), max(4, h // 4), (235, 235, 235), -1)
        cv2.rectangle(frame, (w // 10, h // 10), (w // 10 + w // 8, h // 10 + h // 6), (200, 220, 240), -1)
        return frame

    def close(self) -> None:
        self._open = False
