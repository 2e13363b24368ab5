"""Running engines (the "runner" half, as Polygraphy splits it): :class:`TensorRTBackend`.

Every CUDA object is created, used and released in the thread that calls ``open()`` (the processing
thread): the CUDA context is made current there (pycuda: the primary context is retained and pushed, never
``pycuda.autoinit``), page-locked host buffers and device buffers are allocated once at the profile's max
shape, copies are async on one non-default stream, and ``execute_async_v3`` runs the engine (optionally as
a captured CUDA graph, with plain enqueue when capture fails). ``close()`` releases everything in reverse
order while the context is still current, then pops it. ``infer`` and ``close`` from another thread raise.

``infer`` returns a view of the backend's page-locked output buffer, which the next ``infer`` overwrites:
copy it before keeping it (the segmenter does).

A recurrent model (``recurrent=RecurrentIO(...)``, e.g. rvm) runs through :meth:`TensorRTBackend.run_recurrent`,
with its state kept on the device by :mod:`.recurrent`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from realtime_seg.backends.base import Backend
from realtime_seg.backends.tensorrt.build import (
    BuildOptions,
    EngineRequest,
    EngineResult,
    Progress,
    make_trt_logger,
    obtain_engine,
)
from realtime_seg.backends.tensorrt.cuda_api import CUDA_API_NAMES, CudaApi, make_cuda_api
from realtime_seg.backends.tensorrt.engine_cache import EngineCache
from realtime_seg.backends.tensorrt.probe import import_tensorrt
from realtime_seg.backends.tensorrt.recurrent import RecurrentIO, StateBuffers, recurrent_io, set_recurrent_shapes
from realtime_seg.errors import BackendError, UnknownNameError
from realtime_seg.models.spec import StateSpec

# RecurrentIO and recurrent_io live in .recurrent; callers import them from here as well
__all__ = ["RecurrentIO", "TensorRTBackend", "recurrent_io"]

logger = logging.getLogger(__name__)


class _GraphRunner:
    """Enqueue through a captured CUDA graph; capture lazily after a plain run, fall back when capture fails.

    As trtexec does (NVIDIA/TensorRT ``samples/common/sampleInference.cpp``): one plain enqueue first (TensorRT's
    lazy initialisation must not be captured), synchronize the stream, capture a second enqueue, instantiate;
    when enqueue fails under capture or capture is unsupported, end the capture, free any partial graph, clear
    the CUDA error state and keep enqueueing plainly.
    """

    def __init__(self, api: CudaApi, enabled: bool) -> None:
        self._graphs = api.graphs if enabled else None
        self.enabled = self._graphs is not None
        if enabled and self._graphs is None:
            logger.info("CUDA graphs need cuda-python (cuda.bindings); using plain enqueue")
        self._exec: Any = None
        self.captured = False

    def run(self, context: Any, stream_handle: int) -> None:
        if self._exec is not None:
            assert self._graphs is not None
            self._graphs.launch(self._exec, stream_handle)
            return
        _enqueue(context, stream_handle)
        if self.enabled:
            self._capture(context, stream_handle)

    def _capture(self, context: Any, stream_handle: int) -> None:
        graphs = self._graphs
        assert graphs is not None
        capturing = False
        try:
            graphs.synchronize(stream_handle)  # nothing of the plain run may leak into the capture
            graphs.begin_capture(stream_handle)
            capturing = True
            ok = context.execute_async_v3(stream_handle)
            if not ok:
                raise BackendError("execute_async_v3 returned False under capture (an op that cannot be captured?)")
            capturing = False
            graph = graphs.end_capture(stream_handle)
            try:
                self._exec = graphs.instantiate(graph)
            finally:
                graphs.destroy(graph, None)  # the executable graph does not need it
            self.captured = True
        except Exception as exc:  # noqa: BLE001 - any capture failure falls back to plain enqueue
            logger.warning("CUDA graph capture failed (%s): using plain enqueue", exc)
            with contextlib.suppress(Exception):
                if capturing:
                    graphs.end_capture_on_error(stream_handle)
                else:
                    graphs.clear_error()
            self.enabled = False

    def reset(self) -> None:
        """Forget the captured graph (shapes changed); the next run recaptures."""
        exec_, self._exec = self._exec, None
        self.captured = False
        if self._graphs is not None and exec_ is not None:
            self._graphs.destroy(None, exec_)


_DTYPES = {
    "FLOAT": np.float32,
    "HALF": np.float16,
    "INT32": np.int32,
    "INT64": np.int64,
    "INT8": np.int8,
    "UINT8": np.uint8,
    "BOOL": np.bool_,
}


def _np_dtype(trt: Any, dt: Any) -> np.dtype:
    nptype = getattr(trt, "nptype", None)
    if nptype is not None:
        try:
            return np.dtype(nptype(dt))
        except TypeError:
            pass
    name = getattr(dt, "name", str(dt)).split(".")[-1]
    if name not in _DTYPES:
        raise BackendError(f"unsupported tensor data type {name} in the engine")
    return np.dtype(_DTYPES[name])


def _enqueue(context: Any, stream_handle: int) -> None:
    if not context.execute_async_v3(stream_handle):
        raise BackendError("TensorRT execute_async_v3 failed (see the log for TensorRT's message)")


class TensorRTBackend(Backend):
    """A TensorRT engine on one GPU. Open, infer and close in one thread (the processing thread)."""

    name = "tensorrt"
    #: runs recurrent, dynamic-size models (given ``recurrent=``) with the state kept on the device
    runs_recurrent: ClassVar[bool] = True

    def __init__(
        self,
        model_path: Path,
        input_shape: tuple[int, ...],
        *,
        precision: str = "auto",
        opt_level: int = 3,
        max_batch: int = 1,
        workspace_mb: int = 0,
        engine_dir: Path | str | None = None,
        cuda_graph: bool = True,
        cuda_api: str = "auto",
        device: int = 0,
        version_compatible: bool = False,
        hardware_compatibility: str = "none",
        gpu_timing: bool = False,
        progress: Progress | None = None,
        recurrent: RecurrentIO | None = None,
    ) -> None:
        super().__init__(model_path, input_shape)
        self.recurrent = recurrent
        if cuda_api not in CUDA_API_NAMES:
            raise UnknownNameError("CUDA API", cuda_api, CUDA_API_NAMES)
        self.options = BuildOptions(
            precision, opt_level, max_batch, workspace_mb, version_compatible, hardware_compatibility
        )
        self.engine_dir = engine_dir
        self.cuda_graph = cuda_graph
        self.cuda_api_name = cuda_api
        self.device = device
        self.gpu_timing = gpu_timing
        self.progress = progress
        self._rt: _Runtime | None = None

    def _open(self) -> None:
        self._rt = _Runtime(self)

    def _runtime(self) -> _Runtime:
        rt = self._rt
        if rt is None:  # pragma: no cover - the base class checks is_open
            raise BackendError("tensorrt backend is not open")
        if threading.get_ident() != rt.thread:
            raise BackendError(
                "the TensorRT backend was opened in another thread: CUDA state is per thread, so open, infer "
                "and close it in the same (processing) thread"
            )
        return rt

    def _infer(self, tensor: np.ndarray) -> np.ndarray:
        if self.recurrent is not None:
            raise BackendError("a recurrent model runs through run_recurrent(), not infer()")
        return self._runtime().infer(tensor)

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
        """The state stays on the device (see the module docstring); ``outputs`` are host views, valid until
        the next call."""
        self._require_open()
        if self.recurrent is None:
            raise BackendError("this TensorRT backend was opened for a frame-by-frame model (no recurrent= given)")
        if layout != "NCHW" or tuple(st.input for st in states) != tuple(st.input for st in self.recurrent.states):
            raise BackendError("run_recurrent: the states (or layout) differ from those the engine was built for")
        return self._runtime().run_recurrent(feeds, outputs, size_wh, start)

    def _close(self) -> None:
        rt = self._runtime()
        self._rt = None
        rt.close()

    # -- reporting -------------------------------------------------------------------------------
    @property
    def engine(self) -> EngineResult | None:
        return self._rt.engine_result if self._rt else None

    @property
    def graph_captured(self) -> bool:
        return bool(self._rt and self._rt.graph.captured)

    @property
    def last_gpu_timings_ms(self) -> dict[str, float]:
        """With ``gpu_timing=True``: the last frame's ``h2d``, ``compute`` and ``d2h`` times from CUDA events."""
        return dict(self._rt.last_timings) if self._rt else {}

    @property
    def description(self) -> str:
        rt = self._rt
        if rt is None:
            return "TensorRT (not open)"
        graphs = "CUDA graph" if rt.graph.captured else ("graph pending" if rt.graph.enabled else "plain enqueue")
        return (
            f"TensorRT {rt.trt_version} {rt.engine_result.key.precision} on {rt.gpu.name} via {rt.api.name} "
            f"({graphs}, max batch {rt.max_batch})"
        )


class _Runtime:
    """Everything CUDA for one open backend. Built whole in ``__init__`` (or torn down on failure)."""

    def __init__(self, owner: TensorRTBackend) -> None:
        self.thread = threading.get_ident()
        self.last_timings: dict[str, float] = {}
        trt = import_tensorrt()
        self.trt_version = str(trt.__version__)
        self.api = make_cuda_api(owner.cuda_api_name)
        self._stack = contextlib.ExitStack()
        self.api.activate(owner.device)
        self._stack.callback(self.api.deactivate)  # runs last: everything below is released while current
        try:
            self._setup(trt, owner)
        except BaseException:
            self._stack.close()
            raise

    def _setup(self, trt: Any, owner: TensorRTBackend) -> None:
        api, stack = self.api, self._stack
        self.gpu = api.device_info(owner.device)
        cache = EngineCache(owner.engine_dir)
        self.recurrent = owner.recurrent
        request = EngineRequest(
            owner.model_path,
            owner.input_shape,
            owner.options,
            profile=owner.recurrent.profile() if owner.recurrent else None,
        )
        self._trt_logger = make_trt_logger(trt)
        self._trt_runtime = trt.Runtime(self._trt_logger)
        stack.callback(self._drop, "_trt_runtime")
        if owner.options.version_compatible:
            # version-compatible plans embed the lean runtime (host code), which a Runtime refuses by default;
            # these plans are our own builds from our cache folder (engine files are executables: see the docs)
            self._trt_runtime.engine_host_code_allowed = True
        result = obtain_engine(trt, request, self.gpu, cache, progress=owner.progress)
        self._trt_logger.errors.clear()
        engine = self._trt_runtime.deserialize_cuda_engine(result.plan)
        if engine is None and not result.built:
            logger.warning(
                "cached engine %s does not deserialize (%s): rebuilding",
                result.path,
                "; ".join(self._trt_logger.errors) or "no details",
            )
            cache.invalidate(result.key)
            result = obtain_engine(trt, request, self.gpu, cache, progress=owner.progress, force=True)
            self._trt_logger.errors.clear()
            engine = self._trt_runtime.deserialize_cuda_engine(result.plan)
        if engine is None:
            raise BackendError(
                f"TensorRT cannot deserialize the engine it just built ({result.path}): "
                + ("; ".join(self._trt_logger.errors) or "see the log (-v)")
            )
        self.engine_result = result
        self._engine = engine
        stack.callback(self._drop, "_engine")

        self._bind_io(trt, engine, owner)
        self._context = engine.create_execution_context()
        if self._context is None:
            raise BackendError("TensorRT could not create an execution context (out of GPU memory?)")
        stack.callback(self._drop, "_context")

        self.stream = api.create_stream()
        stack.callback(self._release_stream)
        self.stream_handle = api.stream_handle(self.stream)
        self.states: StateBuffers | None = None
        if self.recurrent is not None:
            self._allocate_recurrent(self.recurrent)
        else:
            self._allocate(trt)
        self.graph = _GraphRunner(api, owner.cuda_graph)
        stack.callback(self.graph.reset)
        self._events: list[Any] = []
        if owner.gpu_timing:
            stack.callback(self._release_events)
            for _ in range(4):
                self._events.append(api.create_event())

    def _bind_io(self, trt: Any, engine: Any, owner: TensorRTBackend) -> None:
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        inputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self.output_names = [n for n in names if n not in inputs]
        self.dtypes = {n: _np_dtype(trt, engine.get_tensor_dtype(n)) for n in names}
        rec = owner.recurrent
        if rec is not None:
            want_in = {rec.input_name, *(st.input for st in rec.states)}
            want_out = {*rec.outputs, *(st.output for st in rec.states)}
            if set(inputs) != want_in or not want_out <= set(self.output_names):
                raise BackendError(
                    f"the engine's inputs {inputs} and outputs {self.output_names} do not match the model spec "
                    f"(inputs {sorted(want_in)}, outputs {sorted(want_out)})"
                )
            self.input_name, self.max_batch, self.dynamic_batch = rec.input_name, 1, False
            self.sample_shape: tuple[int, ...] = rec.image_shape(rec.opt_wh)[1:]
            return
        if len(inputs) != 1 or not self.output_names:
            raise BackendError(
                f"the TensorRT backend runs models with one input and at least one output; the engine has inputs "
                f"{inputs} and outputs {self.output_names}"
            )
        self.input_name = inputs[0]
        engine_shape = tuple(int(d) for d in engine.get_tensor_shape(self.input_name))
        if len(engine_shape) != len(owner.input_shape) or any(
            d not in (-1, w) for d, w in zip(engine_shape[1:], owner.input_shape[1:], strict=True)
        ):
            raise BackendError(
                f"engine input {self.input_name!r} has shape {list(engine_shape)}, the model spec expects "
                f"{list(owner.input_shape)} (batch axis aside)"
            )
        self.sample_shape = tuple(int(d) for d in owner.input_shape[1:])
        if engine_shape[0] == -1:
            _, _, max_shape = engine.get_tensor_profile_shape(self.input_name, 0)
            self.max_batch = int(max_shape[0])
            self.dynamic_batch = True
        else:
            self.max_batch = engine_shape[0]
            self.dynamic_batch = False

    def _allocate(self, trt: Any) -> None:
        """Page-locked host + device buffers for every I/O tensor at the max shape, addresses set once."""
        ctx = self._context
        self._set_batch(self.max_batch)
        shapes: dict[str, tuple[int, ...]] = {self.input_name: (self.max_batch, *self.sample_shape)}
        for name in self.output_names:
            shape = tuple(int(d) for d in ctx.get_tensor_shape(name))
            if any(d < 0 for d in shape):
                raise BackendError(f"output {name!r} has a data-dependent shape {list(shape)}: not supported")
            shapes[name] = shape
        self._bind_buffers(shapes)
        self.batch = 1 if self.dynamic_batch else self.max_batch
        self._set_batch(self.batch)

    def _bind_buffers(self, shapes: Mapping[str, tuple[int, ...]]) -> None:
        """A page-locked host and a device buffer per tensor, the device address set in the context once."""
        api, ctx = self.api, self._context
        self.host: dict[str, np.ndarray] = {}
        self.device_ptrs: dict[str, int] = {}
        for name, shape in shapes.items():
            host = api.alloc_host(shape, self.dtypes[name])
            self._stack.callback(api.free_host, host)
            self.host[name] = host
            ptr = api.alloc_device(host.nbytes)
            self._stack.callback(api.free_device, ptr)
            self.device_ptrs[name] = ptr
            if not ctx.set_tensor_address(name, ptr):
                raise BackendError(f"TensorRT refused the address of tensor {name!r}")

    def _allocate_recurrent(self, rec: RecurrentIO) -> None:
        """Host + device buffers for the image and the outputs read back at the profile's max shapes, then the
        states' buffers."""
        ctx = self._context
        set_recurrent_shapes(ctx, rec, rec.max_wh)
        shapes: dict[str, tuple[int, ...]] = {rec.input_name: rec.image_shape(rec.max_wh)}
        shapes.update((name, tuple(int(d) for d in ctx.get_tensor_shape(name))) for name in rec.outputs)
        self._bind_buffers(shapes)
        self.states = StateBuffers(rec, self.api, self._stack)

    def run_recurrent(
        self, feeds: Mapping[str, np.ndarray], outputs: Sequence[str], size_wh: tuple[int, int], start: bool
    ) -> list[np.ndarray]:
        rec, states = self.recurrent, self.states
        assert rec is not None and states is not None
        api, stream, ctx = self.api, self.stream, self._context
        states.bind(ctx, size_wh, start, stream)
        image = feeds[rec.input_name]
        shape = rec.image_shape(size_wh)
        if tuple(image.shape) != shape:
            raise BackendError(f"input {rec.input_name!r}: expected shape {list(shape)}, got {list(image.shape)}")
        h_in = self.host[rec.input_name].reshape(-1)[: image.size].reshape(shape)
        np.copyto(h_in, image, casting="same_kind")
        api.htod_async(self.device_ptrs[rec.input_name], h_in, stream)
        _enqueue(ctx, self.stream_handle)
        results = []
        for name in outputs:
            out_shape = tuple(int(d) for d in ctx.get_tensor_shape(name))
            host = self.host[name].reshape(-1)[: int(np.prod(out_shape))].reshape(out_shape)
            api.dtoh_async(host, self.device_ptrs[name], stream)
            results.append(host)
        api.synchronize(stream)
        states.swap()
        return [r if r.dtype == np.float32 else r.astype(np.float32) for r in results]

    def _set_batch(self, n: int) -> None:
        if not self._context.set_input_shape(self.input_name, (n, *self.sample_shape)):
            raise BackendError(f"TensorRT refused input shape {[n, *self.sample_shape]} for {self.input_name!r}")

    def _release_stream(self) -> None:
        stream, self.stream = self.stream, None
        self.api.destroy_stream(stream)
        del stream  # pycuda destroys its stream with the last reference: here, while the context is current

    def _release_events(self) -> None:
        events, self._events = self._events, []
        for ev in events:
            self.api.destroy_event(ev)
        events.clear()

    def _drop(self, attr: str) -> None:
        """Release one TensorRT object (its destructor runs now, while the CUDA context is current)."""
        setattr(self, attr, None)

    def infer(self, tensor: np.ndarray) -> np.ndarray:
        n = int(tensor.shape[0])
        if n > self.max_batch or (not self.dynamic_batch and n != self.max_batch):
            want = f"1..{self.max_batch}" if self.dynamic_batch else str(self.max_batch)
            raise BackendError(
                f"batch: the engine takes {want}, got {n} (rebuild with a larger max batch: --max-batch)"
            )
        if n != self.batch:
            self._set_batch(n)
            self.batch = n
            self.graph.reset()
        api, stream, ev = self.api, self.stream, self._events
        out_name = self.output_names[0]
        h_in, h_out = self.host[self.input_name][:n], self.host[out_name][:n]
        np.copyto(h_in, tensor, casting="same_kind")
        if ev:
            api.record_event(ev[0], stream)
        api.htod_async(self.device_ptrs[self.input_name], h_in, stream)
        if ev:
            api.record_event(ev[1], stream)
        self.graph.run(self._context, self.stream_handle)
        if ev:
            api.record_event(ev[2], stream)
        api.dtoh_async(h_out, self.device_ptrs[out_name], stream)
        if ev:
            api.record_event(ev[3], stream)
        api.synchronize(stream)
        if ev:
            self.last_timings = {
                "h2d": api.elapsed_ms(ev[0], ev[1]),
                "compute": api.elapsed_ms(ev[1], ev[2]),
                "d2h": api.elapsed_ms(ev[2], ev[3]),
            }
        return h_out if h_out.dtype == np.float32 else h_out.astype(np.float32)

    def close(self) -> None:
        """Release in reverse order of creation; the context pop runs last, even if a release fails."""
        self._stack.close()
