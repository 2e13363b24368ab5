"""The app's virtual camera toggle, offscreen with real widgets. The device is hardware we lack: the real
pyvirtualcam drives a stand-in v4l2loopback backend (``tests/vcam_standin.py``); the device node is a file in
``tmp_path``, so the sink's "is it still there" check sees it come and go."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PyQt6.QtCore import QSettings, Qt
from PyQt6.QtWidgets import QSystemTrayIcon

from realtime_seg.pipeline.vcam import VcamConfig
from realtime_seg.ui.vcam_controls import minimised_to_tray
from tests.ui.conftest import MakeWindow
from tests.vcam_standin import LoopbackWorld, install

pytestmark = pytest.mark.qt


@pytest.fixture
def device(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[LoopbackWorld, str]:
    node = tmp_path / "video6"
    node.touch()
    world = LoopbackWorld()
    world.add(str(node))
    install(monkeypatch, "v4l2loopback", world.backend())
    return world, str(node)


def _settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)  # the file make_window uses


def _last(world: LoopbackWorld, dev: str) -> np.ndarray:
    _, _, (w, h), data = world.frames(dev)[-1]
    return cv2.cvtColor(data.reshape(h * 3 // 2, w), cv2.COLOR_YUV2BGR_I420)


def test_v_toggles_it_and_the_hud_and_status_bar_show_it(
    qtbot: Any, make_window: MakeWindow, tmp_path: Path, device: tuple[LoopbackWorld, str]
) -> None:
    world, dev = device
    s = _settings(tmp_path)
    s.setValue("vcam/device", dev)  # chosen last time
    s.sync()
    w = make_window()
    assert w.vcam.box.parent() is not None and not w.vcam.check.isChecked() and not w.vcam.running
    qtbot.waitUntil(lambda: w.last_result is not None, timeout=5000)
    qtbot.keyClick(w, Qt.Key.Key_V)
    assert w.vcam.check.isChecked() and w.vcam.running and world.active == {dev}
    qtbot.waitUntil(lambda: len(world.frames(dev)) >= 10, timeout=5000)
    qtbot.waitUntil(lambda: any(line.startswith("vcam") and dev in line for line in w.view.hud_lines), timeout=5000)
    qtbot.waitUntil(lambda: "fps" in w.vcam.status_label.text() and w.vcam.cam.fps > 0, timeout=5000)  # type: ignore[union-attr]
    assert dev in w.vcam.status_label.text() and "160x120" in w.vcam.label.text()
    assert np.abs(_last(world, dev).astype(int)[..., 1] - _last(world, dev)[..., 2]).max() > 20  # colour: effect none
    w.panel.effect_combo.setCurrentText("mask")
    qtbot.waitUntil(lambda: w.last_result is not None and w.last_result.effect == "mask", timeout=5000)
    qtbot.waitUntil(lambda: np.abs(_last(world, dev).astype(int)[..., 0] - _last(world, dev)[..., 2]).max() <= 3)
    qtbot.keyClick(w, Qt.Key.Key_V)
    assert not w.vcam.running and world.active == set() and world.closed == [dev]
    assert not any(line.startswith("vcam") for line in w.view.hud_lines) or w.last_result is None
    assert _settings(tmp_path).value("vcam/enabled") in (False, "false")


def test_it_comes_back_on_at_the_next_start(
    qtbot: Any, make_window: MakeWindow, tmp_path: Path, device: tuple[LoopbackWorld, str]
) -> None:
    world, dev = device
    s = _settings(tmp_path)
    s.setValue("vcam/device", dev)
    s.sync()
    w = make_window()
    w.vcam.check.setChecked(True)
    assert w.vcam.running
    w.close()
    assert world.active == set()  # closing the window releases the device
    w2 = make_window()
    assert w2.vcam.running and w2.vcam.check.isChecked() and world.active == {dev}


def test_live_preview_starts_it_from_the_command_line(
    qtbot: Any, make_window: MakeWindow, device: tuple[LoopbackWorld, str]
) -> None:
    world, dev = device
    w = make_window(virtual_camera=VcamConfig(device=dev, size_wh=(64, 48), fmt="yuyv"))
    assert w.vcam.running
    qtbot.waitUntil(lambda: len(world.frames(dev)) >= 3, timeout=5000)
    assert world.frames(dev)[-1][1:3] == ("YUYV", (64, 48))


def test_an_error_is_shown_and_the_toggle_stays_off(
    qtbot: Any, make_window: MakeWindow, tmp_path: Path, device: tuple[LoopbackWorld, str]
) -> None:
    s = _settings(tmp_path)
    s.setValue("vcam/device", str(tmp_path / "video9"))  # not there any more
    s.sync()
    w = make_window()
    qtbot.waitUntil(lambda: w.last_result is not None, timeout=5000)
    qtbot.keyClick(w, Qt.Key.Key_V)
    assert not w.vcam.running and not w.vcam.check.isChecked()
    # "does not exist", or on a machine without the module "v4l2loopback ... is not loaded": either way one line
    assert w.vcam.last_error and "\n" not in w.vcam.last_error
    assert w.vcam.label.text() == f"off: {w.vcam.last_error}"
    assert w.statusBar().currentMessage().startswith("virtual camera: ")  # type: ignore[union-attr]


def test_a_lost_device_is_reported_and_retried_while_the_app_runs(
    qtbot: Any, make_window: MakeWindow, tmp_path: Path, device: tuple[LoopbackWorld, str]
) -> None:
    world, dev = device
    w = make_window(virtual_camera=VcamConfig(device=dev))
    qtbot.waitUntil(lambda: len(world.frames(dev)) >= 3 and w.last_result is not None, timeout=5000)
    qtbot.wait(100)  # the model's status message is shown
    Path(dev).unlink()  # the module unloaded
    qtbot.waitUntil(lambda: w.vcam.label.text().endswith(": lost, retrying"), timeout=5000)
    qtbot.waitUntil(lambda: "disappeared" in w.statusBar().currentMessage(), timeout=5000)  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: any(line.endswith("lost, retrying") for line in w.view.hud_lines), timeout=5000)
    n = w.last_result.index if w.last_result else -1
    qtbot.waitUntil(lambda: w.last_result is not None and w.last_result.index > n + 3, timeout=5000)  # app runs on
    Path(dev).touch()
    qtbot.waitUntil(lambda: "is back" in w.statusBar().currentMessage(), timeout=10000)  # type: ignore[union-attr]
    k = len(world.frames(dev))
    qtbot.waitUntil(lambda: len(world.frames(dev)) > k + 2, timeout=5000)


def test_minimising_keeps_it_sending(qtbot: Any, make_window: MakeWindow, device: tuple[LoopbackWorld, str]) -> None:
    world, dev = device
    w = make_window(virtual_camera=VcamConfig(device=dev))
    w.showMinimized()
    qtbot.wait(100)
    k = len(world.frames(dev))
    qtbot.waitUntil(lambda: len(world.frames(dev)) > k + 5, timeout=5000)
    # into the tray where the platform has one (the offscreen platform has none: the window just minimises)
    assert minimised_to_tray(w.vcam) == (QSystemTrayIcon.isSystemTrayAvailable() and w.isMinimized())
