"""Where a first-time user stumbled (issue 17): bad models, the overlay colour, unreadable inputs, error text,
the HUD, small windows, the model ``auto`` and the panel's small print. Real widgets offscreen, the tiny ONNX
model, real files."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PyQt6.QtCore import QPoint, QSettings, Qt
from PyQt6.QtGui import QColor

from realtime_seg.capture.sources import CameraSource, SyntheticSource
from realtime_seg.models.registry import AUTO_MODEL
from realtime_seg.pipeline.live import LiveStatus
from realtime_seg.ui.window import MainWindow
from tests.capture.clips import write_clip
from tests.ui.conftest import MakeWindow, to_array

pytestmark = pytest.mark.qt


def shown(qtbot: Any, w: MainWindow, n: int = 1) -> None:
    for _ in range(n):
        with qtbot.waitSignal(w.frameShown, timeout=5000):
            pass


def broken_model(tmp_path: Path, tiny_model: str) -> Path:
    """An .onnx file that is not ONNX, with a valid spec beside it (what "Open model..." may be given)."""
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"\x08\x07garbage that protobuf cannot parse \xff\xfe")
    bad.with_suffix(".toml").write_text(Path(tiny_model).with_suffix(".toml").read_text())
    return bad


def saved_model(tmp_path: Path) -> object:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat).value("panel/model")


def record_statuses(w: MainWindow) -> list[LiveStatus]:
    got: list[LiveStatus] = []
    w.bridge.statusChanged.connect(got.append)
    return got


# 1 -- a model that fails is never shown as chosen, never saved; a saved one that broke falls back once
def test_a_model_that_fails_is_dropped_from_the_panel_and_never_saved(
    qtbot: Any, make_window: MakeWindow, tmp_path: Path, tiny_model: str
) -> None:
    w = make_window()
    shown(qtbot, w)
    qtbot.waitUntil(lambda: "brightness" in w.panel.model_label.text(), timeout=5000)
    bad = broken_model(tmp_path, tiny_model)
    w.panel.set_values(dataclasses.replace(w.panel.values(), model=str(bad)))  # as "Open model..." does
    qtbot.waitUntil(lambda: w.message_bar.isVisible(), timeout=5000)
    assert w.panel.values().model == tiny_model  # the panel shows what runs ...
    assert w.panel.model_combo.findText(str(bad)) < 0  # ... and no longer lists the broken file
    assert "Running: brightness.onnx" in w.panel.model_label.text()
    assert w.bridge.live.active is not None and w.bridge.live.active.model == tiny_model
    assert w.last_result is not None and w.last_result.processed is not None
    w.close()
    assert saved_model(tmp_path) == tiny_model


def test_a_model_still_loading_is_not_saved(qtbot: Any, make_window: MakeWindow, tmp_path: Path) -> None:
    w = make_window(model=None)
    shown(qtbot, w)
    w.panel.set_values(dataclasses.replace(w.panel.values(), model=str(tmp_path / "never-loaded.onnx")))
    w.close()  # before the processing thread could say whether it loads
    assert saved_model(tmp_path) == AUTO_MODEL


@pytest.mark.network
def test_a_saved_model_that_broke_falls_back_to_the_default_with_one_message(
    qtbot: Any, make_window: MakeWindow, tmp_path: Path, tiny_model: str
) -> None:
    """The built-in models come from PyPI (cached after the first run)."""
    bad = broken_model(tmp_path, tiny_model)
    s = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    s.setValue("panel/model", str(bad))
    s.sync()
    w = make_window(model=None, backend="cpu")
    statuses = record_statuses(w)
    qtbot.waitUntil(lambda: w.message_bar.isVisible(), timeout=60000)
    shown(qtbot, w)
    errors = [st for st in statuses if st.level != "info"]
    assert len(errors) <= 1 and "broken.onnx" in w.message_bar.text
    assert "running selfie-landscape instead" in w.message_bar.text  # 160x120 is landscape
    assert w.panel.values().model == AUTO_MODEL
    assert "selfie-landscape" in w.panel.model_label.text()
    assert w.last_result is not None and w.last_result.processed is not None
    w.close()
    assert saved_model(tmp_path) == AUTO_MODEL


# 2 -- the overlay colour
def test_the_overlay_colour_reaches_the_picture_and_the_unused_button_looks_disabled(
    qtbot: Any, make_window: MakeWindow
) -> None:
    w = make_window(effect="overlay")
    qtbot.waitUntil(lambda: w.last_result is not None and w.last_result.effect == "overlay", timeout=5000)
    shown(qtbot, w)

    def tint() -> np.ndarray:
        frame = w.last_result.output.astype(int) - w.last_result.frame.image.astype(int)  # type: ignore[union-attr]
        return frame.reshape(-1, 3).mean(axis=0)  # BGR shift the overlay adds

    w.panel.set_values(dataclasses.replace(w.panel.values(), color="#ff0000", overlay_alpha=0.8))
    qtbot.waitUntil(lambda: w.bridge.live.active is not None and "color" in w.bridge.live.active.effect_options)
    shown(qtbot, w, 2)
    red = tint()
    w.panel.set_values(dataclasses.replace(w.panel.values(), color="#0000ff"))
    qtbot.waitUntil(lambda: w.bridge.live.active.effect_options["color"] == (255, 0, 0))  # type: ignore[union-attr]
    shown(qtbot, w, 2)
    blue = tint()
    assert red[2] > red[0] + 10 and blue[0] > blue[2] + 10  # the person turns red, then blue

    def button_colour() -> np.ndarray:
        img = to_array(w.panel.color_button.grab().toImage())
        return np.median(img[img.shape[0] // 2, 4:-4].reshape(-1, 3), axis=0)  # the fill, not the text

    assert w.panel.color_button.isEnabled()
    b, _g, r = button_colour()
    assert b > 150 and r < 80  # filled with the chosen blue
    w.panel.effect_combo.setCurrentText("blur")
    assert not w.panel.color_button.isEnabled()
    b, g, r = button_colour()
    assert abs(b - r) < 30 and abs(b - g) < 30  # a plain grey button, not a blue swatch


# 3 -- an input that cannot be played
def test_an_unreadable_input_names_the_file_and_never_opens_a_camera(
    qtbot: Any, make_window: MakeWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[int] = []
    monkeypatch.setattr(CameraSource, "open", lambda self: opened.append(self.index))  # a spy: must stay unused
    clip = tmp_path / "holiday.mp4"
    clip.write_bytes(b"this is not a video" * 100)
    w = make_window(input=clip)
    assert w.stack.currentWidget() is w.source_page
    assert "Cannot play holiday.mp4" in w.source_page.title.text()
    assert "not a video that can be played: Invalid data" in w.source_page.detail.text()
    assert str(clip) in w.source_page.detail.text()
    assert w.source_page.open_button.text() == "Open a video file..." and w.source_page.open_button.isVisible()
    assert "camera" not in w.source_page.retry_button.text().lower()
    qtbot.mouseClick(w.source_page.retry_button, Qt.MouseButton.LeftButton)
    assert w.stack.currentWidget() is w.source_page
    assert opened == [] and w.bridge.capture is None


def test_a_missing_input_says_so_and_a_file_opened_afterwards_plays(
    qtbot: Any, make_window: MakeWindow, tmp_path: Path
) -> None:
    w = make_window(input=tmp_path / "gone.mp4")
    assert w.stack.currentWidget() is w.source_page
    assert "Cannot find gone.mp4" in w.source_page.title.text()
    assert "does not exist" in w.source_page.detail.text()
    write_clip(tmp_path / "gone.mp4", frames=6, size_wh=(96, 64))
    qtbot.mouseClick(w.source_page.retry_button, Qt.MouseButton.LeftButton)  # "Try this file again"
    shown(qtbot, w)
    assert w.stack.currentWidget() is w.video_page


# 4 -- error text
def test_an_error_is_one_short_line_with_the_full_text_behind_details(
    qtbot: Any, make_window: MakeWindow, tmp_path: Path, tiny_model: str
) -> None:
    bad = broken_model(tmp_path, tiny_model)
    w = make_window(model=str(bad), backend="auto")  # tried on two backends: said once
    qtbot.waitUntil(lambda: w.message_bar.isVisible(), timeout=5000)
    text = w.message_bar.text
    assert "\n" not in text and len(text) < 160
    assert text == "model broken.onnx is not an ONNX model - showing the video unprocessed"
    assert "Wire format" not in text and "DecodeError" not in text and str(tmp_path) not in text
    assert "showing the video unprocessed" in text
    assert w.message_bar.details.count("not an ONNX model") == 2  # every attempt, in full
    qtbot.mouseClick(w.message_bar.details_button, Qt.MouseButton.LeftButton)
    box = w.message_bar.details_box
    assert box is not None and box.isVisible() and "DecodeError" in box.detailedText()
    box.close()
    shown(qtbot, w, 10)  # it stays while the video runs ...
    assert w.message_bar.isVisible() and w.message_bar.text == text
    qtbot.mouseClick(w.message_bar.close_button, Qt.MouseButton.LeftButton)  # ... until the user closes it
    assert not w.message_bar.isVisible()


def test_a_model_that_loads_clears_the_old_error_and_a_new_source_the_status_bar(
    qtbot: Any, make_window: MakeWindow, tmp_path: Path, tiny_model: str
) -> None:
    w = make_window(model=str(broken_model(tmp_path, tiny_model)))
    qtbot.waitUntil(lambda: w.message_bar.isVisible(), timeout=5000)
    w.panel.set_values(dataclasses.replace(w.panel.values(), model=tiny_model))
    qtbot.waitUntil(lambda: not w.message_bar.isVisible(), timeout=5000)
    w.status.showMessage("no camera at index 0")
    assert w.start_source(SyntheticSource((96, 64)))
    assert w.status.currentMessage() == ""


# 5 -- the HUD tells the truth
def test_the_hud_says_no_model_and_paused_and_shows_rates_only_after_warm_up(
    qtbot: Any, make_window: MakeWindow, tmp_path: Path, tiny_model: str
) -> None:
    w = make_window(model=str(broken_model(tmp_path, tiny_model)))
    shown(qtbot, w, 3)
    hud = " ".join(w.view.hud_lines)
    assert "no model" in hud and "latency" not in hud
    w.panel.set_values(dataclasses.replace(w.panel.values(), model=tiny_model))
    qtbot.waitUntil(lambda: w.last_result is not None and w.last_result.processed is not None, timeout=5000)
    shown(qtbot, w)
    qtbot.keyClick(w, Qt.Key.Key_Space)
    assert w.view.hud_lines == ["PAUSED (space resumes)"]  # no frozen figures
    qtbot.keyClick(w, Qt.Key.Key_Space)
    shown(qtbot, w)
    assert "measuring" in " ".join(w.view.hud_lines)  # the rates start again after warm-up
    qtbot.waitUntil(lambda: any(line.startswith("processing") and "fps" in line for line in w.view.hud_lines))
    r = w.last_result
    assert r is not None and r.processing_fps > 0
    fps = {line.split()[0]: float(line.split()[1]) for line in w.view.hud_lines if line.endswith("fps")}
    assert fps["processing"] <= fps["capture"]


# 6 -- small windows
def test_at_800x600_the_panel_collapses_and_the_keys_button_stays_reachable(
    qtbot: Any, make_window: MakeWindow
) -> None:
    w = make_window()
    w.resize(800, 600)
    shown(qtbot, w, 2)
    big_view = w.view.width()
    keys = w.help_button
    corner = keys.mapTo(w, QPoint(keys.width(), keys.height()))
    assert keys.isVisible() and w.rect().contains(corner)  # not scrolled away inside the panel
    qtbot.keyClick(w, Qt.Key.Key_P)
    qtbot.waitUntil(lambda: w.splitter.sizes()[1] == 0)
    assert not w.panel_button.isChecked() and w.view.width() > big_view + 150
    assert keys.isVisible()
    qtbot.keyClick(w, Qt.Key.Key_P)
    qtbot.waitUntil(lambda: w.splitter.sizes()[1] > 0)
    assert w.panel_button.isChecked()
    # the divider: dragged to the right edge it hides the panel, dragged back it shows it again
    w.splitter.moveSplitter(w.splitter.width(), 1)
    assert w.splitter.sizes()[1] == 0 and not w.panel_button.isChecked()
    w.splitter.moveSplitter(w.splitter.width() - 260, 1)
    assert w.splitter.sizes()[1] > 200 and w.panel_button.isChecked()


def test_a_hidden_panel_stays_hidden_next_time(qtbot: Any, make_window: MakeWindow) -> None:
    w = make_window()
    shown(qtbot, w)  # shortcuts work once the window is up
    qtbot.keyClick(w, Qt.Key.Key_P)
    assert w.splitter.sizes()[1] == 0
    w.close()
    w2 = make_window()
    assert w2.splitter.sizes()[1] == 0 and not w2.panel_button.isChecked()
    shown(qtbot, w2)
    qtbot.keyClick(w2, Qt.Key.Key_P)
    assert w2.splitter.sizes()[1] > 0


def test_the_hud_scales_with_the_view(qtbot: Any, make_window: MakeWindow) -> None:
    w = make_window()
    w.resize(1400, 900)
    shown(qtbot, w)
    large = w.view.hud_pixel_size()
    w.resize(640, 400)
    qtbot.waitUntil(lambda: w.view.height() < 400)
    small = w.view.hud_pixel_size()
    assert small < large


# 7 -- the model follows the picture
@pytest.mark.network
@pytest.mark.parametrize(("size", "expected"), [((192, 108), "selfie-landscape"), ((108, 192), "selfie")])
def test_auto_picks_the_model_by_the_frame_shape_and_the_panel_says_so(
    qtbot: Any, make_window: MakeWindow, size: tuple[int, int], expected: str
) -> None:
    """The built-in models come from PyPI (cached after the first run)."""
    w = make_window(SyntheticSource(size), model=AUTO_MODEL, backend="cpu")
    qtbot.waitUntil(lambda: w.bridge.live.active is not None, timeout=60000)
    shown(qtbot, w)
    assert w.bridge.live.active.model == expected  # type: ignore[union-attr]
    assert w.panel.values().model == AUTO_MODEL
    assert f"Running: {expected} (chosen by auto" in w.panel.model_label.text()


# 9 -- small print
def test_the_blur_slider_shows_its_value_and_one_thread_reads_properly(qtbot: Any, make_window: MakeWindow) -> None:
    w = make_window(threads=1)
    w.panel.effect_combo.setCurrentText("blur")
    w.panel.blur_slider.setValue(37)
    assert w.panel.blur_value is not None and w.panel.blur_value.text() == "37"
    qtbot.waitUntil(lambda: "ONNX Runtime" in w.panel.backend_label.text(), timeout=5000)
    assert "(1 thread)" in w.panel.backend_label.text() and "thread(s)" not in w.panel.backend_label.text()


def test_a_chosen_colour_shows_on_the_button(make_window: MakeWindow) -> None:
    w = make_window(effect="replace")
    w.panel.set_values(dataclasses.replace(w.panel.values(), color="#123456"))
    assert w.panel.color_button.text() == "#123456"
    assert QColor(w.panel.values().color) == QColor("#123456")


def test_cancelling_open_model_keeps_the_chosen_model(
    make_window: MakeWindow, tiny_model: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PyQt6.QtWidgets import QFileDialog

    from realtime_seg.ui.panel import OPEN_MODEL

    w = make_window()
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: ("", "")))  # the user cancels
    combo = w.panel.model_combo
    combo.setCurrentIndex(combo.findText(OPEN_MODEL))
    combo.activated.emit(combo.currentIndex())
    assert w.panel.values().model == tiny_model
