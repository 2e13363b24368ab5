"""Recurrent models on TensorRT: :class:`RecurrentIO` (a recurrent, dynamic-size model's interface and the one
optimization profile that covers it) and :class:`StateBuffers` (its state, kept on the device).

A recurrent model (``TensorRTBackend(..., recurrent=RecurrentIO(...))``, e.g. rvm) runs through
:meth:`TensorRTBackend.run_recurrent`: one optimization profile spans the working resolutions for the image input
and every state input; each state has two device buffers at its max shape, and frame by frame the state inputs
read one and the state outputs write the other, then the two swap: the state never leaves the device. Starting a
state (a new source, a new working resolution, a scene cut) copies zeros into its input buffer. Only the image
goes up and the named outputs (alpha, foreground) come down. No CUDA graph here: the addresses change every frame.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from realtime_seg.backends.tensorrt.cuda_api import CudaApi
from realtime_seg.backends.tensorrt.engine_cache import ProfileShapes
from realtime_seg.errors import BackendError
from realtime_seg.models.spec import ModelSpec, StateSpec


@dataclass(frozen=True)
class RecurrentIO:
    """A recurrent, dynamic-size model's interface (NCHW): its image input, state pairs, the outputs read back,
    and the range of working resolutions ``(w, h)`` the engine's optimization profile covers."""

    input_name: str
    states: tuple[StateSpec, ...]
    outputs: tuple[str, ...]
    opt_wh: tuple[int, int]
    min_wh: tuple[int, int] = (32, 32)
    max_wh: tuple[int, int] = (1920, 1920)

    def __post_init__(self) -> None:
        for lo, mid, hi in zip(self.min_wh, self.opt_wh, self.max_wh, strict=True):
            if not 1 <= lo <= mid <= hi:
                raise ValueError(
                    f"working sizes must satisfy min <= opt <= max, got {self.min_wh}, {self.opt_wh}, {self.max_wh}"
                )

    def image_shape(self, size_wh: tuple[int, int]) -> tuple[int, int, int, int]:
        return (1, 3, size_wh[1], size_wh[0])

    def profile(self) -> ProfileShapes:
        """One profile: the image input over min..max working sizes, each state at the matching sizes."""
        more = tuple(
            (st.input, st.shape(self.min_wh), st.shape(self.opt_wh), st.shape(self.max_wh)) for st in self.states
        )
        return ProfileShapes(
            self.input_name,
            self.image_shape(self.min_wh),
            self.image_shape(self.opt_wh),
            self.image_shape(self.max_wh),
            more,
        )

    def covers(self, size_wh: tuple[int, int]) -> bool:
        return all(lo <= v <= hi for lo, v, hi in zip(self.min_wh, size_wh, self.max_wh, strict=True))


def recurrent_io(spec: ModelSpec) -> RecurrentIO | None:
    """The TensorRT interface of a recurrent, dynamic-size model spec (None for a frame-by-frame model)."""
    if not spec.states:
        return None
    if spec.layout != "NCHW" or spec.scalar_inputs or not spec.input_name or not spec.alpha_output:
        raise BackendError(
            f"model {spec.name!r}: the TensorRT backend runs recurrent models with an NCHW layout, a named image "
            "input and alpha output, and no scalar inputs"
        )
    outputs = (spec.alpha_output, *((spec.foreground_output,) if spec.foreground_output else ()))
    return RecurrentIO(spec.input_name, spec.states, outputs, spec.input_size_wh)


def set_recurrent_shapes(context: Any, rec: RecurrentIO, size_wh: tuple[int, int]) -> None:
    """Set the image input's and every state input's shape for the working size ``size_wh``."""
    for name, shape in (
        (rec.input_name, rec.image_shape(size_wh)),
        *((st.input, st.shape(size_wh)) for st in rec.states),
    ):
        if not context.set_input_shape(name, shape):
            raise BackendError(f"TensorRT refused input shape {list(shape)} for {name!r}")


class StateBuffers:
    """The device-resident state of one open recurrent engine: two device buffers per state at the profile's max
    shape, page-locked zeros to start a state, and which buffer of each pair this frame reads.

    Allocated in ``__init__``, each release pushed on ``stack`` (the runtime's, closed while the context is current).
    It keeps no reference to the execution context, which the runtime must be able to release first.
    """

    def __init__(self, rec: RecurrentIO, api: CudaApi, stack: contextlib.ExitStack) -> None:
        self.rec, self._api = rec, api
        self.state_ptrs: dict[str, tuple[int, int]] = {}
        self.zeros: dict[str, np.ndarray] = {}
        for st in rec.states:
            zeros = api.alloc_host(st.shape(rec.max_wh), np.dtype(np.float32))
            stack.callback(api.free_host, zeros)
            zeros[...] = 0.0
            self.zeros[st.input] = zeros
            pair = []
            for _ in range(2):
                ptr = api.alloc_device(zeros.nbytes)
                stack.callback(api.free_device, ptr)
                pair.append(ptr)
            self.state_ptrs[st.input] = (pair[0], pair[1])
        self.parity = 0
        self.size_wh: tuple[int, int] | None = None

    def bind(self, context: Any, size_wh: tuple[int, int], start: bool, stream: Any) -> None:
        """Ready the states for a frame at ``size_wh``: set the input shapes when the size changes (which starts
        every state), copy zeros into the buffers this frame reads when starting, and point the state inputs and
        outputs at this frame's buffers."""
        rec, api, ctx = self.rec, self._api, context
        if size_wh != self.size_wh:
            if not rec.covers(size_wh):
                raise BackendError(
                    f"working resolution {size_wh[0]}x{size_wh[1]} is outside the TensorRT engine's profile "
                    f"({rec.min_wh[0]}x{rec.min_wh[1]} .. {rec.max_wh[0]}x{rec.max_wh[1]}): choose another --downsample"
                )
            set_recurrent_shapes(ctx, rec, size_wh)
            self.size_wh, start = size_wh, True
        cur = self.parity
        for st in rec.states:
            ptr_in, ptr_out = self.state_ptrs[st.input][cur], self.state_ptrs[st.input][1 - cur]
            if start:  # zeros into the buffer this frame reads
                count = int(np.prod(st.shape(size_wh)))
                api.htod_async(ptr_in, self.zeros[st.input].reshape(-1)[:count], stream)
            if not (ctx.set_tensor_address(st.input, ptr_in) and ctx.set_tensor_address(st.output, ptr_out)):
                raise BackendError(f"TensorRT refused the state buffers of {st.input!r}")

    def swap(self) -> None:
        """This frame's state outputs are the next frame's inputs: swap, no copy."""
        self.parity = 1 - self.parity
