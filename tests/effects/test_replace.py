"""Background replacement with a colour, an image, and a looping video (written here with PyAV)."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from realtime_seg.effects.replace import ReplaceEffect, background_options, cover_resize, parse_color
from realtime_seg.errors import InputError
from realtime_seg.postprocess.types import MaskFrame


def _half_mask(h: int = 60, w: int = 80) -> MaskFrame:
    alpha = np.zeros((h, w), np.float32)
    alpha[:, : w // 2] = 1.0
    return MaskFrame(index=0, alpha=alpha)


def test_colour_background_and_person_kept() -> None:
    frame = np.full((60, 80, 3), 77, np.uint8)
    for colour in [(0, 255, 0), "#00ff00", "green", "#0f0"]:
        out = ReplaceEffect(color=colour).apply(frame, _half_mask())
        assert np.all(out[:, 40:] == (0, 255, 0)), colour
        assert np.all(out[:, :40] == 77)


def test_default_is_a_colour_and_soft_alpha_blends() -> None:
    frame = np.full((60, 80, 3), 200, np.uint8)
    mask = MaskFrame(index=0, alpha=np.full((60, 80), 0.5, np.float32))
    effect = ReplaceEffect()
    out = effect.apply(frame, mask)
    expected = (np.asarray(effect.background((80, 60)), np.float32) + 200) / 2
    assert np.abs(out.astype(np.float32) - expected).max() <= 1.0


def test_image_background_is_cover_resized(tmp_path: Path) -> None:
    img = np.zeros((100, 300, 3), np.uint8)  # wide: cropped left and right
    img[:, :100] = (255, 0, 0)
    img[:, 100:200] = (0, 0, 255)
    img[:, 200:] = (0, 255, 0)
    path = tmp_path / "bg.png"
    cv2.imwrite(str(path), img)
    out = ReplaceEffect(image=path).apply(np.zeros((60, 80, 3), np.uint8), _half_mask())
    assert out.shape == (60, 80, 3)
    np.testing.assert_array_equal(out[:, 40:], cover_resize(img, (80, 60))[:, 40:])
    # scaled to 180x60, the centre 80 columns kept: the middle third is columns 10..70
    assert np.all(out[:, 42:68] == (0, 0, 255)) and np.all(out[:, 74:] == (0, 255, 0))


def _write_video(path: Path, colours: list[tuple[int, int, int]]) -> None:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for bgr in colours:
            img = np.empty((48, 64, 3), np.uint8)
            img[:] = bgr
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def test_video_background_plays_and_loops(tmp_path: Path) -> None:
    path = tmp_path / "bg.mp4"
    colours = [(0, 0, 255), (0, 255, 0), (255, 0, 0)]
    _write_video(path, colours)
    effect = ReplaceEffect(video=path)
    zero = MaskFrame(index=0, alpha=np.zeros((24, 32), np.float32))
    seen = []
    for _ in range(7):
        px = effect.apply(np.zeros((24, 32, 3), np.uint8), zero)[12, 16].astype(int)
        seen.append(int(np.argmax(px)))  # which channel is bright: 2=red, 1=green, 0=blue
    effect.close()
    assert seen == [2, 1, 0, 2, 1, 0, 2]


def test_missing_or_bad_files_fail_at_construction(tmp_path: Path) -> None:
    missing = tmp_path / "nope.png"
    with pytest.raises(InputError, match="nope.png"):
        ReplaceEffect(image=missing)
    with pytest.raises(InputError, match="nope.mp4"):
        ReplaceEffect(video=tmp_path / "nope.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all")
    with pytest.raises(InputError, match="junk.mp4"):
        ReplaceEffect(video=junk)
    with pytest.raises(InputError, match="one background"):
        ReplaceEffect(color="red", image=missing)


def test_background_options_and_colours(tmp_path: Path) -> None:
    img = tmp_path / "b.jpg"
    cv2.imwrite(str(img), np.zeros((4, 4, 3), np.uint8))
    vid = tmp_path / "b.mp4"
    vid.write_bytes(b"x")
    assert background_options(str(img)) == {"image": img}
    assert background_options(str(vid)) == {"video": vid}
    assert background_options("#102030") == {"color": (0x30, 0x20, 0x10)}
    assert parse_color("White") == (255, 255, 255)
    with pytest.raises(InputError, match=r"background not found: nowhere\.png"):
        background_options("nowhere.png")
    with pytest.raises(InputError, match="not a colour"):
        parse_color("#12345g")


def test_no_fringe_of_the_old_wall_on_a_soft_edge() -> None:
    """A red person on a white wall with a soft edge: I = a*F + (1-a)*W. Replacing the wall by black
    must leave ~a*F at the edge, not a pale rim of the white wall (what a plain blend of I keeps)."""
    h, w = 120, 160
    alpha = np.zeros((h, w), np.float32)
    ramp = np.linspace(1.0, 0.0, 6, dtype=np.float32)  # a 6-pixel soft edge (36 pixels at 720p)
    alpha[:, :60] = 1.0
    alpha[:, 60:66] = ramp
    person = np.array([30, 30, 200], np.float32)  # BGR red
    wall = np.array([255, 255, 255], np.float32)
    frame = (alpha[..., None] * person + (1 - alpha[..., None]) * wall).round().astype(np.uint8)
    mask = MaskFrame(index=0, alpha=alpha)
    ideal = alpha[..., None] * person  # the person's share over a black background
    band = (alpha > 0.05) & (alpha < 0.95)

    def edge_error(out: np.ndarray) -> float:
        return float(np.abs(out.astype(np.float32) - ideal)[band].mean())

    clean = ReplaceEffect(color="black").apply(frame, mask)
    plain = ReplaceEffect(color="black", decontaminate=False).apply(frame, mask)
    assert edge_error(plain) > 25  # the plain blend keeps a*(1-a)*(W-F) of the white wall in the rim (~31)
    assert edge_error(clean) < 8
    assert np.array_equal(clean[:, :60], frame[:, :60])  # alpha 1: the frame exactly
    assert np.all(clean[:, 66:] == 0)  # alpha 0: the new background exactly


def _matted_scene() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A person colour F over an old wall B of broad green bands, a 24-pixel soft edge: (frame, alpha, F, B).

    The bands are broad (20 pixels): detail finer than the model's resolution stays in the edge, as in RVM.
    """
    h, w = 90, 160
    alpha = np.clip((np.arange(w, dtype=np.float32) - 60) / 24.0, 0.0, 1.0)[None, :].repeat(h, 0)
    person = np.empty((h, w, 3), np.float32)
    person[:] = (40, 60, 200)
    wall = np.zeros((h, w, 3), np.float32)
    wall[:, :, 1] = np.where((np.arange(w) // 20) % 2 == 0, 230, 90)[None, :]  # green stripes
    frame = np.round(alpha[..., None] * person + (1 - alpha[..., None]) * wall).astype(np.uint8)
    return frame, alpha, person, wall


def test_matting_foreground_removes_the_old_walls_colour() -> None:
    """With the model's foreground colour (RVM's fgr, at a quarter resolution) the soft edge shows no old wall."""
    frame, alpha, person, _ = _matted_scene()
    fg_small = cv2.resize(person.astype(np.uint8), (40, 23), interpolation=cv2.INTER_AREA)
    blue = (255, 0, 0)
    want = alpha[..., None] * person + (1 - alpha[..., None]) * np.array(blue, np.float32)
    effect = ReplaceEffect(color=blue)
    with_fg = effect.apply(frame, MaskFrame(index=0, alpha=alpha, foreground=fg_small)).astype(np.float32)
    without = effect.apply(frame, MaskFrame(index=0, alpha=alpha)).astype(np.float32)
    edge = (alpha > 0.05) & (alpha < 0.95)
    err_with, err_without = np.abs(with_fg - want)[edge], np.abs(without - want)[edge]
    # measured: max 12 vs 45 grey levels (the residual is resampled at the bands' steps), mean 3x lower
    assert err_with.max() <= 15.0 < err_without.max()
    assert err_with.mean() * 3 < err_without.mean()


def test_matting_foreground_keeps_the_frames_detail() -> None:
    """Where the model predicts the input itself (zero residual) the frame comes through unchanged."""
    from realtime_seg.postprocess.types import full_res_foreground

    rng = np.random.default_rng(3)
    frame = rng.integers(0, 256, (90, 160, 3), dtype=np.uint8)
    fg_small = cv2.resize(frame, (40, 23), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(full_res_foreground(frame, fg_small), frame)


def test_mask_frame_checks_the_foreground() -> None:
    with pytest.raises(ValueError, match=r"foreground must be a uint8 BGR array of shape \(h, w, 3\), got float32"):
        MaskFrame(index=0, alpha=np.zeros((4, 4), np.float32), foreground=np.zeros((4, 4, 3), np.float32))


def test_blur_uses_the_matting_foreground_in_the_edge() -> None:
    """blur too: with the model's foreground colour, the soft edge is person over *blurred* wall, not the sharp wall."""
    from realtime_seg.effects.blur import BlurEffect

    frame, alpha, person, _ = _matted_scene()
    fg_small = cv2.resize(person.astype(np.uint8), (40, 23), interpolation=cv2.INTER_AREA)
    effect = BlurEffect(12.0)
    bg = effect.background(frame, alpha).astype(np.float32)
    want = alpha[..., None] * person + (1 - alpha[..., None]) * bg
    with_fg = effect.apply(frame, MaskFrame(index=0, alpha=alpha, foreground=fg_small)).astype(np.float32)
    without = effect.apply(frame, MaskFrame(index=0, alpha=alpha)).astype(np.float32)
    edge = (alpha > 0.05) & (alpha < 0.95)
    assert np.abs(with_fg - want)[edge].mean() * 3 < np.abs(without - want)[edge].mean()
