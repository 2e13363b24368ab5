"""The video view: the newest output frame, scaled with its aspect ratio kept, plus the HUD and messages."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QRectF, QSize, Qt
from PyQt6.QtGui import QColor, QFont, QImage, QPainter, QPaintEvent
from PyQt6.QtWidgets import QSizePolicy, QWidget


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
            font.setPointSizeF(max(9.0, font.pointSizeF()))
            p.setFont(font)
            fm = p.fontMetrics()
            if self.show_hud and self.hud_lines:
                pad, lh = 6, fm.height()
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
