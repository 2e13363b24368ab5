"""Temporal smoothing of one track's outline, so edges do not jitter from frame to frame.

Outlines have a different number of points every frame, so each is resampled to a fixed number of points
evenly spaced along its length, aligned to the previous one by the best cyclic shift (found by
cross-correlation), and blended with it relative to the centroid: the shape is smoothed, the position is
not, so a moving region's outline does not lag behind it. Points are complex numbers ``x + iy`` here,
which halves the numpy calls (this runs for every region in every frame).
"""

from __future__ import annotations

import cv2
import numpy as np

MIN_POINTS = 32
MAX_POINTS = 256
SPACING_PX = 6.0


def _as_complex(contour: np.ndarray) -> np.ndarray:
    pts = np.asarray(contour, dtype=np.float64).reshape(-1, 2)
    return pts[:, 0] + 1j * pts[:, 1]


def resample_closed(contour: np.ndarray, n: int) -> np.ndarray:
    """``n`` points evenly spaced along the closed polyline ``contour``, as complex ``x + iy`` (``(n,)``)."""
    z = _as_complex(contour)
    closed = np.append(z, z[0])
    s = np.zeros(len(closed))
    np.cumsum(np.abs(np.diff(closed)), out=s[1:])
    total = s[-1]
    if total <= 0:
        return np.full(n, z[0])
    return np.interp(np.arange(n) * (total / n), s, closed)


def best_shift(ref: np.ndarray, cur: np.ndarray) -> int:
    """The ``k`` that minimises ``sum |ref[i] - cur[(i + k) % n]|^2`` (complex ``(n,)`` point arrays)."""
    corr = np.fft.ifft(np.conj(np.fft.fft(ref)) * np.fft.fft(cur)).real
    return int(np.argmax(corr))


class OutlineSmoother:
    """Exponential moving average of an outline's shape; ``weight`` is the previous shape's share.

    ``simplify_tolerance`` (pixels) simplifies the smoothed outline it hands out, like region outlines.
    """

    def __init__(self, weight: float, simplify_tolerance: float = 1.0) -> None:
        if not (0.0 <= weight < 1.0):
            raise ValueError(f"weight must be in [0, 1), got {weight!r}")
        self.weight = weight
        self.simplify_tolerance = simplify_tolerance
        self._shape: np.ndarray | None = None  # complex (n,), relative to the centroid
        self._centroid = 0j

    def restart(self, contour: np.ndarray, centroid: tuple[float, float]) -> None:
        """Forget the history (a new track, or after a split or merge)."""
        z = _as_complex(contour)
        perimeter = float(np.abs(np.diff(np.append(z, z[0]))).sum())
        n = min(max(round(perimeter / SPACING_PX), MIN_POINTS), MAX_POINTS)
        self._centroid = complex(centroid[0], centroid[1])
        self._shape = resample_closed(contour, n) - self._centroid

    def update(self, contour: np.ndarray, centroid: tuple[float, float]) -> None:
        if self._shape is None:
            self.restart(contour, centroid)
            return
        c = complex(centroid[0], centroid[1])
        cur = resample_closed(contour, len(self._shape)) - c
        k = best_shift(self._shape, cur)
        if k:
            cur = np.concatenate((cur[k:], cur[:k]))  # cur[(i + k) % n], cheaper than np.roll
        self._shape = self.weight * self._shape + (1.0 - self.weight) * cur
        self._centroid = c

    def contour(self) -> np.ndarray:
        """The smoothed outline, int32 ``(N, 2)``."""
        if self._shape is None:
            raise RuntimeError("contour() before restart()")
        z = self._shape + self._centroid
        pts = np.column_stack([z.real, z.imag]).round().astype(np.int32)
        if self.simplify_tolerance > 0:
            pts = np.ascontiguousarray(cv2.approxPolyDP(pts, self.simplify_tolerance, True).reshape(-1, 2))
        return pts
