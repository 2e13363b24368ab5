"""The app's virtual camera: a toggle in the panel (hotkey V), its device and FPS in the HUD and the status bar,
the choice kept in QSettings, and a tray icon to minimise into while it runs (where the platform has a tray).

The frames go to :class:`~realtime_seg.pipeline.vcam.VirtualCamera` straight from the processing thread (a tap
on the bridge), not through the GUI: a busy or minimised window never slows the call.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from PyQt6.QtCore import QEvent, QObject, QSettings, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QIcon
from PyQt6.QtWidgets import (
    QApplication,
    QCheckBox,
    QGroupBox,
    QLabel,
    QMainWindow,
    QMenu,
    QStatusBar,
    QStyle,
    QSystemTrayIcon,
    QVBoxLayout,
    QWidget,
)

from realtime_seg.errors import RealtimeSegError
from realtime_seg.pipeline.live import LiveResult
from realtime_seg.pipeline.vcam import VcamConfig, VcamEvent, VcamState, VirtualCamera
from realtime_seg.ui.bridge import PipelineBridge

logger = logging.getLogger(__name__)


class VcamControl(QObject):
    """Owns the app's :class:`VirtualCamera` (at most one). ``changed`` fires when it starts, stops or reports."""

    changed = pyqtSignal()
    _event = pyqtSignal(object)  # VcamEvent, from the clock thread

    def __init__(
        self,
        window: QMainWindow,
        bridge: PipelineBridge,
        qsettings: QSettings,
        config: VcamConfig | None = None,
    ) -> None:
        super().__init__(window)
        self.window, self.bridge, self.qsettings = window, bridge, qsettings
        self.forced = config is not None  # the command line asked for it (``live --preview``)
        self.config = config or VcamConfig(device=str(qsettings.value("vcam/device", "") or "") or None)
        self.cam: VirtualCamera | None = None
        self.last_error = ""

        self.box = QGroupBox("Virtual camera")
        lay = QVBoxLayout(self.box)
        self.check = QCheckBox("Send to a virtual camera (V)")
        self.check.setToolTip("For video calls: pick the virtual camera in Zoom, Meet, Teams, OBS or the browser.")
        self.label = QLabel("off")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.check)
        lay.addWidget(self.label)
        self.status_label = QLabel("")
        self.check.toggled.connect(self._toggled)
        self._event.connect(self._on_event, Qt.ConnectionType.QueuedConnection)  # type: ignore[call-arg]
        bridge.taps.append(self._on_result)

        self.timer = QTimer(self)
        self.timer.setInterval(1000)
        self.timer.timeout.connect(self._refresh)
        self.tray: QSystemTrayIcon | None = None
        window.installEventFilter(self)

    def attach(self, panel: QWidget, status: QStatusBar) -> None:
        """Put the toggle into the panel (above its stretch) and the device/FPS into the status bar."""
        layout = panel.layout()
        if isinstance(layout, QVBoxLayout):
            at = next((i for i in range(layout.count()) if layout.itemAt(i).spacerItem() is not None), -1)  # type: ignore[union-attr]
            layout.insertWidget(at, self.box)
        status.addPermanentWidget(self.status_label)

    # -- on / off -------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.cam is not None

    def start_if_wanted(self) -> None:
        """At start-up: on if the command line asks, or if it was on last time."""
        stored = self.qsettings.value("vcam/enabled", False)
        wanted = stored if isinstance(stored, bool) else str(stored).lower() == "true"
        if self.forced or wanted:
            self._set_checked(True)
            self._start()

    def toggle(self) -> None:
        self.check.setChecked(not self.check.isChecked())

    def _set_checked(self, on: bool) -> None:
        self.check.blockSignals(True)
        self.check.setChecked(on)
        self.check.blockSignals(False)

    def _toggled(self, on: bool) -> None:
        """The user's choice (box or V): remembered, then applied."""
        self.qsettings.setValue("vcam/enabled", on)
        if on:
            self._start()
        else:
            self._stop()
            self._say("virtual camera off", "off")

    def _start(self) -> None:
        if self.cam is not None:
            return
        source = self.bridge.source
        size_wh, fps = source.size_wh if source is not None else (1280, 720), source.fps if source is not None else 30
        live = self.bridge.live
        try:
            size, rate = self.config.resolve(size_wh, fps)
            cam = VirtualCamera(
                self.config,
                size,
                rate,
                raw_frame=self.bridge.slot.peek,
                want_raw=lambda: not live.ready.is_set() or live.paused,
                on_event=self._event.emit,
            )
            cam.start()
        except RealtimeSegError as exc:
            self.last_error = str(exc)
            self._set_checked(False)
            self._say(f"virtual camera: {exc}", f"off: {exc}", error=True)
            self.changed.emit()
            return
        self.cam, self.last_error = cam, ""
        if cam.device:
            self.config = replace(self.config, device=cam.device) if not self.forced else self.config
            self.qsettings.setValue("vcam/device", cam.device)
        self.timer.start()
        self._refresh()
        self._show_tray(True)
        self.window.statusBar().showMessage(f"virtual camera on: {cam.device}", 5000)  # type: ignore[union-attr]

    def _stop(self) -> None:
        cam, self.cam = self.cam, None
        if cam is not None:
            cam.stop(timeout=1.0)
        self.timer.stop()
        self.status_label.setText("")
        self._show_tray(False)
        self.changed.emit()

    def close(self) -> None:
        """Release the device (window closing); the stored choice stays."""
        self._stop()
        self.bridge.taps[:] = [t for t in self.bridge.taps if t != self._on_result]

    # -- frames, events, text ---------------------------------------------------------------------------
    def _on_result(self, r: LiveResult) -> None:  # processing thread
        cam = self.cam
        if cam is not None:
            cam.submit(r.output)

    def _on_event(self, event: VcamEvent) -> None:
        if event.state is VcamState.LOST:
            self._say(event.message, event.message, error=True)
        elif event.state is VcamState.RUNNING and event.message.endswith("is back"):
            self._say(event.message, "")
        self._refresh()

    def _say(self, status: str, label: str, error: bool = False) -> None:
        self.window.statusBar().showMessage(status, 10000 if error else 5000)  # type: ignore[union-attr]
        if label:
            self.label.setText(label)
        self.label.setStyleSheet("color: #c0392b;" if error else "")

    def hud_line(self) -> str | None:
        """``vcam  /dev/video4 30 fps`` while on; ``None`` when off."""
        cam = self.cam
        return f"vcam        {cam.summary}" if cam is not None else None

    def _refresh(self) -> None:
        cam = self.cam
        if cam is None:
            return
        w, h = cam.size_wh
        text = f"{cam.device}: {w}x{h}, {cam.fps:.0f} of {cam.target_fps:g} fps"
        if cam.state is VcamState.LOST:
            text = f"{cam.device}: lost, retrying"
        self.label.setText(text)
        self.label.setStyleSheet("color: #c0392b;" if cam.state is VcamState.LOST else "")
        self.status_label.setText(f"vcam {cam.summary}")
        if self.tray is not None:
            self.tray.setToolTip(f"realtime-seg: virtual camera {cam.summary}")
        self.changed.emit()

    # -- tray -------------------------------------------------------------------------------------------
    def _show_tray(self, on: bool) -> None:
        if not on:
            if self.tray is not None:
                self.tray.hide()
            return
        if not QSystemTrayIcon.isSystemTrayAvailable():
            return
        if self.tray is None:
            style = QApplication.style()
            icon = style.standardIcon(QStyle.StandardPixmap.SP_MediaPlay) if style is not None else QIcon()
            self.tray = QSystemTrayIcon(icon, self)
            menu = QMenu()
            show = menu.addAction("Show window")
            if show is not None:
                show.triggered.connect(self.restore_window)
            off = menu.addAction("Virtual camera off")
            if off is not None:
                off.triggered.connect(lambda: self.check.setChecked(False))
            quit_ = menu.addAction("Quit")
            if quit_ is not None:
                quit_.triggered.connect(self.window.close)
            self.tray.setContextMenu(menu)
            self._menu = menu
            self.tray.activated.connect(lambda *_: self.restore_window())
        self.tray.show()

    def restore_window(self) -> None:
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()

    def eventFilter(self, obj: QObject | None, event: QEvent | None) -> bool:  # noqa: N802 - Qt API
        """Minimised while sending, with a tray to come back from: hide the window into the tray."""
        if (
            obj is self.window
            and event is not None
            and event.type() == QEvent.Type.WindowStateChange
            and self.window.isMinimized()
            and self.cam is not None
            and self.tray is not None
            and self.tray.isVisible()
        ):
            QTimer.singleShot(0, self.window.hide)
        return False


def minimised_to_tray(control: VcamControl) -> bool:
    """Whether the window is hidden into the tray (for tests and the HUD)."""
    return control.tray is not None and control.tray.isVisible() and not control.window.isVisible()


__all__: list[Any] = ["VcamControl", "minimised_to_tray"]
