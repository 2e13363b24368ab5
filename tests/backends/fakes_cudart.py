"""A stand-in for cuda-python's ``cuda.bindings.runtime``, because no GPU exists here.

It lets OUR ``CudartApi`` / ``CudartGraphs`` and ``tools/gpu_smoke.py --cuda-only`` run on this machine. What it
mirrors was checked against the real bindings, installed from PyPI on this GPU-less machine (cuda-bindings 12.9.10
and 13.5.0), and against NVIDIA/cuda-python's ``cuda_bindings/cuda/bindings/runtime.pyx.in``:

* every call returns a tuple ``(cudaError_t, value...)``; on an error the value slots are ``None``
  (``cudaGetDeviceCount()`` -> ``(cudaErrorInsufficientDriver, None)``), and calls without a value return
  ``(err,)``;
* ``cudaError_t`` is an ``IntEnum``: cudaSuccess 0, cudaErrorInvalidValue 1, cudaErrorInsufficientDriver 35,
  cudaErrorNoDevice 100, cudaErrorStreamCaptureUnsupported 900, cudaErrorStreamCaptureInvalidated 901;
* ``cudaStreamCaptureModeThreadLocal`` is 1, ``cudaMemcpyHostToDevice`` 1, ``cudaMemcpyDeviceToHost`` 2,
  ``cudaStreamNonBlocking`` 1;
* ``cudaDriverGetVersion`` answers even without a driver (``0``), ``cudaRuntimeGetVersion`` gives the bindings'
  CUDA (12090, 13050), and every device call of bindings newer than the driver (or without one) fails with
  ``cudaErrorInsufficientDriver``; ``cudaGetLastError`` returns the sticky error and clears it;
* signatures: ``cudaGraphInstantiate(graph, flags)``, ``cudaStreamBeginCapture(stream, mode)``,
  ``cudaStreamEndCapture(stream)``, ``cudaMemcpyAsync(dst, src, count, kind, stream)``, ``cudaMallocHost(size)``.

"Device" memory is the :class:`~tests.backends.fakes.FakeDevice`'s; page-locked host memory is real host memory
(our code wraps the returned address with ctypes, as it must with the real bindings). Work on a capturing stream is
recorded into the graph instead of running, so a graph replays it.
"""

from __future__ import annotations

import ctypes
import enum
import itertools
import threading
import types
from typing import Any

import numpy as np

from tests.backends.fakes import FakeDevice


class cudaError_t(enum.IntEnum):  # noqa: N801 - the real name
    cudaSuccess = 0
    cudaErrorInvalidValue = 1
    cudaErrorInsufficientDriver = 35
    cudaErrorNoDevice = 100
    cudaErrorStreamCaptureUnsupported = 900
    cudaErrorStreamCaptureInvalidated = 901


class cudaStreamCaptureMode(enum.IntEnum):  # noqa: N801
    cudaStreamCaptureModeGlobal = 0
    cudaStreamCaptureModeThreadLocal = 1
    cudaStreamCaptureModeRelaxed = 2


class cudaMemcpyKind(enum.IntEnum):  # noqa: N801
    cudaMemcpyHostToHost = 0
    cudaMemcpyHostToDevice = 1
    cudaMemcpyDeviceToHost = 2


_NAMES = {
    cudaError_t.cudaErrorInsufficientDriver: "CUDA driver version is insufficient for CUDA runtime version",
    cudaError_t.cudaErrorStreamCaptureInvalidated: "operation failed due to a previous error during capture",
    cudaError_t.cudaErrorInvalidValue: "invalid argument",
}


class _Handle:
    """cudaStream_t / cudaEvent_t / cudaGraph_t: objects that ``int()`` turns into the handle."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __int__(self) -> int:
        return self.value


def make_fake_cudart(
    device: FakeDevice,
    *,
    bindings_version: str = "12.9.10",
    driver_version: int = 12040,
    gpu_name: str = "Fake RTX 4090",
) -> dict[str, types.ModuleType]:
    """``cuda``, ``cuda.bindings`` and ``cuda.bindings.runtime`` modules; ``driver_version`` as CUDA reports it."""
    j = device.journal
    rt = types.ModuleType("cuda.bindings.runtime")
    runtime_version = int(bindings_version.split(".")[0]) * 1000 + int(bindings_version.split(".")[1]) * 10
    handles = itertools.count(0x5000, 0x10)
    pinned: dict[int, np.ndarray] = {}
    graphs_alive: set[int] = set()
    ok = cudaError_t.cudaSuccess

    def driver_ok() -> bool:
        return driver_version > 0 and driver_version // 1000 >= runtime_version // 1000

    def device_call(fn: Any, values: int) -> Any:
        """A call that needs a driver at least as new as the bindings: else ``(InsufficientDriver, None...)``."""

        def call(*args: Any) -> Any:
            if not driver_ok():
                return (cudaError_t.cudaErrorInsufficientDriver,) + (None,) * values
            return fn(*args)

        call.__name__ = fn.__name__
        return call

    def cudaDriverGetVersion() -> tuple[Any, int]:
        return ok, driver_version

    def cudaRuntimeGetVersion() -> tuple[Any, int]:
        return ok, runtime_version

    def cudaGetErrorName(err: cudaError_t) -> tuple[Any, bytes]:
        return ok, cudaError_t(err).name.encode()

    def cudaGetErrorString(err: cudaError_t) -> tuple[Any, bytes]:
        return ok, _NAMES.get(cudaError_t(err), "unknown error").encode()

    def cudaGetLastError() -> tuple[Any]:
        err, device.last_error = device.last_error, 0
        j.append(("cudaGetLastError", err))
        return (cudaError_t(err),)

    def cudaGetDeviceCount() -> tuple[Any, Any]:
        return ok, 1

    def cudaGetDeviceProperties(index: int) -> tuple[Any, Any]:
        if index != 0:
            return cudaError_t.cudaErrorInvalidValue, None
        prop = types.SimpleNamespace(name=gpu_name.encode() + b"\x00" * 8, major=8, minor=9, totalGlobalMem=24 << 30)
        return ok, prop

    def cudaSetDevice(index: int) -> tuple[Any]:
        if index != 0:
            return (cudaError_t.cudaErrorInvalidValue,)
        device.runtime_bound.add(threading.get_ident())  # the primary context becomes current in this thread
        j.append(("cudaSetDevice", index))
        return (ok,)

    def cudaFree(ptr: int) -> tuple[Any]:
        if ptr:
            device.require_context("cudaFree")
            device.mem.pop(int(ptr))
            j.append(("cudaFree",))
        return (ok,)

    def cudaMalloc(nbytes: int) -> tuple[Any, int]:
        device.require_context("cudaMalloc")
        j.append(("cudaMalloc", nbytes))
        return ok, device.alloc(nbytes)

    def cudaMallocHost(nbytes: int) -> tuple[Any, int]:
        device.require_context("cudaMallocHost")
        buf = np.zeros(nbytes, np.uint8)
        pinned[buf.ctypes.data] = buf
        j.append(("cudaMallocHost", nbytes))
        return ok, buf.ctypes.data

    def cudaFreeHost(ptr: int) -> tuple[Any]:
        pinned.pop(int(ptr))
        j.append(("cudaFreeHost",))
        return (ok,)

    def cudaStreamCreateWithFlags(flags: int) -> tuple[Any, _Handle]:
        device.require_context("cudaStreamCreateWithFlags")
        j.append(("cudaStreamCreate", flags))
        return ok, _Handle(next(handles))

    def cudaStreamDestroy(stream: Any) -> tuple[Any]:
        j.append(("cudaStreamDestroy",))
        return (ok,)

    def cudaStreamSynchronize(stream: Any) -> tuple[Any]:
        j.append(("cudaStreamSynchronize", int(stream)))
        return (ok,)

    def cudaMemcpyAsync(dst: int, src: int, count: int, kind: cudaMemcpyKind, stream: Any) -> tuple[Any]:
        device.require_context("cudaMemcpyAsync")
        dst, src = int(dst), int(src)
        if kind == cudaMemcpyKind.cudaMemcpyHostToDevice:

            def op() -> None:
                device.mem[dst][:count] = np.frombuffer(ctypes.string_at(src, count), np.uint8)

        elif kind == cudaMemcpyKind.cudaMemcpyDeviceToHost:

            def op() -> None:
                ctypes.memmove(dst, device.mem[src].ctypes.data, count)

        else:
            return (cudaError_t.cudaErrorInvalidValue,)
        j.append(("cudaMemcpyAsync", kind.name, int(stream) in device.capturing))
        device.on_stream(int(stream), op)
        return (ok,)

    def cudaEventCreate() -> tuple[Any, _Handle]:
        return ok, _Handle(next(handles))

    times: dict[int, float] = {}

    def cudaEventRecord(event: Any, stream: Any) -> tuple[Any]:
        times[int(event)] = float(len(j))  # "time" = position in the journal
        return (ok,)

    def cudaEventSynchronize(event: Any) -> tuple[Any]:
        return (ok,)

    def cudaEventElapsedTime(start: Any, end: Any) -> tuple[Any, float]:
        return ok, times[int(end)] - times[int(start)]

    def cudaEventDestroy(event: Any) -> tuple[Any]:
        return (ok,)

    def cudaStreamBeginCapture(stream: Any, mode: cudaStreamCaptureMode) -> tuple[Any]:
        j.append(("cudaStreamBeginCapture", int(stream), cudaStreamCaptureMode(mode).name))
        device.capturing[int(stream)] = []
        return (ok,)

    def cudaStreamEndCapture(stream: Any) -> tuple[Any, Any]:
        ops = device.capturing.pop(int(stream))
        j.append(("cudaStreamEndCapture", int(stream)))
        if None in ops:  # invalidated by an op that cannot be captured
            return cudaError_t.cudaErrorStreamCaptureInvalidated, None
        graph = _Handle(next(handles))
        graph.ops = ops  # type: ignore[attr-defined]
        graphs_alive.add(int(graph))
        return ok, graph

    def cudaGraphInstantiate(graph: Any, flags: int) -> tuple[Any, Any]:
        j.append(("cudaGraphInstantiate",))
        exec_ = _Handle(next(handles))
        exec_.ops = list(graph.ops)  # type: ignore[attr-defined]
        graphs_alive.add(int(exec_))
        return ok, exec_

    def cudaGraphLaunch(exec_: Any, stream: Any) -> tuple[Any]:
        j.append(("cudaGraphLaunch",))
        assert int(exec_) in graphs_alive, "launch of a destroyed graph"
        for op in exec_.ops:
            device.on_stream(int(stream), op)
        return (ok,)

    def cudaGraphDestroy(graph: Any) -> tuple[Any]:
        j.append(("cudaGraphDestroy",))
        graphs_alive.discard(int(graph))
        return (ok,)

    def cudaGraphExecDestroy(exec_: Any) -> tuple[Any]:
        j.append(("cudaGraphExecDestroy",))
        graphs_alive.discard(int(exec_))
        return (ok,)

    always = [cudaDriverGetVersion, cudaRuntimeGetVersion, cudaGetErrorName, cudaGetErrorString, cudaGetLastError]
    for fn in always:
        setattr(rt, fn.__name__, fn)
    for fn, values in (
        (cudaGetDeviceCount, 1),
        (cudaGetDeviceProperties, 1),
        (cudaSetDevice, 0),
        (cudaFree, 0),
        (cudaMalloc, 1),
        (cudaMallocHost, 1),
        (cudaFreeHost, 0),
        (cudaStreamCreateWithFlags, 1),
        (cudaStreamDestroy, 0),
        (cudaStreamSynchronize, 0),
        (cudaMemcpyAsync, 0),
        (cudaEventCreate, 1),
        (cudaEventRecord, 0),
        (cudaEventSynchronize, 0),
        (cudaEventElapsedTime, 1),
        (cudaEventDestroy, 0),
        (cudaStreamBeginCapture, 0),
        (cudaStreamEndCapture, 1),
        (cudaGraphInstantiate, 1),
        (cudaGraphLaunch, 0),
        (cudaGraphDestroy, 0),
        (cudaGraphExecDestroy, 0),
    ):
        setattr(rt, fn.__name__, device_call(fn, values))
    rt.cudaError_t = cudaError_t  # type: ignore[attr-defined]
    rt.cudaStreamCaptureMode = cudaStreamCaptureMode  # type: ignore[attr-defined]
    rt.cudaMemcpyKind = cudaMemcpyKind  # type: ignore[attr-defined]
    rt.cudaStreamNonBlocking = 1  # type: ignore[attr-defined]
    rt.pinned = pinned  # type: ignore[attr-defined]  # for tests: what is still allocated
    rt.graphs_alive = graphs_alive  # type: ignore[attr-defined]
    bindings = types.ModuleType("cuda.bindings")
    bindings.__version__ = bindings_version  # type: ignore[attr-defined]
    bindings.runtime = rt  # type: ignore[attr-defined]
    cuda = types.ModuleType("cuda")
    cuda.bindings = bindings  # type: ignore[attr-defined]
    return {"cuda": cuda, "cuda.bindings": bindings, "cuda.bindings.runtime": rt}
