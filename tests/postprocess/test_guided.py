"""The fast guided filter snaps a blurry, misplaced mask edge to the image's edge."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from realtime_seg.postprocess.guided import FastGuidedFilter, fast_guided_filter, low_size


def _step_scene(w: int = 320, h: int = 180, edge_x: int = 150) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    guide = np.full((h, w), 60.0)
    guide[:, edge_x:] = 190.0
    guide += rng.normal(0, 3, guide.shape)
    truth = np.zeros((h, w), np.float32)
    truth[:, edge_x:] = 1.0
    return np.clip(guide, 0, 255).astype(np.uint8), truth


@pytest.mark.parametrize(("shift", "radius", "max_ratio"), [(2, 4, 0.8), (4, 16, 0.7)])
def test_a_blurry_edge_snaps_to_the_image_edge(shift: int, radius: int, max_ratio: float) -> None:
    """Measured: the edge-band error drops by ~1/3 (radius 4, the default) to ~1/2 (radius 16)."""
    guide, truth = _step_scene()
    # the model's mask: coarse (1/8 resolution), blurry, and a few pixels off
    shifted = np.roll(truth, shift, axis=1)
    small = cv2.GaussianBlur(cv2.resize(shifted, (40, 23), interpolation=cv2.INTER_AREA), (0, 0), 1.0)
    sharpened = np.clip((small - 0.5) * 4 + 0.5, 0, 1)
    plain = cv2.resize(sharpened, (320, 180), interpolation=cv2.INTER_LINEAR)
    refined = fast_guided_filter(guide, sharpened, radius=radius, eps=1e-4, subsample=4)
    band = slice(130, 170)  # the edge region
    err_plain = float(np.abs(plain - truth)[:, band].mean())
    err_refined = float(np.abs(refined - truth)[:, band].mean())
    assert err_refined < max_ratio * err_plain, (err_refined, err_plain)
    assert refined.dtype == np.float32 and refined.shape == truth.shape
    assert refined.min() >= 0.0 and refined.max() <= 1.0


def test_a_flat_mask_stays_flat() -> None:
    guide, _ = _step_scene()
    out = fast_guided_filter(guide, np.full((23, 40), 0.25, np.float32), radius=4, eps=1e-4, subsample=4)
    np.testing.assert_allclose(out, 0.25, atol=1e-3)


def test_low_size_rounds_up() -> None:
    assert low_size((1280, 720), 4) == (320, 180)
    assert low_size((641, 361), 4) == (161, 91)
    assert low_size((3, 3), 16) == (1, 1)


def _reference(guide: np.ndarray, p: np.ndarray, radius: int, eps: float, subsample: int) -> np.ndarray:
    """The fast guided filter written out plainly in float64, guide in [0, 1] (He & Sun 2015)."""
    h, w = guide.shape
    lw, lh = low_size((w, h), subsample)
    i = cv2.resize(guide, (lw, lh), interpolation=cv2.INTER_AREA).astype(np.float64) / 255.0
    q = cv2.resize(
        p.astype(np.float64), (lw, lh), interpolation=cv2.INTER_AREA if p.shape[0] > lh else cv2.INTER_LINEAR
    )
    k = 2 * max(1, round(radius / subsample)) + 1

    def box(x: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(x, -1, (k, k), normalize=True, borderType=cv2.BORDER_REFLECT)

    mean_i, mean_p = box(i), box(q)
    a = (box(i * q) - mean_i * mean_p) / (box(i * i) - mean_i * mean_i + eps)
    b = mean_p - a * mean_i
    a_full = cv2.resize(box(a), (w, h), interpolation=cv2.INTER_LINEAR)
    b_full = cv2.resize(box(b), (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(a_full * (guide / 255.0) + b_full, 0.0, 1.0)


def test_the_buffered_filter_matches_a_plain_float64_one_across_size_changes() -> None:
    """One FastGuidedFilter, fed frames of changing size, gives what the textbook formula gives, and each
    result is a new array that later calls do not overwrite."""
    f = FastGuidedFilter(radius=4, eps=1e-4, subsample=4)
    kept = []
    for w, h in [(320, 180), (320, 180), (214, 120), (97, 61), (320, 180)]:
        guide, truth = _step_scene(w, h, edge_x=w // 2)
        p = np.clip(cv2.GaussianBlur(cv2.resize(truth, (40, 23), interpolation=cv2.INTER_AREA), (0, 0), 1.0), 0, 1)
        out = f.filter(guide, p)
        assert out.shape == (h, w) and out.dtype == np.float32
        np.testing.assert_allclose(out, _reference(guide, p, 4, 1e-4, 4), atol=2e-4)
        kept.append((out, out.copy()))
    for out, snapshot in kept:
        np.testing.assert_array_equal(out, snapshot)
