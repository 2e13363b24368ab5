"""The live pipeline: a processing thread that takes the newest captured frame and emits one result. Qt-free.

- It never builds a backlog: it takes the newest frame from a :class:`LatestFrameSlot` (frames that
  arrive while it works replace each other there) and hands each result to ``on_result`` at once.
- Settings (effect, refinement, model, backend, outlines) change at runtime through :meth:`update`; the
  thread applies them between frames, so a frame is always processed with one consistent setting.
- Backends (and any CUDA context) are created, used and closed inside the processing thread. A model or
  backend that fails to load is reported through ``on_status`` and replaced by ONNX Runtime on the CPU.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from realtime_seg.capture.slot import CapturedFrame, LatestFrameSlot
from realtime_seg.capture.thread import RateMeter, Worker
from realtime_seg.effects import create_effect, effect_names
from realtime_seg.effects.base import Effect
from realtime_seg.models.registry import DEFAULT_MODEL
from realtime_seg.pipeline.processor import FrameProcessor, Tracker
from realtime_seg.postprocess.refine import RefineConfig, Refiner
from realtime_seg.postprocess.types import MaskFrame
from realtime_seg.segmenter import Segmenter

logger = logging.getLogger(__name__)

#: the effects the app offers, in hotkey order (1-6); those not installed are skipped
EFFECT_ORDER = ("none", "blur", "replace", "overlay", "outline", "mask")

StatusLevel = Literal["info", "warning", "error"]

#: the backend name the pipeline falls back to: ONNX Runtime with the CPU provider only
CPU_FALLBACK = "onnxruntime-cpu"


def available_effects() -> tuple[str, ...]:
    have = set(effect_names())
    return tuple(n for n in EFFECT_ORDER if n in have) + tuple(n for n in effect_names() if n not in EFFECT_ORDER)


def _tracker_class() -> Any | None:
    """The region tracker class, or ``None`` in a build without one."""
    try:
        module = importlib.import_module("realtime_seg.tracking")
    except ImportError:
        return None
    return getattr(module, "RegionTracker", None)


def tracker_available() -> bool:
    return _tracker_class() is not None


@dataclass(frozen=True)
class LiveSettings:
    """Everything the processing thread needs; replaced as a whole (never mutated) on a change."""

    model: str = DEFAULT_MODEL
    backend: str = "auto"
    threads: int | None = None
    effect: str = "none"
    effect_options: Mapping[str, Any] = field(default_factory=dict)
    refine: RefineConfig = field(default_factory=RefineConfig)
    outlines: bool = False

    def __post_init__(self) -> None:
        if not self.model:
            raise ValueError("model must be a name or a path, got an empty string")
        if self.threads is not None and self.threads < 0:
            raise ValueError(f"threads must be >= 0 (0: ONNX Runtime's default) or None, got {self.threads}")
        object.__setattr__(self, "effect_options", MappingProxyType(dict(self.effect_options)))


@dataclass(frozen=True)
class LiveResult:
    """One processed frame, immutable, safe to hand to another thread.

    ``latency_ms`` runs from the frame's capture to the end of its processing; ``regions`` is the tracked
    region count (``None`` when no tracker runs). ``mask`` is ``None`` only when no model could be loaded.
    """

    index: int
    output: np.ndarray
    mask: MaskFrame | None
    regions: int | None
    timings_ms: Mapping[str, float]
    t_capture: float
    t_done: float
    capture_fps: float
    processing_fps: float
    dropped: int
    effect: str

    def __post_init__(self) -> None:
        out = self.output
        if out.dtype != np.uint8 or out.ndim != 3 or out.shape[2] != 3:
            raise ValueError(f"output must be BGR uint8 (H, W, 3), got {out.dtype} {out.shape}")
        if out.flags.writeable:
            out = out if out.flags.owndata else out.copy()
            out.setflags(write=False)
            object.__setattr__(self, "output", out)
        object.__setattr__(self, "timings_ms", MappingProxyType(dict(self.timings_ms)))

    @property
    def latency_ms(self) -> float:
        return (self.t_done - self.t_capture) * 1e3


@dataclass(frozen=True)
class LiveStatus:
    """A message for the user, plus the active backend and why (e.g. ``ONNX Runtime CPU: TensorRT not installed``)."""

    level: StatusLevel
    message: str
    backend: str = ""


class LivePipeline(Worker):
    """Owns the processing thread. ``on_result`` and ``on_status`` are called from that thread."""

    def __init__(
        self,
        slot: LatestFrameSlot,
        settings: LiveSettings,
        *,
        on_result: Callable[[LiveResult], None],
        on_status: Callable[[LiveStatus], None] | None = None,
        capture_fps: Callable[[], float] | None = None,
        segmenter_factory: Callable[[str, str, int | None], Segmenter] | None = None,
    ) -> None:
        self.slot = slot
        self.on_result, self.on_status = on_result, on_status
        self.capture_fps = capture_fps or (lambda: 0.0)
        self._open_segmenter = segmenter_factory or _default_segmenter
        self.meter = RateMeter()
        self.processed = 0
        self.backend_text = ""
        self._settings = settings
        self._active: LiveSettings | None = None  # what runs (after fallbacks)
        self._requested: LiveSettings | None = None  # what was last asked for
        self._pending: LiveSettings | None = settings
        self._lock = threading.Lock()
        super().__init__("live-processing")
        self._paused = threading.Event()
        self._reset = threading.Event()
        self._proc: FrameProcessor | None = None
        self._segmenter: Segmenter | None = None
        self.ready = threading.Event()  # set once the first settings were applied (model loaded or failed)

    # -- control (any thread) ------------------------------------------------------------------------
    @property
    def settings(self) -> LiveSettings:
        return self._settings

    @property
    def active(self) -> LiveSettings | None:
        """The settings in effect after fallbacks (``None`` before the thread applied any)."""
        return self._active

    def update(self, settings: LiveSettings | None = None, **changes: Any) -> LiveSettings:
        """Replace the settings (whole, or some fields); applied before the next frame."""
        with self._lock:
            new = settings if settings is not None else replace(self._settings, **changes)
            self._settings = new
            self._pending = new
        return new

    def reset(self) -> None:
        """Forget the stream's history (temporal smoothing, tracks) before the next frame: a new source."""
        self._reset.set()

    def pause(self, paused: bool = True) -> None:
        if paused:
            self._paused.set()
        else:
            self._paused.clear()

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
                        if self._proc.tracker is not None and self._active is not None:
                            self._proc.tracker = self._make_tracker(self._active, self._active.effect)
                if self._paused.is_set():
                    self._stop.wait(0.02)
                    continue
                frame = self.slot.get(timeout=0.05)
                if frame is None or self._stop.is_set():
                    continue
                self._process(frame)
        finally:
            self.ready.set()
            if self._proc is not None:
                _close_effect(self._proc.effect)
            if self._segmenter is not None:
                try:
                    self._segmenter.close()
                except Exception:
                    logger.exception("closing the segmenter failed")
                self._segmenter = None

    def _process(self, frame: CapturedFrame) -> None:
        active = self._active
        effect = active.effect if active else "none"
        try:
            if self._proc is not None:
                p = self._proc.process(frame.image, frame.index, frame.t_capture)
                output, mask, timings = p.output, p.mask, dict(p.timings_ms)
                regions = len(p.mask.regions) if self._proc.tracker is not None else None
            else:  # no model could be loaded: show the camera as it is
                output, mask, timings, regions = frame.image, None, {}, None
        except Exception as exc:
            self._status("error", f"processing frame {frame.index} failed: {exc}")
            output, mask, timings, regions = frame.image, None, {}, None
        t_done = time.monotonic()
        self.meter.tick(t_done)
        self.processed += 1
        result = LiveResult(
            index=frame.index,
            output=output,
            mask=mask,
            regions=regions,
            timings_ms=timings,
            t_capture=frame.t_capture,
            t_done=t_done,
            capture_fps=self.capture_fps(),
            processing_fps=self.meter.rate,
            dropped=self.slot.dropped,
            effect=effect,
        )
        try:
            self.on_result(result)
        except Exception:
            logger.exception("result listener failed")

    def _apply(self, new: LiveSettings) -> None:
        """Bring the processor in line with ``new``, keeping what did not change (and what fails to change)."""
        old = self._requested  # compare with what was asked for, not with what a fallback made of it
        self._requested = new
        applied = new
        seg = self._segmenter
        if old is None or (new.model, new.backend, new.threads) != (old.model, old.backend, old.threads):
            seg, (model, backend) = self._load_segmenter(new)
            applied = replace(applied, model=model, backend=backend)
        if seg is None:
            self._proc = None
            self._active = applied
            return
        if old is None or self._proc is None:
            refiner = Refiner(new.refine)
            effect = self._make_effect(new)
            if effect is None:
                effect, applied = create_effect("none"), replace(applied, effect="none")
            tracker = self._make_tracker(applied, effect_name=applied.effect)
            self._proc = FrameProcessor(seg, refiner, effect, tracker=tracker)
        else:
            proc = self._proc
            proc.segmenter = seg
            if new.refine != old.refine:
                proc.refiner = Refiner(new.refine)
            if (new.effect, new.effect_options, new.outlines) != (old.effect, old.effect_options, old.outlines):
                effect = self._make_effect(new)
                if effect is None and self._active is not None:  # keep the running effect
                    applied = replace(applied, effect=self._active.effect, effect_options=self._active.effect_options)
                elif effect is not None:
                    _close_effect(proc.effect)
                    proc.effect = effect
            wants_tracker = self._wants_tracker(applied)
            if wants_tracker and proc.tracker is None:
                proc.tracker = self._make_tracker(applied, effect_name=applied.effect)
            elif not wants_tracker:
                proc.tracker = None
        self._active = applied

    @staticmethod
    def _wants_tracker(s: LiveSettings) -> bool:
        return s.outlines or s.effect == "outline"

    def _make_tracker(self, s: LiveSettings, effect_name: str) -> Tracker | None:
        if not (s.outlines or effect_name == "outline"):
            return None
        cls = _tracker_class()
        if cls is None:
            self._status("warning", "outlines need the region tracker, which this build does not have")
            return None
        tracker: Tracker = cls()
        return tracker

    def _make_effect(self, s: LiveSettings) -> Effect | None:
        """The effect for ``s`` (with outlines stacked on top when switched on); ``None`` if it fails."""
        try:
            name = s.effect
            if s.outlines and s.effect != "outline" and "outline" in effect_names():
                name = f"{s.effect}+outline"  # outlines drawn on the effect's output
            effect = create_effect(name, **dict(s.effect_options))
        except Exception as exc:
            self._status("error", f"effect {s.effect!r} failed: {exc}")
            return None
        return effect

    def _load_segmenter(self, s: LiveSettings) -> tuple[Segmenter | None, tuple[str, str]]:
        """Open the requested model/backend; on failure fall back to ONNX Runtime CPU, then to the last model."""
        old_seg = self._segmenter
        old = self._active
        attempts: list[tuple[str, str]] = [(s.model, s.backend), (s.model, CPU_FALLBACK)]
        if old is not None and old.model != s.model:
            attempts.append((old.model, CPU_FALLBACK))
        errors: list[str] = []
        for model, backend in attempts:
            try:
                seg = self._open_segmenter(model, backend, s.threads)
            except Exception as exc:
                errors.append(f"{model} on {backend}: {exc}")
                continue
            if old_seg is not None and old_seg is not seg:
                old_seg.close()
            self._segmenter = seg
            self.backend_text = backend_summary(seg)
            if errors:
                self._status("warning", "; ".join(errors) + f" - fell back to {self.backend_text}")
            else:
                self._status("info", f"model {seg.spec.name} on {self.backend_text}")
            return seg, (model, backend)
        if old_seg is not None and old is not None:
            self._status("error", "; ".join(errors) + f" - keeping {old.model}")
            return old_seg, (old.model, old.backend)
        self.backend_text = "no model loaded"
        self._status("error", "; ".join(errors) + " - showing the camera unprocessed")
        return None, (s.model, s.backend)


def _close_effect(effect: Effect) -> None:
    """Release what an effect holds (a background video's decoder), stacked effects included."""
    for e in getattr(effect, "effects", (effect,)):
        close = getattr(e, "close", None)
        if callable(close):
            try:
                close()
            except Exception:
                logger.exception("closing effect %s failed", getattr(e, "name", e))


def backend_summary(seg: Segmenter) -> str:
    """e.g. ``ONNX Runtime CPU (default threads): auto: TensorRT not installed``."""
    return f"{seg.backend.description}: {seg.choice.reason}"


def _default_segmenter(model: str, backend: str, threads: int | None) -> Segmenter:
    """Open a segmenter; ``backend=CPU_FALLBACK`` means ONNX Runtime's CPU provider only (works everywhere)."""
    from realtime_seg.backends.onnxruntime import OnnxRuntimeBackend
    from realtime_seg.backends.select import BackendChoice
    from realtime_seg.models.registry import resolve_model
    from realtime_seg.segmenter import open_segmenter

    if backend != CPU_FALLBACK:
        return open_segmenter(model, backend, threads=threads)
    spec = resolve_model(model)
    if spec.onnx_path is None:  # pragma: no cover - resolve_model always sets it
        raise ValueError(f"model {model!r} has no ONNX file")
    be = OnnxRuntimeBackend(spec.onnx_path, spec.input_shape, threads=threads, providers=("CPUExecutionProvider",))
    seg = Segmenter(spec, be, BackendChoice("onnxruntime", "CPU fallback"))
    seg.open()
    return seg


def refine_config(**values: Any) -> RefineConfig:
    """A :class:`RefineConfig` from the app's controls, ignoring knobs this build's refiner does not have."""
    known = {f.name for f in dataclasses.fields(RefineConfig)}
    return RefineConfig(**{k: v for k, v in values.items() if k in known})


def effect_options(
    effect: str,
    *,
    strength: float | None = None,
    background: str = "",
    color_bgr: tuple[int, int, int] | None = None,
    alpha: float | None = None,
) -> dict[str, Any]:
    """Constructor options for ``effect`` from the app's controls: blur ``strength``, a ``background``
    image or video file (by its suffix; empty: ``color_bgr``), overlay ``alpha``. Controls the effect
    does not use are left out, so one call serves every effect."""
    from realtime_seg.effects.replace import IMAGE_SUFFIXES

    if effect == "blur" and strength is not None:
        return {"strength": float(strength)}
    if effect == "replace":
        if background:
            kind = "image" if Path(background).suffix.lower() in IMAGE_SUFFIXES else "video"
            return {kind: background}
        return {"color": tuple(color_bgr)} if color_bgr is not None else {}
    if effect == "overlay" and alpha is not None:
        return {"alpha": float(alpha)}
    return {}
