"""A stand-in for ``pycuda.driver``, because no GPU exists here (see ``fakes.py`` for the shared device emulation).

Checked against inducer/pycuda's source (``src/cpp/cuda.hpp`` and ``src/wrapper/wrap_cudadrv.cpp`` at 19bed90,
March 2026):

* pycuda keeps its own per-thread context stack and keeps only its top on CUDA's
  stack; ``Context.pop`` pops both; ``detach`` of a non-current context in its own thread pushes it, then
  ``cuDevicePrimaryCtxRelease`` (which never pops); ``detach`` of the current one releases without popping
  CUDA's stack and drops it from pycuda's.
"""

from __future__ import annotations

import threading
import types
from typing import Any

import numpy as np

from tests.backends.fakes import FakeDevice


def make_fake_pycuda(device: FakeDevice, gpu_name: str = "Fake RTX 4090", cc: tuple[int, int] = (8, 9)) -> dict:
    j = device.journal
    drv = types.ModuleType("pycuda.driver")

    class Error(Exception):
        pass

    pystacks: dict[int, list[Ctx]] = {}  # pycuda's own per-thread stack (context_stack::get())

    def pystack() -> list[Ctx]:
        return pystacks.setdefault(threading.get_ident(), [])

    def current_context(except_: Ctx | None = None) -> Ctx | None:
        stack = pystack()
        while stack:
            top = stack[-1]
            if top is not except_ and top.valid:
                return top
            stack.pop()
        return None

    def prepare_context_switch() -> None:
        if pystack():
            device.context_stack.pop()  # cuCtxPopCurrent

    class Ctx:
        """A primary context as pycuda's ``primary_context`` handles it (see the module docstring)."""

        def __init__(self) -> None:
            self.valid = True
            self.thread = threading.get_ident()
            device.retains += 1

        def push(self) -> None:  # context_push
            j.append(("push",))
            prepare_context_switch()
            device.context_stack.append(self)
            pystack().append(self)

        @staticmethod
        def pop() -> None:  # context::pop
            j.append(("pop",))
            prepare_context_switch()
            if not pystack():
                raise Error("context::pop failed: invalid device context - cannot pop non-current context")
            pystack().pop()
            current = current_context()
            if current is not None:
                device.context_stack.append(current)

        def detach(self) -> None:  # context::detach with primary_context::detach_internal
            j.append(("detach",))
            if not self.valid:
                raise Error("context::detach failed: invalid device context - cannot detach from invalid context")
            active = current_context() is self
            if active:
                device.retains -= 1  # cuDevicePrimaryCtxRelease: no pop
            elif self.thread == threading.get_ident():
                device.context_stack.append(self)  # cuCtxPushCurrent
                device.retains -= 1
            self.valid = False
            if active:
                new = current_context(self)
                if new is not None:
                    device.context_stack.append(new)

    class Device:
        def __init__(self, index: int) -> None:
            if index != 0:
                raise Error(f"cuDeviceGet failed: invalid device ordinal {index}")

        @staticmethod
        def count() -> int:
            return 1

        def name(self) -> str:
            return gpu_name

        def compute_capability(self) -> tuple[int, int]:
            return cc

        def total_memory(self) -> int:
            return 24 << 30

        def retain_primary_context(self) -> Ctx:
            j.append(("retain",))
            return Ctx()

    class Stream:
        def __init__(self) -> None:
            device.require_context("cuStreamCreate")
            self.handle = 0xABC
            j.append(("stream_create",))

        def synchronize(self) -> None:
            j.append(("sync",))

        def __del__(self) -> None:
            j.append(("stream_destroy", bool(device.context_stack)))

        def __int__(self) -> int:
            return self.handle

    class Event:
        def __init__(self) -> None:
            self.t = 0.0

        def record(self, stream: Stream) -> None:
            self.t = float(len(j))  # "time" = position in the journal

        def synchronize(self) -> None:
            pass

        def time_since(self, start: Event) -> float:
            return self.t - start.t

    class HostAllocation(bytearray):
        def free(self) -> None:
            j.append(("host_free", bool(device.context_stack)))

    class DeviceAllocation:
        def __init__(self, ptr: int) -> None:
            self.ptr = ptr

        def __int__(self) -> int:
            return self.ptr

        def free(self) -> None:
            j.append(("mem_free", bool(device.context_stack)))
            device.mem.pop(self.ptr)

    def pagelocked_empty(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        device.require_context("cuMemHostAlloc")
        dtype = np.dtype(dtype)
        j.append(("host_alloc",))
        return np.ndarray(shape, dtype, buffer=HostAllocation(int(np.prod(shape)) * dtype.itemsize))

    def mem_alloc(nbytes: int) -> DeviceAllocation:
        device.require_context("cuMemAlloc")
        j.append(("mem_alloc", nbytes))
        return DeviceAllocation(device.alloc(nbytes))

    def memcpy_htod_async(dst: int, src: np.ndarray, stream: Stream) -> None:
        assert isinstance(stream, Stream), "copies must go on our stream"
        raw = np.ascontiguousarray(src).view(np.uint8).ravel()
        device.mem[int(dst)][: raw.size] = raw
        j.append(("htod", raw.size))

    def memcpy_dtoh_async(dst: np.ndarray, src: int, stream: Stream) -> None:
        assert isinstance(stream, Stream), "copies must go on our stream"
        out = dst.view(np.uint8).reshape(-1)
        out[:] = device.mem[int(src)][: out.size]
        j.append(("dtoh", out.size))

    drv.Error = Error  # type: ignore[attr-defined]
    drv.init = lambda: None  # type: ignore[attr-defined]
    drv.get_driver_version = lambda: 12040  # type: ignore[attr-defined]
    drv.Device = Device  # type: ignore[attr-defined]
    drv.Stream = Stream  # type: ignore[attr-defined]
    drv.Event = Event  # type: ignore[attr-defined]
    drv.pagelocked_empty = pagelocked_empty  # type: ignore[attr-defined]
    drv.mem_alloc = mem_alloc  # type: ignore[attr-defined]
    drv.memcpy_htod_async = memcpy_htod_async  # type: ignore[attr-defined]
    drv.memcpy_dtoh_async = memcpy_dtoh_async  # type: ignore[attr-defined]
    pkg = types.ModuleType("pycuda")
    pkg.VERSION_TEXT = "2024.1-fake"  # type: ignore[attr-defined]
    pkg.driver = drv  # type: ignore[attr-defined]
    return {"pycuda": pkg, "pycuda.driver": drv}
