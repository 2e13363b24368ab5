"""Building engines (the "loader" half, as Polygraphy splits it): plan, parse, build, cache.

TensorRT 10 and 11. The network is strongly typed wherever that gives the requested precision
(``STRONGLY_TYPED`` exists in 10 and is the only mode in 11), so precision comes from the graph: fp16 from
the fp16 ONNX variant. Only on TensorRT 10 with an fp32 graph and ``precision="fp16"`` does the builder's
FP16 flag do it (TensorRT 11 removed the flag). Batch 1 is the default profile; ``max_batch`` widens it
for offline use. A timing cache lives beside the engines. Parser errors name the node and its op.

``tensorrt`` arrives as an argument (from :func:`~realtime_seg.backends.tensorrt.probe.import_tensorrt`), never by a
module-level import.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from realtime_seg._pypi import sha256_file
from realtime_seg.backends.tensorrt.cuda_api import GpuInfo
from realtime_seg.backends.tensorrt.engine_cache import (
    EngineCache,
    EngineKey,
    ProfileShapes,
    profile_shapes,
)
from realtime_seg.backends.tensorrt.probe import trt_flavour, trt_major
from realtime_seg.errors import BackendError, EngineCacheError, ModelError, UnknownNameError

logger = logging.getLogger(__name__)

PRECISIONS = ("auto", "fp32", "fp16")
HARDWARE_COMPAT = ("none", "ampere+", "same-cc")

#: progress callback: one human line per builder phase / step
Progress = Callable[[str], None]

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

    from realtime_seg.models.registry import load_onnx

    model = load_onnx(onnx_path)
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


#: our names -> ``trt.HardwareCompatibilityLevel`` members, with the first TensorRT release that has each
_HW_LEVELS = {"ampere+": ("AMPERE_PLUS", "8.6"), "same-cc": ("SAME_COMPUTE_CAPABILITY", "10.9")}


def hardware_compatibility_level(trt: Any, name: str) -> Any:
    """The ``trt.HardwareCompatibilityLevel`` for ``name``; :class:`BackendError` where this TensorRT lacks it.

    ``SAME_COMPUTE_CAPABILITY`` exists from TensorRT 10.9 (``include/NvInfer.h`` and ``python/src/infer/pyCore.cpp``
    at tag v10.9.0; absent at v10.8.0).
    """
    member, since = _HW_LEVELS[name]
    level = getattr(getattr(trt, "HardwareCompatibilityLevel", None), member, None)
    if level is None:
        raise BackendError(
            f"hardware compatibility {name!r} needs TensorRT {since} or newer (this is {trt.__version__}): "
            "choose another level or upgrade TensorRT"
        )
    return level


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
    #: an explicit optimization profile (a dynamic-size recurrent model: the image input's working
    #: resolutions and its states' shapes); ``None``: derived from the graph and ``input_shape``
    profile: ProfileShapes | None = None


def make_key(trt: Any, request: EngineRequest, gpu: GpuInfo) -> tuple[EngineKey, BuildPlan, ProfileShapes | None]:
    from realtime_seg.models.registry import read_graph_io

    io = read_graph_io(request.onnx_path)
    try:
        profile = request.profile or profile_shapes(
            io.input_name, io.input_shape, request.input_shape, request.options.max_batch
        )
    except ValueError as exc:
        raise BackendError(str(exc)) from exc
    plan = build_plan(
        trt_major(trt),
        onnx_precision(request.onnx_path),
        request.options.precision,
        hasattr(trt.BuilderFlag, "FP16"),
    )
    o = request.options
    if o.hardware_compatibility != "none":
        hardware_compatibility_level(trt, o.hardware_compatibility)  # refuse before any cache lookup or build
    key = EngineKey(
        model=request.onnx_path.stem,
        onnx_sha256=sha256_file(request.onnx_path),
        trt_version=str(trt.__version__),
        trt_flavour=trt_flavour(),
        gpu_name=gpu.name,
        compute_capability=gpu.compute_capability,
        precision=plan.precision,
        build_mode=plan.mode,
        profile=profile.key if profile else (),
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
        config.hardware_compatibility_level = hardware_compatibility_level(trt, options.hardware_compatibility)
    if profile is not None:
        opt_profile = builder.create_optimization_profile()
        opt_profile.set_shape(profile.input_name, profile.min, profile.opt, profile.max)
        for name, lo, mid, hi in profile.more:
            opt_profile.set_shape(name, lo, mid, hi)
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
