"""Real TensorRT on a real GPU (marker ``gpu``): skipped without them; REALTIME_SEG_REQUIRE_GPU=1 fails instead."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from realtime_seg.backends.tensorrt import TensorRTBackend

pytestmark = pytest.mark.gpu
SHAPE = (1, 3, 48, 64)


def test_tiny_model_matches_onnxruntime_in_a_worker_thread(tiny_onnx: Path, engine_dir: Path) -> None:
    x = np.random.default_rng(0).random(SHAPE, dtype=np.float32)
    sess = ort.InferenceSession(str(tiny_onnx), providers=["CPUExecutionProvider"])
    ref = sess.run(None, {"input": x})[0]
    box: dict[str, object] = {}

    def work() -> None:
        try:
            for graphs in (False, True):
                with TensorRTBackend(tiny_onnx, SHAPE, opt_level=0, cuda_graph=graphs) as be:
                    be.infer(x)
                    box[f"y{graphs}"] = be.infer(x).copy()
                    box[f"built{graphs}"] = be.engine.built if be.engine else None
        except BaseException as exc:  # noqa: BLE001
            box["error"] = exc

    t = threading.Thread(target=work)
    t.start()
    t.join(600)
    assert "error" not in box, box.get("error")
    np.testing.assert_allclose(box["yFalse"], ref, atol=2e-3)
    # graph vs plain: a tolerance, not bit equality (reductions may order differently between two opens)
    np.testing.assert_allclose(box["yTrue"], box["yFalse"], rtol=0, atol=1e-5)
    assert box["builtFalse"] is True and box["builtTrue"] is False  # second open reused the cache
