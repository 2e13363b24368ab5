"""Our ONNX models on ONNX Runtime vs MediaPipe 0.10.21's own output (tools/make_golden.py)."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from realtime_seg.models.fetch import BUILTIN_MODELS
from realtime_seg.models.preprocess import resize_probability, to_model_input

from .conftest import GOLDEN, iou

CASES = [(m, img) for m in BUILTIN_MODELS for img in ("astronaut", "camera")]

log = logging.getLogger(__name__)


def run_model(path: Path, bgr: np.ndarray, input_hw: tuple[int, int]) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = to_model_input(np.ascontiguousarray(bgr[:, :, ::-1]), (input_hw[1], input_hw[0]))
    (prob,) = session.run(None, {"input": x})
    return resize_probability(prob, (bgr.shape[1], bgr.shape[0]))


def load_golden(model: str, image: str) -> tuple[np.ndarray, dict[str, str]]:
    with np.load(GOLDEN / f"{model}__{image}.npz") as z:
        mask = z["mask_u16"].astype(np.float32) / 65535.0
        meta = {k: str(z[k]) for k in ("mediapipe_version", "model", "image", "image_sha256")}
    return mask, meta


@pytest.mark.network
@pytest.mark.parametrize(("model", "image"), CASES)
def test_fp32_matches_mediapipe(
    fetched: dict[tuple[str, str], Path],
    samples: dict[str, np.ndarray],
    model: str,
    image: str,
) -> None:
    golden, meta = load_golden(model, image)
    assert meta["mediapipe_version"] == "0.10.21"
    bgr = samples[image]
    # the fixture was made from exactly these pixels
    assert hashlib.sha256(bgr.tobytes()).hexdigest() == meta["image_sha256"]
    ours = run_model(fetched[(model, "fp32")], bgr, BUILTIN_MODELS[model].input_hw)
    assert ours.shape == golden.shape
    max_diff = float(np.abs(ours - golden).max())
    score = iou(ours, golden)
    log.info("%s on %s vs MediaPipe: max abs diff %.3g, IoU %.6f", model, image, max_diff, score)
    assert max_diff <= 1e-3, f"max |prob diff| {max_diff:.2e}"
    assert score >= 0.999, f"IoU@0.5 {score:.5f}"


@pytest.mark.network
@pytest.mark.parametrize(("model", "image"), CASES)
def test_segmenter_matches_mediapipe(
    fetched: dict[tuple[str, str], Path], samples: dict[str, np.ndarray], model: str, image: str
) -> None:
    """The whole Segmenter path (its own colour order, resampling and normalisation from the built-in spec),
    not a hand-made input as above, gives MediaPipe's mask: a swapped BGR/RGB or a plain resize shows here."""
    from realtime_seg.segmenter import open_segmenter

    golden, _ = load_golden(model, image)
    with open_segmenter(model, "onnxruntime", threads=1) as seg:
        alpha = seg.segment(samples[image]).alpha()
    max_diff = float(np.abs(alpha - golden).max())
    assert max_diff <= 1e-3, f"max |prob diff| {max_diff:.2e}"
    assert iou(alpha, golden) >= 0.999
