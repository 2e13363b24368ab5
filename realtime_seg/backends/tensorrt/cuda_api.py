"""The few CUDA calls the TensorRT backend needs, behind one small interface with two implementations.

* :class:`PycudaApi` uses ``pycuda.driver``. It never imports ``pycuda.autoinit``: that makes a context current
  only in the importing thread, and our inference runs in a worker thread. Instead :meth:`activate` pushes the
  device's *primary* context in the calling thread and :meth:`deactivate` pops it there, so the thread's context
  stack is empty again after ``close()``. The primary context is retained once per device and process and never
  released, as the CUDA runtime (and so TensorRT) itself does: pycuda's ``detach`` cannot release it cleanly
  (see :class:`PycudaApi`).
* :class:`CudartApi` uses NVIDIA's cuda-python (``cuda.bindings.runtime``), whose calls return
  ``(err, value...)``. The runtime API uses the primary context in every thread after ``cudaSetDevice``.

CUDA graphs have no pycuda API, so both use ``cuda.bindings`` for capture when it imports (:class:`CudartGraphs`).
The primary context is the one the CUDA runtime (and so TensorRT) uses, which keeps buffers, streams and
TensorRT's own allocations in one context.

Every import of pycuda / cuda-python happens inside these functions, so the package imports on CPU machines.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from realtime_seg.errors import BackendError, BackendUnavailable, DriverTooOld, UnknownNameError

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


def cuda_version_text(v: int) -> str:
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


#: what each flavour of the CUDA bindings needs of the NVIDIA driver (Linux; CUDA's minor-version compatibility)
DRIVER_NEEDS = {12: "R525 or newer", 13: "R580 or newer"}
GPU_EXTRA_HINT = "pip install 'realtime-seg[cu12]' --extra-index-url https://pypi.nvidia.com"


def driver_too_old_message(driver_cuda: str, needed_major: int, what: str) -> str:
    """One line naming an NVIDIA driver too old for ``what`` (built for CUDA ``needed_major``) and both ways out."""
    if driver_cuda == "none":
        return (
            f"no NVIDIA driver answers ({what} needs one for CUDA {needed_major}): install the NVIDIA driver "
            f"({DRIVER_NEEDS.get(needed_major, 'a recent one')}), or use --backend onnxruntime"
        )
    fix = f"update the NVIDIA driver to {DRIVER_NEEDS.get(needed_major, 'a newer one')}"
    if needed_major > 12:
        fix += f", or install the CUDA 12 flavour instead: {GPU_EXTRA_HINT}"
    return (
        f"the NVIDIA driver is too old for {what}: the driver supports CUDA {driver_cuda}, {what} is built for "
        f"CUDA {needed_major}: {fix}"
    )


def _cudart_driver_too_old(cudart: Any) -> DriverTooOld:
    driver = "none"
    with contextlib.suppress(Exception):  # a courtesy: the message names the driver's CUDA version when it can
        err, v = cudart.cudaDriverGetVersion()
        if err == cudart.cudaError_t.cudaSuccess:
            driver = cuda_version_text(int(v))
    needed = 0
    with contextlib.suppress(Exception):
        err, v = cudart.cudaRuntimeGetVersion()
        if err == cudart.cudaError_t.cudaSuccess:
            needed = int(v) // 1000
    if not needed:
        needed = _major(_cudart_version())
    return DriverTooOld(driver_too_old_message(driver, needed, f"cuda-bindings {_cudart_version()}"))


def _major(version: str) -> int:
    head = version.split(".")[0]
    return int(head) if head.isdigit() else 0


def check_cudart(cudart: Any, result: Any, what: str) -> Any:
    """Unpack a cuda-python result ``(err, value...)``: raise :class:`BackendError` on error, else the value(s).

    ``cudaErrorInsufficientDriver`` (what every call returns when the driver is older than the bindings' CUDA,
    or absent) becomes :class:`DriverTooOld`, naming the driver's CUDA version and the bindings'.
    """
    if not isinstance(result, tuple):
        result = (result,)
    err, rest = result[0], result[1:]
    if err == getattr(cudart.cudaError_t, "cudaErrorInsufficientDriver", object()):
        raise _cudart_driver_too_old(cudart)
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
    """CUDA-graph capture on a raw stream handle, via cuda-python (used by both implementations).

    The calls and their order follow trtexec (NVIDIA/TensorRT ``samples/common/sampleInference.cpp`` and
    ``sampleDevice.h``, ``TrtCudaGraph``): synchronize before capture, capture in thread-local mode, instantiate and
    destroy the graph (the executable graph stands alone); after a failed capture end it, free any partial graph
    and clear the sticky error with ``cudaGetLastError``.
    """

    def __init__(self, cudart: Any) -> None:
        self._rt = cudart

    def synchronize(self, stream_handle: int) -> None:
        check_cudart(self._rt, self._rt.cudaStreamSynchronize(stream_handle), "cudaStreamSynchronize")

    def begin_capture(self, stream_handle: int) -> None:
        mode = self._rt.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal
        check_cudart(self._rt, self._rt.cudaStreamBeginCapture(stream_handle, mode), "cudaStreamBeginCapture")

    def end_capture(self, stream_handle: int) -> Any:
        return check_cudart(self._rt, self._rt.cudaStreamEndCapture(stream_handle), "cudaStreamEndCapture")

    def end_capture_on_error(self, stream_handle: int) -> None:
        """End a capture that failed: free the partial graph if one came back, then clear the error state."""
        err, graph = self._rt.cudaStreamEndCapture(stream_handle)
        if err == self._rt.cudaError_t.cudaSuccess and graph is not None:
            with contextlib.suppress(BackendError):
                self.destroy(graph, None)
        self.clear_error()

    def clear_error(self) -> None:
        """``cudaGetLastError``: reset the thread's last error (its result is the error being cleared)."""
        self._rt.cudaGetLastError()

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
        return cuda_version_text(v)

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


def make_cuda_api(preference: str = "auto") -> CudaApi:
    """pycuda when it imports (or when asked for), else cuda-python; :class:`BackendUnavailable` if neither."""
    if preference not in CUDA_API_NAMES:
        raise UnknownNameError("CUDA API", preference, CUDA_API_NAMES)
    errors: list[str] = []
    if preference in ("auto", "pycuda"):
        try:
            from realtime_seg.backends.tensorrt.pycuda_api import PycudaApi

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
