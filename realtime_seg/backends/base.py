"""The backend lifecycle, after Polygraphy's runners: ``open()`` / ``infer()`` / ``close()``.

The public methods check state and input, then call the subclass's ``_open`` / ``_infer`` / ``_close``.
A backend may reuse its output buffer between calls: copy the result before it crosses threads.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import ClassVar, TypeVar

import numpy as np

from realtime_seg.errors import BackendError
from realtime_seg.models.spec import StateSpec

logger = logging.getLogger(__name__)

_B = TypeVar("_B", bound="Backend")  # open() / with: the subclass, so its own properties type-check


class Backend(ABC):
    """One model on one device. Use as a context manager, or call ``open`` then ``close``."""

    #: registry name, e.g. ``"onnxruntime"``
    name: ClassVar[str]
    #: whether :meth:`run` works: named inputs and outputs, any input size (recurrent models such as rvm)
    runs_named_io: ClassVar[bool] = False

    def __init__(self, model_path: Path, input_shape: tuple[int, ...]) -> None:
        self.model_path = Path(model_path)
        #: the expected input shape for batch 1 (the batch axis may be larger where supported)
        self.input_shape = tuple(input_shape)
        self._is_open = False
        self._host_state: dict[str, np.ndarray] | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self._is_open

    def open(self: _B) -> _B:
        if self._is_open:
            raise BackendError(f"{self.name} backend is already open")
        self._open()
        self._is_open = True
        logger.info("opened %s", self.description)
        return self

    def _require_open(self) -> None:
        """Raise :class:`BackendError` unless the backend is open (the check every run method starts with)."""
        if not self._is_open:
            raise BackendError(f"{self.name} backend is not open: call open() first or use it as a context manager")

    def infer(self, tensor: np.ndarray) -> np.ndarray:
        """Run the model on one input tensor; returns its first output (possibly a reused buffer)."""
        self._require_open()
        if tensor.dtype != np.float32:
            raise BackendError(f"input dtype: expected float32, got {tensor.dtype}")
        if tensor.ndim != len(self.input_shape) or tensor.shape[1:] != self.input_shape[1:]:
            raise BackendError(
                f"input shape: expected (N, {', '.join(map(str, self.input_shape[1:]))}), got {tensor.shape}"
            )
        return self._infer(np.ascontiguousarray(tensor))

    def run(self, feeds: Mapping[str, np.ndarray], outputs: Sequence[str]) -> list[np.ndarray]:
        """Run the model on named inputs (several, of any shape the model takes); return the named outputs.

        For models with more than one input (recurrent state, scalars) or a dynamic input size.
        """
        self._require_open()
        return self._run(feeds, outputs)

    def run_recurrent(
        self,
        feeds: Mapping[str, np.ndarray],
        outputs: Sequence[str],
        states: Sequence[StateSpec],
        size_wh: tuple[int, int],
        layout: str = "NCHW",
        *,
        start: bool,
    ) -> list[np.ndarray]:
        """Run a recurrent model: ``feeds`` and ``outputs`` without the state tensors, which the backend carries.

        Each call's state outputs are the next call's state inputs; ``start=True`` (the first frame, a new
        source, a new working resolution ``size_wh``, a scene cut) starts them from zeros. This default keeps
        them in host memory; a GPU backend keeps them on the device and swaps buffers (no host round trip).
        """
        self._require_open()
        if start or self._host_state is None:
            self._host_state = {st.input: np.zeros(st.shape(size_wh, layout), np.float32) for st in states}
        got = self._run({**feeds, **self._host_state}, [*outputs, *(st.output for st in states)])
        n = len(outputs)
        self._host_state = {st.input: np.asarray(v, np.float32) for st, v in zip(states, got[n:], strict=True)}
        return got[:n]

    @property
    def input_names(self) -> tuple[str, ...]:
        return ()

    @property
    def output_names(self) -> tuple[str, ...]:
        return ()

    def close(self) -> None:
        self._host_state = None
        if self._is_open:
            try:
                self._close()
            finally:
                self._is_open = False

    def __enter__(self: _B) -> _B:
        return self.open()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- reporting -------------------------------------------------------------------------------
    @property
    def description(self) -> str:
        """A one-line, human description of what actually runs, e.g. ``ONNX Runtime (CPUExecutionProvider)``."""
        return self.name

    # -- implementation --------------------------------------------------------------------------
    @abstractmethod
    def _open(self) -> None: ...

    @abstractmethod
    def _infer(self, tensor: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def _close(self) -> None: ...

    def _run(self, feeds: Mapping[str, np.ndarray], outputs: Sequence[str]) -> list[np.ndarray]:
        raise BackendError(
            f"the {self.name} backend cannot run models with several inputs or a dynamic input size yet "
            "(recurrent models such as rvm); use --backend onnxruntime"
        )
