"""The few CUDA calls the TensorRT backend needs, behind one small interface with two implementations.

* :class:`PycudaApi` uses ``pycuda.driver``. It never imports ``pycuda.autoinit``: that makes a context current
  only in the importing thread, and our inference runs in a worker thread. Instead :meth:`activate` retains the
  device's *primary* context and pushes it in the calling thread; :meth:`deactivate` pops it there.
* :class:`CudartApi` uses NVIDIA's cuda-python (``cuda.bindings.runtime``), whose calls return
  ``(err, value...)``. The runtime API uses the primary context in every thread after ``cudaSetDevice``.

CUDA graphs have no pycuda API, so both use ``cuda.bindings`` for capture when it imports (:class:`CudartGraphs`).
The primary context is the one the CUDA runtime (and so TensorRT) uses, which keeps buffers, streams and
TensorRT's own allocations in one context.

Every import of pycuda / cuda-python happens inside these functions, so the package imports on CPU machines.
"""

from __future__ import annotations

import ctypes
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from realtime_seg.errors import BackendError, BackendUnavailable, UnknownNameError

logger = logging.getLogger(__name__)

CUDA_API_NAMES = ("auto", "pycuda", "cuda-python")


@dataclass(frozen=True)
class GpuInfo:
    index: int
    name: str
    compute_capability: str  # "8.9"
    total_memory_bytes: int

    @property
    def summary(self) -> str:
        return f"GPU {self.index}: {self.name} (compute {self.compute_capability}, {self.total_memory_bytes >> 20} MiB)"


class CudaApi(ABC):
    """Context, stream, memory, event and graph calls for one thread's use."""

    name: ClassVar[str]

    @property
    @abstractmethod
    def version(self) -> str: ...

    @abstractmethod
    def driver_version(self) -> str: ...

    @abstractmethod
    def device_count(self) -> int: ...

    @abstractmethod
    def device_info(self, index: int) -> GpuInfo: ...

    # -- context: activate in the thread that will use CUDA, deactivate in the same thread ---------
    @abstractmethod
    def activate(self, index: int) -> None: ...

    @abstractmethod
    def deactivate(self) -> None: ...

    # -- streams and memory ----------------------------------------------------------------------
    @abstractmethod
    def create_stream(self) -> Any: ...

    @abstractmethod
    def stream_handle(self, stream: Any) -> int: ...

    @abstractmethod
    def destroy_stream(self, stream: Any) -> None: ...

    @abstractmethod
    def alloc_host(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """A page-locked host array (async copies need page-locked memory)."""

    @abstractmethod
    def free_host(self, array: np.ndarray) -> None: ...

    @abstractmethod
    def alloc_device(self, nbytes: int) -> int: ...

    @abstractmethod
    def free_device(self, ptr: int) -> None: ...

    @abstractmethod
    def htod_async(self, dst: int, src: np.ndarray, stream: Any) -> None: ...

    @abstractmethod
    def dtoh_async(self, dst: np.ndarray, src: int, stream: Any) -> None: ...

    @abstractmethod
    def synchronize(self, stream: Any) -> None: ...

    # -- events (GPU timing) ---------------------------------------------------------------------
    @abstractmethod
    def create_event(self) -> Any: ...

    @abstractmethod
    def record_event(self, event: Any, stream: Any) -> None: ...

    @abstractmethod
    def elapsed_ms(self, start: Any, end: Any) -> float: ...

    @abstractmethod
    def destroy_event(self, event: Any) -> None: ...

    # -- graphs ----------------------------------------------------------------------------------
    @property
    @abstractmethod
    def graphs(self) -> CudartGraphs | None:
        """Graph capture calls, or None where cuda-python is not installed."""


# -- cuda-python -----------------------------------------------------------------------------------


def _cuda_version_text(v: int) -> str:
    """12040 -> ``12.4``; 0 (no driver) -> ``none``."""
    return f"{v // 1000}.{(v % 1000) // 10}" if v > 0 else "none"


def import_cudart() -> Any:
    """``cuda.bindings.runtime`` (cuda-python >= 12.6); the old ``cuda.cudart`` path for older releases."""
    try:
        from cuda.bindings import runtime as cudart

        return cudart
    except ImportError:
        from cuda import cudart

        return cudart


def _cudart_version() -> str:
    try:
        import cuda.bindings

        return str(cuda.bindings.__version__)
    except (ImportError, AttributeError):
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("cuda-python")
        except PackageNotFoundError:
            return "unknown"


def check_cudart(cudart: Any, result: Any, what: str) -> Any:
    """Unpack a cuda-python result ``(err, value...)``: raise :class:`BackendError` on error, else the value(s)."""
    if not isinstance(result, tuple):
        result = (result,)
    err, rest = result[0], result[1:]
    if err != cudart.cudaError_t.cudaSuccess:
        text = check_name = str(err)
        try:
            check_name = cudart.cudaGetErrorName(err)[1].decode()
            text = cudart.cudaGetErrorString(err)[1].decode()
        except Exception:  # noqa: BLE001 - the error text is a courtesy
            pass
        raise BackendError(f"CUDA {what} failed: {check_name}: {text}")
    if not rest:
        return None
    return rest[0] if len(rest) == 1 else rest


class CudartGraphs:
    """CUDA-graph capture on a raw stream handle, via cuda-python (used by both implementations)."""

    def __init__(self, cudart: Any) -> None:
        self._rt = cudart

    def begin_capture(self, stream_handle: int) -> None:
        mode = self._rt.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal
        check_cudart(self._rt, self._rt.cudaStreamBeginCapture(stream_handle, mode), "cudaStreamBeginCapture")

    def end_capture(self, stream_handle: int) -> Any:
        return check_cudart(self._rt, self._rt.cudaStreamEndCapture(stream_handle), "cudaStreamEndCapture")

    def instantiate(self, graph: Any) -> Any:
        return check_cudart(self._rt, self._rt.cudaGraphInstantiate(graph, 0), "cudaGraphInstantiate")

    def launch(self, graph_exec: Any, stream_handle: int) -> None:
        check_cudart(self._rt, self._rt.cudaGraphLaunch(graph_exec, stream_handle), "cudaGraphLaunch")

    def destroy(self, graph: Any, graph_exec: Any) -> None:
        if graph_exec is not None:
            check_cudart(self._rt, self._rt.cudaGraphExecDestroy(graph_exec), "cudaGraphExecDestroy")
        if graph is not None:
            check_cudart(self._rt, self._rt.cudaGraphDestroy(graph), "cudaGraphDestroy")


class CudartApi(CudaApi):
    name = "cuda-python"

    def __init__(self) -> None:
        self._rt = import_cudart()
        self._graphs = CudartGraphs(self._rt)

    def _call(self, what: str, result: Any) -> Any:
        return check_cudart(self._rt, result, what)

    @property
    def version(self) -> str:
        return _cudart_version()

    def driver_version(self) -> str:
        v = int(self._call("cudaDriverGetVersion", self._rt.cudaDriverGetVersion()))
        return _cuda_version_text(v)

    def device_count(self) -> int:
        return int(self._call("cudaGetDeviceCount", self._rt.cudaGetDeviceCount()))

    def device_info(self, index: int) -> GpuInfo:
        prop = self._call("cudaGetDeviceProperties", self._rt.cudaGetDeviceProperties(index))
        name = prop.name.decode(errors="replace") if isinstance(prop.name, bytes) else str(prop.name)
        return GpuInfo(index, name.split("\x00")[0], f"{prop.major}.{prop.minor}", int(prop.totalGlobalMem))

    def activate(self, index: int) -> None:
        self._call("cudaSetDevice", self._rt.cudaSetDevice(index))
        self._call("cudaFree(0) (context initialisation)", self._rt.cudaFree(0))

    def deactivate(self) -> None:
        """The runtime's primary context stays retained by the process; nothing to pop."""

    def create_stream(self) -> Any:
        return self._call(
            "cudaStreamCreateWithFlags", self._rt.cudaStreamCreateWithFlags(self._rt.cudaStreamNonBlocking)
        )

    def stream_handle(self, stream: Any) -> int:
        return int(stream)

    def destroy_stream(self, stream: Any) -> None:
        self._call("cudaStreamDestroy", self._rt.cudaStreamDestroy(stream))

    def alloc_host(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        dtype = np.dtype(dtype)
        nbytes = max(int(np.prod(shape)) * dtype.itemsize, 1)
        ptr = int(self._call("cudaMallocHost", self._rt.cudaMallocHost(nbytes)))
        raw = memoryview((ctypes.c_byte * nbytes).from_address(ptr)).cast("B")
        return np.frombuffer(raw, dtype=dtype, count=int(np.prod(shape))).reshape(shape)

    def free_host(self, array: np.ndarray) -> None:
        self._call("cudaFreeHost", self._rt.cudaFreeHost(array.ctypes.data))

    def alloc_device(self, nbytes: int) -> int:
        return int(self._call("cudaMalloc", self._rt.cudaMalloc(max(int(nbytes), 1))))

    def free_device(self, ptr: int) -> None:
        self._call("cudaFree", self._rt.cudaFree(ptr))

    def htod_async(self, dst: int, src: np.ndarray, stream: Any) -> None:
        kind = self._rt.cudaMemcpyKind.cudaMemcpyHostToDevice
        self._call(
            "cudaMemcpyAsync (host to device)", self._rt.cudaMemcpyAsync(dst, src.ctypes.data, src.nbytes, kind, stream)
        )

    def dtoh_async(self, dst: np.ndarray, src: int, stream: Any) -> None:
        kind = self._rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self._call(
            "cudaMemcpyAsync (device to host)", self._rt.cudaMemcpyAsync(dst.ctypes.data, src, dst.nbytes, kind, stream)
        )

    def synchronize(self, stream: Any) -> None:
        self._call("cudaStreamSynchronize", self._rt.cudaStreamSynchronize(stream))

    def create_event(self) -> Any:
        return self._call("cudaEventCreate", self._rt.cudaEventCreate())

    def record_event(self, event: Any, stream: Any) -> None:
        self._call("cudaEventRecord", self._rt.cudaEventRecord(event, stream))

    def elapsed_ms(self, start: Any, end: Any) -> float:
        self._call("cudaEventSynchronize", self._rt.cudaEventSynchronize(end))
        return float(self._call("cudaEventElapsedTime", self._rt.cudaEventElapsedTime(start, end)))

    def destroy_event(self, event: Any) -> None:
        self._call("cudaEventDestroy", self._rt.cudaEventDestroy(event))

    @property
    def graphs(self) -> CudartGraphs | None:
        return self._graphs


# -- pycuda ------------------------------------------------------------------------------------------


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
        return _cuda_version_text(int(self._drv.get_driver_version()))

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
        self._wrap("cuInit", self._drv.init)
        dev = self._wrap("cuDeviceGet", self._drv.Device, index)
        ctx = self._wrap("cuDevicePrimaryCtxRetain", dev.retain_primary_context)
        self._wrap("cuCtxPushCurrent", ctx.push)
        self._ctx = ctx

    def deactivate(self) -> None:
        ctx, self._ctx = self._ctx, None
        if ctx is None:
            return
        self._wrap("cuCtxPopCurrent", ctx.pop)
        try:
            ctx.detach()  # releases our retain on the primary context
        except self._drv.Error as exc:  # pragma: no cover - only on a broken driver
            logger.warning("releasing the CUDA primary context failed: %s", exc)

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


def make_cuda_api(preference: str = "auto") -> CudaApi:
    """pycuda when it imports (or when asked for), else cuda-python; :class:`BackendUnavailable` if neither."""
    if preference not in CUDA_API_NAMES:
        raise UnknownNameError("CUDA API", preference, CUDA_API_NAMES)
    errors: list[str] = []
    if preference in ("auto", "pycuda"):
        try:
            return PycudaApi()
        except (ImportError, OSError) as exc:
            errors.append(f"pycuda: {exc}")
    if preference in ("auto", "cuda-python"):
        try:
            return CudartApi()
        except (ImportError, OSError) as exc:
            errors.append(f"cuda-python: {exc}")
    raise BackendUnavailable(
        "no CUDA Python bindings import (" + "; ".join(errors) + "): pip install cuda-python "
        "(or pycuda, which builds from source and needs the CUDA toolkit)"
    )
