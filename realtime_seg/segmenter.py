"""The segmenter: preprocess per spec -> backend -> postprocess into a frozen :class:`SegResult`."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType, TracebackType

import cv2
import numpy as np

from realtime_seg.backends.base import Backend
from realtime_seg.backends.select import BackendChoice, create_backend
from realtime_seg.errors import InputError
from realtime_seg.models.preprocess import mediapipe_resize, resize_probability
from realtime_seg.models.registry import AUTO_MODEL, DEFAULT_MODEL, resolve_model
from realtime_seg.models.spec import ModelSpec

logger = logging.getLogger(__name__)

_CV2_INTERP = {"linear": cv2.INTER_LINEAR, "area": cv2.INTER_AREA, "nearest": cv2.INTER_NEAREST}


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a, copy=True) if a.flags.writeable or not a.flags.owndata else a
    a.setflags(write=False)
    return a


@dataclass(frozen=True)
class SegResult:
    """One frame's segmentation at model resolution, plus helpers to get it at frame size.

    ``probs`` is float32 ``(H, W)`` foreground probability for ``probability`` models, float32
    ``(C, H, W)`` class probabilities for ``logits`` models, and integer ``(H, W)`` labels for
    ``labels`` models. Arrays are read-only copies: a result can cross threads safely.
    """

    frame_index: int
    probs: np.ndarray
    frame_size_wh: tuple[int, int]
    spec: ModelSpec
    timings_ms: Mapping[str, float] = field(default_factory=dict)
    #: the model's predicted foreground colour, float32 RGB ``(H, W, 3)`` in [0, 1] at model
    #: resolution, for models with an output of kind foreground (RVM's ``fgr``); else ``None``
    foreground: np.ndarray | None = None

    def __post_init__(self) -> None:
        kind = self.spec.output_kind
        p = self.probs
        if kind == "logits":
            if p.ndim != 3 or p.shape[0] != self.spec.num_classes:
                raise ValueError(
                    f"probs must have shape (C={self.spec.num_classes}, H, W) for a logits model, got {p.shape}"
                )
        elif p.ndim != 2:
            raise ValueError(f"probs must have shape (H, W) for a {kind} model, got {p.shape}")
        if kind != "labels" and p.dtype != np.float32:
            raise ValueError(f"probs must be float32 for a {kind} model, got {p.dtype}")
        w, h = self.frame_size_wh
        if w <= 0 or h <= 0:
            raise ValueError(f"frame_size_wh must be positive (width, height), got {self.frame_size_wh}")
        object.__setattr__(self, "probs", _readonly(p))
        fg = self.foreground
        if fg is not None:
            if fg.shape != (*p.shape[-2:], 3) or fg.dtype != np.float32:
                raise ValueError(
                    f"foreground must be float32 of shape {(*p.shape[-2:], 3)} (the probs' size, RGB), "
                    f"got {fg.dtype} {fg.shape}"
                )
            object.__setattr__(self, "foreground", _readonly(fg))
        object.__setattr__(self, "timings_ms", MappingProxyType(dict(self.timings_ms)))

    def alpha(self, size_wh: tuple[int, int] | None = None) -> np.ndarray:
        """Foreground alpha in [0, 1], float32 ``(H, W)`` at ``size_wh`` (default: frame size)."""
        size = size_wh or self.frame_size_wh
        kind = self.spec.output_kind
        if kind == "probability":
            small = self.probs
        elif kind == "logits":
            small = self.probs[list(self.spec.foreground_classes)].sum(axis=0)
        else:
            small = np.isin(self.probs, self.spec.foreground_classes).astype(np.float32)
            return cv2.resize(small, size, interpolation=cv2.INTER_NEAREST)
        return np.clip(resize_probability(small, size), 0.0, 1.0)

    def labels(self, size_wh: tuple[int, int] | None = None) -> np.ndarray:
        """Class index per pixel, uint8 ``(H, W)`` at ``size_wh`` (default: frame size)."""
        size = size_wh or self.frame_size_wh
        kind = self.spec.output_kind
        if kind == "probability":
            return (self.alpha(size) >= 0.5).astype(np.uint8)
        if kind == "labels":
            return cv2.resize(self.probs.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
        up = np.stack([resize_probability(c, size) for c in self.probs])
        return np.argmax(up, axis=0).astype(np.uint8)


#: a dynamic-size model's working resolution targets this long side by default: RVM's authors advise
#: a downsample ratio of 0.375 for 1280x720 and 0.25 for 1920x1080 portrait footage (480 / long side),
#: 0.125 for 4K, and 1 up to 512x512
WORKING_LONG_SIDE = 480
#: a recurrent model's state restarts when the model input's mean absolute change from the previous frame
#: reaches this many grey levels (of 255): a scene cut. Conservative: consecutive frames differ by a few
#: levels, fast pans by 10-20; a missed cut only costs RVM a few frames to settle, a false one a flicker.
SCENE_CUT_LEVELS = 40.0


def working_size(frame_wh: tuple[int, int], downsample: float | None = None) -> tuple[int, int]:
    """The working resolution ``(w, h)`` of a dynamic-size model for a frame of ``frame_wh``.

    ``downsample`` is the ratio (``--downsample``); ``None`` picks ``min(1, 480 / long side)``, the
    authors' advice for portraits (full-body shots gain from about 1.6x that: ``--downsample``).
    """
    w, h = frame_wh
    if downsample is None:
        ratio = min(1.0, WORKING_LONG_SIDE / max(w, h))
    else:
        if not 0.0 < downsample <= 1.0:
            raise InputError(f"downsample ratio must be in (0, 1], got {downsample}")
        ratio = downsample
    return (max(16, int(round(w * ratio))), max(16, int(round(h * ratio))))


class Segmenter:
    """Runs one model on BGR uint8 frames. Owns its backend; close it (or use ``with``) when done.

    A recurrent model's state belongs to the segmenter, for one stream: it starts at zeros, carries
    over from one :meth:`segment` call to the next, and starts again at zeros after :meth:`reset`
    (a new source, a seek, a model switch) and whenever the working resolution changes.
    """

    def __init__(
        self,
        spec: ModelSpec,
        backend: Backend,
        choice: BackendChoice | None = None,
        *,
        downsample: float | None = None,
        scene_cut: float | None = SCENE_CUT_LEVELS,
    ) -> None:
        self.spec = spec
        self.backend = backend
        self.choice = choice or BackendChoice(backend.name, "given")
        if downsample is not None and not 0.0 < downsample <= 1.0:
            raise InputError(f"downsample ratio must be in (0, 1], got {downsample}")
        if downsample is not None and not spec.dynamic_size:
            logger.warning("model %s has a fixed input size; --downsample %.3g is ignored", spec.name, downsample)
        self.downsample = downsample
        self.scene_cut = scene_cut
        self._prev_thumb: np.ndarray | None = None
        self._state_live = False  # the backend holds this stream's state (else: zeros on the next frame)
        self._state_size: tuple[int, int] | None = None
        #: how many times the recurrent state started from zeros (tests and logs)
        self.state_resets = 0
        lo, hi = spec.value_range
        self._scale = np.float32((hi - lo) / 255.0)
        self._offset = np.float32(lo)
        self._mean = np.asarray(spec.mean, np.float32)
        self._std = np.asarray(spec.std, np.float32)
        self._plain_norm = bool(np.all(self._mean == 0) and np.all(self._std == 1))

    # -- lifecycle -------------------------------------------------------------------------------
    def open(self) -> Segmenter:
        if not self.backend.is_open:
            self.backend.open()
        return self

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> Segmenter:
        return self.open()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- recurrent state ---------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the recurrent state (a new source, a seek, a scene cut); a no-op for other models."""
        self._state_live = False
        self._state_size = None
        self._prev_thumb = None

    def _is_scene_cut(self, tensor: np.ndarray) -> bool:
        """Whether the model input changed like a cut since the last frame (recurrent models only)."""
        if self.scene_cut is None:
            return False
        axis = 1 if self.spec.layout == "NCHW" else 3
        thumb = tensor.mean(axis=axis)  # grey at the model's resolution, in the spec's value range
        prev, self._prev_thumb = self._prev_thumb, thumb
        if prev is None or prev.shape != thumb.shape:
            return False
        lo, hi = self.spec.value_range
        change = float(np.abs(thumb - prev).mean()) * 255.0 / abs(hi - lo)
        return change >= self.scene_cut

    def model_size(self, frame_wh: tuple[int, int]) -> tuple[int, int]:
        """The model input size ``(w, h)`` for a frame of ``frame_wh``."""
        if self.spec.dynamic_size:
            return working_size(frame_wh, self.downsample)
        return self.spec.input_size_wh

    def _state_starts(self, size_wh: tuple[int, int]) -> bool:
        """Whether this frame starts the recurrent state from zeros (after a reset, or at a new working size)."""
        if self._state_live and self._state_size == size_wh:
            return False
        if self._state_live:
            logger.info(
                "%s: working resolution %s -> %s, recurrent state reset", self.spec.name, self._state_size, size_wh
            )
        self._state_live, self._state_size = True, size_wh
        self.state_resets += 1
        return True

    # -- stages ----------------------------------------------------------------------------------
    def preprocess(self, frame_bgr: np.ndarray, size_wh: tuple[int, int] | None = None) -> np.ndarray:
        """BGR uint8 frame -> the model's input tensor (batch 1), per the spec (at ``size_wh`` if given)."""
        if not isinstance(frame_bgr, np.ndarray) or frame_bgr.dtype != np.uint8:
            raise InputError(f"frame must be a uint8 numpy array, got {getattr(frame_bgr, 'dtype', type(frame_bgr))}")
        if frame_bgr.ndim == 2:
            frame_bgr = cv2.cvtColor(frame_bgr, cv2.COLOR_GRAY2BGR)
        if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3:
            raise InputError(f"frame must have shape (H, W, 3) BGR, got {frame_bgr.shape}")
        size = size_wh or self.spec.input_size_wh
        if self.spec.resample == "mediapipe":
            small = mediapipe_resize(frame_bgr, size)
        else:
            small = cv2.resize(frame_bgr, size, interpolation=_CV2_INTERP[self.spec.resample])
        if self.spec.color_order == "RGB":
            small = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
        x = small.astype(np.float32)
        x *= self._scale
        x += self._offset
        if not self._plain_norm:
            x -= self._mean
            x /= self._std
        if self.spec.layout == "NCHW":
            x = x.transpose(2, 0, 1)
        return np.ascontiguousarray(x[None])

    def postprocess(self, raw: np.ndarray) -> np.ndarray:
        """The backend's output -> ``SegResult.probs`` (a fresh array, safe to keep)."""
        kind = self.spec.output_kind
        out = np.asarray(raw)[0]
        if kind == "labels":
            return np.array(out.reshape(out.shape[-2:]) if out.ndim == 3 else out, copy=True)
        if self.spec.layout == "NHWC" and out.ndim == 3:
            out = out.transpose(2, 0, 1)
        if kind == "probability":
            return np.array(out.reshape(out.shape[-2:]), dtype=np.float32, copy=True)
        logits = out.astype(np.float32)
        logits = logits - logits.max(axis=0, keepdims=True)
        e = np.exp(logits)
        return (e / e.sum(axis=0, keepdims=True)).astype(np.float32)

    def segment(self, frame_bgr: np.ndarray, frame_index: int = 0) -> SegResult:
        if self.spec.named_io or self.spec.dynamic_size:
            return self._segment_named(frame_bgr, frame_index)
        t0 = time.perf_counter()
        tensor = self.preprocess(frame_bgr)
        t1 = time.perf_counter()
        raw = self.backend.infer(tensor)
        t2 = time.perf_counter()
        probs = self.postprocess(raw)
        t3 = time.perf_counter()
        h, w = frame_bgr.shape[:2]
        timings = {"preprocess": (t1 - t0) * 1e3, "infer": (t2 - t1) * 1e3, "postprocess": (t3 - t2) * 1e3}
        return SegResult(frame_index, probs, (w, h), self.spec, timings)

    def _segment_named(self, frame_bgr: np.ndarray, frame_index: int) -> SegResult:
        """Models with named inputs/outputs: a dynamic working size, recurrent state, a foreground output."""
        spec = self.spec
        t0 = time.perf_counter()
        h, w = frame_bgr.shape[:2]
        size = self.model_size((w, h))
        tensor = self.preprocess(frame_bgr, size)
        graph_inputs = self.backend.input_names
        feeds = {spec.input_name or (graph_inputs[0] if graph_inputs else "input"): tensor}
        start = False
        if spec.states:
            if self._is_scene_cut(tensor) and self._state_live:
                logger.debug("frame %d: scene cut, recurrent state reset", frame_index)
                self._state_live = False
            start = self._state_starts(size)
        for name, value in spec.scalar_inputs:
            feeds[name] = np.array(value, np.float32)
        graph_outputs = self.backend.output_names
        alpha_name = spec.alpha_output or (graph_outputs[0] if graph_outputs else "output")
        names = [alpha_name] + ([spec.foreground_output] if spec.foreground_output else [])
        t1 = time.perf_counter()
        if spec.states:  # the backend carries the state from call to call (on the device, where it can)
            outs = self.backend.run_recurrent(feeds, names, spec.states, size, spec.layout, start=start)
        else:
            outs = self.backend.run(feeds, names)
        t2 = time.perf_counter()
        got = dict(zip(names, outs, strict=True))
        probs = self.postprocess(got[alpha_name])
        foreground = None
        if spec.foreground_output:
            fg = np.asarray(got[spec.foreground_output])[0]
            fg = fg.transpose(1, 2, 0) if spec.layout == "NCHW" else fg
            if spec.color_order == "BGR":
                fg = fg[:, :, ::-1]
            foreground = np.clip(fg, 0.0, 1.0).astype(np.float32)
        t3 = time.perf_counter()
        timings = {"preprocess": (t1 - t0) * 1e3, "infer": (t2 - t1) * 1e3, "postprocess": (t3 - t2) * 1e3}
        return SegResult(frame_index, probs, (w, h), spec, timings, foreground)

    @property
    def description(self) -> str:
        return f"{self.spec.name} on {self.backend.description} [{self.choice.reason}]"


def choose_auto_model(backend: str = "auto") -> str:
    """``auto`` where the frame size is not known yet: ``rvm`` when TensorRT is in use and rvm is fetched
    (:func:`~realtime_seg.models.registry.auto_prefers_rvm`), else the default model."""
    from realtime_seg.models.registry import auto_prefers_rvm

    rvm_wanted, why = auto_prefers_rvm(backend)
    logger.info("--model auto: %s (%s)", "rvm" if rvm_wanted else DEFAULT_MODEL, why)
    return "rvm" if rvm_wanted else DEFAULT_MODEL


def open_segmenter(
    model: str | Path = DEFAULT_MODEL,
    backend: str = "auto",
    *,
    threads: int | None = None,
    precision: str = "fp32",
    downsample: float | None = None,
    **backend_options: object,
) -> Segmenter:
    """Resolve the model (fetching a built-in one on first use), choose and open a backend.

    ``downsample``: a dynamic-size model's working resolution as a ratio of the frame (default:
    chosen from the frame size, see :func:`working_size`).
    """
    if str(model) == AUTO_MODEL:
        model = choose_auto_model(backend)
    spec = resolve_model(model, precision=precision)
    be, choice = create_backend(spec, backend, threads=threads, **backend_options)
    seg = Segmenter(spec, be, choice, downsample=downsample)
    seg.open()
    logger.info("segmenter: %s", seg.description)
    return seg
