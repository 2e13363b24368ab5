"""Mask refinement: SegResult (model resolution) -> MaskFrame (frame size).

Steps, in order, each optional except upsampling:

1. temporal smoothing at the model's resolution (:mod:`realtime_seg.postprocess.temporal`);
2. upsampling to frame size: bilinear, or the fast guided filter guided by the frame, which upsamples
   and snaps the edge to the image at once (:mod:`realtime_seg.postprocess.guided`);
3. a threshold (hard 0/1 alpha) or the soft alpha.

Multi-class models: the alpha (the foreground classes' probability) is refined; the label map passes
through as the segmenter gives it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from realtime_seg.postprocess.guided import FastGuidedFilter
from realtime_seg.postprocess.temporal import TemporalSmoother
from realtime_seg.postprocess.types import MaskFrame
from realtime_seg.segmenter import SegResult

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RefineConfig:
    """Refinement settings (defaults measured; see the tests in ``tests/postprocess``).

    - ``smoothing``: weight of the previous frame's alpha where the image is still, in [0, 1); 0 turns
      temporal smoothing off.
    - ``motion``: per-pixel grey-level change at which smoothing stops (so moving edges do not lag);
      ``None`` is a plain exponential moving average.
    - ``scene_cut``: mean grey-level change of the whole frame that drops the history; ``None`` never does.
    - ``edge_gain``: steepness of the model's soft edge, ``alpha = 0.5 + gain * (alpha - 0.5)`` clipped
      (at model resolution, after smoothing); 1 keeps the model's softness. Models give edges several
      pixels wider than the real one; the guided filter then puts the soft part where the image has it.
    - ``edge_refine``: the guided filter on/off; ``guided_radius`` (full-resolution pixels),
      ``guided_eps`` (for a guide in [0, 1]) and ``guided_subsample`` (its working resolution divisor).
    - ``threshold``: ``None`` keeps a soft alpha, otherwise ``alpha >= threshold`` becomes 1, the rest 0.
    """

    smoothing: float = 0.7
    motion: float | None = 12.0
    scene_cut: float | None = 10.0
    edge_gain: float = 4.0
    edge_refine: bool = True
    guided_radius: int = 4
    guided_eps: float = 1e-4
    guided_subsample: int = 4
    threshold: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.smoothing < 1.0:
            raise ValueError(f"smoothing must be in [0, 1) (0 = off), got {self.smoothing}")
        if self.motion is not None and not self.motion > 0:
            raise ValueError(f"motion must be > 0 grey levels or None, got {self.motion}")
        if self.scene_cut is not None and not 0 < self.scene_cut <= 255:
            raise ValueError(f"scene_cut must be in (0, 255] grey levels or None, got {self.scene_cut}")
        if not isinstance(self.edge_refine, bool):
            raise ValueError(f"edge_refine must be True or False, got {self.edge_refine!r}")
        if not isinstance(self.guided_radius, int) or self.guided_radius < 1:
            raise ValueError(f"guided_radius must be an integer >= 1 pixel, got {self.guided_radius!r}")
        if not self.guided_eps > 0:
            raise ValueError(f"guided_eps must be > 0, got {self.guided_eps}")
        if not isinstance(self.guided_subsample, int) or not 1 <= self.guided_subsample <= 16:
            raise ValueError(f"guided_subsample must be an integer in 1..16, got {self.guided_subsample!r}")
        if not 1.0 <= self.edge_gain <= 100.0:
            raise ValueError(f"edge_gain must be in [1, 100] (1 = as the model gives it), got {self.edge_gain}")
        if self.threshold is not None and not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1) or None, got {self.threshold}")


class Refiner:
    """Stateful per stream (temporal smoothing keeps the previous mask): one Refiner per video/camera."""

    def __init__(self, config: RefineConfig | None = None) -> None:
        self.config = config or RefineConfig()
        c = self.config
        self._smoother = (
            TemporalSmoother(c.smoothing, motion=c.motion, scene_cut=c.scene_cut) if c.smoothing > 0 else None
        )
        # working arrays kept between frames (a Refiner serves one stream, from one thread)
        self._guided = FastGuidedFilter(radius=c.guided_radius, eps=c.guided_eps, subsample=c.guided_subsample)
        self._grey = np.empty((0, 0), np.uint8)

    def reset(self) -> None:
        """Forget the stream's history (call on a new source or a seek)."""
        if self._smoother is not None:
            self._smoother.reset()

    def _grey_of(self, frame_bgr: np.ndarray) -> np.ndarray:
        """The frame's grey image (a working array, overwritten by the next frame)."""
        if frame_bgr.ndim == 2:
            return frame_bgr
        h, w = frame_bgr.shape[:2]
        if self._grey.shape != (h, w):
            self._grey = np.empty((h, w), np.uint8)
        return cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY, dst=self._grey)

    def refine(self, frame_bgr: np.ndarray, seg: SegResult) -> MaskFrame:
        c = self.config
        h, w = frame_bgr.shape[:2]
        ph, pw = seg.probs.shape[-2:]
        # a matting model's alpha is a matte, temporally stable by itself: no sharpening, no smoothing
        matting = seg.spec.matting
        smoother = None if matting else self._smoother
        gain = 1.0 if matting else c.edge_gain
        if smoother is None and not c.edge_refine and gain == 1.0:
            alpha = seg.alpha((w, h))  # plain bilinear upsampling
        else:
            small = seg.alpha((pw, ph))  # at model resolution
            grey = guide_low = None
            if smoother is not None or c.edge_refine:
                grey = self._grey_of(frame_bgr)
                guide_low = self._guided.low_guide(grey)
            if smoother is not None and guide_low is not None:
                thumb = cv2.resize(guide_low, (pw, ph), interpolation=cv2.INTER_AREA)
                small = smoother.update(small, thumb)
                if smoother.last_was_cut:
                    logger.debug("frame %d: scene cut, temporal history dropped", seg.frame_index)
            if gain != 1.0:
                small = small * np.float32(gain)  # a new array: the smoother keeps `small`
                small += np.float32(0.5 - 0.5 * gain)
                np.clip(small, 0.0, 1.0, out=small)
            if c.edge_refine and grey is not None:
                alpha = self._guided.filter(grey, small, guide_low=guide_low)
            else:
                alpha = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
                np.clip(alpha, 0.0, 1.0, out=alpha)
        if c.threshold is not None:
            alpha = (alpha >= c.threshold).astype(np.float32)
        labels = seg.labels((w, h)) if seg.spec.output_kind != "probability" else None
        foreground = None
        if seg.foreground is not None:  # RGB float [0, 1] -> BGR uint8, still at model resolution
            foreground = cv2.cvtColor(cv2.convertScaleAbs(seg.foreground, alpha=255.0), cv2.COLOR_RGB2BGR)
        return MaskFrame(
            index=seg.frame_index,
            alpha=alpha,
            labels=labels,
            class_names=seg.spec.class_names,
            class_colors_rgb=seg.spec.class_colors_rgb,
            foreground=foreground,
        )
