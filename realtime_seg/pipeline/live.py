"""The live pipeline: a processing thread that takes the newest captured frame and emits one result. Qt-free.

- It never builds a backlog: it takes the newest frame from a :class:`LatestFrameSlot` (frames that
  arrive while it works replace each other there) and hands each result to ``on_result`` at once.
- Settings change at runtime through :meth:`LivePipeline.update`; the thread applies them between frames,
  so a frame is always processed with one consistent setting (see :func:`~realtime_seg.pipeline.assemble.reconfigure`).
- Backends (and any CUDA context) are created, used and closed inside the processing thread. A model or
  backend that fails to load is reported through ``on_status`` and replaced by ONNX Runtime on the CPU.
- The model ``auto`` is picked from the frame size (:func:`~realtime_seg.models.registry.auto_model`) when the
  first frame arrives, and again when a new source has another shape; :attr:`LivePipeline.active` names the pick.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from realtime_seg.capture.slot import LatestFrameSlot
from realtime_seg.capture.thread import RateMeter, Worker
from realtime_seg.frame import Frame
from realtime_seg.models.registry import AUTO_MODEL, auto_model, resolve_auto
from realtime_seg.pipeline.assemble import make_crop, open_processor, open_settings_segmenter, reconfigure
from realtime_seg.pipeline.live_types import LiveResult, LiveStatus, StatusLevel, short_error
from realtime_seg.pipeline.processor import FrameProcessor
from realtime_seg.pipeline.settings import ProcessingSettings
from realtime_seg.segmenter import Segmenter

logger = logging.getLogger(__name__)

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
        fallback_model: str | None = None,
    ) -> None:
        """``fallback_model``: tried when the requested model fails and no earlier one runs (the app: ``auto``,
        so a saved model that broke since does not leave it without one)."""
        super().__init__("live-processing")
        self.slot = slot
        self.on_result, self.on_status = on_result, on_status
        self.capture_fps = capture_fps or (lambda: 0.0)
        self._open_segmenter = segmenter_factory
        self.meter = RateMeter()
        self.processed = 0
        self.backend_text = ""
        self.model_text = ""  # the model that runs ("" when none)
        self.fallback_model = fallback_model
        self._size_wh: tuple[int, int] | None = None  # of the last frame, for the model "auto"
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
    def _status(self, level: StatusLevel, message: str, details: str = "", failed: str = "") -> None:
        (logger.info if level == "info" else logger.warning)("%s", details or message)
        if self.on_status is not None:
            try:
                self.on_status(LiveStatus(level, message, self.backend_text, self.model_text, details, failed))
            except Exception:
                logger.exception("status listener failed")

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._apply_pending()
                if self._reset.is_set():
                    self._reset.clear()
                    if self._proc is not None:
                        self._proc.reset()
                if self._paused.is_set():
                    self._stop.wait(0.02)
                    continue
                frame = self.slot.get(timeout=0.05)
                if frame is not None and not self._stop.is_set():
                    if self._frame_size_changed(frame):
                        self._apply_pending()
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

    def _apply_pending(self) -> None:
        with self._lock:
            pending, size = self._pending, self._size_wh
            if pending is None or (AUTO_MODEL in (pending.model, self.fallback_model) and size is None):
                return  # "auto" (asked for, or the fallback) waits for the first frame's size
            self._pending = None
        if size is not None:
            pending = replace(pending, model=resolve_auto(pending.model, size, pending.backend))
        self._apply(pending)
        self.ready.set()

    def _frame_size_changed(self, frame: Frame) -> bool:
        """Note the frame's size; True when settings are pending for it (the first frame, or ``auto`` on a
        source of another shape)."""
        h, w = frame.image.shape[:2]
        if (w, h) == self._size_wh:
            return False
        with self._lock:
            self._size_wh = (w, h)
            active = self._active
            auto = self._settings.model == AUTO_MODEL
            chosen = auto_model((w, h), self._settings.backend) if auto else None
            if self._pending is None and auto and (active is None or active.model != chosen):
                self._pending = self._settings
            return self._pending is not None

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
                self._proc, self._active = self._new_processor(seg, new)
                return
            if proc.segmenter is not seg:
                proc.segmenter.close()
                proc.segmenter = seg
                proc.crop = make_crop(new, seg.spec)
                proc.reset()
        try:
            reconfigure(proc, old, new)
        except Exception as exc:  # keep the running effect
            self._status("error", f"effect {new.effect!r} failed: {exc}")
            new = replace(new, effect=old.effect, effect_options=old.effect_options)
            reconfigure(proc, old, new)
        self._active = new

    def _new_processor(self, seg: Segmenter, s: ProcessingSettings) -> tuple[FrameProcessor, ProcessingSettings]:
        """The processor around the loaded ``seg``, and the settings it runs (no effect if ``s``'s fails)."""
        try:
            return open_processor(s, segmenter=seg), s
        except Exception as exc:
            self._status("error", f"effect {s.effect!r} failed: {exc}")
            s = replace(s, effect="none", effect_options={})
            return open_processor(s, segmenter=seg), s

    def _load_segmenter(self, s: ProcessingSettings) -> tuple[Segmenter | None, ProcessingSettings]:
        """Open the requested model/backend; on failure fall back to the CPU backend, then to the running model
        (or, when none runs yet, to ``fallback_model``). One status says what runs; ``details`` every error."""
        old = self._active
        errors: list[tuple[ProcessingSettings, Exception]] = []
        seg, used = self._open_first(s, errors)
        if seg is not None:
            if errors:
                message = f"{short_error(errors[0][1])} - fell back to {self.backend_text}"
                self._status("warning", message, _details(errors))
            else:
                self._status("info", f"model {seg.spec.name} on {self.backend_text}")
            return seg, used
        label = _model_label(s.model)
        reason = short_error(errors[-1][1])
        if reason.startswith(f"{label} "):  # "x.onnx is not an ONNX model": say it once
            failed = f"model {reason}"
        else:
            failed = f"model {label} could not be loaded: {reason}"
        if self._proc is not None and old is not None:
            self.model_text = old.model
            self._status("error", f"{failed} - still running {_model_label(old.model)}", _details(errors), s.model)
            return self._proc.segmenter, replace(s, model=old.model, backend=old.backend)
        fallback = resolve_auto(self.fallback_model, self._size_wh or (1, 1)) if self.fallback_model else None
        if fallback is not None and fallback != s.model:
            seg, used = self._open_first(replace(s, model=fallback), errors)
            if seg is not None:
                self._status("error", f"{failed} - running {fallback} instead", _details(errors), s.model)
                return seg, used
        self.backend_text, self.model_text = "no model loaded", ""
        self._status("error", f"{failed} - showing the video unprocessed", _details(errors), s.model)
        return None, s

    def _open_first(
        self, s: ProcessingSettings, errors: list[tuple[ProcessingSettings, Exception]]
    ) -> tuple[Segmenter | None, ProcessingSettings]:
        """``s``, else ``s`` on the CPU backend: the first that opens (its errors appended to ``errors``)."""
        for attempt in (s,) if s.backend == "cpu" else (s, replace(s, backend="cpu")):
            try:
                seg = self._open_segmenter(attempt)
            except Exception as exc:
                errors.append((attempt, exc))
                continue
            self.backend_text, self.model_text = backend_summary(seg), attempt.model
            return seg, attempt
        return None, s


def _model_label(model: str) -> str:
    return model.replace("\\", "/").rsplit("/", 1)[-1]


def _details(errors: list[tuple[ProcessingSettings, Exception]]) -> str:
    return "\n".join(f"{s.model} on the {s.backend} backend: {exc}" for s, exc in errors)


def backend_summary(seg: Segmenter) -> str:
    """e.g. ``ONNX Runtime CPU (1 thread): auto: TensorRT not installed``."""
    return f"{seg.backend.description}: {seg.choice.reason}"


__all__ = ["LivePipeline", "LiveResult", "LiveStatus", "backend_summary", "short_error"]
