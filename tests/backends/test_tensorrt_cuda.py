"""The CUDA side of the TensorRT backend: pycuda's context stack, the cuda-python path, graphs, the driver check.

No GPU exists here, so every test below runs OUR code against the stand-ins of ``tests/backends/fakes.py``
(TensorRT, pycuda) and ``tests/backends/fakes_cudart.py`` (cuda-python's ``cuda.bindings.runtime``). Their
behaviour is taken from the sources named in those modules' docstrings: pycuda's ``src/cpp/cuda.hpp`` for the
context stack, NVIDIA/TensorRT's headers and ``samples/common/sampleInference.cpp`` (trtexec) for enum values and
graph capture, and the real cuda-bindings 12.9.10 / 13.5.0 wheels (installed on this GPU-less machine) for the
``(err, value)`` results and the error a too-old or missing driver gives.
"""

from __future__ import annotations

import importlib
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from realtime_seg.backends.tensorrt import TensorRTBackend, probe_details
from realtime_seg.backends.tensorrt.cuda_api import CudartApi
from realtime_seg.backends.tensorrt.runtime import _np_dtype
from realtime_seg.errors import BackendError, DriverTooOld
from tests.backends.conftest import FakeGpu

SHAPE = (1, 3, 48, 64)
# the module (the package's ``probe`` attribute is the function of that name)
probe_mod = importlib.import_module("realtime_seg.backends.tensorrt.probe")


# -- pycuda: the context stack is empty after close() ------------------------------------------------------


def test_stand_in_reproduces_pycuda_pop_then_detach(fake_gpu: FakeGpu) -> None:
    """What the audit read in pycuda's cuda.hpp, reproduced by the stand-in: ``pop(); detach()`` on a primary
    context leaves it current (detach pushes a non-current context, cuDevicePrimaryCtxRelease never pops), and
    ``detach(); pop()`` raises. So neither order empties the stack; the backend pops and never detaches."""
    import pycuda.driver as drv

    ctx = drv.Device(0).retain_primary_context()
    ctx.push()
    ctx.pop()
    assert fake_gpu.device.context_stack == []
    ctx.detach()
    assert fake_gpu.device.context_stack == [ctx]  # left current: one stack level per open/close
    fake_gpu.device.context_stack.clear()

    ctx2 = drv.Device(0).retain_primary_context()
    ctx2.push()
    ctx2.detach()
    assert fake_gpu.device.context_stack == [ctx2]  # released but still on CUDA's stack
    with pytest.raises(drv.Error, match="cannot pop non-current context"):
        ctx2.pop()
    fake_gpu.device.context_stack.clear()


def test_context_stack_is_empty_after_every_close(fake_gpu: FakeGpu, engine_dir: Path, tiny_onnx: Path) -> None:
    for _ in range(3):
        with TensorRTBackend(tiny_onnx, SHAPE) as be:
            be.infer(np.zeros(SHAPE, np.float32))
            assert len(fake_gpu.device.context_stack) == 1
        assert fake_gpu.device.context_stack == []
    assert fake_gpu.journal.names().count("retain") == 1  # retained once per process, as the CUDA runtime does
    assert fake_gpu.device.retains == 1 and "detach" not in fake_gpu.journal.names()


def test_context_stack_is_empty_after_close_in_worker_threads(
    fake_gpu: FakeGpu, engine_dir: Path, tiny_onnx: Path
) -> None:
    stacks: list[list[Any]] = []

    def worker() -> None:
        with TensorRTBackend(tiny_onnx, SHAPE) as be:
            be.infer(np.ones(SHAPE, np.float32))
        stacks.append(list(fake_gpu.device.context_stack))

    for _ in range(2):  # the primary context retained in the first thread is pushed and popped in the second
        t = threading.Thread(target=worker)
        t.start()
        t.join(10)
        assert not t.is_alive()
    assert stacks == [[], []]


# -- cuda-python: the CudartApi / CudartGraphs path -----------------------------------------------------------


def test_cuda_python_path_runs_and_launches_a_graph(
    monkeypatch: pytest.MonkeyPatch, engine_dir: Path, tiny_onnx: Path
) -> None:
    gpu = FakeGpu(monkeypatch, cuda="cuda-python")
    j = gpu.journal
    x1, x2 = np.full(SHAPE, 0.25, np.float32), np.random.default_rng(3).random(SHAPE, dtype=np.float32)
    with TensorRTBackend(tiny_onnx, SHAPE, cuda_api="cuda-python", gpu_timing=True) as be:
        np.testing.assert_allclose(be.infer(x1), 0.25, rtol=1e-6)  # plain run, then capture
        assert be.graph_captured and "CUDA graph" in be.description and "via cuda-python" in be.description
        np.testing.assert_allclose(be.infer(x2), x2.mean(axis=1, keepdims=True), rtol=1e-6)  # the graph, new data
        assert set(be.last_gpu_timings_ms) == {"h2d", "compute", "d2h"}
    names = j.names()
    begin = j.index("cudaStreamBeginCapture")
    assert names[begin - 1] == "cudaStreamSynchronize"  # synchronized before capture, as trtexec does
    assert j[begin][2] == "cudaStreamCaptureModeThreadLocal"
    assert ("execute", j[begin][1], True) in j  # the second enqueue went into the capture
    inst = j.index("cudaGraphInstantiate")
    assert names[inst + 1] == "cudaGraphDestroy"  # the graph freed once instantiated
    assert j.index("cudaGraphLaunch") > inst and names.count("execute") == 2  # frame 2: a launch, no enqueue
    assert "cudaGraphExecDestroy" in names and gpu.cudart.graphs_alive == set()  # type: ignore[union-attr]
    assert gpu.cudart.pinned == {} and gpu.device.mem == {}  # type: ignore[union-attr]


def test_cuda_python_capture_failure_falls_back_and_clears_the_error(
    monkeypatch: pytest.MonkeyPatch, engine_dir: Path, tiny_onnx: Path, caplog: pytest.LogCaptureFixture
) -> None:
    gpu = FakeGpu(monkeypatch, cuda="cuda-python", uncapturable=True)
    x = np.random.default_rng(4).random(SHAPE, dtype=np.float32)
    with TensorRTBackend(tiny_onnx, SHAPE, cuda_api="cuda-python") as be:
        for _ in range(3):
            np.testing.assert_allclose(be.infer(x), x.mean(axis=1, keepdims=True), rtol=1e-6)
        assert not be.graph_captured and "plain enqueue" in be.description
    names = gpu.journal.names()
    assert names.count("cudaStreamBeginCapture") == 1  # one try, then plain enqueue
    end = gpu.journal.index("cudaStreamEndCapture")
    assert names[end + 1] == "cudaGetLastError" and gpu.journal[end + 1][1] == 901  # the sticky error, cleared
    assert gpu.device.last_error == 0 and "cudaGraphLaunch" not in names
    assert "CUDA graph capture failed" in caplog.text


def test_pycuda_with_cuda_python_graphs(monkeypatch: pytest.MonkeyPatch, engine_dir: Path, tiny_onnx: Path) -> None:
    """pycuda has no graph API: with cuda-python also installed, capture goes through it on pycuda's stream."""
    gpu = FakeGpu(monkeypatch, cuda="both")
    x = np.random.default_rng(5).random(SHAPE, dtype=np.float32)
    with TensorRTBackend(tiny_onnx, SHAPE) as be:
        be.infer(x)
        np.testing.assert_allclose(be.infer(x * 2), (x * 2).mean(axis=1, keepdims=True), rtol=1e-6)
        assert be.graph_captured and "via pycuda" in be.description
    assert "cudaGraphLaunch" in gpu.journal.names() and gpu.device.context_stack == []


# -- a driver too old for the installed bindings ---------------------------------------------------------------


def test_driver_too_old_for_cuda_bindings_13_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeGpu(monkeypatch, cuda="cuda-python", bindings_version="13.0.1", driver_version=12040)
    with pytest.raises(DriverTooOld) as err:
        CudartApi().device_count()
    text = str(err.value)
    assert "NVIDIA driver is too old for cuda-bindings 13.0.1" in text and "supports CUDA 12.4" in text
    assert "R580" in text and "realtime-seg[cu12]" in text
    result = probe_details()
    assert not result.ok and "imports, but the NVIDIA driver is too old for cuda-bindings 13.0.1" in result.reason
    assert "no GPU answers" not in result.reason


def test_no_driver_at_all_is_not_called_too_old(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a driver, cudaDriverGetVersion answers 0 and every call fails with cudaErrorInsufficientDriver
    (what the real cuda-bindings 12.9.10 and 13.5.0 do on this GPU-less machine)."""
    FakeGpu(monkeypatch, cuda="cuda-python", driver_version=0)
    reason = probe_details().reason
    assert "no NVIDIA driver answers" in reason and "too old" not in reason


def test_tensorrt_cu13_on_a_cuda_12_driver_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeGpu(monkeypatch, "10.13.3.9")  # pycuda, whose calls work on the old driver
    monkeypatch.setattr(probe_mod, "trt_flavour", lambda: "cu13")
    result = probe_details()
    assert not result.ok
    assert "NVIDIA driver is too old for TensorRT 10.13.3.9 (cu13)" in result.reason and "12.4" in result.reason
    monkeypatch.setattr(probe_mod, "trt_flavour", lambda: "cu12")
    assert probe_details().ok


def test_info_names_a_driver_too_old_for_the_bindings(monkeypatch: pytest.MonkeyPatch) -> None:
    from realtime_seg.cli.info import collect

    FakeGpu(monkeypatch, cuda="cuda-python", bindings_version="13.0.1", driver_version=12080)
    info = collect()
    assert "the NVIDIA driver is too old for cuda-bindings 13.0.1" in info["cuda-python"]
    assert "supports CUDA 12.8" in info["cuda-python"]
    assert "NVIDIA driver is too old" in info["backend tensorrt"]


def test_matching_driver_and_bindings_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeGpu(monkeypatch, cuda="cuda-python", bindings_version="13.0.1", driver_version=13000)
    result = probe_details()
    assert result.ok and "cuda-python 13.0.1" in result.reason and "driver 13.0" in result.reason


# -- TensorRT API details the stand-in mirrors -----------------------------------------------------------------


def test_same_compute_capability_needs_tensorrt_10_9(
    monkeypatch: pytest.MonkeyPatch, engine_dir: Path, tiny_onnx: Path
) -> None:
    """``HardwareCompatibilityLevel.SAME_COMPUTE_CAPABILITY`` is in NvInfer.h / pyCore.cpp from v10.9.0 on."""
    FakeGpu(monkeypatch, "10.8.0.43")
    with pytest.raises(BackendError, match="'same-cc' needs TensorRT 10.9 or newer \\(this is 10.8.0.43\\)"):
        TensorRTBackend(tiny_onnx, SHAPE, hardware_compatibility="same-cc").open()
    gpu = FakeGpu(monkeypatch, "10.9.0.34")
    with TensorRTBackend(tiny_onnx, SHAPE, hardware_compatibility="same-cc") as be:
        assert be.engine is not None and be.engine.key.hardware_compatibility == "same-cc"
    assert ("hardware_compatibility_level", 2) in gpu.journal


@pytest.mark.parametrize("version", ["10.8.0.43", "11.1.0.106"])
def test_version_compatible_flag_value_per_major(
    monkeypatch: pytest.MonkeyPatch, engine_dir: Path, tiny_onnx: Path, version: str
) -> None:
    """VERSION_COMPATIBLE is 13 on 10.x and 12 on 11.x (NvInfer.h); our code passes the enum, never a number."""
    gpu = FakeGpu(monkeypatch, version)
    with TensorRTBackend(tiny_onnx, SHAPE, version_compatible=True):
        pass
    build = next(e for e in gpu.journal if e[0] == "build")
    assert build[1] == [13 if version.startswith("10.") else 12]


def test_numpy_dtype_of_engine_tensors(fake_gpu: FakeGpu) -> None:
    """``trt.nptype`` raises TypeError for types numpy lacks (BF16 here): a clear BackendError, not a crash."""
    trt = fake_gpu.trt
    assert _np_dtype(trt, trt.DataType.HALF) == np.float16
    assert _np_dtype(trt, trt.DataType.INT64) == np.int64
    with pytest.raises(TypeError):
        trt.nptype(trt.DataType.BF16)
    with pytest.raises(BackendError, match="unsupported tensor data type"):
        _np_dtype(trt, trt.DataType.BF16)


def test_stand_in_matches_the_real_cuda_bindings_where_installed() -> None:
    """Where the real cuda-bindings is installed (the GPU machine has it), compare the stand-in's enum values."""
    real = pytest.importorskip("cuda.bindings.runtime")
    from tests.backends import fakes_cudart as fake

    for enum_name in ("cudaError_t", "cudaStreamCaptureMode", "cudaMemcpyKind"):
        for member in getattr(fake, enum_name):
            assert int(getattr(getattr(real, enum_name), member.name)) == int(member), member
    assert int(real.cudaStreamNonBlocking) == 1
