"""The side panel: source, effect and its settings, refinement, model, and the active backend and why."""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import (
    QCheckBox,
    QColorDialog,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from realtime_seg.backends.select import BACKEND_NAMES
from realtime_seg.capture.sources import CameraInfo
from realtime_seg.models.registry import AUTO_MODEL, builtin_names
from realtime_seg.ui.controls import PanelValues

OPEN_FILE = "Open file..."
OPEN_MODEL = "Open model..."
VIDEO_FILTER = "Videos (*.mp4 *.mov *.mkv *.avi *.webm);;All files (*)"
MEDIA_FILTER = "Images and videos (*.png *.jpg *.jpeg *.bmp *.mp4 *.mov *.mkv *.avi *.webm);;All files (*)"


def _slider(lo: int, hi: int) -> QSlider:
    s = QSlider(Qt.Orientation.Horizontal)
    s.setRange(lo, hi)
    return s


def _with_value(slider: QSlider, fmt: str = "{}") -> QWidget:
    """The slider with a label after it that shows its value."""
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    label = QLabel(fmt.format(slider.value()))
    label.setMinimumWidth(label.fontMetrics().horizontalAdvance("100%") + 4)
    label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    slider.valueChanged.connect(lambda v: label.setText(fmt.format(v)))
    row.addWidget(slider, 1)
    row.addWidget(label)
    return box


def _form(box: QGroupBox) -> QFormLayout:
    """A form that puts a row's field under its label when the panel is narrow."""
    form = QFormLayout(box)
    form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
    return form


class ControlPanel(QWidget):
    """Emits ``changed`` when an effect/refinement/model setting changes and ``sourceSelected(int | str)``
    when the user picks a camera index or a file."""

    changed = pyqtSignal()
    sourceSelected = pyqtSignal(object)  # noqa: N815 - Qt naming

    def __init__(self, effects: tuple[str, ...], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumWidth(200)
        self._loading = False
        self._background = ""
        self._color = QColor("#00b140")
        self._model = AUTO_MODEL  # the model chosen (restored when "Open model..." is cancelled)
        layout = QVBoxLayout(self)

        # source
        box = QGroupBox("Source")
        form = _form(box)
        self.source_combo = QComboBox()
        self.source_combo.activated.connect(self._source_activated)
        form.addRow(self.source_combo)
        self.source_label = QLabel("")
        self.source_label.setWordWrap(True)
        form.addRow(self.source_label)
        layout.addWidget(box)

        # effect
        box = QGroupBox("Effect")
        form = _form(box)
        self.effect_combo = QComboBox()
        self.effect_combo.addItems(effects)
        form.addRow("Effect", self.effect_combo)
        self.blur_slider = _slider(1, 100)
        blur = _with_value(self.blur_slider)
        self.blur_value = blur.findChild(QLabel)
        form.addRow("Blur strength", blur)
        row = QHBoxLayout()
        self.background_button = QPushButton("Background...")
        self.background_button.clicked.connect(self._pick_background)
        self.background_clear = QPushButton("Clear")
        self.background_clear.clicked.connect(lambda: self.set_background(""))
        row.addWidget(self.background_button)
        row.addWidget(self.background_clear)
        form.addRow(row)
        self.background_label = QLabel("colour")
        self.background_label.setWordWrap(True)
        form.addRow("Background", self.background_label)
        self.color_button = QPushButton()
        self.color_button.clicked.connect(self._pick_color)
        form.addRow("Colour", self.color_button)
        self.alpha_slider = _slider(5, 100)
        form.addRow("Overlay alpha", _with_value(self.alpha_slider, "{}%"))
        self.outlines_check = QCheckBox("Region outlines")
        form.addRow(self.outlines_check)
        layout.addWidget(box)

        # refinement
        box = QGroupBox("Refinement")
        form = _form(box)
        self.smoothing_slider = _slider(0, 95)
        form.addRow("Smoothing", _with_value(self.smoothing_slider, "{}%"))
        self.threshold_check = QCheckBox("Hard edge at")
        self.threshold_slider = _slider(5, 95)
        form.addRow(self.threshold_check, _with_value(self.threshold_slider, "{}%"))
        self.edge_check = QCheckBox("Edge refinement")
        form.addRow(self.edge_check)
        layout.addWidget(box)

        # model
        box = QGroupBox("Model")
        form = _form(box)
        self.model_combo = QComboBox()
        self.model_combo.addItem(AUTO_MODEL)
        auto_tip = "picks selfie-landscape for landscape video, selfie for portrait or square video"
        self.model_combo.setItemData(0, auto_tip, Qt.ItemDataRole.ToolTipRole)
        self.model_combo.addItems(builtin_names())
        self.model_combo.addItem(OPEN_MODEL)
        form.addRow("Model", self.model_combo)
        self.model_label = QLabel("Running: loading...")
        self.model_label.setWordWrap(True)
        form.addRow(self.model_label)
        self.crop_check = QCheckBox("Person crop")
        self.crop_check.setToolTip(
            "The selfie models run on a window around the people found in the previous frame: much better masks "
            "of people far from the camera (the whole frame is still checked about once a second)"
        )
        form.addRow(self.crop_check)
        self.backend_combo = QComboBox()
        self.backend_combo.addItems(BACKEND_NAMES)
        form.addRow("Backend", self.backend_combo)
        self.backend_label = QLabel("starting...")
        self.backend_label.setWordWrap(True)
        self.backend_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow(self.backend_label)
        layout.addWidget(box)
        layout.addStretch(1)

        for combo in (self.effect_combo, self.backend_combo):
            combo.currentIndexChanged.connect(self._emit)
        self.model_combo.activated.connect(self._model_activated)
        for s in (self.blur_slider, self.alpha_slider, self.smoothing_slider, self.threshold_slider):
            s.valueChanged.connect(self._emit)
        for c in (self.outlines_check, self.threshold_check, self.edge_check, self.crop_check):
            c.toggled.connect(self._emit)
        self.set_values(PanelValues())

    # -- values --------------------------------------------------------------------------------------
    def values(self) -> PanelValues:
        return PanelValues(
            effect=self.effect_combo.currentText(),
            blur_strength=self.blur_slider.value(),
            background=self._background,
            color=self._color.name(),
            overlay_alpha=self.alpha_slider.value() / 100,
            outlines=self.outlines_check.isChecked(),
            smoothing=self.smoothing_slider.value() / 100,
            threshold_on=self.threshold_check.isChecked(),
            threshold=self.threshold_slider.value() / 100,
            edge=self.edge_check.isChecked(),
            model=self.model_combo.currentText(),
            backend=self.backend_combo.currentText(),
            crop="auto" if self.crop_check.isChecked() else "off",
        )

    def set_values(self, v: PanelValues) -> None:
        """Show ``v`` without emitting ``changed`` for each control (one ``changed`` at the end)."""
        self._loading = True
        try:
            if self.effect_combo.findText(v.effect) >= 0:
                self.effect_combo.setCurrentText(v.effect)
            self.blur_slider.setValue(v.blur_strength)
            self.set_background(v.background)
            self._set_color(QColor(v.color))
            self.alpha_slider.setValue(round(v.overlay_alpha * 100))
            self.outlines_check.setChecked(v.outlines)
            self.smoothing_slider.setValue(round(v.smoothing * 100))
            self.threshold_check.setChecked(v.threshold_on)
            self.threshold_slider.setValue(round(v.threshold * 100))
            self.edge_check.setChecked(v.edge)
            self.set_model(v.model)
            self.crop_check.setChecked(v.crop == "auto")
            if self.backend_combo.findText(v.backend) >= 0:
                self.backend_combo.setCurrentText(v.backend)
        finally:
            self._loading = False
        self._update_enabled()
        self.changed.emit()

    def set_effect(self, name: str) -> bool:
        if self.effect_combo.findText(name) < 0:
            return False
        self.effect_combo.setCurrentText(name)
        return True

    def set_model(self, model: str) -> None:
        if self.model_combo.findText(model) < 0:
            self.model_combo.insertItem(self.model_combo.count() - 1, model)
        self.model_combo.setCurrentText(model)
        self._model = model

    def replace_model(self, failed: str, model: str) -> None:
        """``failed`` could not be loaded: drop it from the list (if it is a file) and show ``model``, without
        emitting ``changed`` (``model`` already runs)."""
        self._loading = True
        try:
            self.set_model(model)
            i = self.model_combo.findText(failed)
            if i >= 0 and failed not in (AUTO_MODEL, *builtin_names()):
                self.model_combo.removeItem(i)
        finally:
            self._loading = False

    def set_running_model(self, model: str, requested: str) -> None:
        """Say which model runs (what ``auto`` chose); ``model`` "" when none does."""
        if not model:
            text = "Running: no model (video unprocessed)"
        elif requested == AUTO_MODEL:
            text = f"Running: {model} (chosen by auto for this video's shape)"
        else:
            text = f"Running: {Path(model).name}"
        self.model_label.setText(text)
        self.model_label.setToolTip(model)

    def set_background(self, path: str) -> None:
        self._background = path
        self.background_label.setText(Path(path).name if path else "colour")
        self.background_label.setToolTip(path)
        self._emit()

    def set_cameras(self, cameras: list[CameraInfo], current: str) -> None:
        """List the cameras (name and resolution) plus "Open file..."; ``current`` names the active source."""
        self.source_combo.clear()
        if not current:
            self.source_combo.addItem("(no video)", None)
        for cam in cameras:
            self.source_combo.addItem(cam.label, cam.index)
        if current and all(cam.label != current for cam in cameras):
            self.source_combo.addItem(current, None)
        self.source_combo.addItem(OPEN_FILE, OPEN_FILE)
        idx = self.source_combo.findText(current)
        self.source_combo.setCurrentIndex(max(idx, 0))

    def set_backend_text(self, text: str) -> None:
        self.backend_label.setText(text)

    # -- internals -----------------------------------------------------------------------------------
    def _emit(self) -> None:
        if not self._loading:
            self._update_enabled()
            self.changed.emit()

    def _update_enabled(self) -> None:
        e = self.effect_combo.currentText()
        self.blur_slider.setEnabled(e == "blur")
        for w in (self.background_button, self.background_clear, self.background_label):
            w.setEnabled(e == "replace")
        self.color_button.setEnabled(e in ("replace", "overlay"))
        self._style_color_button()
        self.alpha_slider.setEnabled(e == "overlay")
        self.threshold_slider.setEnabled(self.threshold_check.isChecked())

    def _source_activated(self, index: int) -> None:
        data = self.source_combo.itemData(index)
        if data == OPEN_FILE:
            path, _ = QFileDialog.getOpenFileName(self, "Play a video file", "", VIDEO_FILTER)
            if path:
                self.sourceSelected.emit(path)
        elif isinstance(data, int):
            self.sourceSelected.emit(data)

    def _model_activated(self, index: int) -> None:
        if self.model_combo.itemText(index) == OPEN_MODEL:
            path, _ = QFileDialog.getOpenFileName(
                self, "Open an ONNX model (with its .toml spec)", "", "ONNX models (*.onnx)"
            )
            self._loading = True
            try:
                self.set_model(path or self._model)  # cancelled: the model chosen before
            finally:
                self._loading = False
        self._model = self.model_combo.currentText()
        self._emit()

    def _pick_background(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Background image or video", "", MEDIA_FILTER)
        if path:
            self.set_background(path)

    def _pick_color(self) -> None:
        c = QColorDialog.getColor(self._color, self, "Colour")
        if c.isValid():
            self._set_color(c)
            self._emit()

    def _set_color(self, c: QColor) -> None:
        self._color = c
        self.color_button.setText(c.name())
        self._style_color_button()

    def _style_color_button(self) -> None:
        """The chosen colour as the button's fill while the effect uses it; a plain, greyed button otherwise."""
        c = self._color
        if self.color_button.isEnabled():
            text = "black" if c.lightness() > 128 else "white"
            self.color_button.setStyleSheet(  # a border makes Qt fill flat: the swatch is the colour itself
                f"QPushButton {{ background-color: {c.name()}; color: {text}; border: 1px solid #606060; "
                "border-radius: 3px; padding: 4px; }"
            )
            self.color_button.setToolTip("the colour of the overlay or the replaced background")
        else:
            self.color_button.setStyleSheet("")
            self.color_button.setToolTip("used by the replace and overlay effects")
