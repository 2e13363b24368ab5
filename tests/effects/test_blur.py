"""Portrait blur: the background is blurred, the person is untouched, and there is no halo."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from realtime_seg.effects.blur import BlurEffect
from realtime_seg.postprocess.types import MaskFrame


def test_background_is_blurred_and_the_person_is_unchanged(scene: tuple[np.ndarray, MaskFrame]) -> None:
    frame, mask = scene
    out = BlurEffect(strength=12).apply(frame, mask)
    assert out.shape == frame.shape and out.dtype == np.uint8
    far_bg = cv2.erode((mask.alpha == 0).astype(np.uint8), np.ones((31, 31), np.uint8)).astype(bool)
    # the local detail (high-pass variance) of the background mostly goes
    hp_in = frame.astype(np.float32) - cv2.blur(frame, (5, 5)).astype(np.float32)
    hp_out = out.astype(np.float32) - cv2.blur(out, (5, 5)).astype(np.float32)
    assert hp_out[far_bg].var() < 0.1 * hp_in[far_bg].var()
    person = mask.alpha == 1.0
    np.testing.assert_array_equal(out[person], frame[person])


def _bright_person_on_dark() -> tuple[np.ndarray, MaskFrame]:
    h, w = 360, 640
    alpha = np.zeros((h, w), np.float32)
    cv2.circle(alpha, (320, 180), 100, 1.0, -1, cv2.LINE_AA)
    rng = np.random.default_rng(0)
    frame = np.clip(rng.normal(40, 8, (h, w, 3)), 0, 255).astype(np.uint8)
    frame[alpha > 0.5] = 250
    return frame, MaskFrame(index=0, alpha=alpha)


def test_no_halo_around_a_bright_person() -> None:
    frame, mask = _bright_person_on_dark()
    inside = (mask.alpha > 0).astype(np.uint8)
    near = (cv2.dilate(inside, np.ones((25, 25), np.uint8)) - cv2.dilate(inside, np.ones((5, 5), np.uint8))) > 0
    base = float(frame[near].mean())
    naive = BlurEffect(strength=16, mask_aware=False).apply(frame, mask)
    aware = BlurEffect(strength=16).apply(frame, mask)
    naive_glow = float(naive[near].mean()) - base
    aware_glow = float(aware[near].mean()) - base
    assert naive_glow > 30  # the naive blur halos: the test scene shows it
    assert aware_glow < 2.0, (aware_glow, naive_glow)  # measured ~0.3 grey levels


@pytest.mark.parametrize("strength", [2.0, 12.0, 40.0])
def test_every_strength_works_on_odd_sizes(strength: float) -> None:
    frame = np.random.default_rng(1).integers(0, 255, (101, 77, 3), np.uint8)
    out = BlurEffect(strength).apply(frame, MaskFrame(index=0, alpha=np.zeros((101, 77), np.float32)))
    assert out.shape == frame.shape
    assert out.std() < frame.std()


def test_strength_is_validated() -> None:
    with pytest.raises(ValueError, match=r"strength must be in \(0, 200\].*got 0"):
        BlurEffect(0)
