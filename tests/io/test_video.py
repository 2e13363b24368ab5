"""VideoReader / VideoWriter on real files encoded and decoded by PyAV (FFmpeg)."""

from __future__ import annotations

import os
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from realtime_seg.errors import InputError, OutputError, VideoError
from realtime_seg.io.video import VideoReader
from realtime_seg.io.video_writer import VideoWriter, check_output_path, partial_files
from tests.clips import make_clip, probe, truncate, vfr_clip


def _copy(reader: VideoReader, out: Path, **kw: object) -> Path:
    i = reader.info
    with VideoWriter(out, fps=i.fps, time_base=i.time_base, size_wh=i.size_wh, rotation=i.rotation, **kw) as w:
        for f in reader:
            w.write(f.image, f.pts)
    return out


# -- reading -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("suffix", "codec", "pix_fmt"),
    [
        (".mp4", "libx264", "yuv420p"),
        (".mkv", "libx264", "yuv420p"),
        (".mov", "libx264", "yuv420p"),
        (".avi", "mpeg4", "yuv420p"),
        (".webm", "libvpx-vp9", "yuv420p"),
        (".gif", "gif", "rgb8"),
    ],
)
def test_reader_decodes_common_containers(tmp_path: Path, suffix: str, codec: str, pix_fmt: str) -> None:
    clip = make_clip(tmp_path / f"in{suffix}", (64, 48), 10, codec=codec, pix_fmt=pix_fmt, fps=10)
    with VideoReader(clip) as r:
        assert r.info.size_wh == (64, 48)
        assert float(r.info.fps) == pytest.approx(10)
        frames = list(r)
    assert [f.index for f in frames] == list(range(10))
    assert all(f.image.shape == (48, 64, 3) and f.image.dtype == np.uint8 for f in frames)
    assert all(b.t > a.t for a, b in zip(frames, frames[1:], strict=False))
    # the bright square moves left to right: its column centroid increases
    xs = [np.argwhere(f.image[..., 0] > 180)[:, 1].mean() for f in frames]
    assert xs[-1] > xs[0] + 20


def test_reader_image_sequence(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(5):
        img = np.full((30, 40, 3), 40 * i, np.uint8)
        cv2.imwrite(str(folder / f"{i:06d}.png"), img)
    with VideoReader(folder / "%06d.png") as r:
        frames = list(r)
    assert len(frames) == 5
    assert [int(f.image[0, 0, 0]) for f in frames] == [0, 40, 80, 120, 160]


def test_reader_greyscale_video_gives_bgr(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "grey.mkv", (64, 48), 6, grey=True, codec="ffv1", pix_fmt="gray")
    with VideoReader(clip) as r:
        frames = list(r)
    assert len(frames) == 6
    img = frames[0].image
    assert img.shape == (48, 64, 3)
    assert np.array_equal(img[..., 0], img[..., 1]) and np.array_equal(img[..., 1], img[..., 2])


def test_reader_info_and_audio_flag(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "a.mp4", (64, 48), 15, audio="aac")
    with VideoReader(clip) as r:
        assert r.info.has_audio and r.info.audio_codec == "aac"
        assert r.info.frame_count == 15
        assert r.info.time_base > 0
        assert r.info.duration_s == pytest.approx(0.5, abs=0.05)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="video not found: .*nope.mp4"):
        VideoReader(tmp_path / "nope.mp4")


def test_not_a_video(tmp_path: Path) -> None:
    p = tmp_path / "notes.mp4"
    p.write_text("this is not a video\n" * 20)
    with pytest.raises(VideoError, match="not a video, or unreadable: .*notes.mp4"):
        VideoReader(p)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(VideoError, match="empty file"):
        VideoReader(empty)


def test_zero_frames(tmp_path: Path) -> None:
    p = tmp_path / "zero.mkv"
    c = av.open(str(p), "w")
    v = c.add_stream("libx264", rate=30)
    v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
    c.start_encoding()
    c.close()
    with pytest.raises(VideoError, match="zero frames"):
        VideoReader(p)


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_truncated_file_names_the_frame(tmp_path: Path, suffix: str) -> None:
    opts = {"movflags": "+faststart"} if suffix == ".mp4" else None
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(30)]  # noise: bytes per frame
    from realtime_seg.io.synth import write_clip

    clip = write_clip(tmp_path / f"noise{suffix}", frames, container_options=opts)
    cut = truncate(clip, 0.5)
    r = VideoReader(cut)
    got = []
    with pytest.raises(VideoError, match=r"truncated or corrupt.*frame (\d+)") as ei:
        for f in r:
            got.append(f.index)
    r.close()
    n = len(got)
    assert 5 < n < 30
    assert f"frame {n}" in str(ei.value)


def test_truncated_mp4_without_index_is_not_readable(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "x.mp4", (64, 48), 20)  # moov atom at the end: cut off
    with pytest.raises(VideoError, match="not a video, or unreadable"):
        VideoReader(truncate(clip, 0.6))


def test_rotation_applied_and_kept(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "rot.mp4", (64, 48), 6, rotation=90)
    with VideoReader(clip) as r:
        assert r.info.rotation == 90
        assert r.info.size_wh == (48, 64)  # upright
        first = next(iter(r))
        assert first.image.shape == (64, 48, 3)
        out = _copy(r, tmp_path / "rot_out.mp4")
    info = probe(out)
    assert info["rotation"] == 90 and info["size_wh"] == (64, 48)  # coded like the input, same matrix
    with VideoReader(out) as r2:
        assert r2.info.size_wh == (48, 64)


# -- writing -------------------------------------------------------------------------------------
def test_audio_is_copied_unchanged(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "talk.mp4", (64, 48), 20, audio="aac")
    with VideoReader(clip) as r:
        out = _copy(r, tmp_path / "out.mp4", audio_from=clip)
    a_in, a_out = probe(clip)["audio"], probe(out)["audio"]
    assert a_out is not None
    for key in ("codec", "rate", "channels", "packets", "bytes"):
        assert a_out[key] == a_in[key], key
    assert a_out["end_s"] == pytest.approx(a_in["end_s"], abs=1e-3)


def test_opus_audio_into_mkv(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "talk.mkv", (64, 48), 10, audio="libopus", audio_rate=48000)
    with VideoReader(clip) as r:
        out = _copy(r, tmp_path / "out.mkv", audio_from=clip)
    assert probe(out)["audio"]["codec"] == "opus"


def test_odd_size_is_padded_to_even(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "odd.mkv", (63, 47), 8, codec="ffv1", pix_fmt="bgr0")
    with VideoReader(clip) as r:
        assert r.info.size_wh == (63, 47)
        src = [f.image for f in r]
    with VideoReader(clip) as r:
        out = _copy(r, tmp_path / "odd.mp4")
    info = probe(out)
    assert info["size_wh"] == (64, 48) and info["frames"] == 8
    with VideoReader(out) as r:
        back = [f.image for f in r]
    # padded by repeating the last column/row, not shifted: the content still lines up
    diff = np.abs(back[3][:47, :63].astype(int) - src[3].astype(int)).mean()
    assert diff < 6
    assert np.abs(back[3][:47, 63].astype(int) - back[3][:47, 62].astype(int)).mean() < 6


def test_variable_frame_rate_timestamps_kept(tmp_path: Path) -> None:
    pts = [0, 33, 50, 120, 200, 210, 400]
    clip = vfr_clip(tmp_path / "vfr.mkv", pts)
    with VideoReader(clip) as r:
        out = _copy(r, tmp_path / "vfr.mp4")
    assert probe(out)["pts_s"] == pytest.approx([p / 1000 for p in pts], abs=1e-3)


def test_writer_is_atomic(tmp_path: Path) -> None:
    out = tmp_path / "o.mp4"
    w = VideoWriter(out, fps=30, size_wh=(32, 24))
    w.write(np.zeros((24, 32, 3), np.uint8))
    assert not out.exists() and partial_files(out)
    assert w.close() == out
    assert out.exists() and not partial_files(out)


def test_abort_removes_or_keeps_partial(tmp_path: Path) -> None:
    out = tmp_path / "o.mp4"
    w = VideoWriter(out, fps=30, size_wh=(32, 24))
    for _ in range(5):
        w.write(np.zeros((24, 32, 3), np.uint8))
    assert w.abort() is None
    assert list(tmp_path.iterdir()) == []
    w = VideoWriter(out, fps=30, size_wh=(32, 24), keep_partial=True)
    for _ in range(5):
        w.write(np.full((24, 32, 3), 200, np.uint8))
    assert w.abort() == out
    assert probe(out)["frames"] == 5  # playable, complete container
    assert not partial_files(out)


def test_writer_rejects_bad_frames_and_codecs(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown or unavailable video encoder 'nope'"):
        VideoWriter(tmp_path / "o.mp4", fps=30, size_wh=(32, 24), codec="nope")
    with pytest.raises(InputError, match=r"crf for libx264 must be in \[0, 51\], got 99"):
        VideoWriter(tmp_path / "o.mp4", fps=30, size_wh=(32, 24), crf=99)
    assert list(tmp_path.iterdir()) == []
    w = VideoWriter(tmp_path / "o.mp4", fps=30, size_wh=(32, 24))
    with pytest.raises(ValueError, match="frame must be BGR uint8 of size 32x24, got uint8 \\(10, 10, 3\\)"):
        w.write(np.zeros((10, 10, 3), np.uint8))
    w.abort()


def test_check_output_path(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4")
    with pytest.raises(OutputError, match="output folder does not exist: .*missing"):
        check_output_path(tmp_path / "missing" / "o.mp4")
    with pytest.raises(OutputError, match="is the input file"):
        check_output_path(clip, inputs=[clip])
    with pytest.raises(OutputError, match="is the input file"):
        check_output_path(tmp_path / "." / "in.mp4", inputs=[clip])
    with pytest.raises(OutputError, match="is a folder"):
        check_output_path(tmp_path, inputs=[clip])
    with pytest.raises(OutputError, match="unknown video container"):
        check_output_path(tmp_path / "o.notacontainer")
    assert check_output_path(tmp_path / "o.mkv", inputs=[clip]) == tmp_path / "o.mkv"


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only folders")
def test_output_folder_not_writable(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="not writable"):
            check_output_path(ro / "o.mp4")
    finally:
        ro.chmod(0o700)
