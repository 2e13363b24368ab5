"""TensorRT backend (the probe only; the engine builder and runtime land with the TensorRT issue)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from realtime_seg.backends.base import Backend
from realtime_seg.errors import BackendUnavailable


def probe() -> tuple[bool, str]:
    """Whether TensorRT can run here, and why (not)."""
    if importlib.util.find_spec("tensorrt") is None:
        return False, "TensorRT not installed, using ONNX Runtime on the CPU"
    return False, "TensorRT is installed but this build of realtime-seg has no TensorRT runtime yet"


class TensorRTBackend(Backend):
    name = "tensorrt"

    def __init__(self, model_path: Path, input_shape: tuple[int, ...], **options: Any) -> None:
        super().__init__(model_path, input_shape)
        raise BackendUnavailable(probe()[1])

    def _open(self) -> None:  # pragma: no cover - unreachable until implemented
        raise BackendUnavailable(probe()[1])

    def _infer(self, tensor: Any) -> Any:  # pragma: no cover
        raise BackendUnavailable(probe()[1])

    def _close(self) -> None:  # pragma: no cover
        pass
