"""``realtime-seg live`` end to end on a real clip with the tiny brightness model (real ONNX Runtime), including
real SIGINT / SIGTERM to a subprocess. The virtual camera device is hardware we lack: where one is needed, the
real pyvirtualcam drives a stand-in backend (``tests/vcam_standin.py``)."""

from __future__ import annotations

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
from realtime_seg.pipeline import vcam
from tests.capture.clips import write_clip
from tests.signals import sigint_as_in_a_terminal
from tests.thread_check import no_new_threads
from tests.tiny_models import write_user_model
from tests.vcam_standin import LoopbackWorld, install

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(write_user_model(tmp_path_factory.mktemp("model"), "brightness"))


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", frames=30, size_wh=(96, 64), fps=30)


def _live(model: str, clip: Path, *args: str) -> int:
    argv = ["live", "--input", str(clip), "--model", model, "--backend", "onnxruntime", *args]
    with no_new_threads():
        return main(argv)


def test_runs_headless_and_prints_status(model: str, clip: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = _live(model, clip, "--effect", "mask", "--duration", "2", "--status-every", "0.5")
    got = capsys.readouterr()
    assert rc == 0, got.err
    assert "realtime-seg live: clip.mp4 (96x64 @ 30.0 fps), effect mask" in got.out
    status = [line for line in got.out.splitlines() if line.startswith("capture")]
    assert len(status) >= 2, got.out
    last = status[-1]
    for part in ("capture ", " fps | processing ", " fps | latency ", " ms | dropped "):
        assert part in last
    assert float(last.split("processing")[1].split("fps")[0]) > 0
    assert "realtime-seg live: stopped (done) after" in got.err


def test_quiet(model: str, clip: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _live(model, clip, "--duration", "0.5", "--status-every", "0.1", "--quiet") == 0
    assert capsys.readouterr().out == ""


def test_into_a_virtual_camera(
    model: str, clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    device = tmp_path / "video7"  # stands for /dev/video7: a file, so the sink's "is it still there" check sees it
    device.touch()
    world = LoopbackWorld()
    world.add(str(device))
    install(monkeypatch, "v4l2loopback", world.backend())
    args = ("--effect", "mask", "--virtual-camera", str(device), "--vcam-size", "64x48", "--vcam-fps", "20")
    rc = _live(model, clip, *args, "--duration", "1.5", "--status-every", "0.5", "--no-edge-refine", "--no-smoothing")
    got = capsys.readouterr()
    assert rc == 0, got.err
    assert f"virtual camera: {device}, 64x48 @ 20 fps, I420" in got.out
    assert f"| vcam {device} " in got.out
    frames = world.frames(str(device))
    assert len(frames) >= 10 and {(f, wh) for _, f, wh, _ in frames} == {("YU12", (64, 48))}
    assert world.active == set() and world.closed == [str(device)]  # released
    assert "threads joined, camera and virtual camera released in" in got.err
    # the device shows the mask effect: clip frame k is grey 20k, the tiny model's alpha is sigmoid(20 (v - 0.5))
    levels = [255 / (1 + np.exp(-20 * ((20 * k % 256) / 255 - 0.5))) for k in range(30)]
    raw = [20 * k % 256 for k in range(30)]
    seen = []
    for _, _, _, data in frames:
        img = cv2.cvtColor(data.reshape(72, 64), cv2.COLOR_YUV2BGR_I420)
        assert img.std() < 3  # a uniform clip frame -> a uniform alpha
        seen.append(float(img.mean()))
    assert all(min(abs(m - a) for a in levels) <= 3 for m in seen[-5:]), seen
    assert any(min(abs(m - r) for r in raw) > 3 for m in seen), seen  # processed, not the camera frame


def test_virtual_camera_errors_are_one_line(
    model: str, clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    world = LoopbackWorld()
    world.add("/dev/video4", other_writer=True)
    install(monkeypatch, "v4l2loopback", world.backend())
    monkeypatch.setattr(vcam, "loopback_devices", lambda root=None: [("/dev/video4", "realtime-seg")])
    assert _live(model, clip, "--virtual-camera", "/dev/video4", "--duration", "1") == 1
    err = capsys.readouterr().err
    assert err == (
        "realtime-seg: error: virtual camera device /dev/video4 is busy: another program is already sending to it "
        "(with exclusive_caps=1 a device takes one sender); close it first\n"
    )
    assert _live(model, clip, "--virtual-camera", "--vcam-size", "641x480") == 2
    assert capsys.readouterr().err == "realtime-seg: error: I420 needs an even width and height, got 641x480\n"
    monkeypatch.setitem(sys.modules, "pyvirtualcam", None)
    assert _live(model, clip, "--virtual-camera") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'realtime-seg[vcam]'" in err


def test_without_v4l2loopback_says_how_to_load_it(model: str, clip: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The real pyvirtualcam on this machine, which has no v4l2loopback module."""
    pytest.importorskip("pyvirtualcam")
    if not sys.platform.startswith("linux") or vcam.v4l2loopback_loaded():
        pytest.skip("needs Linux without the v4l2loopback module")
    assert _live(model, clip, "--virtual-camera", "--duration", "1") == 1
    err = capsys.readouterr().err
    assert err.startswith("realtime-seg: error: no virtual camera: the v4l2loopback kernel module is not loaded")
    assert vcam.MODPROBE in err and "v4l2loopback-dkms" in err and err.count("\n") == 1


def test_bad_arguments(model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["live", "--input", str(tmp_path / "missing.mp4")]) == 2
    assert "input file not found" in capsys.readouterr().err
    assert main(["live", "--input", str(tmp_path / "x.mp4"), "--effect", "blur", "--background", "red"]) == 2
    with pytest.raises(SystemExit):
        main(["live", "--camera", "0", "--input", "x.mp4"])
    with pytest.raises(SystemExit):
        main(["live", "--vcam-format", "bgra"])


def test_preview_opens_the_app_with_the_virtual_camera_on(
    model: str, clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--preview`` hands over to the app (whose toggle is tested in tests/ui/test_vcam_controls.py)."""
    from realtime_seg.ui import app

    got: list[object] = []
    monkeypatch.setattr(app, "run_app", lambda opts: got.append(opts) or 0)
    argv = ["live", "--input", str(clip), "--model", model, "--effect", "mask", "--preview"]
    assert main([*argv, "--virtual-camera", "/dev/video4", "--vcam-size", "640x360", "--vcam-format", "yuyv"]) == 0
    opts = got[0]
    assert (opts.input, opts.model, opts.effect) == (clip, model, "mask")  # type: ignore[attr-defined]
    cfg = opts.virtual_camera  # type: ignore[attr-defined]
    assert (cfg.device, cfg.size_wh, cfg.fmt) == ("/dev/video4", (640, 360), "yuyv")
    assert main(argv) == 0 and got[1].virtual_camera is None  # type: ignore[attr-defined]


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signals_stop_it_within_a_second(model: str, clip: Path, sig: signal.Signals) -> None:
    cmd = [sys.executable, "-m", "realtime_seg.cli", "live", "--input", str(clip), "--model", model]
    cmd += ["--backend", "onnxruntime", "--effect", "blur", "--status-every", "0.3"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    with sigint_as_in_a_terminal():  # the child gets SIGINT's default disposition, as from a terminal
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        assert proc.stdout is not None
        while True:  # wait until frames are flowing
            line = proc.stdout.readline()
            assert line, proc.communicate()
            assert time.monotonic() < deadline
            if line.startswith("capture") and float(line.split("processing")[1].split("fps")[0]) > 0:
                break
        t0 = time.monotonic()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=10)
        took = time.monotonic() - t0
    finally:
        proc.kill()
    if sig == signal.SIGINT:
        assert proc.returncode == 130, err
        assert "realtime-seg live: stopped (Ctrl-C) after" in err and "realtime-seg: interrupted" in err
    else:
        assert proc.returncode == 0, err
        assert "realtime-seg live: stopped (SIGTERM) after" in err
    assert "did not stop" not in err and "Traceback" not in err
    released_ms = float(err.split("camera released in ")[1].split(" ms")[0])
    assert released_ms < 1000, err  # threads joined and the camera closed within a second of the signal
    assert took < 2.0, took  # the whole process, interpreter teardown included (0.5-0.9 s at load average 20)
