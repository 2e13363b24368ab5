"""Backend selection and its reasons, and ``realtime-seg info`` / ``build-engine`` without TensorRT.

The CLI runs for real in a subprocess. Where a reason needs TensorRT to be present but broken, a stand-in
``tensorrt`` package is written to a folder on ``PYTHONPATH`` (no real TensorRT can be installed here).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from realtime_seg.backends.select import choose_backend, create_backend
from realtime_seg.errors import BackendUnavailable, UnknownNameError
from realtime_seg.models.registry import load_user_model
from tests.backends.conftest import FakeGpu
from tests.tiny_models import write_user_model

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in (pythonpath, ROOT) if p)
    return subprocess.run(
        [sys.executable, "-m", "realtime_seg.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


@pytest.mark.no_tensorrt
def test_auto_falls_back_to_onnxruntime_with_the_reason(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    choice = choose_backend("auto")
    assert choice.name == "onnxruntime"
    assert choice.reason == "auto: TensorRT not installed (`realtime-seg info` says how)"
    assert "backend choice: onnxruntime" in caplog.text


@pytest.mark.no_tensorrt
def test_explicit_tensorrt_without_it_raises_with_the_hint() -> None:
    with pytest.raises(BackendUnavailable, match="TensorRT is not installed: pip install 'realtime-seg\\[cu12\\]'"):
        choose_backend("tensorrt")
    with pytest.raises(UnknownNameError, match="valid names: auto, onnxruntime, cpu, tensorrt"):
        choose_backend("cuda")


def test_auto_picks_tensorrt_when_it_imports_and_a_gpu_answers(
    fake_gpu: FakeGpu, tmp_path: Path, engine_dir: Path
) -> None:
    """Uses the tensorrt/pycuda stand-ins: the probe's chain (import, bindings, device) is ours."""
    spec = load_user_model(write_user_model(tmp_path))
    backend, choice = create_backend(spec, "auto")
    assert choice.name == "tensorrt" and backend.name == "tensorrt"
    assert "TensorRT 10.8.0.43" in choice.reason and "pycuda 2024.1-fake" in choice.reason
    assert "Fake RTX 4090 (compute 8.9" in choice.reason and "driver 12.4" in choice.reason


def test_probe_reasons_for_old_tensorrt_and_missing_bindings(monkeypatch: pytest.MonkeyPatch) -> None:
    from realtime_seg.backends.tensorrt import probe

    gpu = FakeGpu(monkeypatch, "8.6.1")
    ok, why = probe()
    assert not ok and why == "TensorRT 8.6.1 is too old: realtime-seg needs TensorRT >= 10"
    gpu.trt.__version__ = "10.8.0.43"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pycuda.driver", None)  # pycuda absent (import raises)
    monkeypatch.setitem(sys.modules, "pycuda", None)
    ok, why = probe()
    assert not ok and why.startswith("TensorRT 10.8.0.43 imports, but no CUDA Python bindings import")
    assert "pip install cuda-python" in why


@pytest.mark.no_tensorrt
def test_info_without_tensorrt_runs_the_real_cli() -> None:
    proc = _cli("info")
    assert proc.returncode == 0, proc.stderr
    lines = {
        ln.split(None, 1)[0] if not ln.startswith("backend") else " ".join(ln.split()[:2]): ln
        for ln in proc.stdout.splitlines()
    }
    for key in ("python", "os", "cpu", "gpu", "tensorrt", "pycuda", "cuda-python", "onnxruntime", "engine"):
        assert key in lines, key
    assert "CPUExecutionProvider" in lines["onnxruntime"]
    assert "usable (CPU" in lines["backend onnxruntime"]
    assert "not usable: TensorRT is not installed: pip install 'realtime-seg[cu12]'" in lines["backend tensorrt"]
    assert "--extra-index-url https://pypi.nvidia.com" in lines["backend tensorrt"]
    assert lines["backend auto"].split()[2] == "onnxruntime"


def test_info_when_tensorrt_is_installed_but_broken(tmp_path: Path) -> None:
    pkg = tmp_path / "tensorrt"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        'raise OSError("libcublasLt.so.12: cannot open shared object file: No such file or directory")\n'
    )
    proc = _cli("info", pythonpath=tmp_path)
    assert proc.returncode == 0, proc.stderr
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("backend tensorrt"))
    assert "installed but does not import (libcublasLt.so.12: cannot open shared object file" in line
    assert "LD_LIBRARY_PATH" in line
    assert "TensorRT is installed but not usable" in proc.stderr  # auto's warning


@pytest.mark.no_tensorrt
def test_build_engine_without_tensorrt_is_one_clear_line() -> None:
    proc = _cli("build-engine", "--model", "selfie", "--precision", "fp16")
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("realtime-seg: error: TensorRT is not installed: pip install")
    assert "Traceback" not in proc.stderr
