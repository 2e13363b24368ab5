"""``tools/gpu_smoke.py --cuda-only``: its logic, run against the cuda-python stand-in because no GPU exists here.

The stand-in (``tests/backends/fakes_cudart.py``) mirrors cuda-bindings' ``(err, value...)`` results and emulates
device memory and graph capture on the host, so these tests check the tool's own logic (worker threads, buffer
handling, the graph-vs-plain comparison, exit codes), not CUDA. The GPU run itself is for a machine that has one.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.backends.fakes import FakeDevice, Journal, install
from tests.backends.fakes_cudart import make_fake_cudart

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / "tools" / "gpu_smoke.py"


def _tool(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location("gpu_smoke_under_test", TOOL)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, mod)  # its dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def _stand_in(monkeypatch: pytest.MonkeyPatch, **kw: Any) -> tuple[FakeDevice, ModuleType]:
    device = FakeDevice(Journal())
    modules = make_fake_cudart(device, **kw)
    install(monkeypatch, modules)
    return device, modules["cuda.bindings.runtime"]


def test_without_cuda_python_exits_2_with_one_line() -> None:
    """The real environment: no cuda-python, no GPU."""
    proc = subprocess.run(
        [sys.executable, str(TOOL), "--cuda-only"], capture_output=True, text=True, timeout=120, cwd=REPO
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("gpu_smoke --cuda-only: cannot run here: cuda-python (cuda.bindings)")
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_all_checks_pass_on_the_stand_in(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    device, rt = _stand_in(monkeypatch)
    assert _tool(monkeypatch).main(["--cuda-only", "--frames", "300"]) == 0
    out = capsys.readouterr().out
    assert "5 passed, 0 failed" in out and "FAIL" not in out
    assert "primary context current in thread smoke-processing" in out
    assert "max |diff| 0.0e+00" in out
    names = device.journal.names()
    begin = names.index("cudaStreamBeginCapture")
    assert names[begin - 1] == "cudaStreamSynchronize"  # synchronized before capture
    assert names.count("cudaGraphLaunch") == 3
    assert device.mem == {} and rt.pinned == {} and rt.graphs_alive == set()  # everything freed


def test_a_graph_that_replays_nothing_fails(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, rt = _stand_in(monkeypatch)
    monkeypatch.setattr(rt, "cudaGraphLaunch", lambda exec_, stream: (rt.cudaError_t.cudaSuccess,))
    assert _tool(monkeypatch).main(["--cuda-only"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  CUDA graph of a copy == plain enqueue" in out and "4 passed, 1 failed" in out


def test_driver_too_old_exits_2(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _stand_in(monkeypatch, bindings_version="13.0.1", driver_version=12040)
    assert _tool(monkeypatch).main(["--cuda-only"]) == 2
    err = capsys.readouterr().err
    assert "cannot run here: the NVIDIA driver is too old for cuda-bindings 13.0.1" in err
