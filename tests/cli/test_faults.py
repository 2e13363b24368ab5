"""The whole offline path under faults at frame N (issue 16): the encoder fails, the disk fills, a signal
arrives. Each run writes every kind of output at once (-o, --alpha-out, --masks-out, --outlines-out) with
real encoders and real files; the fault is injected at one point and the outcome checked everywhere:
exit code, one line on stderr, no temporary file, and what is kept (nothing, or with --keep-partial the
frames before the fault as playable / complete files). Mask PNGs written before the fault stay (each whole).

The signal is a real one (``os.kill`` of this process from the writer thread at frame N); the encoder
failure is an FFmpeg error raised by the video stream's ``encode`` at frame N; the full disk is ``ENOSPC``
from ``os.fsync`` (the real small file system is in ``test_full_disk.py``).
"""

from __future__ import annotations

import errno
import json
import os
import signal
from pathlib import Path
from typing import Any

import av
import cv2
import pytest

from realtime_seg.cli import main
from realtime_seg.io import video_writer as video_mod
from realtime_seg.io.video_writer import VideoWriter
from tests.clips import make_clip, probe

N = 7  # the fault comes at this frame (0-based): frames 0..N-1 are complete everywhere
FRAMES = 24


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> str:
    from tests.tiny_models import write_user_model

    return str(write_user_model(tmp_path_factory.mktemp("model"), "brightness"))


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clip") / "in.mp4", (96, 64), FRAMES, audio="aac")


def _run(model: str, clip: Path, out: Path, keep: bool) -> int:
    args = ["process", str(clip), "-o", str(out / "o.mp4"), "--alpha-out", str(out / "a.mp4")]
    args += ["--masks-out", str(out / "m"), "--outlines-out", str(out / "o.jsonl"), "--effect", "blur+outline"]
    args += ["--model", model, "--quiet"] + (["--keep-partial"] if keep else [])
    return main(args)


class _FailingEncoder:
    """The real video stream, whose ``encode`` fails once, at frame ``fail_at``, as a broken encoder would."""

    def __init__(self, stream: Any, fail_at: int) -> None:
        self._stream, self._fail_at, self._frames = stream, fail_at, 0

    def encode(self, frame: Any = None) -> Any:
        if frame is not None:
            self._frames += 1
            if self._frames == self._fail_at + 1:
                raise av.error.FFmpegError(-542398533, "Generic error in an external library")
        return self._stream.encode(frame)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _inject_encoder_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    real = VideoWriter._setup

    def setup(self: VideoWriter, *args: Any) -> None:
        real(self, *args)
        if self.path.name == "o.mp4":
            self._video = _FailingEncoder(self._video, N)

    monkeypatch.setattr(VideoWriter, "_setup", setup)


def _inject_full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    real, calls = os.fsync, [0]

    def fsync(fd: int) -> None:  # mask PNGs fsync once each before their rename
        calls[0] += 1
        if calls[0] > N:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


def _inject_signal(monkeypatch: pytest.MonkeyPatch, sig: int) -> None:
    real = video_mod.write_mask_png

    def write_mask_png(folder: Path, index: int, alpha: Any) -> Path:
        if index == N:
            os.kill(os.getpid(), sig)  # a real signal from the writer thread (which blocks it): to the main thread
        return real(folder, index, alpha)

    monkeypatch.setattr("realtime_seg.pipeline.sinks.write_mask_png", write_mask_png)


FAULTS = {
    "encoder": (_inject_encoder_failure, 3, f"cannot write {{out}}/o.mp4 (frame {N}): Generic error in an external"),
    "disk": (_inject_full_disk, 3, f"cannot write {{out}}/m/{N:06d}.png: No space left on device"),
    "sigterm": (lambda mp: _inject_signal(mp, signal.SIGTERM), 143, "terminated (SIGTERM): stopped after"),
    "sigint": (lambda mp: _inject_signal(mp, signal.SIGINT), 130, "interrupted: stopped after"),
}


@pytest.mark.parametrize("keep", [False, True], ids=["plain", "keep-partial"])
@pytest.mark.parametrize("fault", list(FAULTS))
def test_fault_at_frame_n(
    model: str,
    clip: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fault: str,
    keep: bool,
) -> None:
    inject, code, message = FAULTS[fault]
    out = tmp_path / "out"
    out.mkdir()
    inject(monkeypatch)
    assert _run(model, clip, out, keep) == code
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err and "Errno" not in err, err
    assert message.format(out=out) in lines[0], err
    assert not [p for p in out.rglob(".*")], list(out.rglob("*"))  # no temporary file anywhere

    masks = sorted(p.name for p in (out / "m").iterdir())
    assert masks == [f"{i:06d}.png" for i in range(len(masks))] and len(masks) >= N  # no gap, nothing after
    # an error stops the writer at once; a signal reaches the main thread within its 0.1 s poll, by which time
    # the writer may have written a few more frames on a loaded machine
    stop = N + 1 if code == 3 else len(masks) + 1
    assert len(masks) <= stop
    for name in masks:
        assert cv2.imread(str(out / "m" / name), cv2.IMREAD_UNCHANGED).shape == (64, 96)
    if not keep:
        assert not (out / "o.mp4").exists() and not (out / "a.mp4").exists() and not (out / "o.jsonl").exists()
        return
    assert "kept the frames written so far as a playable file: " in lines[0]
    for name in ("o.mp4", "a.mp4"):
        got = probe(out / name)  # decodes from start to end: a playable file
        assert 0 < got["frames"] <= stop, (name, got["frames"])
    assert probe(out / "o.mp4")["audio"] is not None  # the audio, cut to match
    if fault == "disk":  # the full disk cannot take the outlines file either; it is not half-written
        assert not (out / "o.jsonl").exists()
        return
    assert f"kept the outlines of those frames: {out / 'o.jsonl'}" in lines[0]
    frames = [json.loads(line)["frame"] for line in (out / "o.jsonl").read_text().splitlines()]
    assert frames == list(range(len(frames))) and N <= len(frames) <= stop
