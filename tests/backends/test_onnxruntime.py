from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from realtime_seg.backends.onnxruntime import OnnxRuntimeBackend
from realtime_seg.backends.select import choose_backend, create_backend
from realtime_seg.errors import BackendError, BackendUnavailable, ModelError, UnknownNameError
from realtime_seg.models.registry import load_user_model
from tests.tiny_models import brightness_model, write_user_model


def test_lifecycle_and_real_inference(tmp_path: Path) -> None:
    path = brightness_model(tmp_path / "m.onnx", size_wh=(8, 4), gain=20.0)
    backend = OnnxRuntimeBackend(path, (1, 3, 4, 8), threads=1)
    with pytest.raises(BackendError, match="not open"):
        backend.infer(np.zeros((1, 3, 4, 8), np.float32))
    with backend:
        assert backend.is_open
        assert backend.active_provider == "CPUExecutionProvider"
        assert backend.description == "ONNX Runtime CPU (1 thread)"
        x = np.zeros((1, 3, 4, 8), np.float32)
        x[..., 4:] = 1.0
        y = backend.infer(x)
        assert y.shape == (1, 1, 4, 8)
        expected = 1.0 / (1.0 + np.exp(-20.0 * (x.mean(axis=1, keepdims=True) - 0.5)))
        np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
        with pytest.raises(BackendError, match=r"input shape: expected \(N, 3, 4, 8\), got \(1, 3, 8, 4\)"):
            backend.infer(np.zeros((1, 3, 8, 4), np.float32))
        with pytest.raises(BackendError, match="input dtype: expected float32, got float64"):
            backend.infer(np.zeros((1, 3, 4, 8)))
        with pytest.raises(BackendError, match="already open"):
            backend.open()
    assert not backend.is_open
    backend.close()  # closing twice is harmless


def test_a_file_that_is_not_a_model(tmp_path: Path) -> None:
    bogus = tmp_path / "m.onnx"
    bogus.write_text("hello")
    with pytest.raises(ModelError, match="ONNX Runtime cannot load"), OnnxRuntimeBackend(bogus, (1, 3, 4, 4)):
        pass


@pytest.mark.no_tensorrt
def test_auto_selection_reports_its_reason() -> None:
    choice = choose_backend("auto")
    # No TensorRT on CPU CI machines: auto must say why it falls back.
    assert choice.name == "onnxruntime"
    assert "TensorRT" in choice.reason
    assert choose_backend("onnxruntime").reason == "requested with --backend onnxruntime"
    with pytest.raises(BackendUnavailable, match="TensorRT backend unavailable: "):
        choose_backend("tensorrt")
    with pytest.raises(UnknownNameError, match="valid names: auto, onnxruntime, cpu, tensorrt"):
        choose_backend("openvino")


def test_create_backend_for_a_user_model(tmp_path: Path) -> None:
    spec = load_user_model(write_user_model(tmp_path, "brightness"))
    backend, choice = create_backend(spec, "onnxruntime", threads=1)
    with backend:
        out = backend.infer(np.zeros(spec.input_shape, np.float32))
    assert out.shape == (1, 1, 48, 64)
    assert choice.name == "onnxruntime"
