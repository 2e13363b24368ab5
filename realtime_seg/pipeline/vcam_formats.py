"""Virtual camera configuration and pixel formats (what :mod:`realtime_seg.pipeline.vcam` sends), and its errors."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from realtime_seg.errors import SettingsError, VirtualCameraError
from realtime_seg.io.images import cover_resize

#: pixel formats the device can be given, by our name -> pyvirtualcam's ``PixelFormat`` member
FORMATS: dict[str, str] = {"i420": "I420", "nv12": "NV12", "yuyv": "YUYV", "uyvy": "UYVY", "rgb": "RGB"}
DEFAULT_FORMAT = "i420"
DEFAULT_FPS = 30.0
#: v4l2loopback's default max_width / max_height
MAX_SIDE = 8192

MODPROBE = 'sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label="realtime-seg"'
DEBIAN_PACKAGE = "v4l2loopback-dkms"
INSTALL_EXTRA = "pip install 'realtime-seg[vcam]'"


# -- errors a user can act on -----------------------------------------------------------------------------
class VcamNotInstalled(VirtualCameraError):
    """pyvirtualcam is not installed."""


class VcamDriverMissing(VirtualCameraError):
    """Linux: the v4l2loopback kernel module is not loaded."""


class VcamObsMissing(VirtualCameraError):
    """Windows / macOS: the OBS Virtual Camera is not installed (or too old)."""


class VcamDeviceMissing(VirtualCameraError):
    """The device asked for does not exist, or is not a virtual camera."""


class VcamDeviceBusy(VirtualCameraError):
    """The device is in use by another program."""


class VcamPermissionError(VirtualCameraError):
    """The device exists but the user may not open it."""


class VcamFormatError(VirtualCameraError):
    """The device does not accept this size or pixel format."""

    exit_code = 2


# -- configuration ----------------------------------------------------------------------------------------
def _is_yuv(fmt: str) -> bool:
    return fmt != "rgb"


@dataclass(frozen=True)
class VcamConfig:
    """What the virtual camera should be: ``None`` size or fps means the source's.

    ``device`` is ``/dev/videoN`` on Linux, ``OBS Virtual Camera`` elsewhere, ``None`` for the first free one.
    ``mirror`` flips the picture left-right before sending (most call apps mirror only your own preview).
    ``raw`` allows the unprocessed camera frame while the model loads or processing is paused (the call
    never freezes); without it the device shows black until the first processed frame, then repeats the last.
    """

    device: str | None = None
    size_wh: tuple[int, int] | None = None
    fps: float | None = None
    fmt: str = DEFAULT_FORMAT
    mirror: bool = False
    raw: bool = True
    retry_initial_s: float = 0.5
    retry_max_s: float = 5.0

    def __post_init__(self) -> None:
        if self.fmt not in FORMATS:
            raise SettingsError(f"unknown virtual camera format {self.fmt!r}; valid: {', '.join(FORMATS)}")
        if self.size_wh is not None:
            check_size(self.size_wh, self.fmt)
        if self.fps is not None and not 0 < self.fps <= 240:
            raise SettingsError(f"virtual camera fps must be in (0, 240], got {self.fps}")
        if self.device is not None and not self.device.strip():
            raise SettingsError("virtual camera device name is empty")
        if not 0 < self.retry_initial_s <= self.retry_max_s:
            raise SettingsError(
                f"need 0 < retry_initial_s <= retry_max_s, got {self.retry_initial_s}, {self.retry_max_s}"
            )

    def resolve(self, source_size_wh: tuple[int, int], source_fps: float) -> tuple[tuple[int, int], float]:
        """The output size and rate: as configured, else the source's (a YUV size rounded down to even)."""
        if self.size_wh is not None:
            size = self.size_wh
        else:
            w, h = source_size_wh
            size = (w - w % 2, h - h % 2) if _is_yuv(self.fmt) else (w, h)
            check_size(size, self.fmt)
        fps = self.fps or (source_fps if 0 < source_fps <= 240 else DEFAULT_FPS)
        return size, float(fps)


def check_size(size_wh: tuple[int, int], fmt: str) -> None:
    w, h = size_wh
    if not (2 <= w <= MAX_SIDE and 2 <= h <= MAX_SIDE):
        raise VcamFormatError(f"virtual camera size must be between 2x2 and {MAX_SIDE}x{MAX_SIDE}, got {w}x{h}")
    if _is_yuv(fmt) and (w % 2 or h % 2):
        raise VcamFormatError(f"{fmt.upper()} needs an even width and height, got {w}x{h}")


# -- pixel formats ----------------------------------------------------------------------------------------
def fit(image: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    """Scale ``image`` to cover ``size_wh`` and centre-crop (no bars; a same-size image is returned as is)."""
    return cover_resize(image, size_wh, area_below=0.5)


def convert(image: np.ndarray, fmt: str) -> np.ndarray:
    """BGR uint8 ``(H, W, 3)`` -> a new C-contiguous array in ``fmt``, shaped as pyvirtualcam expects.

    - ``i420``: OpenCV's ``COLOR_BGR2YUV_I420`` (BT.601, limited range), ``(H*3/2, W)``;
    - ``nv12``: the same Y plane, then U and V interleaved, ``(H*3/2, W)``;
    - ``yuyv`` / ``uyvy``: packed 4:2:2, ``(H, W, 2)``: OpenCV's ``COLOR_BGR2YUV_YUYV`` / ``_UYVY``;
    - ``rgb``: ``(H, W, 3)``; the backend converts it to the device's own format.
    """
    h, w = image.shape[:2]
    if fmt == "rgb":
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if fmt not in FORMATS:
        raise SettingsError(f"unknown virtual camera format {fmt!r}; valid: {', '.join(FORMATS)}")
    check_size((w, h), fmt)
    if fmt in ("i420", "nv12"):
        i420 = cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420)
        if fmt == "i420":
            return i420
        nv12 = np.empty_like(i420)
        nv12[:h] = i420[:h]
        flat = i420[h:].reshape(-1)
        quarter = flat.size // 2
        uv = nv12[h:].reshape(-1)
        uv[0::2], uv[1::2] = flat[:quarter], flat[quarter:]
        return nv12
    return cv2.cvtColor(image, cv2.COLOR_BGR2YUV_YUYV if fmt == "yuyv" else cv2.COLOR_BGR2YUV_UYVY)


def prepare(image: np.ndarray, size_wh: tuple[int, int], fmt: str, mirror: bool = False) -> np.ndarray:
    """Fit, mirror if asked, convert: a BGR frame of any size -> one device frame."""
    out = fit(image, size_wh)
    if mirror:
        out = cv2.flip(out, 1)
    return convert(np.ascontiguousarray(out), fmt)
