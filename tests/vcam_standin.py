"""Stand-ins for pyvirtualcam's native device backends: the virtual camera is hardware we lack.

No kernel module can be loaded on our development machines, so there is no v4l2loopback device, and no
OBS Virtual Camera. The tests use the *real* ``pyvirtualcam.Camera`` (its argument checks, frame-shape checks,
error wrapping, ``sleep_until_next_frame``) and replace only the native backend it drives, through
pyvirtualcam's own plug point (``pyvirtualcam.camera.BACKENDS``, see ``register_backend``).

Each stand-in mirrors its native backend in pyvirtualcam 0.15 (``native_linux_v4l2loopback/virtual_output.h``,
``native_windows_obs/virtual_output.h``, ``native_macos_obs_cmioextension/virtual_output.hpp``): the keyword-only
constructor ``(width, height, fps, fourcc, device)``, ``send`` / ``device`` / ``native_fourcc`` / ``close``,
and the same messages, raised as pybind11 raises them (``std::invalid_argument`` -> ``ValueError``,
``std::runtime_error`` -> ``RuntimeError``). ``test_vcam.py`` checks the messages against the real Linux
backend where a machine without devices can produce them.
"""

from __future__ import annotations

import errno
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest


def fourcc(s: str) -> int:
    return ord(s[0]) | (ord(s[1]) << 8) | (ord(s[2]) << 16) | (ord(s[3]) << 24)


#: libyuv FourCC -> (V4L2 format written to the device, native fourcc), as in the Linux backend's switch
_LINUX_FORMATS = {
    fourcc("raw "): ("YU12", fourcc("I420")),  # RGB -> I420 in the backend
    fourcc("24BG"): ("YU12", fourcc("I420")),  # BGR -> I420
    fourcc("J400"): ("GREY", fourcc("J400")),
    fourcc("I420"): ("YU12", fourcc("I420")),
    fourcc("NV12"): ("NV12", fourcc("NV12")),
    fourcc("YUY2"): ("YUYV", fourcc("YUY2")),
    fourcc("UYVY"): ("UYVY", fourcc("UYVY")),
}


@dataclass
class Device:
    """One /dev/videoN as the stand-in sees it."""

    label: str = "realtime-seg"
    loopback: bool = True  # False: a real camera (capture only)
    v4l2: bool = True  # False: not a V4L2 node at all (QUERYCAP fails)
    permitted: bool = True
    other_writer: bool = False  # another program sends to it (exclusive_caps=1 hides the output capability)
    configure_errno: int = 0  # VIDIOC_S_FMT fails with this (EINVAL: size/format refused, EBUSY: busy)
    present: bool = True
    frames: list[tuple[float, str, tuple[int, int], np.ndarray]] = field(default_factory=list)


class LoopbackWorld:
    """The devices a stand-in v4l2loopback backend sees; ``active`` mirrors the backend's ACTIVE_DEVICES."""

    def __init__(self, module_loaded: bool = True) -> None:
        self.devices: dict[str, Device] = {}
        self.active: set[str] = set()
        self.closed: list[str] = []
        self.module_loaded = module_loaded
        self.lock = threading.Lock()

    def add(self, path: str, **kw: Any) -> Device:
        self.devices[path] = Device(**kw)
        return self.devices[path]

    def present(self, path: str) -> bool:
        d = self.devices.get(path)
        return d is not None and d.present

    def frames(self, path: str) -> list[tuple[float, str, tuple[int, int], np.ndarray]]:
        with self.lock:
            return list(self.devices[path].frames)

    def backend(self) -> type:
        world = self

        class V4l2LoopbackStandin:
            """Mirrors pyvirtualcam's ``_native_linux_v4l2loopback.Camera``."""

            def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: str | None) -> None:
                if fourcc not in _LINUX_FORMATS:
                    raise RuntimeError("Unsupported image format.")
                self._v4l2_fmt, self._native = _LINUX_FORMATS[fourcc]
                self._wh = (width, height)
                self._running = False

                def try_open(name: str) -> None:
                    if name in world.active:
                        raise ValueError(f"Device {name} is already in use.")
                    d = world.devices.get(name)
                    if d is None or not d.present:
                        raise ValueError(f"Device {name} does not exist.")
                    if not d.permitted:
                        raise RuntimeError(
                            f"Could not access {name} due to missing permissions. "
                            "Did you add your user to the 'video' group? "
                            "Run 'usermod -a -G video myusername' and log out and in again."
                        )
                    if not d.v4l2:
                        raise ValueError(f"Device capabilities of {name} could not be queried.")
                    if not d.loopback or d.other_writer:
                        raise ValueError(f"Device {name} is not a video output device.")

                if device is not None:
                    name = device
                    try_open(name)
                else:
                    for i in range(100):
                        name = f"/dev/video{i}"
                        try:
                            try_open(name)
                        except ValueError:
                            continue
                        break
                    else:
                        raise RuntimeError(
                            "No v4l2 loopback device found at /dev/video[0-99]. "
                            "Did you run 'modprobe v4l2loopback'? See also pyvirtualcam's documentation."
                        )
                code = world.devices[name].configure_errno
                if code:
                    raise RuntimeError(f"Virtual camera device {name} could not be configured: {os.strerror(code)}")
                self._name = name
                self._running = True
                world.active.add(name)

            def close(self) -> None:
                if not self._running:
                    return
                self._running = False
                world.active.discard(self._name)
                world.closed.append(self._name)

            def send(self, frame: np.ndarray) -> None:
                if not self._running:
                    return
                d = world.devices.get(self._name)
                if d is None or not d.present:  # native: write errors are only printed
                    sys.stderr.write(f"error writing frame: {os.strerror(errno.ENODEV)}")
                    return
                with world.lock:
                    d.frames.append((time.monotonic(), self._v4l2_fmt, self._wh, frame.copy()))

            def device(self) -> str:
                return self._name

            def native_fourcc(self) -> int:
                return self._native

        return V4l2LoopbackStandin


class ObsStandin:
    """Mirrors the OBS backends: ``system`` 'Windows' (native_windows_obs) or 'Darwin' (cmioextension)."""

    NAME = "OBS Virtual Camera"

    def __init__(self, system: str, *, installed: bool = True, busy: bool = False) -> None:
        self.system, self.installed, self.busy = system, installed, busy
        self.frames: list[np.ndarray] = []
        self.stream_gone = False

    def backend(self) -> type:
        obs = self

        class Backend:
            def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: str | None) -> None:
                if obs.system == "Windows":
                    if not obs.installed:
                        raise RuntimeError("OBS Virtual Camera device not found! Did you install OBS?")
                    if device is not None and device != ObsStandin.NAME:
                        raise ValueError(f"This backend supports only the '{ObsStandin.NAME}' device.")
                    if obs.busy:
                        raise RuntimeError("virtual camera output could not be started")
                else:
                    if device is not None and device != ObsStandin.NAME:
                        raise ValueError(f"This backend supports only the '{ObsStandin.NAME}' device.")
                    if obs.busy:
                        raise RuntimeError("Multiple cameras are not supported by this backend.")
                    if not obs.installed:
                        raise RuntimeError(
                            "OBS Virtual Camera is not installed in your system. Use the Virtual Camera function "
                            "in OBS 30.0 or later to trigger the installation and activate the System Extension "
                            "in System Settings. You may need to restart your machine after that. [Device not found]"
                        )
                self._fourcc = fourcc

            def close(self) -> None:
                pass

            def send(self, frame: np.ndarray) -> None:
                if obs.stream_gone and obs.system == "Darwin":
                    raise RuntimeError("Stream does not exist.")
                obs.frames.append(frame.copy())

            def device(self) -> str:
                return ObsStandin.NAME

            def native_fourcc(self) -> int:
                return fourcc("NV12") if obs.system == "Windows" else fourcc("UYVY")

        return Backend


def install(monkeypatch: pytest.MonkeyPatch, name: str, backend: type) -> Any:
    """Make the real pyvirtualcam drive ``backend`` (and no native one) for this test."""
    pyvirtualcam = pytest.importorskip("pyvirtualcam")
    monkeypatch.setattr(pyvirtualcam.camera, "BACKENDS", {name: backend})
    return pyvirtualcam


def sysfs(tmp_path: Any, world: LoopbackWorld) -> Any:
    """A fake ``/`` with the sysfs entries v4l2loopback makes (module dir, one dir per device with its label)."""
    root = tmp_path / "root"
    if world.module_loaded:
        (root / "sys/module/v4l2loopback").mkdir(parents=True)
    for path, d in world.devices.items():
        if d.loopback and d.present:
            node = root / "sys/devices/virtual/video4linux" / path.rsplit("/", 1)[1]
            node.mkdir(parents=True)
            (node / "name").write_text(d.label + "\n")
    root.mkdir(parents=True, exist_ok=True)
    return root
