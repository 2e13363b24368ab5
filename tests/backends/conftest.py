"""Backend test fixtures.

``gpu``-marked tests need TensorRT and an NVIDIA GPU: they are skipped without them, and
``REALTIME_SEG_REQUIRE_GPU=1`` turns those skips into failures (for the GPU machine's run).
"""

from __future__ import annotations

import os
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backends.fakes import FakeDevice, Journal, install, make_fake_trt
from tests.backends.fakes_cudart import make_fake_cudart
from tests.backends.fakes_pycuda import make_fake_pycuda
from tests.tiny_models import brightness_model


@pytest.fixture(autouse=True)
def _gpu_gate(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("gpu") is None:
        return
    from realtime_seg.backends.tensorrt import probe

    ok, why = probe()
    if ok:
        return
    if os.environ.get("REALTIME_SEG_REQUIRE_GPU") == "1":
        pytest.fail(f"REALTIME_SEG_REQUIRE_GPU=1 but the TensorRT backend is not usable: {why}")
    pytest.skip(f"needs TensorRT and a GPU: {why}")


@pytest.fixture
def engine_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "engines"
    monkeypatch.setenv("REALTIME_SEG_ENGINE_DIR", str(d))
    return d


@pytest.fixture
def tiny_onnx(tmp_path: Path) -> Path:
    """A real ONNX file (64x48, static batch 1)."""
    return brightness_model(tmp_path / "tiny.onnx")


class FakeGpu:
    """Stand-ins (no GPU exists here) for TensorRT plus pycuda, cuda-python (``cuda="cuda-python"``) or both."""

    def __init__(
        self,
        monkeypatch: pytest.MonkeyPatch,
        trt_version: str = "10.8.0.43",
        *,
        cuda: str = "pycuda",
        bindings_version: str = "12.9.10",
        driver_version: int = 12040,
        **trt_kw: object,
    ) -> None:
        self.journal = Journal()
        self.device = FakeDevice(self.journal)
        self.trt = make_fake_trt(self.device, trt_version, **trt_kw)  # type: ignore[arg-type]
        modules: dict[str, types.ModuleType] = {"tensorrt": self.trt}
        if cuda in ("pycuda", "both"):
            modules.update(make_fake_pycuda(self.device))
        if cuda in ("cuda-python", "both"):
            modules.update(
                make_fake_cudart(self.device, bindings_version=bindings_version, driver_version=driver_version)
            )
        install(monkeypatch, modules)
        self.cudart = modules.get("cuda.bindings.runtime")


@pytest.fixture
def fake_gpu(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGpu]:
    """Stand-ins for TensorRT 10 + pycuda (see tests/backends/fakes.py)."""
    yield FakeGpu(monkeypatch)
