"""Temporal smoothing: less flicker on a still scene, no ghost trail on motion, history dropped on a cut."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from realtime_seg.postprocess.temporal import TemporalSmoother
from tests.synthetic import model_output, person_scene


def _thumb(frame: np.ndarray) -> np.ndarray:
    return cv2.resize(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), (64, 64), interpolation=cv2.INTER_AREA)


def _noisy(alpha: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A model output that flickers at the edge from frame to frame."""
    p = model_output(alpha, (64, 64), detail=48)
    noise = cv2.GaussianBlur(rng.normal(0, 0.2, p.shape).astype(np.float32), (0, 0), 1.0)
    return np.clip(p + noise * p * (1 - p) * 4, 0, 1).astype(np.float32)


def _run(smoother: TemporalSmoother | None, dx_per_frame: float) -> tuple[float, float]:
    """Mean frame-to-frame change and mean error against the truth, over frames 3.."""
    rng = np.random.default_rng(0)
    prev, flicker, error = None, [], []
    for t in range(16):
        frame, alpha = person_scene(160, 90, dx=dx_per_frame * t)
        p = _noisy(alpha, rng)
        out = p if smoother is None else smoother.update(p, _thumb(frame))
        truth = cv2.resize(alpha, (64, 64), interpolation=cv2.INTER_AREA)
        if prev is not None and t >= 3:
            flicker.append(float(np.abs(out - prev).mean()))
            error.append(float(np.abs(out - truth).mean()))
        prev = out.copy()
    return float(np.mean(flicker)), float(np.mean(error))


def test_smoothing_reduces_flicker_on_a_still_scene() -> None:
    raw_flicker, _ = _run(None, 0.0)
    smooth_flicker, _ = _run(TemporalSmoother(0.7, motion=12.0), 0.0)
    assert smooth_flicker < 0.5 * raw_flicker, (smooth_flicker, raw_flicker)


def test_motion_aware_smoothing_lags_less_than_a_plain_average() -> None:
    _, raw_err = _run(None, 0.02)
    _, plain_err = _run(TemporalSmoother(0.7, motion=None, scene_cut=None), 0.02)
    _, aware_err = _run(TemporalSmoother(0.7, motion=12.0, scene_cut=None), 0.02)
    assert plain_err > 1.3 * raw_err  # a plain EMA trails a moving person
    assert aware_err < 0.75 * plain_err, (aware_err, plain_err, raw_err)


def test_a_scene_cut_drops_the_history() -> None:
    s = TemporalSmoother(0.9, motion=None, scene_cut=10.0)
    a_frame, a_alpha = person_scene(160, 90, seed=0)
    b_frame = cv2.convertScaleAbs(a_frame, alpha=0.3)  # another, much darker scene
    ones = np.ones((64, 64), np.float32)
    s.update(ones, _thumb(a_frame))
    same = s.update(np.zeros_like(ones), _thumb(a_frame))
    assert not s.last_was_cut
    np.testing.assert_allclose(same, 0.9, atol=1e-6)  # smoothed: mostly the previous frame
    cut = s.update(np.zeros_like(ones), _thumb(b_frame))
    assert s.last_was_cut
    assert np.all(cut == 0.0)  # the new mask as it is


def test_reset_and_size_change_start_fresh() -> None:
    s = TemporalSmoother(0.8)
    g = np.full((8, 8), 100, np.uint8)
    s.update(np.ones((8, 8), np.float32), g)
    s.reset()
    assert np.all(s.update(np.zeros((8, 8), np.float32), g) == 0.0)
    assert np.all(s.update(np.ones((4, 4), np.float32), g[:4, :4]) == 1.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"strength": 1.0}, r"strength must be in \[0, 1\), got 1.0"), ({"strength": 0.5, "motion": 0}, "motion")],
)
def test_invalid_settings_say_what_was_expected(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        TemporalSmoother(**kwargs)  # type: ignore[arg-type]
