"""Resampling that reproduces MediaPipe's own preprocessing (see shared MODEL.md)."""

from __future__ import annotations

import cv2
import numpy as np


def mediapipe_resize(image: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    """Stretch ``image`` to ``size_wh`` the way MediaPipe does: warpPerspective, corners to corners."""
    h, w = image.shape[:2]
    dw, dh = size_wh
    m = np.array([[dw / w, 0.0, 0.0], [0.0, dh / h, 0.0], [0.0, 0.0, 1.0]], dtype=np.float64)
    return cv2.warpPerspective(image, m, (dw, dh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def resize_probability(prob: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a float probability map back to frame size."""
    return cv2.resize(prob.astype(np.float32, copy=False), size_wh, interpolation=cv2.INTER_LINEAR)
