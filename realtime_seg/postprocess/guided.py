"""Edge refinement: the fast guided filter (He & Sun 2015), guided by the frame's grey image.

The filter's linear coefficients ``a, b`` (``q = a * I + b`` in every window) are computed at low
resolution with box filters, upsampled bilinearly, and applied to the full-resolution guide. The mask's
edge then follows the image's edges (hair, shoulders) instead of the model's coarse, blurry boundary.

Cost: the full-resolution work is what remains after everything else moved to low resolution:
upsampling ``a`` and ``b``, one multiply-add against the uint8 guide, and the clip to [0, 1]. The
coefficients are computed with the guide in grey levels (0..255) straight from its uint8 values, so no
float copy of the guide is made; ``eps`` is scaled to match, which gives the same ``a * I`` as a guide
in [0, 1]. :class:`FastGuidedFilter` keeps its working arrays between calls (one instance per stream).
"""

from __future__ import annotations

import cv2
import numpy as np


def low_size(size_wh: tuple[int, int], subsample: int) -> tuple[int, int]:
    """The working size for ``subsample`` (rounded up, at least 1x1)."""
    w, h = size_wh
    return (max(1, -(-w // subsample)), max(1, -(-h // subsample)))


class FastGuidedFilter:
    """The fast guided filter with its working arrays kept between calls.

    - ``radius``: window radius in full-resolution pixels (``radius / subsample`` at low resolution, >= 1).
    - ``eps``: regularisation, for a guide in [0, 1]: edges with contrast well above ``sqrt(eps)`` are kept.
    - ``subsample``: the working resolution is the guide's size divided by this.

    Not thread-safe: use one instance per stream, from one thread. The arrays are reallocated when the
    frame size changes. The result of :meth:`filter` is a new array each call (callers may keep it);
    the one of :meth:`low_guide` is a working array, valid until the next call.
    """

    def __init__(self, *, radius: int, eps: float, subsample: int) -> None:
        if radius < 1:
            raise ValueError(f"radius must be >= 1 pixel, got {radius}")
        if not eps > 0:
            raise ValueError(f"eps must be > 0, got {eps}")
        if subsample < 1:
            raise ValueError(f"subsample must be >= 1, got {subsample}")
        self.radius, self.eps, self.subsample = radius, eps, subsample
        self._k = 2 * max(1, round(radius / subsample)) + 1
        self._size_wh: tuple[int, int] | None = None
        self._low: dict[str, np.ndarray] = {}
        self._a_full = np.empty((0, 0), np.float32)

    def _buffers(self, size_wh: tuple[int, int]) -> dict[str, np.ndarray]:
        if size_wh != self._size_wh:
            lw, lh = low_size(size_wh, self.subsample)
            names = ("p", "mean_i", "mean_p", "corr_ip", "corr_ii", "tmp", "a", "b", "mean_a", "mean_b")
            self._low = {name: np.empty((lh, lw), np.float32) for name in names}
            self._low["guide"] = np.empty((lh, lw), np.uint8)
            self._a_full = np.empty((size_wh[1], size_wh[0]), np.float32)
            self._size_wh = size_wh
        return self._low

    def _box(self, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        k = self._k
        return cv2.boxFilter(src, cv2.CV_32F, (k, k), dst=dst, normalize=True, borderType=cv2.BORDER_REFLECT)

    def low_guide(self, guide: np.ndarray) -> np.ndarray:
        """``guide`` (uint8 ``(H, W)``) at the working resolution (INTER_AREA); a working array."""
        h, w = guide.shape[:2]
        buf = self._buffers((w, h))
        return cv2.resize(
            guide, (buf["guide"].shape[1], buf["guide"].shape[0]), dst=buf["guide"], interpolation=cv2.INTER_AREA
        )

    def filter(self, guide: np.ndarray, p: np.ndarray, *, guide_low: np.ndarray | None = None) -> np.ndarray:
        """Filter ``p`` guided by ``guide``; returns a new float32 ``(H, W)`` array, clipped to [0, 1].

        - ``guide``: uint8 ``(H, W)`` grey frame at full resolution.
        - ``p``: float32 ``(h, w)`` input mask at any resolution (it is resized to the working resolution).
        - ``guide_low``: the guide already at the working resolution (uint8), if the caller has it.
        """
        h, w = guide.shape[:2]
        buf = self._buffers((w, h))
        lh, lw = buf["a"].shape
        if guide_low is None:
            guide_low = self.low_guide(guide)
        if p.shape != (lh, lw):
            interp = cv2.INTER_AREA if p.shape[0] > lh else cv2.INTER_LINEAR
            p_low = cv2.resize(p.astype(np.float32, copy=False), (lw, lh), dst=buf["p"], interpolation=interp)
        else:
            p_low = p.astype(np.float32, copy=False)
        # The guide I in grey levels (0..255); with eps * 255^2, a comes out as (a for I in [0, 1]) / 255,
        # ready to multiply the uint8 guide at full resolution, and b is unchanged.
        mean_i = self._box(guide_low, buf["mean_i"])
        mean_p = self._box(p_low, buf["mean_p"])
        corr_ip = self._box(cv2.multiply(guide_low, p_low, dst=buf["tmp"], dtype=cv2.CV_32F), buf["corr_ip"])
        corr_ii = self._box(cv2.multiply(guide_low, guide_low, dst=buf["tmp"], dtype=cv2.CV_32F), buf["corr_ii"])
        tmp = cv2.multiply(mean_i, mean_p, dst=buf["tmp"])
        cov_ip = cv2.subtract(corr_ip, tmp, dst=corr_ip)
        tmp = cv2.multiply(mean_i, mean_i, dst=tmp)
        var_i = cv2.addWeighted(corr_ii, 1.0, tmp, -1.0, self.eps * 255.0 * 255.0, dst=corr_ii)  # var + eps
        a = cv2.divide(cov_ip, var_i, dst=buf["a"])
        tmp = cv2.multiply(a, mean_i, dst=tmp)
        b = cv2.subtract(mean_p, tmp, dst=buf["b"])
        mean_a = self._box(a, buf["mean_a"])
        mean_b = self._box(b, buf["mean_b"])
        # full resolution: q = up(mean_a) * I + up(mean_b), clipped
        q = cv2.resize(mean_b, (w, h), interpolation=cv2.INTER_LINEAR)  # the result: a new array
        a_full = cv2.resize(mean_a, (w, h), dst=self._a_full, interpolation=cv2.INTER_LINEAR)
        cv2.multiply(guide, a_full, dst=a_full, dtype=cv2.CV_32F)
        cv2.add(q, a_full, dst=q)
        np.clip(q, 0.0, 1.0, out=q)
        return q


def fast_guided_filter(
    guide: np.ndarray,
    p: np.ndarray,
    *,
    radius: int,
    eps: float,
    subsample: int,
    guide_low: np.ndarray | None = None,
) -> np.ndarray:
    """One-off :meth:`FastGuidedFilter.filter`: filter ``p`` guided by ``guide``; returns float32 ``(H, W)``
    at the guide's size, clipped to [0, 1]. For a stream, keep a :class:`FastGuidedFilter` instead."""
    return FastGuidedFilter(radius=radius, eps=eps, subsample=subsample).filter(guide, p, guide_low=guide_low)
