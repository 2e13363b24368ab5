"""Temporal smoothing of one track's outline, so edges do not jitter from frame to frame.

Outlines have a different number of points every frame, so each is resampled to a fixed number of points
evenly spaced along its length, aligned to the previous one by the best cyclic shift (found by
cross-correlation), and blended with it relative to the centroid: the shape is smoothed, the position is
not, so a moving region's outline does not lag behind it.
"""

from __future__ import annotations

import numpy as np

MIN_POINTS = 32
MAX_POINTS = 256
SPACING_PX = 6.0


def resample_closed(contour: np.ndarray, n: int) -> np.ndarray:
    """``n`` points evenly spaced along the closed polyline ``contour`` (float64 ``(n, 2)``)."""
    pts = np.asarray(contour, dtype=np.float64).reshape(-1, 2)
    if len(pts) == 1:
        return np.repeat(pts, n, axis=0)
    closed = np.vstack([pts, pts[:1]])
    seg = np.hypot(*np.diff(closed, axis=0).T)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    total = s[-1]
    if total <= 0:
        return np.repeat(pts[:1], n, axis=0)
    q = np.arange(n) * (total / n)
    return np.column_stack([np.interp(q, s, closed[:, 0]), np.interp(q, s, closed[:, 1])])


def best_shift(ref: np.ndarray, cur: np.ndarray) -> int:
    """The ``k`` that minimises ``sum |ref[i] - cur[(i + k) % n]|^2`` (both ``(n, 2)``)."""
    fr = np.fft.rfft(ref, axis=0)
    fc = np.fft.rfft(cur, axis=0)
    corr = np.fft.irfft(np.conj(fr) * fc, n=len(ref), axis=0).sum(axis=1)
    return int(np.argmax(corr))


class OutlineSmoother:
    """Exponential moving average of an outline's shape; ``weight`` is the previous shape's share."""

    def __init__(self, weight: float) -> None:
        if not (0.0 <= weight < 1.0):
            raise ValueError(f"weight must be in [0, 1), got {weight!r}")
        self.weight = weight
        self._shape: np.ndarray | None = None  # (n, 2) relative to the centroid
        self._centroid = np.zeros(2)

    def restart(self, contour: np.ndarray, centroid: tuple[float, float]) -> None:
        """Forget the history (a new track, or after a split or merge)."""
        pts = np.asarray(contour).reshape(-1, 2)
        perimeter = float(np.hypot(*np.diff(np.vstack([pts, pts[:1]]), axis=0).T).sum())
        n = int(np.clip(round(perimeter / SPACING_PX), MIN_POINTS, MAX_POINTS))
        self._centroid = np.asarray(centroid, dtype=np.float64)
        self._shape = resample_closed(pts, n) - self._centroid

    def update(self, contour: np.ndarray, centroid: tuple[float, float]) -> None:
        if self._shape is None:
            self.restart(contour, centroid)
            return
        c = np.asarray(centroid, dtype=np.float64)
        cur = resample_closed(contour, len(self._shape)) - c
        cur = np.roll(cur, -best_shift(self._shape, cur), axis=0)
        self._shape = self.weight * self._shape + (1.0 - self.weight) * cur
        self._centroid = c

    def contour(self) -> np.ndarray:
        """The smoothed outline, int32 ``(n, 2)``."""
        if self._shape is None:
            raise RuntimeError("contour() before restart()")
        return np.round(self._shape + self._centroid).astype(np.int32)
