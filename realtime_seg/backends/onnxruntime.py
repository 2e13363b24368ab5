"""ONNX Runtime backend: CPU everywhere, CUDA / TensorRT execution providers where onnxruntime-gpu has them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from realtime_seg.backends.base import Backend
from realtime_seg.errors import BackendError, ModelError

#: intra-op threads when none are asked for (measured: docs/benchmarks.md); 0 means ONNX Runtime's own default.
DEFAULT_THREADS = 1

PREFERRED_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")


class OnnxRuntimeBackend(Backend):
    name = "onnxruntime"
    runs_named_io = True

    def __init__(
        self,
        model_path: Path,
        input_shape: tuple[int, ...],
        *,
        threads: int | None = None,
        providers: tuple[str, ...] | None = None,
        spin: bool = False,
    ) -> None:
        super().__init__(model_path, input_shape)
        if threads is None:  # the thread budget: 1 up to 4 available cores (DEFAULT_THREADS), more beyond
            from realtime_seg.threads import thread_budget

            threads = thread_budget().onnxruntime
        self.threads = threads
        self.spin = spin
        self.requested_providers = providers
        self._session: Any = None

    def _open(self) -> None:
        import onnxruntime as ort

        available = ort.get_available_providers()
        wanted = self.requested_providers or PREFERRED_PROVIDERS
        providers = [p for p in wanted if p in available] or ["CPUExecutionProvider"]
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        opts.intra_op_num_threads = self.threads  # 0: ONNX Runtime's default
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if self.spin else "0")
        try:
            self._session = ort.InferenceSession(str(self.model_path), opts, providers=providers)
        except Exception as exc:  # ORT raises its own exception types for bad files
            raise ModelError(f"ONNX Runtime cannot load {self.model_path}: {exc}") from exc
        self._input_name = self._session.get_inputs()[0].name

    def _infer(self, tensor: np.ndarray) -> np.ndarray:
        try:
            out = self._session.run(None, {self._input_name: tensor})
        except Exception as exc:
            raise BackendError(f"ONNX Runtime inference failed: {exc}") from exc
        return np.asarray(out[0])

    def _run(self, feeds: Mapping[str, np.ndarray], outputs: Sequence[str]) -> list[np.ndarray]:
        try:
            return [np.asarray(o) for o in self._session.run(list(outputs), dict(feeds))]
        except Exception as exc:
            raise BackendError(f"ONNX Runtime inference failed: {exc}") from exc

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(i.name for i in self._session.get_inputs()) if self._session is not None else ()

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self._session.get_outputs()) if self._session is not None else ()

    def _close(self) -> None:
        self._session = None

    @property
    def active_provider(self) -> str:
        return str(self._session.get_providers()[0]) if self._session is not None else "(not open)"

    @property
    def description(self) -> str:
        n = self.threads
        threads = (f"{n} thread" if n == 1 else f"{n} threads") if n else "ORT default threads"
        return f"ONNX Runtime {self.active_provider.removesuffix('ExecutionProvider')} ({threads})"
