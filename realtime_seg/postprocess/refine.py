"""Mask refinement: SegResult (model resolution) -> MaskFrame (frame size).

Steps, each optional: upsampling (always), temporal smoothing, edge refinement, threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from realtime_seg.postprocess.types import MaskFrame
from realtime_seg.segmenter import SegResult


@dataclass(frozen=True)
class RefineConfig:
    """Refinement settings. ``threshold=None`` keeps a soft alpha."""

    threshold: float | None = None

    def __post_init__(self) -> None:
        if self.threshold is not None and not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1) or None, got {self.threshold}")


class Refiner:
    """Stateful per stream (temporal smoothing keeps the previous mask): one Refiner per video/camera."""

    def __init__(self, config: RefineConfig | None = None) -> None:
        self.config = config or RefineConfig()

    def reset(self) -> None:
        """Forget the stream's history (call on a new source or a seek)."""

    def refine(self, frame_bgr: np.ndarray, seg: SegResult) -> MaskFrame:
        h, w = frame_bgr.shape[:2]
        alpha = seg.alpha((w, h))
        if self.config.threshold is not None:
            alpha = (alpha >= self.config.threshold).astype(np.float32)
        labels = seg.labels((w, h)) if seg.spec.output_kind != "probability" else None
        return MaskFrame(
            index=seg.frame_index,
            alpha=alpha,
            labels=labels,
            class_names=seg.spec.class_names,
            class_colors_rgb=seg.spec.class_colors_rgb,
        )
