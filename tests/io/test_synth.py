"""Synthetic clips: the demo's Ken Burns frames and the small test patterns."""

from __future__ import annotations

import numpy as np
import pytest

from realtime_seg.io.synth import ken_burns_frames, pattern_frames


def test_ken_burns_pans_and_zooms_the_photo() -> None:
    photo = np.zeros((100, 80, 3), np.uint8)
    photo[:, :] = (0, 0, 255)  # pure red photo: easy to find on the texture
    frames = list(ken_burns_frames(photo, size_wh=(320, 180), n_frames=5))
    assert len(frames) == 5 and all(f.shape == (180, 320, 3) and f.dtype == np.uint8 for f in frames)

    def box(f: np.ndarray) -> tuple[float, int]:
        red = (f[..., 2] > 240) & (f[..., 0] < 15) & (f[..., 1] < 15)
        cols = np.flatnonzero(red.any(axis=0))
        return float(cols.mean()), int(red.any(axis=1).sum())

    (x0, h0), (x4, h4) = box(frames[0]), box(frames[-1])
    assert x4 > x0 + 80  # panned left to right
    assert h4 > h0  # zoomed in
    assert not np.array_equal(frames[0][:, :20], frames[-1][:, :20])  # the background moves too


def test_ken_burns_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="photo must be BGR uint8"):
        next(ken_burns_frames(np.zeros((10, 10), np.uint8)))
    with pytest.raises(ValueError, match="n_frames must be >= 1"):
        next(ken_burns_frames(np.zeros((10, 10, 3), np.uint8), n_frames=0))


def test_pattern_frames_grey() -> None:
    f = next(pattern_frames((40, 30), 3, grey=True))
    assert f.shape == (30, 40, 3)
    assert np.array_equal(f[..., 0], f[..., 2])
