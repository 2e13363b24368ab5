"""The benchmark tool runs end to end in a tiny configuration; speed itself is not asserted in tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / "tools" / "benchmark.py"


def _run(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True, timeout=timeout, cwd=REPO)


@pytest.mark.network
@pytest.mark.slow
def test_tiny_run_writes_json_with_every_stage(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    plot = tmp_path / "bench.png"
    proc = _run(
        "--mode", "infer,offline,live", "--resolution", "160x120", "--frames", "6", "--warmup", "1",
        "--live-seconds", "1.5", "--threads", "1", "--json", str(out), "--plot", str(plot),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    env = report["environment"]
    for key in ("cpu", "cores", "os", "python", "numpy", "opencv", "onnxruntime", "pyav", "git_commit"):
        assert key in env
    by_mode = {r["mode"]: r for r in report["results"]}
    assert set(by_mode) == {"infer", "offline", "live"}
    assert set(by_mode["infer"]["stages_ms"]) == {"preprocess", "infer", "postprocess"}
    assert {"decode", "preprocess", "infer", "refine", "effect", "encode"} <= set(by_mode["offline"]["stages_ms"])
    assert by_mode["live"]["extra"]["max_queued"] <= 1
    assert {"preprocess", "infer", "refine", "effect", "latency"} <= set(by_mode["live"]["stages_ms"])
    for r in report["results"]:
        assert r["fps"] > 0
        for stats in r["stages_ms"].values():
            assert stats["n"] >= 1 and stats["median"] >= 0
            assert stats.get("p99", stats["median"]) >= stats["median"]
    assert by_mode["offline"]["baseline_fps"] > 0 and by_mode["offline"]["ratio"] > 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "FPS" in proc.stdout and "median" in proc.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--backend", "openvino"], "unknown backend 'openvino'; valid names: onnxruntime, tensorrt, all"),
        (["--resolution", "12x"], "bad resolution '12x': expected one of 360p, 480p, 720p, 1080p or WIDTHxHEIGHT"),
        (["--input", "/no/such/clip.mp4"], "input file not found: /no/such/clip.mp4"),
        (["--mode", "turbo"], "unknown mode turbo; valid names: infer, offline, live"),
    ],
)
def test_bad_options_give_clear_errors(args: list[str], message: str) -> None:
    proc = _run(*args, timeout=60)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.network
@pytest.mark.no_tensorrt
def test_unavailable_tensorrt_is_reported_as_skipped(tmp_path: Path) -> None:
    out = tmp_path / "b.json"
    proc = _run("--backend", "all", "--mode", "infer", "--resolution", "64x48", "--frames", "3", "--warmup", "0",
                "--json", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    results = json.loads(out.read_text())["results"]
    trt = [r for r in results if r["backend"] == "tensorrt"]
    ort = [r for r in results if r["backend"] == "onnxruntime"]
    assert trt and all(r["skipped"] and "TensorRT" in r["skipped"] for r in trt)
    assert ort and all(r["skipped"] is None and r["fps"] > 0 for r in ort)
    assert "skipped: TensorRT" in proc.stdout


@pytest.mark.network
def test_tensorrt_infer_reports_gpu_stages_and_a_cpu_baseline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No GPU here: TensorRT and pycuda are the stand-ins of tests/backends/fakes.py and fakes_pycuda.py (they copy
    bytes, they do not run the model). What is checked is the benchmark's own logic on a GPU backend: CUDA-event stages
    collected per frame, host latency as ``infer``, and the ONNX Runtime baseline in the same run."""
    import importlib.util

    from tests.backends.conftest import FakeGpu
    from tests.tiny_models import write_user_model

    spec = importlib.util.spec_from_file_location("benchmark_tool", TOOL)
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "benchmark_tool", tool)  # dataclasses look their module up there
    spec.loader.exec_module(tool)
    FakeGpu(monkeypatch)
    monkeypatch.setenv("REALTIME_SEG_ENGINE_DIR", str(tmp_path / "engines"))
    model = str(write_user_model(tmp_path, "brightness"))
    args = tool.build_parser().parse_args(["--mode", "infer", "--frames", "5", "--warmup", "1"])
    tool.validate(args)
    result = tool.bench_infer(args, "tensorrt", model, "64x48", (64, 48))
    assert {"preprocess", "infer", "postprocess", "gpu_h2d", "gpu_compute", "gpu_d2h"} <= set(result.stages_ms)
    assert all(result.stages_ms[k]["n"] == 5 for k in ("infer", "gpu_compute"))
    assert result.extra["backend"].startswith("TensorRT")
    assert result.baseline_fps and result.baseline_fps > 0 and result.ratio == result.fps / result.baseline_fps
    assert "ONNX Runtime on the CPU" in result.extra["baseline"]
