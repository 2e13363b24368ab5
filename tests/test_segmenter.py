from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from realtime_seg.errors import InputError
from realtime_seg.segmenter import SegResult, open_segmenter
from tests.tiny_models import write_user_model


def _half_red_frame(w: int = 160, h: int = 120) -> np.ndarray:
    frame = np.zeros((h, w, 3), np.uint8)
    frame[:, w // 2 :] = (0, 0, 255)  # BGR: red on the right
    return frame


def test_probability_model_end_to_end(tmp_path: Path) -> None:
    with open_segmenter(write_user_model(tmp_path, "brightness"), "onnxruntime", threads=1) as seg:
        white_left = np.zeros((120, 160, 3), np.uint8)
        white_left[:, :60] = 255
        result = seg.segment(white_left, frame_index=7)
    assert result.frame_index == 7
    assert result.probs.shape == (48, 64)
    alpha = result.alpha()
    assert alpha.shape == (120, 160) and alpha.dtype == np.float32
    assert alpha[60, 20] > 0.99 and alpha[60, 140] < 0.01
    assert set(result.timings_ms) == {"preprocess", "infer", "postprocess"}
    assert result.labels()[60, 20] == 1 and result.labels()[60, 140] == 0


def test_multiclass_logits_model_gives_a_label_map(tmp_path: Path) -> None:
    with open_segmenter(write_user_model(tmp_path, "logits"), "onnxruntime", threads=1) as seg:
        frame = np.zeros((120, 160, 3), np.uint8)
        frame[:60, 80:] = (0, 0, 255)  # red (class 1) top right
        frame[60:, 80:] = (0, 255, 0)  # green (class 2) bottom right
        result = seg.segment(frame)
    assert result.probs.shape == (3, 48, 64)
    np.testing.assert_allclose(result.probs.sum(axis=0), 1.0, rtol=1e-5)
    labels = result.labels()
    assert labels.shape == (120, 160) and labels.dtype == np.uint8
    assert labels[30, 20] == 0 and labels[30, 140] == 1 and labels[90, 140] == 2
    alpha = result.alpha((80, 60))  # foreground = classes 1 and 2
    assert alpha.shape == (60, 80)
    assert alpha[15, 70] > 0.9 and alpha[15, 10] < 0.1


def test_result_is_immutable_and_validated(tmp_path: Path) -> None:
    with open_segmenter(write_user_model(tmp_path, "brightness"), "onnxruntime", threads=1) as seg:
        result = seg.segment(_half_red_frame())
        spec = seg.spec
    with pytest.raises(ValueError, match="read-only"):
        result.probs[0, 0] = 1.0
    with pytest.raises(TypeError):
        result.timings_ms["infer"] = 0.0  # type: ignore[index]
    with pytest.raises(ValueError, match=r"probs must have shape \(H, W\) for a probability model, got \(1, 2, 3\)"):
        SegResult(0, np.zeros((1, 2, 3), np.float32), (4, 4), spec)
    with pytest.raises(ValueError, match="probs must be float32"):
        SegResult(0, np.zeros((2, 3), np.float64), (4, 4), spec)


def test_bad_frames_are_rejected_clearly(tmp_path: Path) -> None:
    with open_segmenter(write_user_model(tmp_path, "brightness"), "onnxruntime", threads=1) as seg:
        with pytest.raises(InputError, match="frame must be a uint8 numpy array, got float32"):
            seg.segment(np.zeros((10, 10, 3), np.float32))
        with pytest.raises(InputError, match=r"frame must have shape \(H, W, 3\) BGR, got \(10, 10, 4\)"):
            seg.segment(np.zeros((10, 10, 4), np.uint8))
        grey = seg.segment(np.full((10, 10), 255, np.uint8))  # greyscale frames are accepted
        assert grey.alpha().min() > 0.99


def test_results_can_cross_threads(tmp_path: Path) -> None:
    """A result computed in a worker keeps its values after the backend runs again."""
    results: list[SegResult] = []
    with open_segmenter(write_user_model(tmp_path, "brightness"), "onnxruntime", threads=1) as seg:
        bright = np.full((48, 64, 3), 255, np.uint8)
        worker = threading.Thread(target=lambda: results.append(seg.segment(bright)))
        worker.start()
        worker.join(timeout=10)
        assert not worker.is_alive()
        seg.segment(np.zeros((48, 64, 3), np.uint8))
    assert results[0].probs.min() > 0.99
