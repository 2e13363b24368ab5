"""The virtual camera sink.

The device itself is hardware we lack (no kernel module can be loaded here): these tests run the real
``pyvirtualcam.Camera`` over stand-in native backends (``tests/vcam_standin.py``) that mirror pyvirtualcam's
own. The pixel conversions are checked against OpenCV's reference conversions; ``test_real_device`` (marker
``vcam``) runs only where a v4l2loopback device exists.
"""

from __future__ import annotations

import errno
import inspect
import re
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime_seg.errors import SettingsError, VirtualCameraError
from realtime_seg.frame import Frame
from realtime_seg.pipeline import vcam
from realtime_seg.pipeline.vcam import (
    MODPROBE,
    VcamConfig,
    VcamDeviceBusy,
    VcamDeviceMissing,
    VcamDriverMissing,
    VcamEvent,
    VcamFormatError,
    VcamNotInstalled,
    VcamObsMissing,
    VcamPermissionError,
    VcamState,
    VirtualCamera,
    convert,
    open_device,
)
from tests.vcam_standin import LoopbackWorld, ObsStandin, install, sysfs

DECODE = {
    "i420": cv2.COLOR_YUV2BGR_I420,
    "nv12": cv2.COLOR_YUV2BGR_NV12,
    "yuyv": cv2.COLOR_YUV2BGR_YUYV,
    "uyvy": cv2.COLOR_YUV2BGR_UYVY,
}


def _smooth(w: int = 64, h: int = 48) -> np.ndarray:
    """A smooth colour ramp (chroma subsampling loses little), plus a saturated corner."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([x / w * 255, y / h * 255, (x + y) / (w + h) * 255], axis=2).astype(np.uint8)
    img[:8, :8] = (0, 0, 255)
    return img


# -- pixel formats, against OpenCV ------------------------------------------------------------------------
def test_i420_is_opencvs() -> None:
    img = _smooth()
    assert np.array_equal(convert(img, "i420"), cv2.cvtColor(img, cv2.COLOR_BGR2YUV_I420))


def test_rgb_is_opencvs() -> None:
    img = _smooth()
    got = convert(img, "rgb")
    assert got.shape == (48, 64, 3) and np.array_equal(got, img[:, :, ::-1])


def test_nv12_holds_the_i420_planes_interleaved() -> None:
    img = _smooth()
    nv12, i420 = convert(img, "nv12"), cv2.cvtColor(img, cv2.COLOR_BGR2YUV_I420)
    assert nv12.shape == i420.shape
    assert np.array_equal(cv2.cvtColor(nv12, DECODE["nv12"]), cv2.cvtColor(i420, DECODE["i420"]))


@pytest.mark.parametrize("fmt", ["yuyv", "uyvy"])
def test_packed_422_is_opencvs(fmt: str) -> None:
    img = _smooth()
    packed = convert(img, fmt)
    code = cv2.COLOR_BGR2YUV_YUYV if fmt == "yuyv" else cv2.COLOR_BGR2YUV_UYVY
    assert packed.shape == (48, 64, 2) and packed.flags.c_contiguous
    assert np.array_equal(packed, cv2.cvtColor(img, code))
    yi = 0 if fmt == "yuyv" else 1  # luma every byte pair, first or second
    i420 = cv2.cvtColor(img, cv2.COLOR_BGR2YUV_I420)
    assert np.abs(packed[:, :, yi].astype(int) - i420[:48]).max() <= 1  # the same BT.601 luma as I420


@pytest.mark.parametrize("fmt", ["i420", "nv12", "yuyv", "uyvy"])
def test_round_trip_through_opencvs_decoder(fmt: str) -> None:
    img = _smooth()
    back = cv2.cvtColor(convert(img, fmt), DECODE[fmt])
    err = np.abs(back.astype(int) - img.astype(int))
    assert np.median(err) <= 2 and err[16:, 16:].max() <= 8  # 4:2:x subsampling; exact away from the red corner


def test_odd_sizes_are_refused_for_yuv() -> None:
    with pytest.raises(VcamFormatError, match="I420 needs an even width and height, got 63x48"):
        convert(np.zeros((48, 63, 3), np.uint8), "i420")
    assert convert(np.zeros((47, 63, 3), np.uint8), "rgb").shape == (47, 63, 3)


def test_prepare_fits_and_mirrors() -> None:
    img = np.zeros((60, 80, 3), np.uint8)
    img[:, :40] = (255, 255, 255)  # left half white
    out = vcam.prepare(img, (40, 40), "rgb", mirror=True)
    assert out.shape == (40, 40, 3)
    assert out[:, :15].max() == 0 and out[:, 25:].min() == 255  # centre-cropped, then flipped


# -- configuration -----------------------------------------------------------------------------------------
def test_config_validation() -> None:
    with pytest.raises(SettingsError, match="unknown virtual camera format 'bgra'; valid: i420, nv12"):
        VcamConfig(fmt="bgra")
    with pytest.raises(VcamFormatError, match="even width and height, got 641x480"):
        VcamConfig(size_wh=(641, 480))
    with pytest.raises(VcamFormatError, match="between 2x2 and 8192x8192, got 9000x480"):
        VcamConfig(size_wh=(9000, 480))
    with pytest.raises(SettingsError, match=r"fps must be in \(0, 240\], got 0"):
        VcamConfig(fps=0)
    assert VcamConfig().resolve((641, 481), 25.0) == ((640, 480), 25.0)
    assert VcamConfig(fmt="rgb").resolve((641, 481), 0.0) == ((641, 481), 30.0)
    assert VcamConfig(size_wh=(320, 240), fps=15).resolve((1280, 720), 30.0) == ((320, 240), 15.0)


# -- errors a user can act on ------------------------------------------------------------------------------
def _open(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, world: LoopbackWorld, **cfg: object) -> object:
    install(monkeypatch, "v4l2loopback", world.backend())
    return open_device(VcamConfig(**cfg), (64, 48), 30.0, root=sysfs(tmp_path, world))  # type: ignore[arg-type]


def _one_line(exc: pytest.ExceptionInfo[VirtualCameraError]) -> str:
    text = str(exc.value)
    assert "\n" not in text and text
    return text


def test_module_not_loaded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(VcamDriverMissing) as exc:
        _open(monkeypatch, tmp_path, LoopbackWorld(module_loaded=False))
    text = _one_line(exc)
    assert "v4l2loopback kernel module is not loaded" in text
    assert MODPROBE in text and 'card_label="realtime-seg"' in text and "exclusive_caps=1" in text
    assert "sudo apt install v4l2loopback-dkms" in text
    with pytest.raises(VcamDriverMissing):  # a device named, and no module: the same advice
        _open(monkeypatch, tmp_path / "b", LoopbackWorld(module_loaded=False), device="/dev/video4")


def test_device_missing_lists_the_devices_there(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    world = LoopbackWorld()
    world.add("/dev/video4", label="realtime-seg")
    with pytest.raises(VcamDeviceMissing) as exc:
        _open(monkeypatch, tmp_path, world, device="/dev/video9")
    assert _one_line(exc) == (
        "virtual camera device /dev/video9 does not exist; v4l2loopback devices here: /dev/video4 (realtime-seg)"
    )


def test_a_real_camera_is_not_a_virtual_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    world = LoopbackWorld()
    world.add("/dev/video0", label="Integrated Webcam", loopback=False)
    world.add("/dev/video4")
    with pytest.raises(VcamDeviceMissing) as exc:
        _open(monkeypatch, tmp_path, world, device="/dev/video0")
    assert "/dev/video0 is not a v4l2loopback device (a real camera?)" in _one_line(exc)
    assert "/dev/video4 (realtime-seg)" in str(exc.value)


@pytest.mark.parametrize("how", ["exclusive_caps", "configure", "same_process"])
def test_device_busy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, how: str) -> None:
    world = LoopbackWorld()
    d = world.add("/dev/video4")
    if how == "exclusive_caps":
        d.other_writer = True
    elif how == "configure":
        d.configure_errno = errno.EBUSY
    else:
        world.active.add("/dev/video4")
    with pytest.raises(VcamDeviceBusy) as exc:
        _open(monkeypatch, tmp_path, world, device="/dev/video4")
    assert "virtual camera device /dev/video4 is busy" in _one_line(exc)


def test_every_device_busy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    world = LoopbackWorld()
    world.add("/dev/video4", other_writer=True)
    with pytest.raises(VcamDeviceBusy) as exc:
        _open(monkeypatch, tmp_path, world)
    assert "every v4l2loopback device is busy" in _one_line(exc) and "devices=2" in str(exc.value)


def test_unsupported_size_or_format(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    world = LoopbackWorld()
    world.add("/dev/video4", configure_errno=errno.EINVAL)
    with pytest.raises(VcamFormatError) as exc:
        _open(monkeypatch, tmp_path, world, device="/dev/video4", fmt="yuyv")
    assert _one_line(exc) == (
        "/dev/video4 does not accept 64x48 YUYV frames (Invalid argument); try another --vcam-size"
    )
    assert exc.value.exit_code == 2


def test_no_permission(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    world = LoopbackWorld()
    world.add("/dev/video4", permitted=False)
    with pytest.raises(VcamPermissionError) as exc:
        _open(monkeypatch, tmp_path, world, device="/dev/video4")
    assert "sudo usermod -aG video $USER" in _one_line(exc)


def test_pyvirtualcam_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyvirtualcam", None)  # what an environment without the extra sees
    with pytest.raises(VcamNotInstalled) as exc:
        open_device(VcamConfig(), (64, 48), 30.0)
    assert "pip install 'realtime-seg[vcam]'" in _one_line(exc)


@pytest.mark.parametrize("system", ["Windows", "Darwin"])
def test_obs_not_installed(monkeypatch: pytest.MonkeyPatch, system: str) -> None:
    install(monkeypatch, "obs", ObsStandin(system, installed=False).backend())
    monkeypatch.setattr(vcam.platform, "system", lambda: system)
    with pytest.raises(VcamObsMissing) as exc:
        open_device(VcamConfig(), (64, 48), 30.0)
    text = _one_line(exc)
    assert "the OBS Virtual Camera is not installed: install OBS Studio" in text and "Start Virtual Camera" in text
    assert ("system extension" in text) == (system == "Darwin")


@pytest.mark.parametrize("system", ["Windows", "Darwin"])
def test_obs_busy_or_wrong_name(monkeypatch: pytest.MonkeyPatch, system: str) -> None:
    install(monkeypatch, "obs", ObsStandin(system, busy=True).backend())
    with pytest.raises(VcamDeviceBusy, match="the OBS Virtual Camera is busy"):
        open_device(VcamConfig(), (64, 48), 30.0)
    monkeypatch.setattr(vcam.platform, "system", lambda: system)
    with pytest.raises(VcamDeviceMissing) as exc:
        open_device(VcamConfig(device="My Cam"), (64, 48), 30.0)
    assert _one_line(exc) == f"no virtual camera called 'My Cam' on {system}: the only one is 'OBS Virtual Camera'"


def test_no_backend_for_this_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    pyvirtualcam = pytest.importorskip("pyvirtualcam")
    monkeypatch.setattr(pyvirtualcam.camera, "BACKENDS", {})
    monkeypatch.setattr(vcam.platform, "system", lambda: "Plan9")
    with pytest.raises(VirtualCameraError, match="pyvirtualcam has no virtual camera backend for Plan9"):
        open_device(VcamConfig(), (64, 48), 30.0)


def test_the_standin_says_what_the_real_backend_says(tmp_path: Path) -> None:
    """The messages a machine without devices can get from the real native backend equal the stand-in's."""
    pyvirtualcam = pytest.importorskip("pyvirtualcam")
    if vcam.loopback_devices():
        pytest.skip("this machine has v4l2loopback devices")
    real = pyvirtualcam.camera.BACKENDS.get("v4l2loopback")
    if real is None:
        pytest.skip("not Linux")
    standin = LoopbackWorld().backend()
    standin_world_with_null = LoopbackWorld()
    standin_world_with_null.add("/dev/null", v4l2=False)
    cases = [
        ("/dev/video97", standin),
        ("/dev/null", standin_world_with_null.backend()),
        (None, standin),
    ]
    for device, fake in cases:
        kw = dict(width=64, height=48, fps=30.0, fourcc=vcam_fourcc("I420"), device=device)
        with pytest.raises(Exception) as got_real:
            real(**kw)
        with pytest.raises(Exception) as got_fake:
            fake(**kw)
        assert (type(got_fake.value), str(got_fake.value)) == (type(got_real.value), str(got_real.value))
    # and the constructor takes the same keyword-only arguments
    names = re.findall(r"(\w+): ", (real.__init__.__doc__ or "").split("*,", 1)[1])
    standin_params = inspect.signature(standin.__init__).parameters.values()
    assert names == [p.name for p in standin_params if p.kind is p.KEYWORD_ONLY] == [
        "width", "height", "fps", "fourcc", "device"
    ]  # fmt: skip
    with pytest.raises(TypeError):
        real(64, 48, 30.0, vcam_fourcc("I420"), None)  # positional: refused by both
    with pytest.raises(TypeError):
        standin(64, 48, 30.0, vcam_fourcc("I420"), None)


def vcam_fourcc(s: str) -> int:
    from pyvirtualcam.util import encode_fourcc

    return int(encode_fourcc(s))


# -- the sink: clock, newest wins, repeats, raw frames, a device that goes away ---------------------------------
class Sink:
    def __init__(
        self, monkeypatch: pytest.MonkeyPatch, fps: float = 20.0, fmt: str = "i420", raw: bool = True, **kw: object
    ) -> None:
        self.world = LoopbackWorld()
        self.dev = self.world.add("/dev/video4")
        install(monkeypatch, "v4l2loopback", self.world.backend())
        self.events: list[VcamEvent] = []
        cfg = VcamConfig(device="/dev/video4", fmt=fmt, raw=raw, retry_initial_s=0.1, retry_max_s=0.2)
        self.cam = VirtualCamera(
            cfg,
            (64, 48),
            fps,
            on_event=self.events.append,
            present=self.world.present,
            **kw,  # type: ignore[arg-type]
        )

    def __enter__(self) -> Sink:
        self.cam.start()
        return self

    def __exit__(self, *exc: object) -> None:
        t0 = time.monotonic()
        assert self.cam.stop(timeout=1.0)
        assert time.monotonic() - t0 < 1.0
        assert self.world.active == set() and self.world.closed == ["/dev/video4"] * len(self.world.closed)

    def wait(self, pred: object, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not pred():  # type: ignore[operator]
            assert time.monotonic() < deadline, f"timed out; events {self.events}"
            time.sleep(0.01)

    def decoded(self) -> list[np.ndarray]:
        return [cv2.cvtColor(f.reshape(72, 64), DECODE["i420"]) for _, _, _, f in self.world.frames("/dev/video4")]

    def levels(self, *sent: int) -> list[int]:
        """Each device frame's grey level, snapped to the solid level it was made from (I420 rounds by 1-2)."""
        out = []
        for f in self.decoded():
            m = float(f.mean())
            near = [v for v in (0, *sent) if abs(m - v) <= 3]
            out.append(near[0] if near else round(m))
        return out


def _solid(v: int, wh: tuple[int, int] = (64, 48)) -> np.ndarray:
    return np.full((wh[1], wh[0], 3), v, np.uint8)


def test_frames_reach_the_device_in_its_format(monkeypatch: pytest.MonkeyPatch) -> None:
    with Sink(monkeypatch, fmt="yuyv") as s:
        assert s.cam.device == "/dev/video4"
        s.cam.submit(_solid(200, (128, 96)))  # another size: fitted to the device's
        s.wait(lambda: s.cam.fresh == 1 and s.cam.sent >= 3)
    frames = s.world.frames("/dev/video4")
    _, v4l2_fmt, wh, data = frames[-1]
    assert v4l2_fmt == "YUYV" and wh == (64, 48) and data.size == 64 * 48 * 2
    back = cv2.cvtColor(data.reshape(48, 64, 2), DECODE["yuyv"])
    assert abs(int(back.mean()) - 200) <= 2
    assert s.events[0].state is VcamState.RUNNING and s.events[-1].state is VcamState.STOPPED


def test_black_until_the_first_frame_then_newest_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    with Sink(monkeypatch, fps=10) as s:
        s.wait(lambda: s.cam.sent >= 1)
        for v in (10, 20, 30, 40, 250):  # faster than the clock: only the newest is sent
            s.cam.submit(_solid(v))
        n = s.cam.sent
        s.wait(lambda: s.cam.sent >= n + 2)
    means = s.levels(10, 20, 30, 40, 250)
    assert means[0] == 0  # a device frame before any processed one: black, not nothing
    assert 250 in means and not {10, 20, 30, 40} & set(means)
    assert s.cam.fresh == 1


def test_a_slow_processor_never_freezes_the_device(monkeypatch: pytest.MonkeyPatch) -> None:
    """Processing stalls for a second (a model reloading, a slow GPU): the clock keeps sending the last frame."""
    with Sink(monkeypatch, fps=20) as s:
        s.cam.submit(_solid(120))
        s.wait(lambda: s.cam.fresh == 1)
        t0, sent0 = time.monotonic(), s.cam.sent
        time.sleep(1.0)  # nothing submitted
        during = s.cam.sent - sent0
        took = time.monotonic() - t0
        s.cam.submit(_solid(60))
        s.wait(lambda: s.cam.fresh == 2)
    assert during >= 0.5 * 20 * took, (during, took)  # at least half the clock's ticks, on a noisy machine
    assert s.cam.repeated >= during - 1
    means = s.levels(120, 60)
    assert means.count(120) >= during and means[-1] == 60
    gaps = np.diff([t for t, *_ in s.world.frames("/dev/video4")])
    assert np.median(gaps) == pytest.approx(0.05, abs=0.02)


def test_raw_camera_frames_while_wanted(monkeypatch: pytest.MonkeyPatch) -> None:
    camera = {"frame": Frame(0, 0.0, _solid(90))}
    want = threading.Event()
    want.set()  # e.g. the model is loading
    with Sink(monkeypatch, fps=20, raw_frame=lambda: camera["frame"], want_raw=want.is_set) as s:
        s.wait(lambda: s.cam.raw == 1 and s.cam.sent >= 3)
        assert s.cam.raw == 1  # the same camera frame is converted once, then repeated
        camera["frame"] = Frame(1, 0.1, _solid(30))
        s.wait(lambda: s.cam.raw == 2)
        want.clear()  # the model is ready: processed frames only
        s.cam.submit(_solid(200))
        s.wait(lambda: s.cam.fresh == 1)
        camera["frame"] = Frame(2, 0.2, _solid(70))
        n = s.cam.sent
        s.wait(lambda: s.cam.sent >= n + 3)
    means = s.levels(90, 30, 200, 70)
    assert 90 in means and 30 in means and means[-1] == 200 and 70 not in means


def test_no_raw_frames_when_the_user_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    camera = Frame(0, 0.0, _solid(90))
    with Sink(monkeypatch, fps=20, raw=False, raw_frame=lambda: camera, want_raw=lambda: True) as s:
        s.wait(lambda: s.cam.sent >= 5)
        s.cam.submit(_solid(200))
        s.wait(lambda: s.cam.fresh == 1 and s.cam.sent >= 8)
    means = s.levels(90, 200)
    assert s.cam.raw == 0 and 90 not in means and means[0] == 0 and means[-1] == 200


def test_a_device_that_disappears_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    with Sink(monkeypatch, fps=20) as s:
        s.cam.submit(_solid(100))
        s.wait(lambda: s.cam.fresh == 1)
        s.dev.present = False  # the module unloaded / the device deleted
        # the state changes just before its event is sent: wait for the event, not only the state
        s.wait(lambda: any("disappeared" in e.message for e in s.events))
        assert s.cam.state is not VcamState.RUNNING
        assert any("virtual camera /dev/video4 disappeared - retrying in 0.1 s" in e.message for e in s.events)
        assert s.cam.summary == "/dev/video4 lost, retrying"
        s.wait(lambda: any("virtual camera unavailable" in e.message for e in s.events))  # reopening fails
        n = len(s.world.frames("/dev/video4"))
        s.dev.present = True
        s.wait(lambda: s.cam.state is VcamState.RUNNING and s.events[-1].message.endswith("is back"))
        assert s.events[-1].message == "virtual camera /dev/video4 is back"
        s.wait(lambda: len(s.world.frames("/dev/video4")) > n + 2)
    assert s.cam.losses == 1


def test_a_send_that_raises_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    """macOS' backend raises "Stream does not exist." when OBS's extension goes away mid-stream."""
    obs = ObsStandin("Darwin")
    install(monkeypatch, "obs", obs.backend())
    events: list[VcamEvent] = []
    cam = VirtualCamera(VcamConfig(retry_initial_s=0.1, retry_max_s=0.1), (64, 48), 20.0, on_event=events.append)
    cam.start()
    try:
        deadline = time.monotonic() + 5
        while len(obs.frames) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        obs.stream_gone = True
        while cam.state is not VcamState.LOST:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert "OBS Virtual Camera failed: Stream does not exist." in events[-1].message
        obs.stream_gone = False
        while cam.state is not VcamState.RUNNING:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        assert cam.stop()


def test_start_errors_reach_the_caller_and_nothing_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    world = LoopbackWorld(module_loaded=True)
    install(monkeypatch, "v4l2loopback", world.backend())
    cam = VirtualCamera(VcamConfig(device="/dev/video4"), (64, 48), 30.0)
    with pytest.raises(VirtualCameraError):
        cam.start()
    assert not cam.alive and cam.stop()


# -- the real thing ------------------------------------------------------------------------------------------
@pytest.mark.vcam
def test_real_device() -> None:
    """Writes frames to a real v4l2loopback device and reads them back with OpenCV from the same device."""
    pytest.importorskip("pyvirtualcam")
    devices = vcam.loopback_devices()
    if not devices:
        pytest.skip("no v4l2loopback device (sudo modprobe v4l2loopback devices=1 exclusive_caps=1)")
    device = devices[0][0]
    cam = VirtualCamera(VcamConfig(device=device, fmt="i420"), (320, 240), 30.0)
    cam.start()
    cap = None
    try:
        img = np.zeros((240, 320, 3), np.uint8)
        img[:, :160] = (0, 0, 255)  # red left, blue right
        img[:, 160:] = (255, 0, 0)
        deadline = time.monotonic() + 10
        cap = cv2.VideoCapture(device, cv2.CAP_V4L2)
        got = None
        while time.monotonic() < deadline:
            cam.submit(img)
            ok, frame = cap.read()
            if ok and frame is not None and frame.mean() > 10:
                got = frame
                break
            time.sleep(0.05)
        assert got is not None, "read nothing back from the device"
        got = cv2.resize(got, (320, 240))
        left, right = got[:, :150].mean(axis=(0, 1)), got[:, 170:].mean(axis=(0, 1))
        assert left[2] > 150 > left[0] and right[0] > 150 > right[2]
    finally:
        if cap is not None:
            cap.release()
        assert cam.stop()
