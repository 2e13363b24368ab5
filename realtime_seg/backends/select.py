"""Backend choice: ``auto`` picks TensorRT when it imports and a GPU answers, else ONNX Runtime.

The choice and its reason are always reported, so users can see why a GPU is or is not used.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from realtime_seg.backends.base import Backend
from realtime_seg.errors import BackendUnavailable, UnknownNameError
from realtime_seg.models.spec import ModelSpec

logger = logging.getLogger(__name__)

#: ``cpu`` is ONNX Runtime with the CPU provider only: it works everywhere (the fallback when a GPU fails)
BACKEND_NAMES = ("auto", "onnxruntime", "cpu", "tensorrt")


@dataclass(frozen=True)
class BackendChoice:
    name: str
    reason: str


def tensorrt_status() -> tuple[bool, str]:
    """Whether the TensorRT backend can run here (it imports, CUDA bindings import, a GPU answers), and why (not).

    Never raises: every failure becomes the reason, with an install hint where one helps.
    """
    from realtime_seg.backends import tensorrt

    return tensorrt.probe()


def choose_backend(requested: str = "auto") -> BackendChoice:
    """``auto``: TensorRT when it imports and a GPU answers, else ONNX Runtime. The choice and reason are logged."""
    if requested not in BACKEND_NAMES:
        raise UnknownNameError("backend", requested, BACKEND_NAMES)
    if requested in ("onnxruntime", "cpu"):
        choice = BackendChoice(requested, f"requested with --backend {requested}")
    else:
        ok, why = tensorrt_status()
        if requested == "tensorrt":
            if not ok:
                raise BackendUnavailable(f"TensorRT backend unavailable: {why}")
            choice = BackendChoice("tensorrt", f"requested with --backend tensorrt; {why}")
        elif ok:
            choice = BackendChoice("tensorrt", f"auto: {why}")
        elif why.startswith("TensorRT is not installed"):
            # the normal CPU case: a short reason (the app shows it); `realtime-seg info` has the install hint
            choice = BackendChoice("onnxruntime", "auto: TensorRT not installed (`realtime-seg info` says how)")
        else:
            # installed but broken is a surprise worth a warning
            choice = BackendChoice("onnxruntime", f"auto: TensorRT not usable: {why}")
            logger.warning("TensorRT is installed but not usable, using ONNX Runtime: %s", why)
    logger.info("backend choice: %s (%s)", choice.name, choice.reason)
    return choice


def create_backend(
    spec: ModelSpec, requested: str = "auto", *, threads: int | None = None, **options: Any
) -> tuple[Backend, BackendChoice]:
    """Build (not open) the backend for ``spec``; returns it with the choice and reason."""
    choice = choose_backend(requested)
    if spec.onnx_path is None:
        raise BackendUnavailable(f"model {spec.name!r} has no ONNX file yet: run 'realtime-seg models fetch'")
    backend: Backend
    if choice.name == "tensorrt":
        from realtime_seg.backends.tensorrt import TensorRTBackend
        from realtime_seg.backends.tensorrt.runtime import recurrent_io

        recurrent = recurrent_io(spec) if spec.states and spec.dynamic_size else None
        if (spec.named_io or spec.dynamic_size) and recurrent is None:
            why = f"the TensorRT backend does not run {spec.name!r} (named inputs or a dynamic size without state)"
            if requested == "tensorrt":
                raise BackendUnavailable(f"{why}; use --backend onnxruntime")
            logger.warning("%s; using ONNX Runtime", why)
            backend, _ = create_backend(spec, "onnxruntime", threads=threads)
            return backend, BackendChoice("onnxruntime", f"auto: {why}")
        backend = TensorRTBackend(spec.onnx_path, spec.input_shape, recurrent=recurrent, **options)
    else:
        from realtime_seg.backends.onnxruntime import OnnxRuntimeBackend

        providers = ("CPUExecutionProvider",) if choice.name == "cpu" else None
        backend = OnnxRuntimeBackend(spec.onnx_path, spec.input_shape, threads=threads, providers=providers)
    return backend, choice
