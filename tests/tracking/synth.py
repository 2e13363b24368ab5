"""Synthetic masks with known truth: discs (and other shapes) drawn into a MaskFrame."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from realtime_seg.postprocess.types import MaskFrame
from realtime_seg.tracking import TrackedRegion

SIZE_WH = (320, 240)


def disc_mask(
    discs: Sequence[tuple[float, float, float]], size_wh: tuple[int, int] = SIZE_WH, index: int = 0
) -> MaskFrame:
    """A 0/1 alpha with a filled disc per ``(cx, cy, r)`` (parts outside the frame are cut off)."""
    w, h = size_wh
    alpha = np.zeros((h, w), np.float32)
    for cx, cy, r in discs:
        cv2.circle(alpha, (round(cx), round(cy)), round(r), 1.0, -1)
    return MaskFrame(index=index, alpha=alpha)


def label_mask(
    discs: Sequence[tuple[int, float, float, float]],
    size_wh: tuple[int, int] = SIZE_WH,
    class_names: tuple[str, ...] = ("background", "person", "hand"),
) -> MaskFrame:
    """A label map with a disc of class ``k`` per ``(k, cx, cy, r)``; later discs are drawn on top."""
    w, h = size_wh
    labels = np.zeros((h, w), np.uint8)
    for k, cx, cy, r in discs:
        cv2.circle(labels, (round(cx), round(cy)), round(r), int(k), -1)
    colors = tuple((40 * i % 256, 80 * i % 256, 120 * i % 256) for i in range(len(class_names)))
    return MaskFrame(
        index=0, alpha=(labels > 0).astype(np.float32), labels=labels, class_names=class_names, class_colors_rgb=colors
    )


def nearest_id(tracked: Sequence[TrackedRegion], x: float, y: float) -> int:
    """The id of the tracked region whose centroid is nearest to (x, y)."""
    best = min(tracked, key=lambda tr: (tr.centroid[0] - x) ** 2 + (tr.centroid[1] - y) ** 2)
    return best.id
