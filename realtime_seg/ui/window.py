"""The main window: video view + side panel, HUD, snapshot/record, hotkeys, faults, persisted settings."""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QSettings, QStandardPaths, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PyQt6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QStatusBar,
    QVBoxLayout,
    QWidget,
)

from realtime_seg.capture.sources import CameraInfo, CameraSource, FileSource, Source, list_cameras
from realtime_seg.capture.thread import CaptureEvent, CaptureState
from realtime_seg.errors import CaptureError, RealtimeSegError
from realtime_seg.io.images import write_image_atomic
from realtime_seg.pipeline.live import LiveResult, LiveStatus
from realtime_seg.pipeline.recorder import Recorder
from realtime_seg.pipeline.settings import DEFAULT_THREADS
from realtime_seg.ui.bridge import PipelineBridge
from realtime_seg.ui.controls import EFFECT_ORDER, PanelValues, available_effects
from realtime_seg.ui.panel import VIDEO_FILTER, ControlPanel
from realtime_seg.ui.view import VideoView

logger = logging.getLogger(__name__)

HOTKEYS: tuple[tuple[str, str], ...] = (
    ("Space", "pause / resume"),
    ("S", "snapshot (PNG)"),
    ("R", "start / stop recording (MP4)"),
    ("F", "full screen on / off"),
    ("1-6", "effects: " + ", ".join(f"{i} {n}" for i, n in enumerate(EFFECT_ORDER, 1))),
    ("H", "heads-up display on / off"),
    ("F1", "this help"),
    ("Q", "quit"),
)


@dataclass(frozen=True)
class AppOptions:
    """What the command line asks for; ``None`` means "as last time" (QSettings) or the default."""

    camera: int | None = None
    input: Path | None = None
    model: str | None = None
    backend: str | None = None
    effect: str | None = None
    threads: int = DEFAULT_THREADS
    output_dir: Path | None = None
    camera_size_wh: tuple[int, int] = (1280, 720)

    def __post_init__(self) -> None:
        if self.camera is not None and self.input is not None:
            raise ValueError("give a camera or an input file, not both")


class NoCameraPage(QWidget):
    """Shown when no source could be opened: says why, offers to open a file or try the camera again."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        self.title = QLabel("<h2>No camera found</h2>")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.detail = QLabel("")
        self.detail.setWordWrap(True)
        self.detail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.title)
        layout.addWidget(self.detail)
        row = QHBoxLayout()
        row.addStretch(1)
        self.open_button = QPushButton("Open a video file...")
        self.retry_button = QPushButton("Try the camera again")
        row.addWidget(self.open_button)
        row.addWidget(self.retry_button)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addStretch(1)


class MainWindow(QMainWindow):
    """``frameShown`` fires after each displayed frame (tests wait on it)."""

    frameShown = pyqtSignal()  # noqa: N815 - Qt naming

    def __init__(
        self,
        options: AppOptions | None = None,
        *,
        qsettings: QSettings | None = None,
        source: Source | None = None,
        cameras: list[CameraInfo] | None = None,
    ) -> None:
        super().__init__()
        self.options = options or AppOptions()
        self.qsettings = qsettings or QSettings("realtime-seg", "realtime-seg")
        self.setWindowTitle("realtime-seg")
        self.effects = available_effects()
        self.cameras = list_cameras(probe=True) if cameras is None else cameras
        self.last_result: LiveResult | None = None
        self.recorder: Recorder | None = None
        self.display_latency_ms = 0.0
        self.last_error = ""
        self._closed = False

        self.view = VideoView()
        self.no_camera = NoCameraPage()
        self.no_camera.open_button.clicked.connect(self.open_file_dialog)
        self.no_camera.retry_button.clicked.connect(self.retry_camera)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.view)
        self.stack.addWidget(self.no_camera)
        self.panel = ControlPanel(self.effects)
        scroll = QScrollArea()
        scroll.setWidget(self.panel)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(300)
        self.side = scroll
        split = QSplitter()
        split.addWidget(self.stack)
        split.addWidget(scroll)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 0)
        split.setChildrenCollapsible(False)
        self.setCentralWidget(split)
        self.status = QStatusBar()
        self.setStatusBar(self.status)

        self.panel.set_values(self._initial_values())
        self.bridge = PipelineBridge(self.panel.values().settings(self.options.threads), self)
        self.bridge.resultReady.connect(self._on_result_ready, Qt.ConnectionType.QueuedConnection)  # type: ignore[call-arg]
        self.bridge.statusChanged.connect(self._on_status, Qt.ConnectionType.QueuedConnection)  # type: ignore[call-arg]
        self.bridge.captureChanged.connect(self._on_capture_event, Qt.ConnectionType.QueuedConnection)  # type: ignore[call-arg]
        self.bridge.start()
        self.panel.changed.connect(self._apply_panel)
        self.panel.sourceSelected.connect(self._on_source_selected)
        self.panel.help_button.clicked.connect(self.show_help)
        self._install_hotkeys()

        geometry = self.qsettings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 760)
        self._start_initial_source(source)

    # -- settings --------------------------------------------------------------------------------------
    def _initial_values(self) -> PanelValues:
        defaults = PanelValues(effect="blur" if "blur" in self.effects else self.effects[0])
        stored: dict[str, Any] = {}
        for f in dataclasses.fields(PanelValues):
            raw = self.qsettings.value(f"panel/{f.name}")
            if raw is None:
                continue
            default = getattr(defaults, f.name)
            try:
                if isinstance(default, bool):
                    stored[f.name] = raw if isinstance(raw, bool) else str(raw).lower() == "true"
                else:
                    stored[f.name] = type(default)(raw)
            except (TypeError, ValueError):
                continue
        o = self.options
        cli: dict[str, Any] = {"effect": o.effect, "model": o.model, "backend": o.backend}
        stored.update({k: v for k, v in cli.items() if v is not None})
        try:
            values = dataclasses.replace(defaults, **stored)
        except ValueError:
            logger.warning("ignoring invalid stored settings")
            values = dataclasses.replace(defaults, **{k: v for k, v in cli.items() if v is not None})
        if values.effect not in self.effects:
            values = dataclasses.replace(values, effect=defaults.effect)
        return values

    def save_settings(self) -> None:
        for f in dataclasses.fields(PanelValues):
            self.qsettings.setValue(f"panel/{f.name}", getattr(self.panel.values(), f.name))
        self.qsettings.setValue("window/geometry", self.saveGeometry())
        self.qsettings.sync()

    def _apply_panel(self) -> None:
        if hasattr(self, "bridge"):
            self.bridge.live.update(self.panel.values().settings(self.options.threads))

    # -- sources ---------------------------------------------------------------------------------------
    def _start_initial_source(self, source: Source | None) -> None:
        o = self.options
        if source is None:
            if o.input is not None:
                source = FileSource(o.input)
            else:
                index = o.camera if o.camera is not None else int(self.qsettings.value("source/camera", 0) or 0)
                source = CameraSource(index, *o.camera_size_wh)
        self.start_source(source)

    def start_source(self, source: Source) -> bool:
        """Open ``source`` and stream from it; on failure show the no-camera page (the app keeps running)."""
        try:
            source.open()
        except CaptureError as exc:
            self.show_no_camera(str(exc))
            return False
        self.bridge.set_source(source)
        self.bridge.live.reset()
        if isinstance(source, CameraSource):
            self.qsettings.setValue("source/camera", source.index)
        self.stack.setCurrentWidget(self.view)
        self.view.set_message("")
        self.panel.set_cameras(self.cameras, self._source_label(source))
        w, h = source.size_wh
        self.panel.source_label.setText(f"{source.name}: {w}x{h} @ {source.fps:.0f} fps")
        return True

    def _source_label(self, source: Source) -> str:
        if isinstance(source, CameraSource):
            for cam in self.cameras:
                if cam.index == source.index:
                    return cam.label
            return f"{source.index}: camera {source.index}"
        return source.name

    def show_no_camera(self, why: str) -> None:
        self.bridge.stop_capture()
        self.no_camera.detail.setText(why)
        self.stack.setCurrentWidget(self.no_camera)
        self.panel.set_cameras(self.cameras, "")
        self.status.showMessage(why)

    def open_file_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Play a video file", "", VIDEO_FILTER)
        if path:
            self.start_source(FileSource(path))

    def retry_camera(self) -> None:
        index = int(self.qsettings.value("source/camera", 0) or 0)
        self.cameras = list_cameras(probe=True)
        self.start_source(CameraSource(index, *self.options.camera_size_wh))

    def _on_source_selected(self, choice: object) -> None:
        if isinstance(choice, int):
            self.start_source(CameraSource(choice, *self.options.camera_size_wh))
        elif isinstance(choice, str):
            self.start_source(FileSource(choice))

    # -- results and events ---------------------------------------------------------------------------
    def _on_result_ready(self) -> None:
        r = self.bridge.take_result()
        if r is None or self._closed:
            return
        self.last_result = r
        self.view.set_frame(r.output)
        self.display_latency_ms = (time.monotonic() - r.t_capture) * 1e3
        if self.recorder is not None:
            self.recorder.write(r.output, r.t_capture)
        self._update_hud()
        self.frameShown.emit()

    def _update_hud(self) -> None:
        r = self.last_result
        if r is None:
            return
        lines = [
            f"capture     {r.capture_fps:5.1f} fps",
            f"processing  {r.processing_fps:5.1f} fps",
            f"latency     {self.display_latency_ms:5.0f} ms",
        ]
        if r.region_count is not None:
            lines.append(f"regions     {r.region_count:5d}")
        if self.bridge.live.paused:
            lines.append("PAUSED")
        if self.recorder is not None:
            lines.append(f"REC  {self.recorder.written} frames")
        self.view.set_hud(lines)

    def _on_status(self, status: LiveStatus) -> None:
        if status.backend:
            self.panel.set_backend_text(status.backend)
        if status.level != "info":
            self.last_error = status.message
            self.view.set_message(status.message, error=status.level == "error")
            QTimer.singleShot(6000, lambda m=status.message: self._clear_message(m))
        self.status.showMessage(status.message, 10000)

    def _clear_message(self, message: str) -> None:
        if self.view.message == message:
            self.view.set_message("")

    def _on_capture_event(self, event: CaptureEvent) -> None:
        if event.state is CaptureState.LOST:
            self.view.set_message(f"Camera lost: {event.message}", error=True)
            self.status.showMessage(event.message)
        elif event.state is CaptureState.RUNNING and event.message:
            self.view.set_message("")
            self.status.showMessage(event.message, 5000)
        elif event.state is CaptureState.ENDED:
            self.view.set_message(event.message)

    # -- actions -------------------------------------------------------------------------------------
    def _install_hotkeys(self) -> None:
        def key(seq: str | QKeySequence.StandardKey, slot: Any) -> None:
            sc = QShortcut(QKeySequence(seq), self)
            sc.setContext(Qt.ShortcutContext.WindowShortcut)
            sc.activated.connect(slot)

        key("Space", self.toggle_pause)
        key("S", self.snapshot)
        key("R", self.toggle_record)
        key("F", self.toggle_fullscreen)
        key("H", self.toggle_hud)
        key("Q", self.close)
        key("F1", self.show_help)
        key("Esc", lambda: self.toggle_fullscreen() if self.isFullScreen() else None)
        for i, name in enumerate(EFFECT_ORDER, 1):
            key(str(i), lambda n=name: self.select_effect(n))

    def select_effect(self, name: str) -> None:
        if not self.panel.set_effect(name):
            self.status.showMessage(f"effect {name!r} is not available in this build", 5000)

    def toggle_pause(self) -> None:
        self.bridge.live.pause(not self.bridge.live.paused)
        self._update_hud()

    def toggle_hud(self) -> None:
        self.view.show_hud = not self.view.show_hud
        self.view.update()

    def toggle_fullscreen(self) -> None:
        if self.isFullScreen():
            self.side.show()
            self.status.show()
            self.showNormal()
        else:
            self.side.hide()
            self.status.hide()
            self.showFullScreen()

    def output_dir(self) -> Path:
        if self.options.output_dir is not None:
            return self.options.output_dir
        pics = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation) or str(Path.home())
        return Path(pics) / "realtime-seg"

    def _stamped(self, suffix: str) -> Path:
        d = self.output_dir()
        d.mkdir(parents=True, exist_ok=True)
        now = time.time()
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now)) + f"-{int(now * 1000) % 1000:03d}"
        return d / f"realtime-seg_{stamp}{suffix}"

    def snapshot(self) -> Path | None:
        """Save the displayed frame as a PNG; returns its path (``None`` if nothing is shown yet)."""
        r = self.last_result
        if r is None:
            self.status.showMessage("nothing to save yet", 3000)
            return None
        try:
            path = write_image_atomic(self._stamped(".png"), r.output)
        except (OSError, RealtimeSegError) as exc:
            self.status.showMessage(f"snapshot failed: {exc}", 8000)
            return None
        self.status.showMessage(f"saved {path}", 5000)
        return path

    def toggle_record(self) -> Path | None:
        """Start recording, or stop and return the finished MP4's path."""
        if self.recorder is None:
            fps = self.bridge.source.fps if self.bridge.source is not None else 30.0
            try:
                self.recorder = Recorder(self._stamped(".mp4"), fps_hint=fps).start()
            except (OSError, RealtimeSegError) as exc:
                self.status.showMessage(f"cannot record: {exc}", 8000)
                return None
            self.status.showMessage(f"recording to {self.recorder.path}")
            self._update_hud()
            return None
        rec, self.recorder = self.recorder, None
        try:
            path = rec.close()
        except RealtimeSegError as exc:
            self.status.showMessage(str(exc), 8000)
            return None
        self.status.showMessage(f"recorded {rec.written} frames to {path}", 8000)
        self._update_hud()
        return path

    def show_help(self) -> None:
        rows = "".join(f"<tr><td><b>{k}</b>&nbsp;&nbsp;</td><td>{v}</td></tr>" for k, v in HOTKEYS)
        box = QMessageBox(self)
        box.setWindowTitle("realtime-seg keys")
        box.setText(f"<table>{rows}</table>")
        box.open()
        self.help_box = box

    # -- shutdown ------------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent | None) -> None:  # noqa: N802 - Qt API
        if not self._closed:
            self._closed = True
            if self.recorder is not None:
                self.toggle_record()
            self.save_settings()
            self.bridge.stop()
        if event is not None:
            event.accept()
