"""The virtual camera output: processed frames go to a virtual webcam that video calls can pick. Qt-free.

It goes through `pyvirtualcam` (the optional extra ``realtime-seg[vcam]``): v4l2loopback on Linux, the OBS
Virtual Camera on Windows and macOS.

- :class:`VirtualCamera` owns a clock thread that sends one frame every ``1/fps`` seconds at a fixed size.
  :meth:`VirtualCamera.submit` only stores the newest processed frame (newest wins, no backlog); the clock
  thread converts it. When processing falls behind, the clock repeats the last frame, so the call never sees
  a frozen device. While ``want_raw()`` is true (a model loading, the user paused) it sends the newest
  camera frame instead, unprocessed.
- Pixel formats: :func:`convert` turns BGR into what the device is given (I420, NV12, YUYV, UYVY or RGB),
  with OpenCV's BT.601 coefficients.
- Starting fails with a :class:`~realtime_seg.errors.VirtualCameraError` whose one-line message says what to
  do (:func:`explain`). A device that disappears while streaming is reported through ``on_event`` and reopened
  with backoff; the thread keeps running, as the capture thread does for a camera.
"""

from __future__ import annotations

import enum
import logging
import os
import platform
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from realtime_seg.capture.thread import RateMeter, Worker
from realtime_seg.errors import SettingsError, VirtualCameraError
from realtime_seg.frame import Frame
from realtime_seg.pipeline.vcam_formats import (  # noqa: F401 - re-exported: the public names live here too
    DEBIAN_PACKAGE,
    DEFAULT_FORMAT,
    DEFAULT_FPS,
    FORMATS,
    INSTALL_EXTRA,
    MAX_SIDE,
    MODPROBE,
    VcamConfig,
    VcamDeviceBusy,
    VcamDeviceMissing,
    VcamDriverMissing,
    VcamFormatError,
    VcamNotInstalled,
    VcamObsMissing,
    VcamPermissionError,
    check_size,
    convert,
    fit,
    prepare,
)

logger = logging.getLogger(__name__)


# -- opening the device, and what its errors mean ------------------------------------------------------------
def import_pyvirtualcam() -> Any:
    try:
        import pyvirtualcam
    except ImportError as exc:
        raise VcamNotInstalled(
            f"the virtual camera needs the optional package pyvirtualcam ({exc.msg}): {INSTALL_EXTRA}"
        ) from None
    return pyvirtualcam


def v4l2loopback_loaded(root: Path = Path("/")) -> bool:
    return (root / "sys/module/v4l2loopback").is_dir()


def loopback_devices(root: Path = Path("/")) -> list[tuple[str, str]]:
    """``(/dev/videoN, card label)`` of each v4l2loopback device (they live under sysfs' virtual devices)."""
    found = []
    base = root / "sys/devices/virtual/video4linux"
    for d in sorted(base.glob("video*"), key=lambda p: int(p.name[5:]) if p.name[5:].isdigit() else 1 << 30):
        try:
            label = (d / "name").read_text().strip()
        except OSError:
            label = ""
        found.append((f"/dev/{d.name}", label))
    return found


def _listing(root: Path) -> str:
    devs = loopback_devices(root)
    if not devs:
        return "no v4l2loopback device exists"
    return "v4l2loopback devices here: " + ", ".join(f"{p} ({label})" if label else p for p, label in devs)


def _driver_missing() -> VcamDriverMissing:
    return VcamDriverMissing(
        f"no virtual camera: the v4l2loopback kernel module is not loaded; load it with: {MODPROBE} "
        f"(Debian/Ubuntu: sudo apt install {DEBIAN_PACKAGE} first)"
    )


def explain(
    exc: BaseException,
    *,
    device: str | None,
    size_wh: tuple[int, int],
    fmt: str,
    system: str | None = None,
    root: Path = Path("/"),
) -> VirtualCameraError:
    """Turn what pyvirtualcam raised into one line that says what to do.

    pyvirtualcam wraps each backend's error as ``RuntimeError("'<backend>' backend: <message>")``, one line
    per backend tried; the messages are those of its native backends (``virtual_output.h``).
    """
    system = system or platform.system()
    parts = [line.split(" backend: ", 1)[-1].strip() for line in str(exc).splitlines() if line.strip()]
    text = "; ".join(parts)
    name = device or "the virtual camera"
    what = f"{size_wh[0]}x{size_wh[1]} {fmt.upper()}"

    def has(*needles: str) -> bool:
        return any(n in text for n in needles)

    if not text:
        return VirtualCameraError(f"pyvirtualcam has no virtual camera backend for {system}")
    if has("OBS Virtual Camera device not found", "OBS Virtual Camera is not installed"):
        how = (
            "install OBS Studio 30 or later (https://obsproject.com), click Start Virtual Camera once, "
            "allow its system extension in System Settings, then try again"
            if system == "Darwin"
            else "install OBS Studio 28 or later (https://obsproject.com) and click Start Virtual Camera once"
        )
        return VcamObsMissing(f"the OBS Virtual Camera is not installed: {how}")
    if has("OBS Virtual Camera version is not supported"):
        return VcamObsMissing("the OBS Virtual Camera is too old: upgrade OBS Studio to 28 or later")
    if has("This backend supports only the"):
        only = text.split("only the ", 1)[1].split(" device", 1)[0]
        return VcamDeviceMissing(f"no virtual camera called {device!r} on {system}: the only one is {only}")
    if has("Multiple cameras are not supported", "virtual camera output could not be started"):
        return VcamDeviceBusy(
            "the OBS Virtual Camera is busy: another program (OBS itself, or a second realtime-seg) is sending "
            "to it; stop that first"
        )
    if has("missing permissions"):
        return VcamPermissionError(
            f"no permission to open {name}: add yourself to the 'video' group "
            "(sudo usermod -aG video $USER) and log in again"
        )
    if has("No v4l2 loopback device found"):
        if not v4l2loopback_loaded(root):
            return _driver_missing()
        return VcamDeviceBusy(
            "every v4l2loopback device is busy or in use by another program "
            f"({_listing(root)}); close that program, or reload the module with devices=2"
        )
    if has("does not exist"):
        if not v4l2loopback_loaded(root):
            return _driver_missing()
        return VcamDeviceMissing(f"virtual camera device {name} does not exist; {_listing(root)}")
    if has("is already in use", "Device or resource busy"):
        return VcamDeviceBusy(f"virtual camera device {name} is busy: another program is using it; close it first")
    if has("is not a video output device", "is not a V4L2 device", "could not be queried"):
        if device in {p for p, _ in loopback_devices(root)}:
            return VcamDeviceBusy(
                f"virtual camera device {name} is busy: another program is already sending to it "
                "(with exclusive_caps=1 a device takes one sender); close it first"
            )
        return VcamDeviceMissing(f"{name} is not a v4l2loopback device (a real camera?); {_listing(root)}")
    if has("could not be configured", "Unsupported image format"):
        reason = text.rsplit(": ", 1)[-1] if "configured" in text else text
        return VcamFormatError(f"{name} does not accept {what} frames ({reason}); try another --vcam-size")
    return VirtualCameraError(f"the virtual camera could not start: {text}")


def open_device(config: VcamConfig, size_wh: tuple[int, int], fps: float, *, root: Path = Path("/")) -> Any:
    """A ``pyvirtualcam.Camera`` for ``config`` at this size and rate; :class:`VirtualCameraError` if not.
    ``root`` is where sysfs is looked up (to tell "module not loaded" from "device missing")."""
    pvc = import_pyvirtualcam()
    check_size(size_wh, config.fmt)
    try:
        return pvc.Camera(
            size_wh[0], size_wh[1], fps, fmt=getattr(pvc.PixelFormat, FORMATS[config.fmt]), device=config.device
        )
    except Exception as exc:
        raise explain(exc, device=config.device, size_wh=size_wh, fmt=config.fmt, root=root) from exc


def device_present(device: str) -> bool:
    """Whether a device the camera is sending to still exists (device files are checked; names such as
    ``OBS Virtual Camera`` pass)."""
    return not device.startswith("/") or os.path.exists(device)


# -- the sink ---------------------------------------------------------------------------------------------
class VcamState(enum.Enum):
    RUNNING = "running"
    LOST = "lost"  # the device went away; retrying in the background
    STOPPED = "stopped"


@dataclass(frozen=True)
class VcamEvent:
    state: VcamState
    message: str = ""
    retry_in_s: float | None = None


Opener = Callable[[], Any]


class VirtualCamera(Worker):
    """Sends frames to a virtual camera at a steady rate from its own clock thread.

    ``raw_frame`` returns the newest camera frame (e.g. ``LatestFrameSlot.peek``); while ``want_raw()`` is
    true, that is sent unprocessed. ``opener`` opens the device (default: :func:`open_device`); ``present``
    says whether the device still exists (checked before each frame). ``on_event`` is called from the clock thread.
    """

    def __init__(
        self,
        config: VcamConfig,
        size_wh: tuple[int, int],
        fps: float,
        *,
        raw_frame: Callable[[], Frame | None] | None = None,
        want_raw: Callable[[], bool] | None = None,
        on_event: Callable[[VcamEvent], None] | None = None,
        opener: Opener | None = None,
        present: Callable[[str], bool] = device_present,
    ) -> None:
        check_size(size_wh, config.fmt)
        if not 0 < fps <= 240:
            raise SettingsError(f"virtual camera fps must be in (0, 240], got {fps}")
        super().__init__("virtual-camera")
        self.config, self.size_wh, self.target_fps = config, size_wh, float(fps)
        self.raw_frame, self.want_raw = raw_frame, want_raw or (lambda: False)
        self.on_event = on_event
        self._opener = opener or (lambda: open_device(config, size_wh, fps))
        self._present = present
        self._lock = threading.Lock()
        self._pending: np.ndarray | None = None
        self._cam: Any = None
        self._buf = prepare(np.zeros((size_wh[1], size_wh[0], 3), np.uint8), size_wh, config.fmt)
        self._raw_seen: Frame | None = None
        self._retry_at = 0.0
        self._delay = config.retry_initial_s
        self.device = config.device or ""
        self.state = VcamState.STOPPED
        self.meter = RateMeter()
        self.sent = self.fresh = self.raw = self.repeated = self.losses = 0

    # -- any thread -----------------------------------------------------------------------------------
    def open(self) -> None:
        """Open the device now (in the caller's thread), so a start-up error reaches the caller."""
        if self._cam is None:
            self._cam = self._opener()
            self.device = str(self._cam.device)

    def start(self) -> None:
        self.open()
        self.state = VcamState.RUNNING
        super().start()

    def submit(self, image: np.ndarray) -> None:
        """Offer the newest processed frame (BGR, any size). Never blocks; an unsent one is replaced."""
        with self._lock:
            self._pending = image

    @property
    def fps(self) -> float:
        """Frames actually sent per second (over the last second)."""
        return self.meter.rate

    @property
    def summary(self) -> str:
        """e.g. ``/dev/video4 30 fps`` or ``/dev/video4 lost``."""
        if self.state is VcamState.LOST:
            return f"{self.device or 'virtual camera'} lost, retrying"
        return f"{self.device} {self.fps:.0f} fps"

    # -- the clock thread -----------------------------------------------------------------------------
    def _emit(self, event: VcamEvent) -> None:
        self.state = event.state
        (logger.warning if event.state is VcamState.LOST else logger.info)("virtual camera: %s", event.message)
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:
                logger.exception("virtual camera event listener failed")

    def _next_buffer(self) -> np.ndarray:
        with self._lock:
            image, self._pending = self._pending, None
        if image is not None:
            self._buf = prepare(image, self.size_wh, self.config.fmt, self.config.mirror)
            self.fresh += 1
            return self._buf
        if self.raw_frame is not None and self.config.raw and self.want_raw():
            frame = self.raw_frame()
            if frame is not None and frame is not self._raw_seen:
                self._raw_seen = frame
                self._buf = prepare(frame.image, self.size_wh, self.config.fmt, self.config.mirror)
                self.raw += 1
                return self._buf
        self.repeated += 1
        return self._buf

    def _close_cam(self) -> None:
        cam, self._cam = self._cam, None
        if cam is not None:
            try:
                cam.close()
            except Exception:
                logger.debug("closing the virtual camera failed", exc_info=True)

    def _lost(self, reason: str, now: float) -> None:
        self.losses += 1
        self._close_cam()
        self.meter.reset()
        self._delay = self.config.retry_initial_s
        self._retry_at = now + self._delay
        self._emit(VcamEvent(VcamState.LOST, f"{reason} - retrying in {self._delay:.1f} s", self._delay))

    def _reopen(self, now: float) -> None:
        try:
            self.open()
        except Exception as exc:
            self._delay = min(self._delay * 2, self.config.retry_max_s)
            self._retry_at = now + self._delay
            msg = f"virtual camera unavailable: {exc} - retrying in {self._delay:.1f} s"
            self._emit(VcamEvent(VcamState.LOST, msg, self._delay))
            return
        self._emit(VcamEvent(VcamState.RUNNING, f"virtual camera {self.device} is back"))

    def _run(self) -> None:
        period = 1.0 / self.target_fps
        next_t = time.monotonic()
        self._emit(VcamEvent(VcamState.RUNNING, f"sending to {self.device} at {self.target_fps:g} fps"))
        try:
            while not self._stop.is_set():
                delay = next_t - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    break
                now = time.monotonic()
                next_t += period
                if next_t < now:  # far behind (a stall): restart the clock instead of bursting
                    next_t = now + period
                if self._cam is None:
                    if now >= self._retry_at:
                        self._reopen(now)
                    continue
                if not self._present(self.device):  # one stat() a frame: writes to a gone device do not raise
                    self._lost(f"virtual camera {self.device} disappeared", now)
                    continue
                buf = self._next_buffer()
                try:
                    self._cam.send(buf)
                except Exception as exc:
                    self._lost(f"virtual camera {self.device} failed: {exc}", now)
                    continue
                self.sent += 1
                self.meter.tick(now)
        finally:
            self._close_cam()
            self._emit(VcamEvent(VcamState.STOPPED, f"released {self.device}"))

    def stop(self, timeout: float = 1.0) -> bool:
        ok = super().stop(timeout)
        if ok:
            self._close_cam()  # never started, or the thread is gone: release the device here
            self.state = VcamState.STOPPED
        return ok


__all__ = [
    "DEFAULT_FORMAT",
    "FORMATS",
    "VcamConfig",
    "VcamDeviceBusy",
    "VcamDeviceMissing",
    "VcamDriverMissing",
    "VcamEvent",
    "VcamFormatError",
    "VcamNotInstalled",
    "VcamObsMissing",
    "VcamPermissionError",
    "VcamState",
    "VirtualCamera",
    "convert",
    "explain",
    "fit",
    "loopback_devices",
    "open_device",
    "prepare",
]
