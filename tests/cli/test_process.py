"""``realtime-seg process`` end to end on real files, with the tiny brightness model (real ONNX Runtime)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime_seg.cli import main
from realtime_seg.io.synth import write_clip
from realtime_seg.io.video_writer import partial_files
from tests.clips import make_clip, probe, truncate
from tests.signals import sigint_as_in_a_terminal

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> str:
    from tests.tiny_models import write_user_model

    return str(write_user_model(tmp_path_factory.mktemp("model"), "brightness"))


def _run(model: str, *args: object) -> int:
    return main(["process", *map(str, args), "--model", model, "--backend", "onnxruntime", "--quiet"])


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_blur_with_audio_masks_alpha_outlines(model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clip = make_clip(tmp_path / "in.mp4", (96, 64), 16, audio="aac")
    clip_sha, clip_mtime = _sha(clip), clip.stat().st_mtime_ns
    out, alpha, masks, lines = tmp_path / "out.mp4", tmp_path / "alpha.mp4", tmp_path / "masks", tmp_path / "o.jsonl"
    rc = main(
        ["process", str(clip), "-o", str(out), "--effect", "blur", "--model", model, "--backend", "onnxruntime"]
        + ["--masks-out", str(masks), "--alpha-out", str(alpha), "--outlines-out", str(lines)]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "16 frames in" in text and "FPS end to end" in text and f"wrote {out}" in text
    assert "infer" in text and "encode" in text
    src, got = probe(clip), probe(out)
    assert got["frames"] == 16 and got["size_wh"] == (96, 64) and got["codec"] == "h264"
    assert got["pts_s"] == pytest.approx(src["pts_s"])
    for key in ("codec", "rate", "channels", "packets", "bytes"):
        assert got["audio"][key] == src["audio"][key]
    assert got["audio"]["end_s"] == pytest.approx(src["audio"]["end_s"], abs=1e-3)
    assert _names(masks) == [f"{i:06d}.png" for i in range(16)]
    m = cv2.imread(str(masks / "000008.png"), cv2.IMREAD_UNCHANGED)
    assert m.shape == (64, 96) and m.dtype == np.uint8 and m.max() > 200 and m.min() < 50
    assert probe(alpha)["frames"] == 16
    recs = [json.loads(line) for line in lines.read_text().splitlines()]
    assert [r["frame"] for r in recs] == list(range(16))
    assert all(len(r["regions"]) >= 1 for r in recs[1:])  # a new object gets its id on its second frame
    assert not [p for p in tmp_path.iterdir() if ".partial" in p.name or p.name.endswith(".part")]
    assert _sha(clip) == clip_sha and clip.stat().st_mtime_ns == clip_mtime  # the input is never modified


def test_blur_changes_background_not_the_square(model: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    frames = []
    for i in range(6):
        f = rng.integers(0, 90, (64, 96, 3), dtype=np.uint8)  # dark noise: background, blurred away
        f[16:48, 10 + 6 * i : 42 + 6 * i] = 240  # bright square: the "person", kept sharp
        frames.append(f)
    clip = write_clip(tmp_path / "in.mkv", frames, codec="ffv1", pix_fmt="bgr0")
    assert _run(model, clip, "-o", tmp_path / "o.mkv", "--effect", "blur", "--codec", "ffv1") == 0
    from realtime_seg.io.video import VideoReader

    with VideoReader(tmp_path / "o.mkv") as r:
        out = [f.image for f in r]
    bg_in, bg_out = frames[3][:10].astype(float), out[3][:10].astype(float)
    assert bg_out.std() < 0.5 * bg_in.std()  # background blurred
    sq = (slice(22, 42), slice(34, 54))
    assert np.abs(out[3][sq].astype(float) - 240).mean() < 12  # the square stays


def test_output_optional_with_masks_and_every(model: str, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mkv", (64, 48), 9)
    assert _run(model, clip, "--masks-out", tmp_path / "m", "--every", "3") == 0
    assert len(_names(tmp_path / "m")) == 9


def test_nothing_to_write(model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clip = make_clip(tmp_path / "in.mp4")
    assert _run(model, clip) == 2
    assert "nothing to write" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("size_wh", "kw"),
    [
        ((63, 47), {"codec": "ffv1", "pix_fmt": "bgr0"}),  # odd: padded to 64x48 for H.264
        ((16, 16), {}),
        ((64, 48), {"grey": True, "codec": "ffv1", "pix_fmt": "gray"}),
    ],
    ids=["odd", "16x16", "grey"],
)
def test_awkward_inputs(model: str, tmp_path: Path, size_wh: tuple[int, int], kw: dict[str, object]) -> None:
    clip = make_clip(tmp_path / "in.mkv", size_wh, 8, **kw)  # type: ignore[arg-type]
    assert _run(model, clip, "-o", tmp_path / "o.mp4", "--masks-out", tmp_path / "m") == 0
    w, h = size_wh
    assert probe(tmp_path / "o.mp4")["size_wh"] == (w + w % 2, h + h % 2)
    assert probe(tmp_path / "o.mp4")["frames"] == 8
    assert cv2.imread(str(tmp_path / "m" / "000000.png"), cv2.IMREAD_UNCHANGED).shape == (h, w)


@pytest.mark.slow
def test_4k_frames(model: str, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", (3840, 2160), 3)
    assert _run(model, clip, "-o", tmp_path / "o.mp4", "--effect", "blur") == 0
    assert probe(tmp_path / "o.mp4")["size_wh"] == (3840, 2160)


# -- bad input: clear error, non-zero exit, input untouched, nothing under the final name ------------------
def test_missing_input(model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(model, tmp_path / "nope.mp4", "-o", tmp_path / "o.mp4") == 2
    assert f"realtime-seg: error: video not found: {tmp_path / 'nope.mp4'}" in capsys.readouterr().err
    assert _names(tmp_path) == []


def test_not_a_video(model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "x.mp4"
    p.write_text("hello\n" * 100)
    assert _run(model, p, "-o", tmp_path / "o.mp4") == 2
    assert "not a video, or unreadable" in capsys.readouterr().err
    assert _names(tmp_path) == ["x.mp4"]


def test_output_folder_missing(model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clip = make_clip(tmp_path / "in.mp4")
    assert _run(model, clip, "-o", tmp_path / "no" / "o.mp4") == 3
    assert f"output folder does not exist: {tmp_path / 'no'}" in capsys.readouterr().err


def test_output_is_input(model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clip = make_clip(tmp_path / "in.mp4")
    before = _sha(clip)
    assert _run(model, clip, "-o", clip) == 3
    assert "is the input file" in capsys.readouterr().err
    assert _sha(clip) == before and _names(tmp_path) == ["in.mp4"]


def test_unknown_effect(model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clip = make_clip(tmp_path / "in.mp4")
    assert _run(model, clip, "-o", tmp_path / "o.mp4", "--effect", "sparkle") == 2
    err = capsys.readouterr().err
    assert "unknown effect 'sparkle'; valid names: none, blur" in err
    assert _names(tmp_path) == ["in.mp4"]


def _noise_mkv(path: Path, n: int = 30) -> Path:
    rng = np.random.default_rng(0)
    return write_clip(path, [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(n)])


def test_truncated_input(model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cut = truncate(_noise_mkv(tmp_path / "in.mkv"), 0.5)
    out = tmp_path / "o.mp4"
    assert _run(model, cut, "-o", out) == 2
    err = capsys.readouterr().err
    assert "truncated or corrupt: the stream ended at frame" in err
    assert "no output video was written (--keep-partial keeps the" in err
    assert not out.exists() and not partial_files(out)


def test_truncated_input_keep_partial(model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cut = truncate(_noise_mkv(tmp_path / "in.mkv"), 0.5)
    out = tmp_path / "o.mp4"
    assert _run(model, cut, "-o", out, "--keep-partial") == 2
    err = capsys.readouterr().err
    n = int(err.split("the stream ended at frame ")[1].split()[0])
    assert f"kept the frames written so far as a playable file: {out}" in err
    assert probe(out)["frames"] == n > 0
    assert not partial_files(out)


def _slow_clip(path: Path) -> Path:
    """Long enough that processing takes several seconds (360p noise; encodes fast with ultrafast)."""
    rng = np.random.default_rng(0)
    tiles = [rng.integers(0, 255, (360, 640, 3), dtype=np.uint8) for _ in range(4)]
    return write_clip(path, (tiles[i % 4] for i in range(400)))


@pytest.mark.slow
@pytest.mark.parametrize("keep", [False, True])
def test_ctrl_c_stops_cleanly(model: str, tmp_path: Path, keep: bool) -> None:
    clip = _slow_clip(tmp_path / "in.mp4")
    out = tmp_path / "o.mp4"
    cmd = [sys.executable, "-m", "realtime_seg.cli", "process", str(clip), "-o", str(out), "--quiet"]
    cmd += ["--model", model, "--backend", "onnxruntime", "--effect", "blur", "--masks-out", str(tmp_path / "m")]
    cmd += ["--keep-partial"] if keep else []
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with sigint_as_in_a_terminal():  # the child gets SIGINT's default disposition, as from a terminal
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "m" / "000005.png").exists():  # wait until frames are flowing
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
        took = time.monotonic() - t0
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert took < 1.0 + (1.0 if keep else 0.0), took  # finalizing a kept file may take a moment longer
    assert "realtime-seg: interrupted" in err and "stopped after" in err
    assert not partial_files(out)
    n_masks = len(_names(tmp_path / "m"))
    assert 0 < n_masks < 400
    if keep:
        assert f"kept the frames written so far as a playable file: {out}" in err
        assert 0 < probe(out)["frames"] <= 400
    else:
        assert not out.exists()
        assert "no output video was written" in err


@pytest.mark.parametrize("bg", ["missing.png", "missing.mp4"])
def test_missing_background(model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], bg: str) -> None:
    clip = make_clip(tmp_path / "in.mp4")
    rc = _run(model, clip, "-o", tmp_path / "o.mp4", "--effect", "replace", "--background", tmp_path / bg)
    assert rc == 2
    err = capsys.readouterr().err
    assert "realtime-seg: error:" in err and bg in err
    assert _names(tmp_path) == ["in.mp4"]


def test_replace_with_a_looped_video(model: str, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", (64, 48), 12)
    bg = make_clip(tmp_path / "bg.mkv", (32, 24), 3)  # shorter than the input: loops
    assert _run(model, clip, "-o", tmp_path / "o.mp4", "--background", bg) == 0
    assert probe(tmp_path / "o.mp4")["frames"] == 12


# -- damaged inputs (issue 16, cases 8 and 9) ------------------------------------------------------------
def test_corrupt_first_gop_processes_what_decodes(model: str, tmp_path: Path) -> None:
    from tests.broken_media import corrupt_first_gop

    clip = corrupt_first_gop(tmp_path / "bad.mp4")
    out = tmp_path / "o.mp4"
    assert _run(model, clip, "-o", out) == 0
    got = probe(out)
    assert got["frames"] == 75
    assert got["pts_s"][0] == pytest.approx(0.5, abs=1e-3)  # the timestamps of the frames it has


@pytest.mark.parametrize("keep", [False, True], ids=["plain", "keep-partial"])
def test_sequence_gap_named_and_frames_before_it_kept(
    model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], keep: bool
) -> None:
    from tests.broken_media import sequence_with_gap

    pattern = sequence_with_gap(tmp_path / "seq")
    out, masks = tmp_path / "o.mp4", tmp_path / "m"
    args = [pattern, "-o", out, "--masks-out", masks] + (["--keep-partial"] if keep else [])
    assert _run(model, *args) == 2
    err = capsys.readouterr().err
    assert f"is missing {tmp_path / 'seq' / '000009.png'}, frame 9" in err and len(err.strip().splitlines()) == 1
    assert _names(masks) == [f"{i:06d}.png" for i in range(9)]
    if keep:
        assert f"kept the frames written so far as a playable file: {out}" in err
        assert probe(out)["frames"] == 9
    else:
        assert "--keep-partial keeps the 9 frames before the error" in err
        assert not out.exists()
    assert not partial_files(out)


# -- plain messages for bad options (issue 16, case 11) --------------------------------------------------
def test_unknown_preset_lists_the_valid_ones(model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clip = make_clip(tmp_path / "in.mp4")
    assert _run(model, clip, "-o", tmp_path / "flag.mp4", "--preset", "nosuch") == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "realtime-seg: error: unknown libx264 preset 'nosuch'; valid names: ultrafast, superfast, veryfast, "
        "faster, fast, medium, slow, slower, veryslow, placebo"
    )
    assert _names(tmp_path) == ["in.mp4"]


@pytest.mark.parametrize("name", ["notes.txt", "noise.mp4"])
def test_background_that_is_not_media_is_plainly_refused(
    model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    clip = make_clip(tmp_path / "in.mp4")
    bg = tmp_path / name
    bg.write_text("a shopping list, not a picture\n" * 20)
    assert _run(model, clip, "-o", tmp_path / "o.mp4", "--background", bg) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"realtime-seg: error: cannot use {bg} as a background: it is ")
    assert "not an image or a video" in err or "neither an image nor a video" in err
    assert "Errno" not in err and "background video" not in err and len(err.splitlines()) == 1
    assert sorted(_names(tmp_path)) == sorted(["in.mp4", name])
