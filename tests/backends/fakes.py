"""Stand-ins for ``tensorrt`` (``fakes_pycuda.py``: pycuda, ``fakes_cudart.py``: cuda-python): no GPU exists here.

They are injected through ``sys.modules`` so OUR code (the builder, the engine cache, ``PycudaApi`` and the
runtime) runs unchanged against them. The stand-ins only do what TensorRT and CUDA are documented to do
(see shared/design/TENSORRT.md; the signatures follow TensorRT's python/src/infer/pyCore.cpp and
parsers/pyOnnx.cpp, and pycuda's wrap_cudadrv.cpp), keep a journal of calls so tests can check the order of OUR
calls, and
emulate a device with host memory: "device" buffers are numpy arrays keyed by a fake pointer, and the
fake engine computes ``output = mean over the input's channels`` so results are checkable.

Checked against NVIDIA's sources (NVIDIA/TensorRT tags v10.0.0, v10.8.0, v10.9.0, v10.16, v11.0, v11.1):

* ``NetworkDefinitionCreationFlag.STRONGLY_TYPED`` is 1 on 10.x (``kEXPLICIT_BATCH`` is 0) and 0 on 11.x
  (``include/NvInfer.h``); the Python binding keeps the name on 11 (``python/src/infer/pyCore.cpp``).
* ``BuilderFlag.FP16`` is 0 and ``VERSION_COMPATIBLE`` 13 on 10.x; 11.x has no FP16 and ``VERSION_COMPATIBLE``
  is 12 there.
* ``HardwareCompatibilityLevel.SAME_COMPUTE_CAPABILITY`` (2) exists from v10.9.0, not in v10.8.0.
* ``DataType``: FLOAT 0, HALF 1, INT8 2, INT32 3, BOOL 4, UINT8 5, FP8 6, BF16 7, INT64 8, INT4 9, FP4 10
  (``include/NvInferRuntimeBase.h``); ``trt.nptype`` raises ``TypeError`` for a type numpy lacks
  (``python/packaging/bindings_wheel/tensorrt/__init__.py``).
"""

from __future__ import annotations

import itertools
import json
import sys
import threading
import types
from typing import Any

import numpy as np
import onnx


class Journal(list):
    def names(self) -> list[str]:
        return [e[0] for e in self]

    def index(self, name: str, start: int = 0) -> int:  # type: ignore[override]
        return self.names().index(name, start)

    def last(self, name: str) -> int:
        names = self.names()
        return len(names) - 1 - names[::-1].index(name)


class FakeDevice:
    """Device memory (pointer -> byte array) and CUDA's per-thread context stacks."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.mem: dict[int, np.ndarray] = {}
        self._ptrs = itertools.count(0x1000, 0x1000)
        self._stacks: dict[int, list[Any]] = {}
        self.runtime_bound: set[int] = set()  # threads where cudaSetDevice bound the primary context
        self.retains = 0  # cuDevicePrimaryCtxRetain minus cuDevicePrimaryCtxRelease
        self.capturing: dict[int, list[Any]] = {}  # stream handle -> captured operations
        self.last_error = 0  # the runtime's sticky error (cudaGetLastError returns and clears it)

    @property
    def context_stack(self) -> list[Any]:
        """CUDA's context stack of the calling thread."""
        return self._stacks.setdefault(threading.get_ident(), [])

    def alloc(self, nbytes: int) -> int:
        ptr = next(self._ptrs)
        self.mem[ptr] = np.zeros(nbytes, np.uint8)
        return ptr

    def require_context(self, what: str) -> None:
        if not self.context_stack and threading.get_ident() not in self.runtime_bound:
            raise AssertionError(f"{what} without a current CUDA context")

    def on_stream(self, stream: int, op: Any) -> None:
        """Run ``op`` now, or record it when ``stream`` is being captured into a graph."""
        captured = self.capturing.get(stream)
        if captured is None:
            op()
        else:
            captured.append(op)


# -- tensorrt ------------------------------------------------------------------------------------------


class _Enum:
    def __init__(self, **members: int) -> None:
        for k, v in members.items():
            setattr(self, k, v)


def make_fake_trt(
    device: FakeDevice,
    version: str = "10.8.0.43",
    *,
    parse_errors: list[tuple[int, str, str, str]] | None = None,
    fail_build: bool = False,
    uncapturable: bool = False,
) -> types.ModuleType:
    """A ``tensorrt`` module of ``version``'s API (see the module docstring for the enum values).

    ``uncapturable``: the engine holds an op that cannot run under stream capture, so ``execute_async_v3`` on a
    capturing stream invalidates the capture and returns False (as TensorRT does; trtexec then falls back).
    """
    j = device.journal
    trt = types.ModuleType("tensorrt")
    trt.__version__ = version  # type: ignore[attr-defined]
    major = int(version.split(".")[0])

    class ILogger:
        Severity = _Enum(INTERNAL_ERROR=0, ERROR=1, WARNING=2, INFO=3, VERBOSE=4)

        def __init__(self) -> None:
            pass

    class IProgressMonitor:
        def __init__(self) -> None:
            pass

    # TensorRT keeps ONE logger pointer while any Builder/Runtime/Refitter lives: a second logger is ignored
    # (with a warning) and messages go to the first (NVIDIA/TensorRT#1475). Mirrored so a test notices when a
    # Builder made while a Runtime lives logs its errors somewhere our error message does not look.
    global_logger: dict[str, Any] = {"logger": None, "live": 0}

    def attach_logger(given: Any) -> Any:
        if global_logger["live"] == 0:
            global_logger["logger"] = given
        elif given is not global_logger["logger"]:
            global_logger["logger"].log(ILogger.Severity.WARNING, "The logger passed into createInfer* differs")
        global_logger["live"] += 1
        return global_logger["logger"]

    def detach_logger() -> None:
        global_logger["live"] -= 1

    minor = int(version.split(".")[1])
    # values from include/NvInfer.h / NvInferRuntimeBase.h at the tags named in the module docstring
    flags = {"VERSION_COMPATIBLE": 13} if major < 11 else {"VERSION_COMPATIBLE": 12}
    if major < 11:
        flags["FP16"] = 0
    hw_levels = {"NONE": 0, "AMPERE_PLUS": 1}
    if (major, minor) >= (10, 9):
        hw_levels["SAME_COMPUTE_CAPABILITY"] = 2
    data_types = {"FLOAT": 0, "HALF": 1, "INT8": 2, "INT32": 3, "BOOL": 4, "UINT8": 5, "FP8": 6, "BF16": 7}
    data_types.update(INT64=8, INT4=9, FP4=10)
    trt.ILogger = ILogger  # type: ignore[attr-defined]
    trt.IProgressMonitor = IProgressMonitor  # type: ignore[attr-defined]
    trt.NetworkDefinitionCreationFlag = _Enum(STRONGLY_TYPED=1 if major < 11 else 0)  # type: ignore[attr-defined]
    trt.BuilderFlag = _Enum(**flags)  # type: ignore[attr-defined]
    trt.MemoryPoolType = _Enum(WORKSPACE=0)  # type: ignore[attr-defined]
    trt.HardwareCompatibilityLevel = _Enum(**hw_levels)  # type: ignore[attr-defined]
    trt.TensorIOMode = _Enum(NONE=0, INPUT=1, OUTPUT=2)  # type: ignore[attr-defined]
    trt.DataType = _Enum(**data_types)  # type: ignore[attr-defined]
    numpy_of = {0: np.float32, 1: np.float16, 2: np.int8, 3: np.int32, 4: np.bool_, 5: np.uint8, 8: np.int64}

    def nptype(dt: int) -> Any:
        if dt in numpy_of:
            return numpy_of[dt]
        raise TypeError("Could not resolve TensorRT datatype to an equivalent numpy datatype.")

    trt.nptype = nptype  # type: ignore[attr-defined]

    class Network:
        def __init__(self, flags: int) -> None:
            self.flags = flags
            self.input: tuple[str, list[int]] | None = None
            self.io: dict[str, Any] = {}  # every input (name, dims) and output name, and the ONNX file

    class ParserError:
        def __init__(self, node: int, name: str, op: str, desc: str) -> None:
            self._v = (node, name, op, desc)

        def node(self) -> int:
            return self._v[0]

        def node_name(self) -> str:
            return self._v[1]

        def node_operator(self) -> str:
            return self._v[2]

        def desc(self) -> str:
            return self._v[3]

    class OnnxParser:
        def __init__(self, network: Network, logger: ILogger) -> None:
            self.network = network
            self.num_errors = 0

        def parse_from_file(self, path: str) -> bool:
            j.append(("parse", path))
            if parse_errors:
                self.num_errors = len(parse_errors)
                return False
            g = onnx.load(path).graph

            def dims_of(vi: Any) -> list[int]:
                return [d.dim_value if d.HasField("dim_value") else -1 for d in vi.type.tensor_type.shape.dim]

            self.network.input = (g.input[0].name, dims_of(g.input[0]))
            self.network.io = {
                "inputs": [[i.name, dims_of(i)] for i in g.input],
                "outputs": [o.name for o in g.output],
                "onnx": path,
            }
            return True

        def get_error(self, i: int) -> ParserError:
            assert parse_errors is not None
            return ParserError(*parse_errors[i])

    class TimingCache:
        def __init__(self, data: bytes) -> None:
            self.data = data

        def serialize(self) -> bytes:
            return b"TIMING" + self.data[6:] + b"+"

    class Profile:
        def __init__(self) -> None:
            self.shapes: dict[str, Any] = {}

        def set_shape(self, name: str, lo: Any, mid: Any, hi: Any) -> None:
            self.shapes[name] = [list(lo), list(mid), list(hi)]

    class Config:
        def __init__(self) -> None:
            self.flags: set[int] = set()
            self.profiles: list[Profile] = []
            self.builder_optimization_level = 3
            self.hardware_compatibility_level = 0  # NONE
            self.progress_monitor: Any = None
            self.timing: TimingCache | None = None
            self.pool: dict[int, int] = {}

        def set_flag(self, flag: int) -> None:
            self.flags.add(flag)

        def set_memory_pool_limit(self, pool: int, n: int) -> None:
            self.pool[pool] = n

        def add_optimization_profile(self, p: Profile) -> int:
            self.profiles.append(p)
            return len(self.profiles) - 1

        def create_timing_cache(self, data: bytes) -> TimingCache | None:
            if data and not data.startswith(b"TIMING"):
                return None
            return TimingCache(data or b"TIMING")

        def set_timing_cache(self, cache: TimingCache, ignore_mismatch: bool) -> bool:
            self.timing = cache
            return True

        def get_timing_cache(self) -> TimingCache:
            assert self.timing is not None
            return self.timing

    class Builder:
        def __init__(self, logger: ILogger) -> None:
            self.logger = attach_logger(logger)

        def __del__(self) -> None:
            detach_logger()

        def create_network(self, flags: int) -> Network:
            j.append(("create_network", flags))
            return Network(flags)

        def create_builder_config(self) -> Config:
            return Config()

        def create_optimization_profile(self) -> Profile:
            return Profile()

        def build_serialized_network(self, network: Network, config: Config) -> bytes | None:
            j.append(("build", sorted(config.flags), config.builder_optimization_level))
            if config.hardware_compatibility_level:
                j.append(("hardware_compatibility_level", config.hardware_compatibility_level))
            if config.progress_monitor is not None:
                config.progress_monitor.phase_start("Building engine", None, 2)
                config.progress_monitor.step_complete("Building engine", 0)
                config.progress_monitor.phase_finish("Building engine")
            if fail_build:
                self.logger.log(ILogger.Severity.ERROR, "fake: no implementation for layer Conv_7")
                return None
            assert network.input is not None
            name, dims = network.input
            profile = config.profiles[0].shapes.get(name) if config.profiles else None
            meta = {
                "input": name,
                "dims": dims,
                "profile": profile,
                "flags": network.flags,
                "version_compatible": flags["VERSION_COMPATIBLE"] in config.flags,
                **network.io,
                "profiles": config.profiles[0].shapes if config.profiles else {},
            }
            return b"FAKEPLAN" + json.dumps(meta).encode()

    class Context:
        def __init__(self, engine: Engine) -> None:
            device.require_context("createExecutionContext")
            self.engine = engine
            self.shapes: dict[str, tuple[int, ...]] = {}
            self.addresses: dict[str, int] = {}
            j.append(("create_context",))

        def set_input_shape(self, name: str, shape: Any) -> bool:
            self.shapes[name] = tuple(shape)
            j.append(("set_input_shape", tuple(shape)))
            return True

        def get_tensor_shape(self, name: str) -> tuple[int, ...]:
            if self.engine.multi:
                return self.shapes[name] if name in self.shapes else self._output_shapes()[name]
            n, _, h, w = self.shapes[self.engine.meta["input"]]
            return (n, 1, h, w)

        # -- several inputs (a recurrent model): the real ONNX graph computes, with ONNX Runtime on the host --
        def _session(self) -> Any:
            if self.engine.session is None:
                import onnxruntime as ort

                self.engine.session = ort.InferenceSession(self.engine.meta["onnx"], providers=["CPUExecutionProvider"])
            return self.engine.session

        def _output_shapes(self) -> dict[str, tuple[int, ...]]:
            feeds = {name: np.zeros(self.shapes[name], np.float32) for name, _ in self.engine.meta["inputs"]}
            outs = self._session().run(self.engine.meta["outputs"], feeds)
            return {name: tuple(o.shape) for name, o in zip(self.engine.meta["outputs"], outs, strict=True)}

        def _execute_multi(self, stream: int) -> None:
            meta = self.engine.meta
            views = {}
            for name, _ in meta["inputs"]:
                shape = self.shapes[name]
                views[name] = (device.mem[self.addresses[name]], shape)
            targets = {name: device.mem[self.addresses[name]] for name in meta["outputs"]}

            def compute() -> None:
                feeds = {n: m.view(np.float32)[: int(np.prod(s))].reshape(s).copy() for n, (m, s) in views.items()}
                for name, out in zip(meta["outputs"], self._session().run(meta["outputs"], feeds), strict=True):
                    targets[name].view(np.float32)[: out.size] = np.asarray(out, np.float32).ravel()

            device.on_stream(stream, compute)

        def set_tensor_address(self, name: str, ptr: int) -> bool:
            self.addresses[name] = ptr
            return True

        def execute_async_v3(self, stream: int) -> bool:
            device.require_context("enqueueV3")
            j.append(("execute", stream, stream in device.capturing))
            if uncapturable and stream in device.capturing:
                device.capturing[stream].append(None)  # invalidated: cudaStreamEndCapture will fail
                device.last_error = 901  # cudaErrorStreamCaptureInvalidated
                return False
            if self.engine.multi:
                self._execute_multi(stream)
                return True
            in_name = self.engine.meta["input"]
            shape = self.shapes[in_name]
            count = int(np.prod(shape))
            x_mem, out_mem = device.mem[self.addresses[in_name]], device.mem[self.addresses["probability"]]

            def compute() -> None:
                x = x_mem.view(np.float32)[:count].reshape(shape)
                y = x.mean(axis=1, keepdims=True).astype(np.float32)
                out_mem.view(np.float32)[: y.size] = y.ravel()

            device.on_stream(stream, compute)
            return True

        def __del__(self) -> None:
            j.append(("context_del", bool(device.context_stack)))

    class Engine:
        def __init__(self, meta: dict[str, Any]) -> None:
            self.meta = meta
            #: several inputs: a recurrent model, whose engine the fake runs with ONNX Runtime (see Context)
            self.multi = len(meta.get("inputs", ())) > 1
            self.session: Any = None
            self.names = (
                [n for n, _ in meta["inputs"]] + list(meta["outputs"]) if self.multi else [meta["input"], "probability"]
            )
            self.num_io_tensors = len(self.names)

        def get_tensor_name(self, i: int) -> str:
            return self.names[i]

        def get_tensor_mode(self, name: str) -> int:
            if self.multi:
                return 1 if name in dict(self.meta["inputs"]) else 2
            return 1 if name == self.meta["input"] else 2

        def get_tensor_shape(self, name: str) -> list[int]:
            if self.multi:
                return list(dict(self.meta["inputs"]).get(name, [-1, -1, -1, -1]))
            dims = list(self.meta["dims"])
            return dims if name == self.meta["input"] else [dims[0], 1, dims[2], dims[3]]

        def get_tensor_dtype(self, name: str) -> int:
            return 0

        def get_tensor_profile_shape(self, name: str, index: int) -> list[list[int]]:
            if self.multi:
                return self.meta["profiles"][name]  # type: ignore[no-any-return]
            return self.meta["profile"]  # type: ignore[no-any-return]

        def create_execution_context(self) -> Context:
            return Context(self)

        def __del__(self) -> None:
            j.append(("engine_del", bool(device.context_stack)))

    class Runtime:
        def __init__(self, logger: ILogger) -> None:
            self.logger = attach_logger(logger)
            self.engine_host_code_allowed = False  # TensorRT's default

        def __del__(self) -> None:
            detach_logger()

        def deserialize_cuda_engine(self, data: bytes) -> Engine | None:
            j.append(("deserialize",))
            meta = json.loads(bytes(data)[8:]) if bytes(data).startswith(b"FAKEPLAN") else {}
            if meta.get("version_compatible") and not self.engine_host_code_allowed:
                self.logger.log(ILogger.Severity.ERROR, "fake: engine contains host code; engine_host_code_allowed")
                return None
            if not bytes(data).startswith(b"FAKEPLAN"):
                self.logger.log(ILogger.Severity.ERROR, "fake: Serialization assertion: magic tag does not match")
                return None
            return Engine(json.loads(bytes(data)[8:]))

    trt.Builder = Builder  # type: ignore[attr-defined]
    trt.OnnxParser = OnnxParser  # type: ignore[attr-defined]
    trt.Runtime = Runtime  # type: ignore[attr-defined]
    return trt


def install(monkeypatch: Any, modules: dict[str, types.ModuleType]) -> None:
    """Put stand-in modules into ``sys.modules`` (and make ``find_spec`` see them) for one test."""
    import importlib.machinery
    import importlib.util

    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> Any:
        if name in modules:
            return importlib.machinery.ModuleSpec(name, None)
        return real_find_spec(name, package)

    for name, mod in modules.items():
        monkeypatch.setitem(sys.modules, name, mod)
    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
