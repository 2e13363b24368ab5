"""Edge refinement: the fast guided filter (He & Sun 2015), guided by the frame's grey image.

The filter's linear coefficients ``a, b`` (``q = a * I + b`` in every window) are computed at low
resolution with box filters, upsampled bilinearly, and applied to the full-resolution guide. The mask's
edge then follows the image's edges (hair, shoulders) instead of the model's coarse, blurry boundary.
"""

from __future__ import annotations

import cv2
import numpy as np


def low_size(size_wh: tuple[int, int], subsample: int) -> tuple[int, int]:
    """The working size for ``subsample`` (rounded up, at least 1x1)."""
    w, h = size_wh
    return (max(1, -(-w // subsample)), max(1, -(-h // subsample)))


def _box(x: np.ndarray, k: int) -> np.ndarray:
    return cv2.boxFilter(x, -1, (k, k), normalize=True, borderType=cv2.BORDER_REFLECT)


def fast_guided_filter(
    guide: np.ndarray,
    p: np.ndarray,
    *,
    radius: int,
    eps: float,
    subsample: int,
    guide_low: np.ndarray | None = None,
) -> np.ndarray:
    """Filter ``p`` guided by ``guide``; returns float32 ``(H, W)`` at the guide's size, clipped to [0, 1].

    - ``guide``: uint8 ``(H, W)`` grey frame at full resolution.
    - ``p``: float32 ``(h, w)`` input mask at any resolution (it is resized to the working resolution).
    - ``radius``: window radius in full-resolution pixels (``radius / subsample`` at low resolution, >= 1).
    - ``eps``: regularisation, for a guide in [0, 1]: edges with contrast well above ``sqrt(eps)`` are kept.
    - ``subsample``: the working resolution is the guide's size divided by this.
    - ``guide_low``: the guide already at the working resolution (uint8), if the caller has it.
    """
    h, w = guide.shape[:2]
    lw, lh = low_size((w, h), subsample)
    if guide_low is None:
        guide_low = cv2.resize(guide, (lw, lh), interpolation=cv2.INTER_AREA)
    i_low = guide_low.astype(np.float32)
    i_low *= np.float32(1.0 / 255.0)
    if p.shape != (lh, lw):
        interp = cv2.INTER_AREA if p.shape[0] > lh else cv2.INTER_LINEAR
        p_low = cv2.resize(p.astype(np.float32, copy=False), (lw, lh), interpolation=interp)
    else:
        p_low = p.astype(np.float32, copy=False)
    k = 2 * max(1, round(radius / subsample)) + 1
    mean_i = _box(i_low, k)
    mean_p = _box(p_low, k)
    cov_ip = _box(i_low * p_low, k) - mean_i * mean_p
    var_i = _box(i_low * i_low, k) - mean_i * mean_i
    a = cov_ip / (var_i + np.float32(eps))
    b = mean_p - a * mean_i
    # fold the guide's 1/255 into a, so the full-resolution step uses the uint8 guide directly
    mean_a = _box(a, k) * np.float32(1.0 / 255.0)
    mean_b = _box(b, k)
    a_full = cv2.resize(mean_a, (w, h), interpolation=cv2.INTER_LINEAR)
    b_full = cv2.resize(mean_b, (w, h), interpolation=cv2.INTER_LINEAR)
    q = cv2.multiply(guide, a_full, dtype=cv2.CV_32F)
    cv2.add(q, b_full, dst=q)
    np.clip(q, 0.0, 1.0, out=q)
    return q
