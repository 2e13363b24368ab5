"""Fast compositing at full resolution: ``alpha * fg + (1 - alpha) * bg`` in 8-bit fixed point.

Four OpenCV passes over uint8 data (faster than ``cv2.blendLinear`` or float32: docs/benchmarks.md,
"Design measurements"). Where alpha is 1 the result is exactly ``fg``; where it
is 0, exactly ``bg``; elsewhere it is within 1 grey level of the float blend.
"""

from __future__ import annotations

import cv2
import numpy as np


class Compositor:
    """Reuses its scratch buffers between calls of the same frame size (not for concurrent use)."""

    def __init__(self) -> None:
        self._shape: tuple[int, ...] = ()
        self._a8 = np.empty((0, 0), np.uint8)
        self._a3 = np.empty((0, 0, 3), np.uint8)
        self._tmp = np.empty((0, 0, 3), np.uint8)

    def _buffers(self, shape: tuple[int, ...]) -> None:
        if shape != self._shape:
            h, w = shape[:2]
            self._a8 = np.empty((h, w), np.uint8)
            self._a3 = np.empty((h, w, 3), np.uint8)
            self._tmp = np.empty((h, w, 3), np.uint8)
            self._shape = shape

    def alpha_u8(self, alpha: np.ndarray, scale: float = 1.0) -> np.ndarray:
        """``round(255 * scale * alpha)`` as uint8, into a scratch buffer (valid until the next call)."""
        self._buffers(alpha.shape[:2] + (3,))
        cv2.convertScaleAbs(alpha, self._a8, 255.0 * scale)
        return self._a8

    def blend(self, fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """A new uint8 image; ``alpha`` is float32 in [0, 1] or uint8 in [0, 255], shape (H, W)."""
        self._buffers(fg.shape)
        a8 = alpha if alpha.dtype == np.uint8 else self.alpha_u8(alpha)
        a3 = self._a3
        cv2.cvtColor(a8, cv2.COLOR_GRAY2BGR, dst=a3)
        out = cv2.multiply(fg, a3, scale=1.0 / 255.0)
        cv2.bitwise_not(a3, dst=a3)
        cv2.multiply(bg, a3, dst=self._tmp, scale=1.0 / 255.0)
        cv2.add(out, self._tmp, dst=out)
        return out

    def replace(self, frame: np.ndarray, old_bg: np.ndarray, new_bg: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """Composite ``frame`` over ``new_bg`` after removing ``old_bg``'s colour from the soft edge.

        A soft-edge pixel is ``I = a*F + (1-a)*B_old``. Blending ``I`` itself over a new background keeps
        ``(1-a)*B_old`` in it: a fringe of the old wall around the person. Solving for the person's share,
        ``a*F = clip(I - (1-a)*B_old, 0, 255*a)``, and adding ``(1-a)*B_new`` removes it. Where alpha is 1
        the result is exactly ``frame``; where it is 0, exactly ``new_bg``. All in saturating uint8 ops.
        """
        self._buffers(frame.shape)
        a8 = alpha if alpha.dtype == np.uint8 else self.alpha_u8(alpha)
        a3 = self._a3
        cv2.cvtColor(a8, cv2.COLOR_GRAY2BGR, dst=a3)  # 255*a
        inv = cv2.bitwise_not(a3)  # 255*(1-a)
        cv2.multiply(old_bg, inv, dst=self._tmp, scale=1.0 / 255.0)  # (1-a)*B_old
        person = cv2.subtract(frame, self._tmp)  # saturates at 0
        cv2.min(person, a3, dst=person)  # at most 255*a
        cv2.multiply(new_bg, inv, dst=self._tmp, scale=1.0 / 255.0)
        cv2.add(person, self._tmp, dst=person)
        return person
