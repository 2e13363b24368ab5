"""Signals to a real ``realtime-seg process`` (issue 16, cases 7 and 10): SIGTERM is a clean stop like
Ctrl-C (exit 143, partial kept on request); Ctrl-C while the modules still import exits 130 without a
traceback; more Ctrl-Cs while ``--keep-partial`` finishes its file do not kill it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from realtime_seg.io.synth import write_clip
from realtime_seg.io.video_writer import partial_files
from tests.clips import probe
from tests.signals import sigint_as_in_a_terminal

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc and sends POSIX signals")


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> str:
    from tests.tiny_models import write_user_model

    return str(write_user_model(tmp_path_factory.mktemp("model"), "brightness"))


@pytest.fixture(scope="module")
def slow_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Long enough that processing takes several seconds (360p noise)."""
    rng = np.random.default_rng(0)
    tiles = [rng.integers(0, 255, (360, 640, 3), dtype=np.uint8) for _ in range(4)]
    return write_clip(tmp_path_factory.mktemp("clip") / "in.mp4", (tiles[i % 4] for i in range(400)))


def _start(model: str, clip: Path, tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "realtime_seg.cli", "process", str(clip), "-o", str(tmp_path / "o.mp4"), "--quiet"]
    cmd += ["--model", model, "--backend", "onnxruntime", "--masks-out", str(tmp_path / "m"), *extra]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with sigint_as_in_a_terminal():  # the child gets SIGINT's default disposition, as from a terminal
        return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_frames(proc: subprocess.Popen[str], masks: Path, n: int = 5) -> None:
    deadline = time.monotonic() + 90
    while not (masks / f"{n:06d}.png").exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)


def _catches_sigterm(pid: int) -> bool:
    """Whether the process has a SIGTERM handler: ``realtime_seg.cli.main`` installs it first thing."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (signal.SIGTERM - 1) & 1)
    return False


@pytest.mark.slow
@pytest.mark.parametrize("keep", [False, True], ids=["plain", "keep-partial"])
def test_sigterm_stops_like_ctrl_c(model: str, slow_clip: Path, tmp_path: Path, keep: bool) -> None:
    out = tmp_path / "o.mp4"
    proc = _start(model, slow_clip, tmp_path, *(["--keep-partial"] if keep else []))
    try:
        _wait_for_frames(proc, tmp_path / "m")
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
        took = time.monotonic() - t0
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    assert took < 3.0, took
    assert err.startswith("realtime-seg: terminated (SIGTERM): stopped after ") and "Traceback" not in err, err
    assert not partial_files(out)
    if keep:
        assert f"kept the frames written so far as a playable file: {out}" in err
        assert 0 < probe(out)["frames"] < 400
    else:
        assert "no output video was written" in err and not out.exists()


@pytest.mark.slow
def test_ctrl_c_while_modules_import(model: str, slow_clip: Path, tmp_path: Path) -> None:
    """The signal comes as soon as the handlers are in place: numpy, OpenCV, PyAV and ONNX Runtime are still
    importing (or the model is loading). Three tries, each a clean exit 130 with one line and no traceback."""
    for attempt in range(3):
        folder = tmp_path / str(attempt)
        folder.mkdir()
        proc = _start(model, slow_clip, folder)
        try:
            deadline = time.monotonic() + 30
            while not _catches_sigterm(proc.pid):
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline
                time.sleep(0.002)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=20)
        finally:
            proc.kill()
        assert proc.returncode == 130, err
        assert err == "realtime-seg: interrupted\n", err  # before any frame: no "stopped after N frames"
        assert "Traceback" not in err and "Fatal" not in err
        assert not (folder / "o.mp4").exists() and not partial_files(folder / "o.mp4")


@pytest.mark.slow
def test_more_ctrl_c_during_keep_partial_finalisation(model: str, slow_clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.mp4"
    proc = _start(model, slow_clip, tmp_path, "--keep-partial")
    try:
        _wait_for_frames(proc, tmp_path / "m")
        proc.send_signal(signal.SIGINT)
        for _ in range(2):  # while the first one's clean-up (finishing the kept file) runs
            time.sleep(0.01)
            try:
                proc.send_signal(signal.SIGINT)
            except ProcessLookupError:  # pragma: no cover - it was quicker than us
                break
        _, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 130, err  # an exit code, not death by signal (-2)
    assert f"kept the frames written so far as a playable file: {out}" in err
    assert "Traceback" not in err
    assert 0 < probe(out)["frames"] < 400 and not partial_files(out)
