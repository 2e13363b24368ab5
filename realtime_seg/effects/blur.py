"""``blur``: portrait mode. The background is blurred at low resolution, weighted by the mask (no halo).

A plain blur of the whole frame smears the person's colours into the background around them: a
bright glow (a "halo") that moves with the person. Here the blur is a normalized convolution that
only averages background pixels::

    background = blur(frame * w) / blur(w),   w = 1 - alpha (eroded by one low-resolution pixel)

computed at 1/2 to 1/8 of the frame size (a blur is smooth, so it loses nothing there), then upsampled
and composited at full resolution: ``alpha * frame + (1 - alpha) * background``.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from realtime_seg.effects._composite import Compositor
from realtime_seg.effects.base import Effect
from realtime_seg.postprocess.types import MaskFrame, full_res_foreground

#: the weight of the frame itself, mixed in where no background is near (inside the person, invisible there)
_FALLBACK = 1e-3
_KERNEL3 = np.ones((3, 3), np.uint8)


def _halve(image: np.ndarray, times: int) -> np.ndarray:
    """Downscale by 2**times; a 2x INTER_LINEAR resize averages 2x2 blocks exactly, and is very fast."""
    for _ in range(times):
        h, w = image.shape[:2]
        image = cv2.resize(image, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_LINEAR)
    return image


class BlurEffect(Effect):
    """Blur the background, keep the person sharp.

    ``strength``: the Gaussian sigma in pixels for a 720-pixel-high frame (scaled with the frame
    height, so a 1080p output looks the same as its 720p preview). ``mask_aware=False`` gives the
    naive blur (for comparison; it halos).
    """

    name = "blur"

    def __init__(self, strength: float = 12.0, *, mask_aware: bool = True) -> None:
        if not 0.0 < strength <= 200.0:
            raise ValueError(f"strength must be in (0, 200] (sigma in pixels at 720p), got {strength}")
        self.strength = float(strength)
        self.mask_aware = mask_aware
        self._compositor = Compositor()

    def background(self, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """The blurred background at frame size (uint8), before compositing; ``alpha`` float32 in [0, 1]
        or uint8 in [0, 255]."""
        sigma = self.strength * frame.shape[0] / 720.0
        return _low_res_blur(frame, alpha, sigma, _eroded_background_weight if self.mask_aware else None)

    def apply(self, frame: np.ndarray, mask: MaskFrame) -> np.ndarray:
        # the 8-bit alpha, made once: the blend needs it, and halving it is 4x cheaper than the float one
        a8 = mask.alpha if mask.alpha.dtype == np.uint8 else self._compositor.alpha_u8(mask.alpha)
        bg = self.background(frame, a8)
        # a matting model's foreground colour: the soft edge shows the person, not the sharp old background
        fg = frame if mask.foreground is None else full_res_foreground(frame, mask.foreground)
        return self._compositor.blend(fg, bg, a8)


def pure_background(frame: np.ndarray, alpha: np.ndarray, sigma_720: float = 16.0) -> np.ndarray:
    """The colour of the original background near each pixel, from pixels that are clearly background.

    A normalized convolution with weight ``(1 - alpha)**4`` (mixed edge pixels count little), at low
    resolution, Gaussian sigma ``sigma_720`` pixels at 720p (wider than a soft mask edge). Used to remove
    the old background's colour from the edge when the background is replaced.
    """
    return _low_res_blur(frame, alpha, sigma_720 * frame.shape[0] / 720.0, _clear_background_weight)


def _eroded_background_weight(a_small: np.ndarray) -> np.ndarray:
    """``1 - alpha`` eroded by one pixel: mixed edge pixels carry the person's colour."""
    return np.float32(1.0) - cv2.dilate(a_small, _KERNEL3)


def _clear_background_weight(a_small: np.ndarray) -> np.ndarray:
    """``(1 - alpha)**4``: pixels that are clearly background dominate."""
    wgt = np.float32(1.0) - a_small
    cv2.multiply(wgt, wgt, dst=wgt)
    cv2.multiply(wgt, wgt, dst=wgt)
    return wgt


def _levels(sigma: float) -> int:
    """How many times to halve the frame: keep the low-resolution sigma >= 1.5 pixels, at most 1/8.

    (At blur strength 12, 1/8 and 1/4 differ by at most 3 grey levels, mean 0.3; speed in docs/benchmarks.md.)
    """
    levels = 0
    while levels < 3 and sigma / 2 ** (levels + 1) >= 1.5:
        levels += 1
    return levels


def _low_res_blur(
    frame: np.ndarray,
    alpha: np.ndarray,
    sigma: float,
    weight: Callable[[np.ndarray], np.ndarray] | None,
) -> np.ndarray:
    """A Gaussian blur of ``frame`` (sigma in frame pixels) computed at low resolution, returned at frame size.

    With ``weight`` (a function of the low-resolution alpha) it is a normalized convolution,
    ``blur(frame * w) / blur(w)``, that averages only the pixels ``w`` favours; deep inside the person,
    where no weight is near, it falls back to the frame itself (invisible there once composited).
    """
    h, w = frame.shape[:2]
    levels = _levels(sigma)
    s = sigma / 2**levels
    small = _halve(frame, levels).astype(np.float32)
    if weight is None:
        blurred = cv2.GaussianBlur(small, (0, 0), s)
    else:
        a_small = _halve(alpha, levels)
        if a_small.dtype == np.uint8:  # an 8-bit alpha: halved as bytes, then to [0, 1]
            a_small = a_small.astype(np.float32)
            a_small *= np.float32(1.0 / 255.0)
        wgt = weight(a_small)
        num = cv2.scaleAdd(small, _FALLBACK, cv2.multiply(small, cv2.cvtColor(wgt, cv2.COLOR_GRAY2BGR)))
        den = cv2.GaussianBlur(wgt + np.float32(_FALLBACK), (0, 0), s)
        num = cv2.GaussianBlur(num, (0, 0), s)
        blurred = cv2.divide(num, cv2.cvtColor(den, cv2.COLOR_GRAY2BGR))
    bg_small = cv2.convertScaleAbs(blurred)
    if levels == 0:
        return bg_small
    return cv2.resize(bg_small, (w, h), interpolation=cv2.INTER_LINEAR)
