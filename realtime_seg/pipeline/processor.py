"""The processing stage shared by the offline and live pipelines: segment -> refine -> (track) -> effect."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Protocol

import numpy as np

from realtime_seg.crop import PersonCrop
from realtime_seg.effects.base import Effect
from realtime_seg.postprocess.refine import Refiner
from realtime_seg.postprocess.types import MaskFrame
from realtime_seg.segmenter import Segmenter, SegResult

logger = logging.getLogger(__name__)


class Tracker(Protocol):
    """What the processor needs of a region tracker (see :mod:`realtime_seg.tracking`)."""

    def step(self, mask: MaskFrame, t: float, frame: np.ndarray | None = None) -> list[Any]: ...

    def reset(self) -> None: ...


@dataclass(frozen=True)
class Processed:
    """One processed frame: the output image, the refined mask, and per-stage timings in ms."""

    index: int
    t: float
    output: np.ndarray
    mask: MaskFrame
    timings_ms: Mapping[str, float] = field(default_factory=dict)
    reused_mask: bool = False
    tracked: bool = False  #: a tracker ran: ``mask.regions`` holds the tracked regions
    crop: str = ""  #: "" without a crop stage, else "window" or "whole frame"
    tracking: Any = None  #: the tracker's stats after this frame (counts per class, distinct ids), or None

    def __post_init__(self) -> None:
        object.__setattr__(self, "timings_ms", MappingProxyType(dict(self.timings_ms)))


@dataclass(frozen=True)
class Segmented:
    """The first half of a frame's processing: the model's result (or the one reused), and its timings."""

    seg: SegResult
    reused: bool
    timings_ms: Mapping[str, float] = field(default_factory=dict)
    crop: str = ""  #: "" without a crop stage, else "window" or "whole frame" (how the model saw this frame)

    def __post_init__(self) -> None:
        object.__setattr__(self, "timings_ms", MappingProxyType(dict(self.timings_ms)))


class Processor(Protocol):
    """What the pipelines run per frame. ``process`` is ``finish_step(frame, segment_step(frame))``: the two
    halves may run on two threads (one each, frames in order), overlapping inference with compositing."""

    def process(self, frame: np.ndarray, index: int, t: float) -> Processed: ...

    def segment_step(self, frame: np.ndarray, index: int) -> Segmented: ...

    def finish_step(self, frame: np.ndarray, index: int, t: float, segmented: Segmented) -> Processed: ...


class FrameProcessor:
    """Stateful per stream. ``every=N`` computes the mask every N frames and reuses it in between.

    Build one from settings with :func:`realtime_seg.pipeline.assemble.open_processor`. :meth:`close`
    releases the effect's resources (a background video) and, when it owns it, the segmenter.
    """

    def __init__(
        self,
        segmenter: Segmenter,
        refiner: Refiner,
        effect: Effect,
        *,
        tracker: Tracker | None = None,
        every: int = 1,
        owns_segmenter: bool = False,
        crop: PersonCrop | None = None,
    ) -> None:
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.segmenter, self.refiner, self.effect, self.tracker, self.every = segmenter, refiner, effect, tracker, every
        self.owns_segmenter = owns_segmenter
        self.crop = crop
        self._last_seg: SegResult | None = None

    def close(self) -> None:
        close_effect(self.effect)
        if self.owns_segmenter:
            self.segmenter.close()

    def __enter__(self) -> FrameProcessor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def reset(self) -> None:
        """A new source or a seek: forget the mask, the smoothing history, the tracks and the model's state."""
        self._last_seg = None
        self.segmenter.reset()
        self.refiner.reset()
        if self.crop is not None:
            self.crop.reset()
        if self.tracker is not None:
            self.tracker.reset()

    def process(self, frame: np.ndarray, index: int, t: float) -> Processed:
        return self.finish_step(frame, index, t, self.segment_step(frame, index))

    def segment_step(self, frame: np.ndarray, index: int) -> Segmented:
        """First half of :meth:`process`: the model, or the mask reused from an earlier frame."""
        timings: dict[str, float] = {}
        reuse = self._last_seg is not None and index % self.every != 0
        if reuse and self._last_seg is not None and self._last_seg.frame_size_wh == (frame.shape[1], frame.shape[0]):
            seg = self._last_seg
        else:
            reuse = False
            seg = (
                self.segmenter.segment(frame, index)
                if self.crop is None
                else self.crop.segment(self.segmenter, frame, index)
            )
            timings.update(seg.timings_ms)
            self._last_seg = seg
        crop = "" if self.crop is None else ("window" if self.crop.last_cropped else "whole frame")
        return Segmented(seg, reuse, timings, crop)

    def finish_step(self, frame: np.ndarray, index: int, t: float, segmented: Segmented) -> Processed:
        """Second half of :meth:`process`: refine, track, apply the effect."""
        timings = dict(segmented.timings_ms)
        t0 = time.perf_counter()
        mask = self.refiner.refine(frame, segmented.seg)
        t1 = time.perf_counter()
        timings["refine"] = (t1 - t0) * 1e3
        if self.tracker is not None:
            regions = self.tracker.step(mask, t, frame)  # the frame: colour histograms of the objects
            mask = replace(mask, regions=tuple(regions))
            t1b = time.perf_counter()
            timings["track"] = (t1b - t1) * 1e3
            t1 = t1b
        out = self.effect.apply(frame, mask)
        timings["effect"] = (time.perf_counter() - t1) * 1e3
        tracking = getattr(self.tracker, "stats", None) if self.tracker is not None else None
        return Processed(
            index, t, out, mask, timings, segmented.reused, self.tracker is not None, segmented.crop, tracking
        )


def close_effect(effect: Effect) -> None:
    """Release what an effect holds (a background video's decoder), stacked effects included."""
    for e in getattr(effect, "effects", (effect,)):
        close = getattr(e, "close", None)
        if callable(close):
            try:
                close()
            except Exception:
                logger.exception("closing effect %s failed", getattr(e, "name", e))
