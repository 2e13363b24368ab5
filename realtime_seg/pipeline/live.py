"""The live pipeline: a processing thread that takes the newest captured frame and emits one result. Qt-free.

- It never builds a backlog: it takes the newest frame from a :class:`LatestFrameSlot` (frames that
  arrive while it works replace each other there) and hands each result to ``on_result`` at once.
- Settings change at runtime through :meth:`LivePipeline.update`; the thread applies them between frames,
  so a frame is always processed with one consistent setting (see :func:`~realtime_seg.pipeline.assemble.reconfigure`).
- Backends (and any CUDA context) are created, used and closed inside the processing thread. A model or
  backend that fails to load is reported through ``on_status`` and replaced by ONNX Runtime on the CPU.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from realtime_seg.capture.slot import LatestFrameSlot
from realtime_seg.capture.thread import RateMeter, Worker
from realtime_seg.effects import create_effect
from realtime_seg.frame import Frame
from realtime_seg.pipeline.assemble import make_tracker, open_settings_segmenter, reconfigure
from realtime_seg.pipeline.processor import FrameProcessor, Processed
from realtime_seg.pipeline.settings import ProcessingSettings
from realtime_seg.postprocess.refine import Refiner
from realtime_seg.postprocess.types import MaskFrame
from realtime_seg.segmenter import Segmenter

logger = logging.getLogger(__name__)

StatusLevel = Literal["info", "warning", "error"]


@dataclass(frozen=True)
class LiveResult:
    """One frame through the live pipeline, immutable, safe to hand to another thread.

    ``processed`` is ``None`` when no model could be loaded (the output is then the camera frame).
    ``t_done - frame.t`` is the capture-to-output latency; the rates are measured over the last second.
    """

    frame: Frame
    processed: Processed | None
    t_done: float
    capture_fps: float
    processing_fps: float
    dropped: int
    effect: str

    def __post_init__(self) -> None:
        self.output.setflags(write=False)

    @property
    def index(self) -> int:
        return self.frame.index

    @property
    def t_capture(self) -> float:
        return self.frame.t

    @property
    def output(self) -> np.ndarray:
        return self.processed.output if self.processed is not None else self.frame.image

    @property
    def mask(self) -> MaskFrame | None:
        return self.processed.mask if self.processed is not None else None

    @property
    def timings_ms(self) -> dict[str, float]:
        return dict(self.processed.timings_ms) if self.processed is not None else {}

    @property
    def region_count(self) -> int | None:
        """Tracked regions in this frame; ``None`` when no tracker runs."""
        return len(self.processed.mask.regions) if self.processed is not None and self.processed.tracked else None

    @property
    def latency_ms(self) -> float:
        return (self.t_done - self.frame.t) * 1e3


@dataclass(frozen=True)
class LiveStatus:
    """A message for the user, plus the active backend and why (e.g. ``ONNX Runtime CPU: TensorRT not installed``)."""

    level: StatusLevel
    message: str
    backend: str = ""


SegmenterFactory = Callable[[ProcessingSettings], Segmenter]


class LivePipeline(Worker):
    """Owns the processing thread. ``on_result`` and ``on_status`` are called from that thread."""

    def __init__(
        self,
        slot: LatestFrameSlot,
        settings: ProcessingSettings,
        *,
        on_result: Callable[[LiveResult], None],
        on_status: Callable[[LiveStatus], None] | None = None,
        capture_fps: Callable[[], float] | None = None,
        segmenter_factory: SegmenterFactory = open_settings_segmenter,
    ) -> None:
        super().__init__("live-processing")
        self.slot = slot
        self.on_result, self.on_status = on_result, on_status
        self.capture_fps = capture_fps or (lambda: 0.0)
        self._open_segmenter = segmenter_factory
        self.meter = RateMeter()
        self.processed = 0
        self.backend_text = ""
        self._lock = threading.Lock()
        self._settings = settings  # what was asked for last
        self._pending: ProcessingSettings | None = settings
        self._active: ProcessingSettings | None = None  # what runs (after fallbacks)
        self._paused = threading.Event()
        self._reset = threading.Event()
        self._proc: FrameProcessor | None = None
        self.ready = threading.Event()  # set once the first settings were applied (model loaded or failed)

    # -- control (any thread) ------------------------------------------------------------------------
    @property
    def settings(self) -> ProcessingSettings:
        return self._settings

    @property
    def active(self) -> ProcessingSettings | None:
        """The settings in effect after fallbacks (``None`` before the thread applied any)."""
        return self._active

    def update(self, settings: ProcessingSettings | None = None, **changes: Any) -> ProcessingSettings:
        """Replace the settings (whole, or some fields); applied before the next frame."""
        with self._lock:
            new = settings if settings is not None else replace(self._settings, **changes)
            self._settings = self._pending = new
        return new

    def reset(self) -> None:
        """Forget the stream's history (temporal smoothing, tracks) before the next frame: a new source."""
        self._reset.set()

    def pause(self, paused: bool = True) -> None:
        (self._paused.set if paused else self._paused.clear)()

    @property
    def paused(self) -> bool:
        return self._paused.is_set()

    # -- the thread ------------------------------------------------------------------------------------
    def _status(self, level: StatusLevel, message: str) -> None:
        (logger.info if level == "info" else logger.warning)("%s", message)
        if self.on_status is not None:
            try:
                self.on_status(LiveStatus(level, message, self.backend_text))
            except Exception:
                logger.exception("status listener failed")

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                with self._lock:
                    pending, self._pending = self._pending, None
                if pending is not None:
                    self._apply(pending)
                    self.ready.set()
                if self._reset.is_set():
                    self._reset.clear()
                    if self._proc is not None:
                        self._proc.reset()
                if self._paused.is_set():
                    self._stop.wait(0.02)
                    continue
                frame = self.slot.get(timeout=0.05)
                if frame is not None and not self._stop.is_set():
                    self._process(frame)
        finally:
            self.ready.set()
            if self._proc is not None:
                self._proc.owns_segmenter = True  # the thread opened it: close it here, where it was made
                try:
                    self._proc.close()
                except Exception:
                    logger.exception("closing the processor failed")
                self._proc = None

    def _process(self, frame: Frame) -> None:
        processed = None
        if self._proc is not None:
            try:
                processed = self._proc.process(frame.image, frame.index, frame.t)
            except Exception as exc:
                self._status("error", f"processing frame {frame.index} failed: {exc}")
        t_done = time.monotonic()
        self.meter.tick(t_done)
        self.processed += 1
        effect = self._active.effect if self._active is not None and processed is not None else "none"
        result = LiveResult(
            frame, processed, t_done, self.capture_fps(), self.meter.rate, self.slot.dropped, effect
        )  # fmt: skip
        try:
            self.on_result(result)
        except Exception:
            logger.exception("result listener failed")

    def _apply(self, new: ProcessingSettings) -> None:
        """Bring the processor in line with ``new``; what fails to change keeps running, with a status."""
        old, proc = self._active, self._proc
        model = (new.model, new.backend, new.threads, new.precision)
        if old is None or proc is None or model != (old.model, old.backend, old.threads, old.precision):
            seg, new = self._load_segmenter(new)
            if seg is None:
                self._proc, self._active = None, new
                return
            if proc is None or old is None:
                self._proc, self._active = self._new_processor(seg, new), new
                return
            if proc.segmenter is not seg:
                proc.segmenter.close()
                proc.segmenter = seg
                proc.reset()
        try:
            reconfigure(proc, old, new)
        except Exception as exc:  # keep the running effect
            self._status("error", f"effect {new.effect!r} failed: {exc}")
            new = replace(new, effect=old.effect, effect_options=old.effect_options)
            reconfigure(proc, old, new)
        self._active = new

    def _new_processor(self, seg: Segmenter, s: ProcessingSettings) -> FrameProcessor:
        try:
            effect = s.create_effect()
        except Exception as exc:
            self._status("error", f"effect {s.effect!r} failed: {exc}")
            effect = create_effect("none")
        return FrameProcessor(seg, Refiner(s.refine), effect, tracker=make_tracker(s), every=s.every)

    def _load_segmenter(self, s: ProcessingSettings) -> tuple[Segmenter | None, ProcessingSettings]:
        """Open the requested model/backend; on failure fall back to the CPU backend, then to the last model."""
        old = self._active
        attempts = [s, replace(s, backend="cpu")]
        if old is not None and old.model != s.model:
            attempts.append(replace(s, model=old.model, backend="cpu"))
        errors: list[str] = []
        for attempt in attempts:
            if attempt.model == s.model and attempt.backend == s.backend and attempt is not s:
                continue  # ``cpu`` was asked for: no second try of the same thing
            try:
                seg = self._open_segmenter(attempt)
            except Exception as exc:
                errors.append(f"{attempt.model} on {attempt.backend}: {exc}")
                continue
            self.backend_text = backend_summary(seg)
            if errors:
                self._status("warning", "; ".join(errors) + f" - fell back to {self.backend_text}")
            else:
                self._status("info", f"model {seg.spec.name} on {self.backend_text}")
            return seg, attempt
        if self._proc is not None and old is not None:
            self._status("error", "; ".join(errors) + f" - keeping {old.model}")
            return self._proc.segmenter, replace(s, model=old.model, backend=old.backend)
        self.backend_text = "no model loaded"
        self._status("error", "; ".join(errors) + " - showing the camera unprocessed")
        return None, s


def backend_summary(seg: Segmenter) -> str:
    """e.g. ``ONNX Runtime CPU (1 thread): auto: TensorRT not installed``."""
    return f"{seg.backend.description}: {seg.choice.reason}"


__all__ = ["LivePipeline", "LiveResult", "LiveStatus", "backend_summary"]
