"""Stand-ins for ``tensorrt`` and ``pycuda.driver``, which need NVIDIA hardware this CI does not have.

They are injected through ``sys.modules`` so OUR code (the builder, the engine cache, ``PycudaApi`` and the
runtime) runs unchanged against them. The stand-ins only do what TensorRT and CUDA are documented to do
(see shared/design/TENSORRT.md; the signatures follow TensorRT's python/src/infer/pyCore.cpp and
parsers/pyOnnx.cpp, and pycuda's wrap_cudadrv.cpp), keep a journal of calls so tests can check the order of OUR
calls, and
emulate a device with host memory: "device" buffers are numpy arrays keyed by a fake pointer, and the
fake engine computes ``output = mean over the input's channels`` so results are checkable.
"""

from __future__ import annotations

import itertools
import json
import sys
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
    """Device memory: pointer -> byte array."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.mem: dict[int, np.ndarray] = {}
        self._ptrs = itertools.count(0x1000, 0x1000)
        self.context_stack: list[str] = []

    def alloc(self, nbytes: int) -> int:
        ptr = next(self._ptrs)
        self.mem[ptr] = np.zeros(nbytes, np.uint8)
        return ptr

    def require_context(self, what: str) -> None:
        if not self.context_stack:
            raise AssertionError(f"{what} without a current CUDA context")


# -- pycuda.driver -------------------------------------------------------------------------------------


def make_fake_pycuda(device: FakeDevice, gpu_name: str = "Fake RTX 4090", cc: tuple[int, int] = (8, 9)) -> dict:
    j = device.journal
    drv = types.ModuleType("pycuda.driver")

    class Error(Exception):
        pass

    class Ctx:
        def push(self) -> None:
            j.append(("push",))
            device.context_stack.append("primary")

        def pop(self) -> None:
            j.append(("pop",))
            device.context_stack.pop()

        def detach(self) -> None:
            j.append(("detach",))

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
) -> types.ModuleType:
    """A ``tensorrt`` module. Version "11.x" lacks ``BuilderFlag.FP16``, as TensorRT 11 does."""
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

    flags = {"VERSION_COMPATIBLE": 10}
    if major < 11:
        flags["FP16"] = 1
    trt.ILogger = ILogger  # type: ignore[attr-defined]
    trt.IProgressMonitor = IProgressMonitor  # type: ignore[attr-defined]
    trt.NetworkDefinitionCreationFlag = _Enum(STRONGLY_TYPED=5)  # type: ignore[attr-defined]
    trt.BuilderFlag = _Enum(**flags)  # type: ignore[attr-defined]
    trt.MemoryPoolType = _Enum(WORKSPACE=0)  # type: ignore[attr-defined]
    trt.HardwareCompatibilityLevel = _Enum(NONE=0, AMPERE_PLUS=1, SAME_COMPUTE_CAPABILITY=2)  # type: ignore[attr-defined]
    trt.TensorIOMode = _Enum(NONE=0, INPUT=1, OUTPUT=2)  # type: ignore[attr-defined]
    trt.DataType = _Enum(FLOAT=0, HALF=1)  # type: ignore[attr-defined]
    trt.nptype = lambda dt: {0: np.float32, 1: np.float16}[dt]  # type: ignore[attr-defined]

    class Network:
        def __init__(self, flags: int) -> None:
            self.flags = flags
            self.input: tuple[str, list[int]] | None = None

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
            dims = [d.dim_value if d.HasField("dim_value") else -1 for d in g.input[0].type.tensor_type.shape.dim]
            self.network.input = (g.input[0].name, dims)
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
            n, _, h, w = self.shapes[self.engine.meta["input"]]
            return (n, 1, h, w)

        def set_tensor_address(self, name: str, ptr: int) -> bool:
            self.addresses[name] = ptr
            return True

        def execute_async_v3(self, stream: int) -> bool:
            device.require_context("enqueueV3")
            j.append(("execute", stream))
            in_name = self.engine.meta["input"]
            shape = self.shapes[in_name]
            count = int(np.prod(shape))
            x = device.mem[self.addresses[in_name]].view(np.float32)[:count].reshape(shape)
            y = x.mean(axis=1, keepdims=True).astype(np.float32)
            out = device.mem[self.addresses["probability"]].view(np.float32)
            out[: y.size] = y.ravel()
            return True

        def __del__(self) -> None:
            j.append(("context_del", bool(device.context_stack)))

    class Engine:
        def __init__(self, meta: dict[str, Any]) -> None:
            self.meta = meta
            self.num_io_tensors = 2

        def get_tensor_name(self, i: int) -> str:
            return [self.meta["input"], "probability"][i]

        def get_tensor_mode(self, name: str) -> int:
            return 1 if name == self.meta["input"] else 2

        def get_tensor_shape(self, name: str) -> list[int]:
            dims = list(self.meta["dims"])
            return dims if name == self.meta["input"] else [dims[0], 1, dims[2], dims[3]]

        def get_tensor_dtype(self, name: str) -> int:
            return 0

        def get_tensor_profile_shape(self, name: str, index: int) -> list[list[int]]:
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
