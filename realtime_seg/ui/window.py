"""The main window: video view + side panel, HUD, snapshot/record, hotkeys, faults, persisted settings.

Messages: a problem the user should act on (a model that failed, a backend that fell back) shows as one short
line in the message bar above the video, with the full text behind "Details..."; it stays until the user
closes it or the situation it describes changes (another source, a model that loads). The status bar only
shows passing confirmations, each for a few seconds.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QSettings, QStandardPaths, Qt, pyqtSignal
from PyQt6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PyQt6.QtWidgets import (
    QFileDialog,
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
from realtime_seg.models.registry import AUTO_MODEL
from realtime_seg.pipeline.live import LiveResult, LiveStatus
from realtime_seg.pipeline.recorder import Recorder
from realtime_seg.ui.bridge import PipelineBridge
from realtime_seg.ui.controls import EFFECT_ORDER, PanelValues, available_effects
from realtime_seg.ui.pages import HOTKEYS, AppOptions, SourceErrorPage, file_problem
from realtime_seg.ui.panel import VIDEO_FILTER, ControlPanel
from realtime_seg.ui.vcam_controls import VcamControl
from realtime_seg.ui.view import MessageBar, VideoView

logger = logging.getLogger(__name__)

#: how long the status bar shows a passing confirmation (ms)
STATUS_MS = 5000
#: the HUD shows rates only after this long of steady streaming (the first frames come in a burst)
WARMUP_S = 1.0


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
        self._failed: Source | None = None  # the source the error page is about (its retry reopens it)
        self._model_ok = AUTO_MODEL  # the last model asked for that loaded: the one that may be saved
        self._warm_since: float | None = None  # when steady streaming (re)started, for the HUD's rates
        self._panel_width = 0  # the panel's width before it was hidden

        self.view = VideoView()
        self.message_bar = MessageBar()
        video_page = QWidget()
        col = QVBoxLayout(video_page)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(0)
        col.addWidget(self.message_bar)
        col.addWidget(self.view, 1)
        self.video_page = video_page
        self.source_page = SourceErrorPage()
        self.source_page.open_button.clicked.connect(self.open_file_dialog)
        self.source_page.retry_button.clicked.connect(self.retry_source)
        self.stack = QStackedWidget()
        self.stack.addWidget(video_page)
        self.stack.addWidget(self.source_page)
        self.panel = ControlPanel(self.effects)
        scroll = QScrollArea()
        scroll.setWidget(self.panel)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(self.panel.minimumWidth() + 16)
        self.side = scroll
        split = QSplitter()
        split.addWidget(self.stack)
        split.addWidget(scroll)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 0)
        split.setCollapsible(0, False)
        split.setCollapsible(1, True)  # dragging the divider to the edge hides the panel
        split.setHandleWidth(8)
        split.splitterMoved.connect(lambda *_: self._sync_panel_button())
        self.splitter = split
        self.setCentralWidget(split)
        self.status = QStatusBar()
        self.setStatusBar(self.status)
        # always reachable, however small the window or long the panel
        self.panel_button = QPushButton("Panel (P)")
        self.panel_button.setCheckable(True)
        self.panel_button.setChecked(True)
        self.panel_button.setToolTip("show or hide the side panel (P)")
        self.panel_button.clicked.connect(self.toggle_panel)
        self.help_button = QPushButton("Keys (F1)")
        self.help_button.clicked.connect(self.show_help)
        self.status.addPermanentWidget(self.panel_button)
        self.status.addPermanentWidget(self.help_button)

        self.panel.set_values(self._initial_values())
        # a saved model that no longer loads falls back to the default (one message); one named on the command
        # line does not: the video shows unprocessed, with the reason, as the user asked for that model
        fallback = None if self.options.model is not None else AUTO_MODEL
        self.bridge = PipelineBridge(
            self.panel.values().settings(self.options.threads, self.options.downsample), self, fallback_model=fallback
        )
        self.bridge.resultReady.connect(self._on_result_ready, Qt.ConnectionType.QueuedConnection)  # type: ignore[call-arg]
        self.bridge.statusChanged.connect(self._on_status, Qt.ConnectionType.QueuedConnection)  # type: ignore[call-arg]
        self.bridge.captureChanged.connect(self._on_capture_event, Qt.ConnectionType.QueuedConnection)  # type: ignore[call-arg]
        self.bridge.start()
        self.panel.changed.connect(self._apply_panel)
        self.panel.sourceSelected.connect(self._on_source_selected)
        self.vcam = VcamControl(self, self.bridge, self.qsettings, self.options.virtual_camera)
        self.vcam.attach(self.panel, self.status)
        self.vcam.changed.connect(self._update_hud)
        self._install_hotkeys()

        geometry = self.qsettings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 760)
        splitter = self.qsettings.value("window/splitter")
        if splitter is not None:
            self.splitter.restoreState(splitter)
            self._sync_panel_button()
        self._start_initial_source(source)
        self.vcam.start_if_wanted()

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
        cli: dict[str, Any] = {"effect": o.effect, "model": o.model, "backend": o.backend, "crop": o.crop}
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
        """Save the panel; the model only as the last one that loaded (never one that failed or is loading)."""
        values = dataclasses.replace(self.panel.values(), model=self._model_ok)
        for f in dataclasses.fields(PanelValues):
            self.qsettings.setValue(f"panel/{f.name}", getattr(values, f.name))
        self.qsettings.setValue("window/geometry", self.saveGeometry())
        self.qsettings.setValue("window/splitter", self.splitter.saveState())  # the panel's width, or hidden
        self.qsettings.sync()

    def _apply_panel(self) -> None:
        if hasattr(self, "bridge"):
            self.bridge.live.update(self.panel.values().settings(self.options.threads, self.options.downsample))

    # -- the panel ---------------------------------------------------------------------------------------
    def panel_visible(self) -> bool:
        return self.splitter.sizes()[1] > 0 and self.side.isVisible()

    def toggle_panel(self) -> None:
        """Hide or show the side panel (P, the status bar's button, or the divider dragged to the edge)."""
        sizes = self.splitter.sizes()
        total = sum(sizes)
        if self.isFullScreen():  # full screen shows the video only
            return
        if self.panel_visible():
            self._panel_width = sizes[1]
            self.splitter.setSizes([total, 0])
        else:
            width = max(self._panel_width, self.side.minimumWidth(), 260)
            self.splitter.setSizes([max(1, total - width), width])
        self._sync_panel_button()

    def _sync_panel_button(self) -> None:
        self.panel_button.setChecked(self.splitter.sizes()[1] > 0)

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
        """Open ``source`` and stream from it; on failure show the error page (the app keeps running)."""
        try:
            source.open()
        except CaptureError as exc:
            self.show_source_error(source, exc)
            return False
        self._failed = None
        self.bridge.set_source(source)
        self.bridge.live.reset()
        self.bridge.live.meter.reset()
        self._warm_since = None
        self.last_result = None
        if isinstance(source, CameraSource):
            self.qsettings.setValue("source/camera", source.index)
        self.stack.setCurrentWidget(self.video_page)
        self.view.set_message("")
        self.status.clearMessage()  # nothing said about the previous source still applies
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

    def show_source_error(self, source: Source, exc: Exception) -> None:
        """The error page for a source that could not be opened: a file names itself and what is wrong."""
        self.bridge.stop_capture()
        self._failed = source
        if isinstance(source, FileSource):
            title, detail = file_problem(source.path, exc)
            retry = "Try this file again"
        else:
            title, detail, retry = "No camera found", str(exc), "Try the camera again"
        self.source_page.show_problem(title, detail, retry)
        self.stack.setCurrentWidget(self.source_page)
        self.panel.set_cameras(self.cameras, "")
        self.panel.source_label.setText("")
        if self.last_result is None:  # nothing ran yet: no model is loaded before the first frame
            self.panel.model_label.setText("Running: nothing yet (no video)")
            self.panel.set_backend_text("")
        self.status.clearMessage()

    def open_file_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Play a video file", "", VIDEO_FILTER)
        if path:
            self.start_source(FileSource(path))

    def retry_source(self) -> None:
        """Reopen what failed: the same file, or the camera (the last one used)."""
        failed = self._failed
        if isinstance(failed, FileSource):
            self.start_source(FileSource(failed.path))
            return
        index = failed.index if isinstance(failed, CameraSource) else int(self.qsettings.value("source/camera", 0) or 0)
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
        if self._warm_since is None:  # the first frame since a start, a new source or a resume
            self._warm_since = time.monotonic()
        self.view.set_frame(r.output)
        self.display_latency_ms = (time.monotonic() - r.t_capture) * 1e3
        if self.recorder is not None:
            self.recorder.write(r.output, r.t_capture)
        self._update_hud()
        self.frameShown.emit()

    def _update_hud(self) -> None:
        """Only figures that are true now: none while paused, "no model" without one, rates after warm-up."""
        r = self.last_result
        if r is None:
            return
        if self.bridge.live.paused:
            lines = ["PAUSED (space resumes)"]
        else:
            warm = self._warm_since is not None and time.monotonic() - self._warm_since >= WARMUP_S
            lines = [f"capture     {r.capture_fps:5.1f} fps" if warm else "capture     measuring..."]
            if r.processed is None:
                lines.append("processing  no model")
            elif warm:
                lines += [
                    f"processing  {min(r.processing_fps, r.capture_fps or r.processing_fps):5.1f} fps",
                    f"latency     {self.display_latency_ms:5.0f} ms",
                ]
            else:
                lines.append("processing  measuring...")
            if r.region_count is not None:
                lines.append(f"regions     {r.region_count:5d}")
            if r.tracking is not None:  # objects now (seen or held) and distinct ids, per class
                lines += [
                    f"{c[:11]:11s} {r.tracking.counts.get(c, 0):5d} now, {n} seen"
                    for c, n in r.tracking.distinct.items()
                ]
            if r.processed is not None and r.processed.crop:
                lines.append(f"model sees  {'person crop' if r.processed.crop == 'window' else 'whole frame'}")
        if self.recorder is not None:
            lines.append(f"REC  {self.recorder.written} frames")
        if (vcam_line := self.vcam.hud_line()) is not None:
            lines.append(vcam_line)
        self.view.set_hud(lines)

    def _on_status(self, status: LiveStatus) -> None:
        if status.backend:
            self.panel.set_backend_text(status.backend)
        requested = self.bridge.live.settings.model
        if status.model_failed:
            # show (and later save) what runs instead, never the model that failed
            shown = self._model_ok if status.model and status.model_failed != self._model_ok else AUTO_MODEL
            self.panel.replace_model(status.model_failed, shown)
            if status.model:  # the panel now names what runs: no reload, and later changes keep it
                self.bridge.live.update(self.panel.values().settings(self.options.threads))
            requested = shown
        elif status.model and requested in (AUTO_MODEL, status.model):
            self._model_ok = requested
        self.panel.set_running_model(status.model, requested)
        if status.level == "info":  # a model that loads ends an earlier problem
            self.message_bar.clear()
            self.status.showMessage(f"model {Path(status.model).name} loaded", STATUS_MS)  # the panel says more
            return
        self.last_error = status.details or status.message
        self.message_bar.show_message(status.message, status.details, status.level)
        self.status.clearMessage()

    def _on_capture_event(self, event: CaptureEvent) -> None:
        if event.state is CaptureState.LOST:
            self.view.set_message(f"Camera lost: {event.message}", error=True)  # until it is back
        elif event.state is CaptureState.RUNNING and event.message:
            self.view.set_message("")
            self.status.showMessage(event.message, STATUS_MS)
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
        key("P", self.toggle_panel)
        key("V", self.vcam.toggle)
        key("Q", self.close)
        key("F1", self.show_help)
        key("Esc", lambda: self.toggle_fullscreen() if self.isFullScreen() else None)
        for i, name in enumerate(EFFECT_ORDER, 1):
            key(str(i), lambda n=name: self.select_effect(n))

    def select_effect(self, name: str) -> None:
        self.panel.set_effect(name)

    def toggle_pause(self) -> None:
        paused = not self.bridge.live.paused
        self.bridge.live.pause(paused)
        if not paused:  # rates start again after warm-up, from fresh figures
            self.bridge.live.meter.reset()
            self._warm_since = None
        self._update_hud()

    def toggle_hud(self) -> None:
        self.view.show_hud = not self.view.show_hud
        self.view.update()

    def toggle_fullscreen(self) -> None:
        if self.isFullScreen():
            self.side.show()
            self.status.show()
            self.showNormal()
            self._sync_panel_button()
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
            self.status.showMessage(f"recording to {self.recorder.path}", STATUS_MS)
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
            self.vcam.close()
            self.bridge.stop()
        if event is not None:
            event.accept()
