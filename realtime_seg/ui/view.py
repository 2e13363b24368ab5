"""The video view: the newest output frame, scaled with its aspect ratio kept, plus the HUD and messages;
and the message bar above it (one short line, the full text behind "Details...")."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QRectF, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QImage, QPainter, QPaintEvent, QResizeEvent
from PyQt6.QtWidgets import QFrame, QHBoxLayout, QLabel, QMessageBox, QPushButton, QSizePolicy, QWidget

#: the HUD's text height as a fraction of the view's height, and its limits in pixels
HUD_TEXT_FRACTION = 1 / 36
HUD_PIXELS_MIN, HUD_PIXELS_MAX = 9, 18


def bgr_to_qimage(frame: np.ndarray) -> QImage:
    """A QImage that owns a copy of the BGR uint8 ``(H, W, 3)`` frame's pixels."""
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"frame must be BGR uint8 (H, W, 3), got {frame.dtype} {frame.shape}")
    frame = np.ascontiguousarray(frame)
    h, w = frame.shape[:2]
    return QImage(frame.data, w, h, 3 * w, QImage.Format.Format_BGR888).copy()  # type: ignore[call-overload]


def fit_rect(image_wh: tuple[int, int], area: QRectF) -> QRectF:
    """The largest rectangle of the image's aspect ratio centred in ``area``."""
    iw, ih = image_wh
    s = min(area.width() / iw, area.height() / ih)
    w, h = iw * s, ih * s
    return QRectF(area.x() + (area.width() - w) / 2, area.y() + (area.height() - h) / 2, w, h)


class VideoView(QWidget):
    """Paints the frame into the largest aspect-correct rectangle. The painter works in device pixels on
    HiDPI screens (Qt scales the logical rectangle by ``devicePixelRatio``), so the frame stays sharp."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 120)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self._image: QImage | None = None
        self.hud_lines: list[str] = []
        self.message = ""
        self.message_is_error = False
        self.show_hud = True

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(960, 540)

    def set_frame(self, frame: np.ndarray) -> None:
        self._image = bgr_to_qimage(frame)
        self.update()

    def image(self) -> QImage | None:
        """The frame shown now (for tests and snapshots of what is displayed)."""
        return self._image

    def set_hud(self, lines: list[str]) -> None:
        self.hud_lines = lines
        self.update()

    def hud_pixel_size(self) -> int:
        """The HUD's font size: it scales with the view, so it never covers a small view."""
        return int(min(HUD_PIXELS_MAX, max(HUD_PIXELS_MIN, self.height() * HUD_TEXT_FRACTION)))

    def set_message(self, text: str, *, error: bool = False) -> None:
        self.message, self.message_is_error = text, error
        self.update()

    def paintEvent(self, event: QPaintEvent | None) -> None:  # noqa: N802 - Qt API
        p = QPainter(self)
        try:
            p.fillRect(self.rect(), QColor(20, 20, 22))
            if self._image is not None:
                p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
                p.drawImage(fit_rect((self._image.width(), self._image.height()), QRectF(self.rect())), self._image)
            font = QFont(self.font())
            font.setPixelSize(self.hud_pixel_size())
            p.setFont(font)
            fm = p.fontMetrics()
            if self.show_hud and self.hud_lines:
                pad, lh = max(3, fm.height() // 3), fm.height()
                w = max(fm.horizontalAdvance(t) for t in self.hud_lines) + 2 * pad
                box = QRectF(8, 8, w, lh * len(self.hud_lines) + 2 * pad)
                p.fillRect(box, QColor(0, 0, 0, 150))
                p.setPen(QColor(235, 235, 235))
                for i, line in enumerate(self.hud_lines):
                    p.drawText(QRectF(box.x() + pad, box.y() + pad + i * lh, w, lh), 0, line)
            if self.message:
                pad = 10
                width = min(self.width() - 40, fm.horizontalAdvance(self.message) + 2 * pad)
                flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
                bound = fm.boundingRect(0, 0, int(width - 2 * pad), 1000, int(flags.value), self.message)
                box = QRectF(
                    (self.width() - width) / 2,
                    self.height() - bound.height() - 2 * pad - 16,
                    width,
                    bound.height() + 2 * pad,
                )
                p.fillRect(box, QColor(150, 30, 30, 210) if self.message_is_error else QColor(0, 0, 0, 180))
                p.setPen(QColor(255, 255, 255))
                p.drawText(box.adjusted(pad, pad, -pad, -pad), int(flags.value), self.message)
        finally:
            p.end()


class MessageBar(QFrame):
    """One short line above the video, with "Details..." (the full text) and a close button. It stays until
    the user closes it or the window clears it because the situation changed (``dismissed`` on close)."""

    dismissed = pyqtSignal()

    _STYLE = {
        "error": "background: #8c1d1d; color: white;",
        "warning": "background: #7a5a00; color: white;",
        "info": "background: #2b3a4a; color: white;",
    }

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.level = "info"
        self.text = ""
        self.details = ""
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 3, 3, 3)
        self.label = QLabel("")
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row.addWidget(self.label, 1)
        self.details_button = QPushButton("Details...")
        self.details_button.clicked.connect(self.show_details)
        row.addWidget(self.details_button)
        self.close_button = QPushButton("\u2715")
        self.close_button.setToolTip("Dismiss")
        self.close_button.setFixedWidth(self.close_button.sizeHint().height())
        self.close_button.clicked.connect(self._dismiss)
        row.addWidget(self.close_button)
        self.details_box: QMessageBox | None = None
        self.hide()

    def show_message(self, text: str, details: str = "", level: str = "error") -> None:
        self.level, self.text, self.details = level, text, details
        self.setStyleSheet(  # scoped to the bar's own label: the details box must keep the normal look
            f"MessageBar {{ {self._STYLE.get(level, self._STYLE['info'])} }} MessageBar > QLabel {{ color: white; }}"
        )
        self.label.setToolTip(details or text)
        self._elide()
        self.show()

    def clear(self) -> None:
        self.text = self.details = ""
        self.hide()

    def show_details(self) -> None:
        box = QMessageBox(self.window())
        box.setIcon(QMessageBox.Icon.Critical if self.level == "error" else QMessageBox.Icon.Warning)
        box.setWindowTitle("realtime-seg: details")
        box.setText(self.text)
        if self.details and self.details != self.text:
            box.setDetailedText(self.details)
            box.setInformativeText("Show Details... for the full text.")
        box.open()
        self.details_box = box

    def _dismiss(self) -> None:
        self.clear()
        self.dismissed.emit()

    def _elide(self) -> None:
        fm = self.label.fontMetrics()
        shown = fm.elidedText(self.text, Qt.TextElideMode.ElideRight, max(40, self.label.width()))
        self.label.setText(shown)
        self.details_button.setVisible((bool(self.details) and self.details != self.text) or shown != self.text)

    def resizeEvent(self, event: QResizeEvent | None) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._elide()
