"""Overlay: class colours (RGB in the spec, BGR in frames) over the frame, background left alone."""

from __future__ import annotations

import numpy as np
import pytest

from realtime_seg.effects.overlay import OverlayEffect
from realtime_seg.postprocess.types import MaskFrame


def test_labels_are_painted_in_their_colours_in_bgr() -> None:
    labels = np.zeros((20, 30), np.uint8)
    labels[:, 10:20] = 1
    labels[:, 20:] = 2
    mask = MaskFrame(
        index=0,
        alpha=(labels > 0).astype(np.float32),
        labels=labels,
        class_names=("background", "red", "blue"),
        class_colors_rgb=((9, 9, 9), (255, 0, 0), (0, 0, 255)),
    )
    frame = np.full((20, 30, 3), 100, np.uint8)
    out = OverlayEffect(alpha=1.0).apply(frame, mask)
    assert np.all(out[:, :10] == 100)  # class 0 skipped, its colour ignored
    assert np.all(out[:, 10:20] == (0, 0, 255))  # RGB red -> BGR
    assert np.all(out[:, 20:] == (255, 0, 0))
    half = OverlayEffect(alpha=0.5).apply(frame, mask)
    assert np.all(np.abs(half[:, 12].astype(int) - (50, 50, 178)) <= 1)


def test_portrait_models_colour_the_person_by_alpha() -> None:
    alpha = np.zeros((10, 10), np.float32)
    alpha[:, 5:] = 1.0
    alpha[:, 4] = 0.5
    mask = MaskFrame(index=0, alpha=alpha, class_colors_rgb=((0, 0, 0), (0, 255, 0)))
    out = OverlayEffect(alpha=0.8).apply(np.zeros((10, 10, 3), np.uint8), mask)
    assert np.all(out[:, :4] == 0)
    assert np.all(np.abs(out[:, 6].astype(int) - (0, 204, 0)) <= 1)
    assert np.all(np.abs(out[:, 4].astype(int) - (0, 102, 0)) <= 1)


def test_alpha_is_validated() -> None:
    with pytest.raises(ValueError, match=r"must be in \(0, 1\], got 1.5"):
        OverlayEffect(alpha=1.5)
