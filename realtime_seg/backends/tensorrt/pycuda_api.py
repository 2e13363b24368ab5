"""The pycuda implementation of :class:`~realtime_seg.backends.tensorrt.cuda_api.CudaApi`.

It never imports ``pycuda.autoinit``: that makes a context current only in the importing thread, and our
inference runs in a worker thread. :meth:`PycudaApi.activate` pushes the device's primary context (the one the
CUDA runtime, and so TensorRT, uses) in the calling thread; :meth:`PycudaApi.deactivate` pops it there. Imported
only when pycuda is wanted: ``pycuda.driver`` is imported in :class:`PycudaApi`'s constructor.
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import Any

import numpy as np

from realtime_seg.backends.tensorrt.cuda_api import CudaApi, CudartGraphs, GpuInfo, cuda_version_text, import_cudart
from realtime_seg.errors import BackendError

logger = logging.getLogger(__name__)


class PycudaApi(CudaApi):
    name = "pycuda"

    def __init__(self) -> None:
        import pycuda.driver as drv  # never pycuda.autoinit: see the module docstring

        self._drv = drv
        self._ctx: Any = None
        self._device_allocs: dict[int, Any] = {}
        self._graphs: CudartGraphs | None
        try:
            self._graphs = CudartGraphs(import_cudart())
        except ImportError:
            self._graphs = None

    def _wrap(self, what: str, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except self._drv.Error as exc:
            raise BackendError(f"CUDA {what} failed: {exc}") from exc

    @property
    def version(self) -> str:
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("pycuda")
        except PackageNotFoundError:  # a source build without metadata
            import pycuda

            return str(getattr(pycuda, "VERSION_TEXT", "unknown"))

    def driver_version(self) -> str:
        self._wrap("cuInit", self._drv.init)
        return cuda_version_text(int(self._drv.get_driver_version()))

    def device_count(self) -> int:
        self._wrap("cuInit", self._drv.init)
        return int(self._wrap("cuDeviceGetCount", self._drv.Device.count))

    def device_info(self, index: int) -> GpuInfo:
        self._wrap("cuInit", self._drv.init)
        dev = self._wrap("cuDeviceGet", self._drv.Device, index)
        major, minor = dev.compute_capability()
        return GpuInfo(index, str(dev.name()), f"{major}.{minor}", int(dev.total_memory()))

    def activate(self, index: int) -> None:
        if self._ctx is not None:
            raise BackendError("pycuda context is already active for this backend")
        ctx = _retained_primary_context(self._drv, index, self._wrap)
        self._wrap("cuCtxPushCurrent", ctx.push)
        self._ctx = ctx

    def deactivate(self) -> None:
        """Pop the primary context; the thread's context stack is then as it was before :meth:`activate`.

        Never ``detach()``: in pycuda's source (``src/cpp/cuda.hpp``, ``context::detach`` and
        ``primary_context::detach_internal``) detaching a non-current context pushes it, then calls
        ``cuDevicePrimaryCtxRelease``, which never pops, so ``pop(); detach()`` leaves the context current, one
        stack level per open/close; detaching while current pops pycuda's own stack but not CUDA's, and a later
        ``pop()`` raises. The retain is kept for the process instead (see :func:`_retained_primary_context`), as
        pycuda's own ``pycuda/autoprimaryctx.py`` does (it pops at exit and never detaches explicitly).
        """
        ctx, self._ctx = self._ctx, None
        if ctx is not None:
            self._wrap("cuCtxPopCurrent", ctx.pop)

    def create_stream(self) -> Any:
        return self._wrap("cuStreamCreate", self._drv.Stream)

    def stream_handle(self, stream: Any) -> int:
        return int(stream.handle)

    def destroy_stream(self, stream: Any) -> None:
        """pycuda destroys a stream when its object is collected; the caller drops the last reference."""

    def alloc_host(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        return np.asarray(self._wrap("cuMemHostAlloc", self._drv.pagelocked_empty, shape, np.dtype(dtype)))

    def free_host(self, array: np.ndarray) -> None:
        base = array.base
        if base is not None and hasattr(base, "free"):
            self._wrap("cuMemFreeHost", base.free)

    def alloc_device(self, nbytes: int) -> int:
        alloc = self._wrap("cuMemAlloc", self._drv.mem_alloc, max(int(nbytes), 1))
        ptr = int(alloc)
        self._device_allocs[ptr] = alloc
        return ptr

    def free_device(self, ptr: int) -> None:
        alloc = self._device_allocs.pop(ptr, None)
        if alloc is not None:
            self._wrap("cuMemFree", alloc.free)

    def htod_async(self, dst: int, src: np.ndarray, stream: Any) -> None:
        self._wrap("cuMemcpyHtoDAsync", self._drv.memcpy_htod_async, dst, src, stream)

    def dtoh_async(self, dst: np.ndarray, src: int, stream: Any) -> None:
        self._wrap("cuMemcpyDtoHAsync", self._drv.memcpy_dtoh_async, dst, src, stream)

    def synchronize(self, stream: Any) -> None:
        self._wrap("cuStreamSynchronize", stream.synchronize)

    def create_event(self) -> Any:
        return self._wrap("cuEventCreate", self._drv.Event)

    def record_event(self, event: Any, stream: Any) -> None:
        self._wrap("cuEventRecord", event.record, stream)

    def elapsed_ms(self, start: Any, end: Any) -> float:
        self._wrap("cuEventSynchronize", end.synchronize)
        return float(self._wrap("cuEventElapsedTime", end.time_since, start))

    def destroy_event(self, event: Any) -> None:
        """pycuda destroys an event when its object is collected."""

    @property
    def graphs(self) -> CudartGraphs | None:
        return self._graphs


#: per ``pycuda.driver`` module: device index -> the pycuda Context of its retained primary context
_PRIMARY: weakref.WeakKeyDictionary[Any, dict[int, Any]] = weakref.WeakKeyDictionary()
_PRIMARY_LOCK = threading.Lock()


def _retained_primary_context(drv: Any, index: int, wrap: Any) -> Any:
    """The device's primary context, retained once per process (as the CUDA runtime does) and never released.

    The object is kept here so pycuda's destructor (which detaches) does not run while the process works: a
    pycuda ``Context`` may be pushed and popped from any thread.
    """
    with _PRIMARY_LOCK:
        contexts = _PRIMARY.setdefault(drv, {})
        if index not in contexts:
            wrap("cuInit", drv.init)
            dev = wrap("cuDeviceGet", drv.Device, index)
            contexts[index] = wrap("cuDevicePrimaryCtxRetain", dev.retain_primary_context)
        return contexts[index]
