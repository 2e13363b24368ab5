"""TensorRT backend: engines built from the ONNX model, cached in ``engines/``, run with pycuda or cuda-python.

Building (:func:`build_plan`, :func:`obtain_engine`)
    TensorRT 10 and 11. The network is strongly typed wherever that gives the requested precision
    (``STRONGLY_TYPED`` exists in 10 and is the only mode in 11), so precision comes from the graph: fp16 from
    the fp16 ONNX variant. Only on TensorRT 10 with an fp32 graph and ``precision="fp16"`` does the builder's
    FP16 flag do it (TensorRT 11 removed the flag). Batch 1 is the default profile; ``max_batch`` widens it
    for offline use. A timing cache lives beside the engines. Parser errors name the node and its op.

Running (:class:`TensorRTBackend`)
    Every CUDA object is created, used and released in the thread that calls ``open()`` (the processing
    thread): the CUDA context is made current there (pycuda: the primary context is retained and pushed, never
    ``pycuda.autoinit``), page-locked host buffers and device buffers are allocated once at the profile's max
    shape, copies are async on one non-default stream, and ``execute_async_v3`` runs the engine (optionally as
    a captured CUDA graph, with plain enqueue when capture fails). ``close()`` releases everything in reverse
    order while the context is still current, then pops it. ``infer`` and ``close`` from another thread raise.

    ``infer`` returns a view of the backend's page-locked output buffer, which the next ``infer`` overwrites:
    copy it before keeping it (the segmenter does).

Nothing here imports ``tensorrt``, ``pycuda`` or ``cuda`` at module level: the package imports on CPU machines.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from realtime_seg.backends.base import Backend
from realtime_seg.backends.cuda_api import CUDA_API_NAMES, CudaApi, GpuInfo, make_cuda_api
from realtime_seg.backends.engine_cache import EngineCache, EngineKey, ProfileShapes, profile_shapes, sha256_file
from realtime_seg.errors import BackendError, BackendUnavailable, EngineCacheError, ModelError, UnknownNameError

logger = logging.getLogger(__name__)

INSTALL_HINT = (
    "pip install 'realtime-seg[tensorrt]' --extra-index-url https://pypi.nvidia.com "
    "(pycuda builds from source and needs the CUDA toolkit; the 'cuda-python' extra avoids that)"
)
PRECISIONS = ("auto", "fp32", "fp16")
HARDWARE_COMPAT = ("none", "ampere+", "same-cc")
MIN_TRT_MAJOR = 10

#: progress callback: one human line per builder phase / step
Progress = Callable[[str], None]


# -- probing -------------------------------------------------------------------------------------


#: import names, in order: ``tensorrt`` (the ``tensorrt``/``tensorrt-cuXX`` frontend packages and the tar/deb
#: wheels) re-exports ``tensorrt_bindings`` (the ``tensorrt-cuXX-bindings`` wheel), which is all there is when
#: only the bindings and libs wheels were installed (``--no-deps`` installs from NVIDIA's index do that)
TRT_MODULES = ("tensorrt", "tensorrt_bindings")


def import_tensorrt() -> Any:
    """Import TensorRT, turning every failure into :class:`BackendUnavailable` with the reason and a hint."""
    name = next((m for m in TRT_MODULES if importlib.util.find_spec(m) is not None), None)
    if name is None:
        raise BackendUnavailable(f"TensorRT is not installed: {INSTALL_HINT}")
    try:
        trt = importlib.import_module(name)
    except (ImportError, OSError) as exc:
        text = str(exc)
        hint = INSTALL_HINT
        if "libcudnn" in text or "libcublas" in text or "libcudart" in text:
            hint = (
                "a CUDA library TensorRT links against is missing: install TensorRT from NVIDIA's index, "
                "which brings them, or add the CUDA/cuDNN library folder to LD_LIBRARY_PATH"
            )
        elif "libnvinfer" in text:
            hint = "the tensorrt package is incomplete: reinstall it with " + INSTALL_HINT
        raise BackendUnavailable(f"TensorRT is installed but does not import ({text}): {hint}") from exc
    major = trt_major(trt)
    if major < MIN_TRT_MAJOR:
        raise BackendUnavailable(f"TensorRT {trt.__version__} is too old: realtime-seg needs TensorRT >= 10")
    return trt


def trt_major(trt: Any) -> int:
    """``10`` from ``"10.8.0.43"`` (also from pre-release strings such as ``"10.0.0b6"``)."""
    head = str(getattr(trt, "__version__", "0")).split(".")[0]
    digits = "".join(ch for ch in head if ch.isdigit())
    return int(digits) if digits else 0


def trt_flavour() -> str:
    """The CUDA major TensorRT's wheels were built for (``cu12``/``cu13``), from the installed distributions."""
    from importlib.metadata import PackageNotFoundError, version

    for cu in ("cu13", "cu12", "cu11"):
        for dist in (f"tensorrt-{cu}", f"tensorrt_{cu}", f"tensorrt-{cu}-bindings", f"tensorrt_{cu}_bindings"):
            try:
                version(dist)
                return cu
            except PackageNotFoundError:
                continue
    return "unknown"


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    reason: str
    trt_version: str | None = None
    cuda_api: str | None = None
    cuda_api_version: str | None = None
    driver: str | None = None
    gpu: GpuInfo | None = None


def probe_details(device: int = 0, cuda_api: str = "auto") -> ProbeResult:
    """Whether TensorRT can run here: it imports, CUDA bindings import, and a GPU answers. Never raises."""
    try:
        trt = import_tensorrt()
    except BackendUnavailable as exc:
        return ProbeResult(False, str(exc))
    version = str(trt.__version__)
    try:
        api = make_cuda_api(cuda_api)
    except BackendUnavailable as exc:
        return ProbeResult(False, f"TensorRT {version} imports, but {exc}", version)
    try:
        count = api.device_count()
        driver = api.driver_version()
    except BackendError as exc:
        return ProbeResult(
            False, f"TensorRT {version} imports, but no GPU answers: {exc}", version, api.name, api.version
        )
    if count == 0:
        return ProbeResult(False, f"TensorRT {version} imports, but no NVIDIA GPU was found", version, api.name)
    if not 0 <= device < count:
        return ProbeResult(False, f"GPU {device} requested, but only {count} GPU(s) found", version, api.name)
    try:
        gpu = api.device_info(device)
    except BackendError as exc:
        return ProbeResult(False, f"TensorRT {version} imports, but GPU {device} does not answer: {exc}", version)
    reason = f"TensorRT {version} ({trt_flavour()}) with {api.name} {api.version}, driver {driver}, {gpu.summary}"
    return ProbeResult(True, reason, version, api.name, api.version, driver, gpu)


def probe() -> tuple[bool, str]:
    """Whether TensorRT can run here, and why (not)."""
    result = probe_details()
    return result.ok, result.reason


# -- build planning (pure) -----------------------------------------------------------------------


@dataclass(frozen=True)
class BuildOptions:
    """How to build an engine. ``precision="auto"`` takes it from the graph (fp16 graph -> fp16 engine)."""

    precision: str = "auto"
    opt_level: int = 3
    max_batch: int = 1
    workspace_mb: int = 0  # 0: TensorRT's default limit
    version_compatible: bool = False
    hardware_compatibility: str = "none"

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise UnknownNameError("precision", self.precision, PRECISIONS)
        if self.hardware_compatibility not in HARDWARE_COMPAT:
            raise UnknownNameError("hardware compatibility", self.hardware_compatibility, HARDWARE_COMPAT)
        if not 0 <= self.opt_level <= 5:
            raise BackendError(f"builder optimization level: expected 0..5, got {self.opt_level}")
        if self.max_batch < 1:
            raise BackendError(f"max batch: expected >= 1, got {self.max_batch}")
        if self.workspace_mb < 0:
            raise BackendError(f"workspace: expected >= 0 MiB, got {self.workspace_mb}")


@dataclass(frozen=True)
class BuildPlan:
    precision: str  # "fp32" / "fp16": what the engine computes in
    strongly_typed: bool
    fp16_flag: bool

    @property
    def mode(self) -> str:
        return "strongly-typed" if self.strongly_typed else "fp16-flag"


def onnx_precision(onnx_path: Path) -> str:
    """``fp16`` when the graph carries fp16 weights (our fp16 variant), else ``fp32``."""
    import onnx

    try:
        model = onnx.load(str(onnx_path), load_external_data=False)
    except Exception as exc:  # onnx raises several types for non-ONNX bytes
        raise ModelError(f"{onnx_path} is not an ONNX model ({type(exc).__name__}: {exc})") from exc
    fp16 = onnx.TensorProto.FLOAT16
    if any(init.data_type == fp16 for init in model.graph.initializer):
        return "fp16"
    for node in model.graph.node:
        if node.op_type == "Cast" and any(a.name == "to" and a.i == fp16 for a in node.attribute):
            return "fp16"
    return "fp32"


def build_plan(major: int, graph_precision: str, requested: str, has_fp16_flag: bool) -> BuildPlan:
    """Decide strong typing and the FP16 flag.

    * any precision that the graph carries: strongly typed (10 and 11), no flag;
    * fp16 asked of an fp32 graph: TensorRT 10 builds weakly typed with ``BuilderFlag.FP16``; TensorRT 11 has
      no such flag, so it needs the fp16 ONNX variant;
    * fp32 asked of an fp16 graph: refused (the fp16 weights cannot give fp32 accuracy back).
    """
    if requested == "auto" or requested == graph_precision:
        return BuildPlan(graph_precision, strongly_typed=True, fp16_flag=False)
    if graph_precision == "fp16":
        raise BackendError(
            "precision: an fp32 engine was requested, but the ONNX graph is fp16: build from the fp32 model"
        )
    if major >= 11 or not has_fp16_flag:
        raise BackendError(
            f"precision: TensorRT {major} takes precision only from the graph (it has no FP16 builder flag): "
            "build from the fp16 ONNX variant (built-in models: '--precision fp16' picks it)"
        )
    return BuildPlan("fp16", strongly_typed=False, fp16_flag=True)


def parser_errors(parser: Any) -> list[str]:
    """Every ONNX parser error as ``node 12 'conv_3' (Conv): <description>``."""
    lines = []
    for i in range(int(parser.num_errors)):
        err = parser.get_error(i)
        name = _call_or(err, "node_name", "")
        op = _call_or(err, "node_operator", "")
        index = _call_or(err, "node", -1)
        where = f"node {index} {name!r} ({op})" if (name or op) else f"node {index}"
        lines.append(f"{where}: {_call_or(err, 'desc', str(err))}")
    return lines


def _call_or(obj: Any, method: str, default: Any) -> Any:
    fn = getattr(obj, method, None)
    if fn is None:
        return default
    try:
        return fn()
    except Exception:  # noqa: BLE001 - a missing detail must not hide the error itself
        return default


# -- TensorRT logger and progress monitor ---------------------------------------------------------


_TRT_LOGGER: tuple[Any, Any] | None = None  # (tensorrt module, its logger)
_TRT_LOGGER_LOCK = threading.Lock()


def make_trt_logger(trt: Any) -> Any:
    """The process's one ``trt.ILogger``: forwards to :mod:`logging`, keeps the last errors for error messages.

    TensorRT keeps a single logger pointer while any builder, runtime or refitter exists; a Builder created
    with a second logger while our Runtime lives logs through the first one (with a warning, NVIDIA/TensorRT#1475).
    So every Builder and Runtime here gets this same object; callers clear ``errors`` before the call they
    want the errors of.
    """
    global _TRT_LOGGER
    with _TRT_LOGGER_LOCK:
        if _TRT_LOGGER is None or _TRT_LOGGER[0] is not trt:
            _TRT_LOGGER = (trt, _new_trt_logger(trt))
        return _TRT_LOGGER[1]


def _new_trt_logger(trt: Any) -> Any:
    class _Logger(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)
            self.errors: deque[str] = deque(maxlen=8)

        def log(self, severity: Any, msg: str) -> None:
            sev = trt.ILogger.Severity
            if severity in (sev.INTERNAL_ERROR, sev.ERROR):
                self.errors.append(msg)
                logger.error("TensorRT: %s", msg)
            elif severity == sev.WARNING:
                logger.warning("TensorRT: %s", msg)
            elif severity == sev.INFO:
                logger.info("TensorRT: %s", msg)
            else:
                logger.debug("TensorRT: %s", msg)

    return _Logger()


def make_progress_monitor(trt: Any, progress: Progress) -> Any | None:
    """A ``trt.IProgressMonitor`` that reports top-level phases and their steps, or None where it is absent."""
    base: Any = getattr(trt, "IProgressMonitor", None)
    if base is None:
        return None

    class _Monitor(base):
        def __init__(self) -> None:
            base.__init__(self)
            self._lock = threading.Lock()
            self._steps: dict[str, int] = {}

        # TensorRT calls these from its builder threads: nothing may raise into it
        def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
            try:
                with self._lock:
                    self._steps[phase_name] = num_steps
                indent = "  " if parent_phase else ""
                progress(f"{indent}{phase_name} ({num_steps} step{'s' if num_steps != 1 else ''})")
            except Exception:  # noqa: BLE001 - progress is a courtesy, never a reason to fail a build
                logger.debug("progress callback failed", exc_info=True)

        def step_complete(self, phase_name: str, step: int) -> bool:
            return True

        def phase_finish(self, phase_name: str) -> None:
            with self._lock:
                self._steps.pop(phase_name, None)

    return _Monitor()


# -- building ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EngineRequest:
    """What :func:`obtain_engine` needs: the model, the spec's batch-1 input shape and the build options."""

    onnx_path: Path
    input_shape: tuple[int, ...]
    options: BuildOptions


def make_key(trt: Any, request: EngineRequest, gpu: GpuInfo) -> tuple[EngineKey, BuildPlan, ProfileShapes | None]:
    from realtime_seg.models.registry import read_graph_io

    io = read_graph_io(request.onnx_path)
    try:
        profile = profile_shapes(io.input_name, io.input_shape, request.input_shape, request.options.max_batch)
    except ValueError as exc:
        raise BackendError(str(exc)) from exc
    plan = build_plan(
        trt_major(trt),
        onnx_precision(request.onnx_path),
        request.options.precision,
        hasattr(trt.BuilderFlag, "FP16"),
    )
    o = request.options
    key = EngineKey(
        model=request.onnx_path.stem,
        onnx_sha256=sha256_file(request.onnx_path),
        trt_version=str(trt.__version__),
        trt_flavour=trt_flavour(),
        gpu_name=gpu.name,
        compute_capability=gpu.compute_capability,
        precision=plan.precision,
        build_mode=plan.mode,
        profile=(profile.min, profile.opt, profile.max) if profile else (),
        opt_level=o.opt_level,
        workspace_bytes=o.workspace_mb << 20,
        version_compatible=o.version_compatible,
        hardware_compatibility=o.hardware_compatibility,
    )
    return key, plan, profile


def build_serialized(
    trt: Any,
    onnx_path: Path,
    plan: BuildPlan,
    profile: ProfileShapes | None,
    options: BuildOptions,
    timing_cache: Path | None,
    progress: Progress | None = None,
) -> bytes:
    """Parse the ONNX file and build a serialized engine. Raises :class:`ModelError` / :class:`BackendError`."""
    trt_logger = make_trt_logger(trt)
    trt_logger.errors.clear()
    builder = trt.Builder(trt_logger)
    flags = 0
    if plan.strongly_typed:
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, trt_logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = parser_errors(parser) or list(trt_logger.errors) or ["(no details)"]
        raise ModelError(f"TensorRT cannot parse {onnx_path.name}: " + "; ".join(errors))
    config = builder.create_builder_config()
    if options.workspace_mb:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, options.workspace_mb << 20)
    config.builder_optimization_level = options.opt_level
    if plan.fp16_flag:
        config.set_flag(trt.BuilderFlag.FP16)
    if options.version_compatible:
        config.set_flag(trt.BuilderFlag.VERSION_COMPATIBLE)
    if options.hardware_compatibility != "none":
        level = {"ampere+": "AMPERE_PLUS", "same-cc": "SAME_COMPUTE_CAPABILITY"}[options.hardware_compatibility]
        config.hardware_compatibility_level = getattr(trt.HardwareCompatibilityLevel, level)
    if profile is not None:
        opt_profile = builder.create_optimization_profile()
        opt_profile.set_shape(profile.input_name, profile.min, profile.opt, profile.max)
        config.add_optimization_profile(opt_profile)
    if timing_cache is not None and not _attach_timing_cache(config, timing_cache):
        timing_cache = None  # nothing attached, so nothing to save
    monitor = make_progress_monitor(trt, progress) if progress else None
    if monitor is not None:
        config.progress_monitor = monitor
    elif progress:
        progress("building (this TensorRT reports no progress; it can take minutes)")
    serialized = builder.build_serialized_network(network, config)  # an IHostMemory, or None
    if serialized is None:
        details = "; ".join(trt_logger.errors) or "see the log (-v)"
        raise BackendError(f"TensorRT could not build an engine from {onnx_path.name}: {details}")
    if timing_cache is not None:
        from realtime_seg.io.atomic import write_bytes_atomic

        try:
            write_bytes_atomic(timing_cache, bytes(config.get_timing_cache().serialize()), mkdir=True)
        except Exception as exc:  # noqa: BLE001 - a timing cache is an optimisation, never fatal
            logger.warning("could not save the timing cache %s: %s", timing_cache, exc)
    return bytes(serialized)  # IHostMemory supports the buffer protocol


def _attach_timing_cache(config: Any, path: Path) -> bool:
    """Load the timing cache at ``path`` (or a fresh one) into ``config``; False where none could be attached.

    A timing cache only saves build time, so an unreadable or mismatching one is replaced, never fatal.
    """
    try:
        data = path.read_bytes() if path.is_file() else b""
    except OSError as exc:
        logger.warning("cannot read the timing cache %s (%s): starting a new one", path, exc)
        data = b""
    for attempt in (data, b"") if data else (b"",):
        try:
            cache_obj = config.create_timing_cache(attempt)
            if cache_obj is not None and config.set_timing_cache(cache_obj, False) is not False:
                return True
        except Exception as exc:  # noqa: BLE001 - see the docstring
            logger.debug("timing cache rejected: %s", exc)
        if attempt:
            logger.warning("timing cache %s is unreadable or from another build: starting a new one", path)
    logger.warning("TensorRT refused an empty timing cache: building without one")
    return False


@dataclass(frozen=True)
class EngineResult:
    plan: bytes
    key: EngineKey
    path: Path
    built: bool
    seconds: float


def obtain_engine(
    trt: Any,
    request: EngineRequest,
    gpu: GpuInfo,
    cache: EngineCache,
    *,
    progress: Progress | None = None,
    force: bool = False,
) -> EngineResult:
    """The cached engine for this request, or a freshly built (and stored) one.

    A cached engine that cannot be trusted (:class:`EngineCacheError`: foreign key, corrupt file, missing
    sidecar) is logged and rebuilt.
    """
    key, plan, profile = make_key(trt, request, gpu)
    if not force:
        try:
            cached = cache.load(key)
        except EngineCacheError as exc:
            logger.warning("%s: rebuilding", exc)
            cache.invalidate(key)
            cached = None
        if cached is not None:
            logger.info("using cached engine %s", cache.engine_path(key))
            return EngineResult(cached, key, cache.engine_path(key), built=False, seconds=0.0)
        for line in cache.explain_miss(key):
            logger.warning("not reusing %s", line)
    what = (
        f"{key.model} {key.precision} ({plan.mode}, opt level {key.opt_level}, max batch {request.options.max_batch})"
    )
    logger.warning("building a TensorRT engine for %s on %s: this takes a while, once", what, gpu.name)
    if progress:
        progress(f"building TensorRT engine: {what}")
    t0 = time.perf_counter()
    data = build_serialized(
        trt, request.onnx_path, plan, profile, request.options, cache.timing_cache_path(key), progress
    )
    seconds = time.perf_counter() - t0
    path = cache.store(key, data, seconds)
    return EngineResult(data, key, path, built=True, seconds=seconds)


# -- running -------------------------------------------------------------------------------------


class _GraphRunner:
    """Enqueue through a captured CUDA graph; capture lazily after a plain run, fall back when capture fails."""

    def __init__(self, api: CudaApi, enabled: bool) -> None:
        self._api = api
        self._graphs = api.graphs if enabled else None
        self.enabled = self._graphs is not None
        if enabled and self._graphs is None:
            logger.info("CUDA graphs need cuda-python (cuda.bindings); using plain enqueue")
        self._graph: Any = None
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
        assert self._graphs is not None
        graph = None
        try:
            self._graphs.begin_capture(stream_handle)
            try:
                ok = context.execute_async_v3(stream_handle)
            finally:
                graph = self._graphs.end_capture(stream_handle)
            if not ok:
                raise BackendError("execute_async_v3 returned False during capture")
            self._exec = self._graphs.instantiate(graph)
            self._graph = graph
            self.captured = True
        except Exception as exc:  # noqa: BLE001 - any capture failure falls back to plain enqueue
            logger.warning("CUDA graph capture failed (%s): using plain enqueue", exc)
            if graph is not None:
                with contextlib.suppress(Exception):
                    self._graphs.destroy(graph, None)
            self.enabled = False

    def reset(self) -> None:
        """Forget the captured graph (shapes changed); the next run recaptures."""
        graph, exec_, self._graph, self._exec = self._graph, self._exec, None, None
        if self._graphs is not None and (graph is not None or exec_ is not None):
            self._graphs.destroy(graph, exec_)


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
    ) -> None:
        super().__init__(model_path, input_shape)
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
        return self._runtime().infer(tensor)

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
        request = EngineRequest(owner.model_path, owner.input_shape, owner.options)
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
        self.dtypes = {n: _np_dtype(trt, engine.get_tensor_dtype(n)) for n in names}

    def _allocate(self, trt: Any) -> None:
        """Page-locked host + device buffers for every I/O tensor at the max shape, addresses set once."""
        api, ctx = self.api, self._context
        self._set_batch(self.max_batch)
        shapes = {self.input_name: (self.max_batch, *self.sample_shape)}
        for name in self.output_names:
            shape = tuple(int(d) for d in ctx.get_tensor_shape(name))
            if any(d < 0 for d in shape):
                raise BackendError(f"output {name!r} has a data-dependent shape {list(shape)}: not supported")
            shapes[name] = shape
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
        self.batch = 1 if self.dynamic_batch else self.max_batch
        self._set_batch(self.batch)

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
