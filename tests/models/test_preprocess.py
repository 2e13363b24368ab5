"""MediaPipe-exact resampling: our fast cv2.remap path vs a plain numpy model of OpenCV 4.x."""

from __future__ import annotations

import numpy as np
import pytest

from realtime_seg.models.preprocess import (
    mediapipe_coords,
    mediapipe_resize,
    resize_probability,
    to_model_input,
)


def reference_resize(image: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    """OpenCV 4.x bilinear warp of uint8 data: 1/32-pixel coordinates, 15-bit weights, zero border."""
    h, w = image.shape[:2]
    xs, ys = mediapipe_coords((w, h), size_wh)
    sx, fx, sy, fy = xs >> 5, xs & 31, ys >> 5, ys & 31
    padded = np.zeros((h + 2, w + 2, 3), np.int64)
    padded[1:-1, 1:-1] = image

    def at(y: np.ndarray, x: np.ndarray) -> np.ndarray:
        return padded[np.clip(y + 1, 0, h + 1), np.clip(x + 1, 0, w + 1)]

    acc = (
        at(sy, sx) * ((32 - fy) * (32 - fx) * 32)[..., None]
        + at(sy, sx + 1) * ((32 - fy) * fx * 32)[..., None]
        + at(sy + 1, sx) * (fy * (32 - fx) * 32)[..., None]
        + at(sy + 1, sx + 1) * (fy * fx * 32)[..., None]
    )
    return np.clip((acc + (1 << 14)) >> 15, 0, 255).astype(np.uint8)


@pytest.mark.parametrize(
    ("hw", "size_wh"),
    [((512, 512), (256, 144)), ((720, 1280), (256, 256)), ((37, 501), (256, 144)), ((100, 90), (256, 144))],
)
def test_resize_matches_reference(hw: tuple[int, int], size_wh: tuple[int, int]) -> None:
    img = np.random.default_rng(hw[0]).integers(0, 256, (*hw, 3), dtype=np.uint8)
    out = mediapipe_resize(img, size_wh)
    assert out.shape == (size_wh[1], size_wh[0], 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, reference_resize(img, size_wh))


def test_corners_to_corners_coordinates() -> None:
    xs, ys = mediapipe_coords((512, 512), (256, 144))
    # src = dst * W / w, no half-pixel offset; 1/32-pixel fixed point
    assert xs[0, 0] == 0 and ys[0, 0] == 0
    assert xs[0, 1] == 2 * 32 and ys[9, 0] == 32 * 32  # 9 * 512 / 144 = 32


def test_model_input_layout() -> None:
    rgb = np.full((10, 20, 3), (255, 0, 51), np.uint8)
    x = to_model_input(rgb, (8, 4))
    assert x.shape == (1, 3, 4, 8) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, :, 0, 0], [1.0, 0.0, 0.2], atol=1e-7)


@pytest.mark.parametrize("shape", [(4, 6), (1, 1, 4, 6), (1, 4, 6), (4, 6, 1)])
def test_resize_probability_shapes(shape: tuple[int, ...]) -> None:
    prob = np.linspace(0, 1, 24, dtype=np.float32).reshape(shape)
    out = resize_probability(prob, (12, 8))
    assert out.shape == (8, 12) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="uint8 array of shape"):
        mediapipe_resize(np.zeros((4, 4), np.uint8), (2, 2))
    with pytest.raises(ValueError, match="positive"):
        resize_probability(np.zeros((4, 4), np.float32), (0, 2))
    with pytest.raises(ValueError, match="single-channel"):
        resize_probability(np.zeros((4, 4, 2), np.float32), (2, 2))
