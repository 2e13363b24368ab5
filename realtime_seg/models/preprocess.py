"""Resampling that reproduces MediaPipe's selfie-segmentation pre- and post-processing exactly.

MediaPipe stretches the frame to the model size with ``cv2.warpPerspective`` (bilinear, constant
0 border) mapping corners to corners (``src = dst * W / w``), keeps ``uint8``, then divides by 255;
the probability map goes back to frame size with ``cv2.resize`` (bilinear). ``cv2.resize`` on the
way in differs enough (IoU 0.89-0.996) to matter, so use these.

Colour order is the caller's business: the model wants RGB.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

__all__ = ["mediapipe_coords", "mediapipe_resize", "resize_probability", "to_model_input"]

_BITS = 5  # OpenCV INTER_BITS
_TAB = 1 << _BITS  # OpenCV INTER_TAB_SIZE


def _check_size(size_wh: tuple[int, int]) -> tuple[int, int]:
    w, h = (int(v) for v in size_wh)
    if w < 1 or h < 1:
        raise ValueError(f"size_wh must be two positive ints (width, height), got {size_wh!r}")
    return w, h


def _inv3(m: np.ndarray) -> np.ndarray:
    """3x3 inverse by the adjugate, in the operation order of OpenCV's ``invert`` (``DECOMP_LU``, n=3).

    ``np.linalg.inv`` differs in the last bit, which moves a rounding tie in the fixed-point
    coordinates now and then (measured: up to 2 grey levels on a 501x37 frame).
    """
    s = m.astype(np.float64)
    det = (
        s[0, 0] * (s[1, 1] * s[2, 2] - s[1, 2] * s[2, 1])
        - s[0, 1] * (s[1, 0] * s[2, 2] - s[1, 2] * s[2, 0])
        + s[0, 2] * (s[1, 0] * s[2, 1] - s[1, 1] * s[2, 0])
    )
    if det == 0.0:
        raise ValueError("singular transform")
    d = 1.0 / det
    t = np.empty((3, 3), dtype=np.float64)
    t[0, 0] = (s[1, 1] * s[2, 2] - s[1, 2] * s[2, 1]) * d
    t[0, 1] = (s[0, 2] * s[2, 1] - s[0, 1] * s[2, 2]) * d
    t[0, 2] = (s[0, 1] * s[1, 2] - s[0, 2] * s[1, 1]) * d
    t[1, 0] = (s[1, 2] * s[2, 0] - s[1, 0] * s[2, 2]) * d
    t[1, 1] = (s[0, 0] * s[2, 2] - s[0, 2] * s[2, 0]) * d
    t[1, 2] = (s[0, 2] * s[1, 0] - s[0, 0] * s[1, 2]) * d
    t[2, 0] = (s[1, 0] * s[2, 1] - s[1, 1] * s[2, 0]) * d
    t[2, 1] = (s[0, 1] * s[2, 0] - s[0, 0] * s[2, 1]) * d
    t[2, 2] = (s[0, 0] * s[1, 1] - s[0, 1] * s[1, 0]) * d
    return t


@functools.lru_cache(maxsize=32)
def mediapipe_coords(src_wh: tuple[int, int], dst_wh: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Fixed-point source coordinates (1/32 pixel) of every destination pixel, as OpenCV 4.x computes them.

    Returns ``(X, Y)`` int32 arrays of shape (dst_h, dst_w); integer part ``>> 5``, fraction ``& 31``.
    """
    src_w, src_h = src_wh
    dst_w, dst_h = dst_wh
    # exactly MediaPipe's ImageToTensorConverter (OpenCV): the full-frame rect's corners to the tensor's
    box = cv2.boxPoints(((src_w / 2.0, src_h / 2.0), (float(src_w), float(src_h)), 0.0)).astype(np.float32)
    corners = np.array([[0, dst_h], [0, 0], [dst_w, 0], [dst_w, dst_h]], dtype=np.float32)
    m = _inv3(cv2.getPerspectiveTransform(box, corners))  # warpPerspective inverts without WARP_INVERSE_MAP
    x = np.arange(dst_w, dtype=np.float64)[None, :]
    y = np.arange(dst_h, dtype=np.float64)[:, None]
    w = m[2, 0] * x + m[2, 1] * y + m[2, 2]
    scale = np.where(w != 0.0, _TAB / np.where(w != 0.0, w, 1.0), 0.0)
    xs = np.rint((m[0, 0] * x + m[0, 1] * y + m[0, 2]) * scale).astype(np.int32)
    ys = np.rint((m[1, 0] * x + m[1, 1] * y + m[1, 2]) * scale).astype(np.int32)
    xs.setflags(write=False)
    ys.setflags(write=False)
    return xs, ys


@functools.lru_cache(maxsize=32)
def _remap_maps(src_wh: tuple[int, int], dst_wh: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = mediapipe_coords(src_wh, dst_wh)
    if xs.size and (np.abs(xs >> _BITS).max() > 32767 or np.abs(ys >> _BITS).max() > 32767):
        raise ValueError(f"frame {src_wh} is too large")
    map1 = np.stack([xs >> _BITS, ys >> _BITS], axis=-1).astype(np.int16)
    map2 = ((ys & (_TAB - 1)) * _TAB + (xs & (_TAB - 1))).astype(np.uint16)
    return map1, map2


def mediapipe_resize(image: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    """Stretch an (H, W, 3) ``uint8`` image to ``size_wh`` exactly as MediaPipe does (``uint8`` out).

    MediaPipe 0.10.21 calls ``cv2.warpPerspective`` (bilinear, zero border) of its bundled OpenCV
    4.10. OpenCV 5 rounds differently (up to 5 grey levels, enough to move the landscape model's
    output by 0.13), so the 4.x fixed-point coordinates are computed here and fed to ``cv2.remap``,
    whose bilinear fixed-point arithmetic is the same in 4.x and 5.x. Works for RGB or BGR alike.
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be a uint8 array of shape (H, W, 3), got {image.dtype} {image.shape}")
    dst_wh = _check_size(size_wh)
    src_wh = (int(image.shape[1]), int(image.shape[0]))
    map1, map2 = _remap_maps(src_wh, dst_wh)
    return cv2.remap(
        np.ascontiguousarray(image),
        map1,
        map2,
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0, 0),
    )


def to_model_input(image_rgb: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    """An RGB ``uint8`` frame as the model's NCHW float32 input in [0, 1], shape (1, 3, h, w)."""
    small = mediapipe_resize(image_rgb, size_wh)
    return (small.astype(np.float32) * np.float32(1.0 / 255.0)).transpose(2, 0, 1)[None].copy()


def resize_probability(prob: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    """A model probability map back to frame size, bilinear like MediaPipe; (H, W) float32.

    Accepts (h, w), (h, w, 1), (1, h, w) or (1, 1, h, w).
    """
    w, h = _check_size(size_wh)
    p = np.asarray(prob)
    if p.ndim == 4 and p.shape[:2] == (1, 1):
        p = p[0, 0]
    elif p.ndim == 3 and p.shape[0] == 1:
        p = p[0]
    elif p.ndim == 3 and p.shape[2] == 1:
        p = p[:, :, 0]
    if p.ndim != 2:
        raise ValueError(f"prob must be a single-channel map, got shape {np.shape(prob)}")
    p = np.ascontiguousarray(p, dtype=np.float32)
    if p.shape == (h, w):
        return p.copy()
    return cv2.resize(p, (w, h), interpolation=cv2.INTER_LINEAR)
