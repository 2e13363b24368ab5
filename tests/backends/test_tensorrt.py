"""The TensorRT backend's logic, run against stand-ins for ``tensorrt`` and ``pycuda.driver``.

No GPU or TensorRT exists here, so these tests inject the stand-ins of ``tests/backends/fakes.py`` through
``sys.modules``. What they check is OUR code: the order of CUDA calls (push before anything is created, every
release before the pop), strong typing and the FP16 flag per TensorRT version, parser errors with node names,
cache reuse and rebuilds, batch handling, CUDA-graph fallback, and thread affinity. The ONNX files are real.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from realtime_seg.backends import tensorrt as trtmod
from realtime_seg.backends.tensorrt import BuildOptions, TensorRTBackend, build_plan, onnx_precision
from realtime_seg.backends.tensorrt.runtime import _GraphRunner
from realtime_seg.errors import BackendError, ModelError, UnknownNameError
from tests.backends.conftest import FakeGpu

SHAPE = (1, 3, 48, 64)


def _fp16_model(path: Path) -> Path:
    """A real fp16-inside, fp32-I/O ONNX graph (the shape of our fp16 variants)."""
    w = numpy_helper.from_array(np.full((1, 3, 1, 1), 1 / 3, np.float16), "w")
    graph = helper.make_graph(
        [
            helper.make_node("Cast", ["input"], ["x16"], to=TensorProto.FLOAT16),
            helper.make_node("Conv", ["x16", "w"], ["y16"]),
            helper.make_node("Cast", ["y16"], ["probability"], to=TensorProto.FLOAT),
        ],
        "fp16",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 48, 64])],
        [helper.make_tensor_value_info("probability", TensorProto.FLOAT, [1, 1, 48, 64])],
        [w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
    return path


def _dynamic_batch(src: Path, dst: Path) -> Path:
    model = onnx.load(str(src))
    for vi in (model.graph.input[0], model.graph.output[0]):
        vi.type.tensor_type.shape.dim[0].dim_param = "N"
    onnx.save(model, str(dst))
    return dst


# -- pure planning -------------------------------------------------------------------------------------


def test_onnx_precision_reads_the_graph(tiny_onnx: Path, tmp_path: Path) -> None:
    assert onnx_precision(tiny_onnx) == "fp32"
    assert onnx_precision(_fp16_model(tmp_path / "half.onnx")) == "fp16"
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not onnx")
    with pytest.raises(ModelError, match="not an ONNX model"):
        onnx_precision(bad)


@pytest.mark.parametrize("major", [10, 11])
def test_build_plan_strongly_typed_when_the_graph_carries_precision(major: int) -> None:
    for graph in ("fp32", "fp16"):
        for requested in ("auto", graph):
            plan = build_plan(major, graph, requested, has_fp16_flag=major < 11)
            assert (plan.precision, plan.strongly_typed, plan.fp16_flag) == (graph, True, False)


def test_build_plan_fp16_flag_only_on_tensorrt_10() -> None:
    plan = build_plan(10, "fp32", "fp16", has_fp16_flag=True)
    assert (plan.precision, plan.strongly_typed, plan.fp16_flag, plan.mode) == ("fp16", False, True, "fp16-flag")
    with pytest.raises(BackendError, match="TensorRT 11 takes precision only from the graph.*fp16 ONNX variant"):
        build_plan(11, "fp32", "fp16", has_fp16_flag=False)
    with pytest.raises(BackendError, match="ONNX graph is fp16"):
        build_plan(10, "fp16", "fp32", has_fp16_flag=True)


def test_options_are_validated_early(tiny_onnx: Path) -> None:
    with pytest.raises(UnknownNameError, match="valid names: auto, fp32, fp16"):
        BuildOptions(precision="int8")
    with pytest.raises(BackendError, match="expected 0..5, got 7"):
        TensorRTBackend(tiny_onnx, SHAPE, opt_level=7)
    with pytest.raises(UnknownNameError, match="valid names: auto, pycuda, cuda-python"):
        TensorRTBackend(tiny_onnx, SHAPE, cuda_api="opencl")


# -- building through the stand-in --------------------------------------------------------------------


@pytest.mark.parametrize("version", ["10.8.0.43", "11.1.0.5"])
def test_network_is_strongly_typed_on_10_and_11(
    monkeypatch: pytest.MonkeyPatch, engine_dir: Path, tmp_path: Path, version: str
) -> None:
    gpu = FakeGpu(monkeypatch, version)
    onnx_path = _fp16_model(tmp_path / "selfie.fp16.onnx")
    with TensorRTBackend(onnx_path, SHAPE) as be:
        assert be.engine is not None and be.engine.key.precision == "fp16"
    # STRONGLY_TYPED is 1 on 10.x and 0 on 11.x (include/NvInfer.h at v10.8.0 and v11.1; see fakes.py)
    strongly = 1 << (1 if version.startswith("10.") else 0)
    assert ("create_network", strongly) in gpu.journal
    build = next(e for e in gpu.journal if e[0] == "build")
    assert build[1] == []  # no FP16 flag: precision came from the graph


def test_fp16_flag_on_tensorrt_10_with_an_fp32_graph(fake_gpu: FakeGpu, engine_dir: Path, tiny_onnx: Path) -> None:
    with TensorRTBackend(tiny_onnx, SHAPE, precision="fp16", opt_level=0) as be:
        assert be.engine is not None and be.engine.key.build_mode == "fp16-flag"
    assert ("create_network", 0) in fake_gpu.journal  # weakly typed, so the flag may act
    assert ("build", [fake_gpu.trt.BuilderFlag.FP16], 0) in fake_gpu.journal


def test_fp16_of_an_fp32_graph_on_tensorrt_11_names_the_fix(
    monkeypatch: pytest.MonkeyPatch, engine_dir: Path, tiny_onnx: Path
) -> None:
    gpu = FakeGpu(monkeypatch, "11.1.0.5")
    with pytest.raises(BackendError, match="fp16 ONNX variant"):
        TensorRTBackend(tiny_onnx, SHAPE, precision="fp16").open()
    assert gpu.device.context_stack == []  # the failed open popped its context
    assert gpu.journal.names()[-1] == "pop"


def test_parser_errors_name_node_and_op(monkeypatch: pytest.MonkeyPatch, engine_dir: Path, tiny_onnx: Path) -> None:
    errors = [(3, "hard_swish_2", "HardSwish", "No importer registered for op"), (7, "", "", "shape inference")]
    FakeGpu(monkeypatch, parse_errors=errors)
    with pytest.raises(ModelError) as info:
        TensorRTBackend(tiny_onnx, SHAPE).open()
    msg = str(info.value)
    assert "node 3 'hard_swish_2' (HardSwish): No importer registered for op" in msg
    assert "node 7: shape inference" in msg


def test_failed_build_surfaces_tensorrt_errors(
    monkeypatch: pytest.MonkeyPatch, engine_dir: Path, tiny_onnx: Path
) -> None:
    FakeGpu(monkeypatch, fail_build=True)
    with pytest.raises(BackendError, match="could not build.*no implementation for layer Conv_7"):
        TensorRTBackend(tiny_onnx, SHAPE).open()
    assert list(engine_dir.glob("*.engine")) == []


def test_progress_monitor_reports_phases(fake_gpu: FakeGpu, engine_dir: Path, tiny_onnx: Path) -> None:
    lines: list[str] = []
    with TensorRTBackend(tiny_onnx, SHAPE, progress=lines.append):
        pass
    assert lines[0].startswith("building TensorRT engine: tiny fp32")
    assert "Building engine (2 steps)" in lines


# -- cache ---------------------------------------------------------------------------------------------


def test_second_open_reuses_the_engine_and_timing_cache_is_saved(
    fake_gpu: FakeGpu, engine_dir: Path, tiny_onnx: Path
) -> None:
    with TensorRTBackend(tiny_onnx, SHAPE) as be:
        assert be.engine is not None and be.engine.built
    with TensorRTBackend(tiny_onnx, SHAPE) as be:
        assert be.engine is not None and not be.engine.built
    assert fake_gpu.journal.names().count("build") == 1
    timing = list(engine_dir.glob("timing-trt10.8.0.43-*-Fake_RTX_4090-sm89.cache"))
    assert len(timing) == 1 and timing[0].read_bytes().startswith(b"TIMING")


def test_engine_that_does_not_deserialize_is_rebuilt(
    fake_gpu: FakeGpu, engine_dir: Path, tiny_onnx: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with TensorRTBackend(tiny_onnx, SHAPE) as be:
        assert be.engine is not None
        path, key = be.engine.path, be.engine.key
    # a plan from another TensorRT build: intact on disk (sidecar sha matches) but TensorRT rejects it
    from realtime_seg.backends.tensorrt.engine_cache import EngineCache

    EngineCache(engine_dir).store(key, b"FOREIGNPLAN")
    with TensorRTBackend(tiny_onnx, SHAPE) as be2:
        assert be2.engine is not None and be2.engine.built
    assert "does not deserialize (fake: Serialization assertion" in caplog.text
    assert path.read_bytes().startswith(b"FAKEPLAN")


def test_corrupt_engine_file_is_rebuilt(
    fake_gpu: FakeGpu, engine_dir: Path, tiny_onnx: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with TensorRTBackend(tiny_onnx, SHAPE) as be:
        assert be.engine is not None
        path = be.engine.path
    path.write_bytes(path.read_bytes()[:5])  # truncated by hand
    with TensorRTBackend(tiny_onnx, SHAPE) as be:
        assert be.engine is not None and be.engine.built
    assert "is corrupt" in caplog.text and "rebuilding" in caplog.text


# -- running -------------------------------------------------------------------------------------------


def test_cuda_call_order_push_first_release_before_pop(fake_gpu: FakeGpu, engine_dir: Path, tiny_onnx: Path) -> None:
    j = fake_gpu.journal
    be = TensorRTBackend(tiny_onnx, SHAPE)
    be.open()
    be.infer(np.zeros(SHAPE, np.float32))
    be.close()
    names = j.names()
    push = j.index("push")
    assert names[: push + 1] == ["retain", "push"]
    for created in ("parse", "deserialize", "create_context", "stream_create", "host_alloc", "mem_alloc"):
        assert j.index(created) > push, created
    pop = j.last("pop")
    assert names[pop:] == ["pop"] and "detach" not in names  # see test_tensorrt_cuda.py for why no detach
    assert fake_gpu.device.context_stack == []
    for released in ("context_del", "engine_del", "mem_free", "host_free", "stream_destroy"):
        events = [e for e in j if e[0] == released]
        assert events, released
        assert all(e[1] for e in events), f"{released} ran without a current context"
        assert j.last(released) < pop
    assert j.last("context_del") < j.last("engine_del")
    assert fake_gpu.device.mem == {}  # every device buffer freed


def test_infer_copies_through_the_device_and_reuses_buffers(
    fake_gpu: FakeGpu, engine_dir: Path, tiny_onnx: Path
) -> None:
    rng = np.random.default_rng(0)
    x = rng.random(SHAPE, dtype=np.float32)
    with TensorRTBackend(tiny_onnx, SHAPE) as be:
        y = be.infer(x)
        np.testing.assert_allclose(y, x.mean(axis=1, keepdims=True), rtol=1e-6)
        first = y.copy()
        y2 = be.infer(x * 0)
        assert np.shares_memory(y, y2)  # the documented reuse: copy before keeping
        assert not np.array_equal(first, y2)
        assert be.description.startswith("TensorRT 10.8.0.43 fp32 on Fake RTX 4090 via pycuda")
    assert fake_gpu.journal.names().count("mem_alloc") == 2  # allocated once, not per frame


def test_dynamic_batch_profile_and_batch_limits(
    fake_gpu: FakeGpu, engine_dir: Path, tiny_onnx: Path, tmp_path: Path
) -> None:
    dyn = _dynamic_batch(tiny_onnx, tmp_path / "dyn.onnx")
    x = np.random.default_rng(1).random((3, 3, 48, 64), dtype=np.float32)
    with TensorRTBackend(dyn, SHAPE, max_batch=4) as be:
        assert be.engine is not None and be.engine.key.profile == ((1, 3, 48, 64), (1, 3, 48, 64), (4, 3, 48, 64))
        np.testing.assert_allclose(be.infer(x), x.mean(axis=1, keepdims=True), rtol=1e-6)
        np.testing.assert_allclose(be.infer(x[:1]), x[:1].mean(axis=1, keepdims=True), rtol=1e-6)
        with pytest.raises(BackendError, match="batch: the engine takes 1..4, got 5"):
            be.infer(np.zeros((5, 3, 48, 64), np.float32))
    # allocation at the max shape: 4 * 3 * 48 * 64 floats in, 4 * 48 * 64 out
    allocs = [e[1] for e in fake_gpu.journal if e[0] == "mem_alloc"]
    assert allocs == [4 * 3 * 48 * 64 * 4, 4 * 48 * 64 * 4]


def test_static_batch_graph_refuses_max_batch(fake_gpu: FakeGpu, engine_dir: Path, tiny_onnx: Path) -> None:
    with pytest.raises(BackendError, match="fixed batch of 1.*dynamic batch axis"):
        TensorRTBackend(tiny_onnx, SHAPE, max_batch=8).open()
    assert fake_gpu.device.context_stack == []


def test_infer_from_another_thread_is_refused(fake_gpu: FakeGpu, engine_dir: Path, tiny_onnx: Path) -> None:
    be = TensorRTBackend(tiny_onnx, SHAPE).open()
    errors: list[BaseException] = []

    def other() -> None:
        try:
            be.infer(np.zeros(SHAPE, np.float32))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    t = threading.Thread(target=other)
    t.start()
    t.join(10)
    assert not t.is_alive()
    be.close()
    assert len(errors) == 1 and "opened in another thread" in str(errors[0])


def test_whole_lifecycle_in_a_worker_thread(fake_gpu: FakeGpu, engine_dir: Path, tiny_onnx: Path) -> None:
    result: dict[str, Any] = {}

    def worker() -> None:
        with TensorRTBackend(tiny_onnx, SHAPE) as be:
            result["y"] = be.infer(np.ones(SHAPE, np.float32)).copy()
        result["stack"] = list(fake_gpu.device.context_stack)

    t = threading.Thread(target=worker)
    t.start()
    t.join(10)
    assert not t.is_alive()
    np.testing.assert_allclose(result["y"], 1.0)
    assert result["stack"] == []  # the thread exits with no context pushed


# -- CUDA graphs ---------------------------------------------------------------------------------------


class _Graphs:
    """Records our graph calls; ``fail`` makes instantiate fail like an uncapturable op (see also the cuda-python
    stand-in in test_tensorrt_cuda.py, which runs the real ``CudartGraphs``)."""

    def __init__(self, log: list[str], fail: bool = False) -> None:
        self.log, self.fail = log, fail

    def synchronize(self, s: int) -> None:
        self.log.append("sync")

    def begin_capture(self, s: int) -> None:
        self.log.append("begin")

    def end_capture(self, s: int) -> str:
        self.log.append("end")
        return "graph"

    def end_capture_on_error(self, s: int) -> None:
        self.log.append("end on error")

    def clear_error(self) -> None:
        self.log.append("clear error")

    def instantiate(self, g: str) -> str:
        self.log.append("instantiate")
        if self.fail:
            raise BackendError("CUDA cudaGraphInstantiate failed: cudaErrorStreamCaptureUnsupported")
        return "exec"

    def launch(self, e: str, s: int) -> None:
        self.log.append("launch")

    def destroy(self, g: Any, e: Any) -> None:
        self.log.append(f"destroy {g} {e}")


class _Api:
    def __init__(self, graphs: _Graphs | None) -> None:
        self.graphs = graphs


class _Ctx:
    def __init__(self, log: list[str], ok: bool = True) -> None:
        self.log, self.ok = log, ok

    def execute_async_v3(self, s: int) -> bool:
        self.log.append("execute")
        return self.ok or "begin" not in self.log


def test_graph_captured_after_a_plain_run_then_launched_and_recaptured_on_shape_change() -> None:
    log: list[str] = []
    runner = _GraphRunner(_Api(_Graphs(log)), enabled=True)  # type: ignore[arg-type]
    ctx = _Ctx(log)
    runner.run(ctx, 1)
    # trtexec's order: a plain run, synchronize, capture, instantiate, and the graph itself freed
    assert log == ["execute", "sync", "begin", "execute", "end", "instantiate", "destroy graph None"]
    assert runner.captured
    log.clear()
    runner.run(ctx, 1)
    assert log == ["launch"]
    log.clear()
    runner.reset()
    assert not runner.captured
    runner.run(ctx, 1)
    assert log == [
        "destroy None exec",
        "execute",
        "sync",
        "begin",
        "execute",
        "end",
        "instantiate",
        "destroy graph None",
    ]


def test_graph_instantiate_failure_falls_back_to_plain_enqueue(caplog: pytest.LogCaptureFixture) -> None:
    log: list[str] = []
    runner = _GraphRunner(_Api(_Graphs(log, fail=True)), enabled=True)  # type: ignore[arg-type]
    ctx = _Ctx(log)
    runner.run(ctx, 1)
    # capture ended, the graph freed, the error state cleared
    assert log[-3:] == ["instantiate", "destroy graph None", "clear error"]
    assert not runner.enabled and not runner.captured
    log.clear()
    runner.run(ctx, 1)
    runner.run(ctx, 1)
    assert log == ["execute", "execute"]
    assert "CUDA graph capture failed" in caplog.text and "plain enqueue" in caplog.text


def test_enqueue_failing_under_capture_ends_the_capture_and_clears_the_error() -> None:
    log: list[str] = []
    runner = _GraphRunner(_Api(_Graphs(log)), enabled=True)  # type: ignore[arg-type]
    runner.run(_Ctx(log, ok=False), 1)
    assert log == ["execute", "sync", "begin", "execute", "end on error"]
    assert not runner.enabled and not runner.captured


def test_without_cuda_python_graphs_are_off(fake_gpu: FakeGpu, engine_dir: Path, tiny_onnx: Path) -> None:
    with TensorRTBackend(tiny_onnx, SHAPE, cuda_graph=True) as be:
        be.infer(np.zeros(SHAPE, np.float32))
        assert not be.graph_captured and "plain enqueue" in be.description


def test_sidecar_records_the_build(fake_gpu: FakeGpu, engine_dir: Path, tiny_onnx: Path) -> None:
    with TensorRTBackend(tiny_onnx, SHAPE, opt_level=1) as be:
        assert be.engine is not None
        meta = json.loads(be.engine.path.with_suffix(".json").read_text())
    assert meta["key"]["opt_level"] == 1 and meta["key"]["gpu_name"] == "Fake RTX 4090"
    assert meta["key"]["compute_capability"] == "8.9" and meta["key"]["trt_version"] == "10.8.0.43"


def test_module_imports_without_tensorrt() -> None:
    """The real environment has no TensorRT: the module imported above, and the probe says why."""
    ok, why = trtmod.probe()
    assert not ok and "TensorRT is not installed" in why and "pypi.nvidia.com" in why


# -- API shapes found in review against TensorRT's bindings --------------------------------------------


def test_bindings_only_install_imports_tensorrt_bindings(monkeypatch: pytest.MonkeyPatch) -> None:
    """``tensorrt-cuXX-bindings`` (+ ``-libs``) without the frontend package provides only ``tensorrt_bindings``."""
    from tests.backends.fakes import FakeDevice, Journal, install, make_fake_trt

    fake = make_fake_trt(FakeDevice(Journal()), "10.13.0.35")
    install(monkeypatch, {"tensorrt_bindings": fake})
    assert trtmod.import_tensorrt() is fake


def test_version_compatible_engine_deserializes(fake_gpu: FakeGpu, engine_dir: Path, tiny_onnx: Path) -> None:
    """Version-compatible plans embed host code, which a TensorRT Runtime refuses unless allowed."""
    with TensorRTBackend(tiny_onnx, SHAPE, version_compatible=True) as be:
        assert be.engine is not None and be.engine.key.version_compatible
        np.testing.assert_allclose(be.infer(np.ones(SHAPE, np.float32)), 1.0)
    assert fake_gpu.journal.names().count("build") == 1  # deserialized first time, no rebuild loop


def test_unreadable_timing_cache_is_replaced(
    fake_gpu: FakeGpu, engine_dir: Path, tiny_onnx: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with TensorRTBackend(tiny_onnx, SHAPE):
        pass
    (timing,) = engine_dir.glob("timing-*.cache")
    timing.write_bytes(b"garbage")
    with TensorRTBackend(tiny_onnx, SHAPE, opt_level=1) as be:  # another key: a real build
        assert be.engine is not None and be.engine.built
    assert "unreadable or from another build" in caplog.text
    assert timing.read_bytes().startswith(b"TIMING")


def test_a_failing_progress_callback_does_not_fail_the_build(
    fake_gpu: FakeGpu, engine_dir: Path, tiny_onnx: Path
) -> None:
    calls: list[str] = []

    def progress(line: str) -> None:
        calls.append(line)
        if "step" in line:
            raise OSError("stdout closed")

    with TensorRTBackend(tiny_onnx, SHAPE, progress=progress) as be:
        assert be.engine is not None and be.engine.built
    assert any("Building engine" in c for c in calls)


def test_one_tensorrt_logger_per_process(fake_gpu: FakeGpu) -> None:
    assert trtmod.make_trt_logger(fake_gpu.trt) is trtmod.make_trt_logger(fake_gpu.trt)
