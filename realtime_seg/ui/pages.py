"""The window's parts besides the main window itself: command-line options, the hotkey list and the page shown
when no source could be opened."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from realtime_seg.pipeline.live import short_error
from realtime_seg.pipeline.settings import DEFAULT_THREADS
from realtime_seg.pipeline.vcam import VcamConfig
from realtime_seg.ui.controls import EFFECT_ORDER

HOTKEYS: tuple[tuple[str, str], ...] = (
    ("Space", "pause / resume"),
    ("S", "snapshot (PNG)"),
    ("R", "start / stop recording (MP4)"),
    ("F", "full screen on / off"),
    ("1-6", "effects: " + ", ".join(f"{i} {n}" for i, n in enumerate(EFFECT_ORDER, 1))),
    ("H", "heads-up display on / off"),
    ("P", "side panel on / off (or drag the divider)"),
    ("V", "virtual camera on / off (for video calls)"),
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
    crop: str | None = None
    threads: int = DEFAULT_THREADS
    output_dir: Path | None = None
    downsample: float | None = None  #: rvm's working resolution (None: from the frame size)
    camera_size_wh: tuple[int, int] = (1280, 720)
    virtual_camera: VcamConfig | None = None  # start with the virtual camera on (``live --preview``)

    def __post_init__(self) -> None:
        if self.camera is not None and self.input is not None:
            raise ValueError("give a camera or an input file, not both")


class SourceErrorPage(QWidget):
    """Shown instead of the video when no source could be opened: what failed and why, "Open a video file..."
    and a retry of the same source (the camera, or the same file: never a camera the user did not ask for)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        self.title = QLabel("")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title.setWordWrap(True)
        self.detail = QLabel("")
        self.detail.setWordWrap(True)
        self.detail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
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

    def show_problem(self, title: str, detail: str, retry: str) -> None:
        self.title.setText(f"<h2>{html.escape(title)}</h2>")
        self.detail.setText(detail)
        self.retry_button.setText(retry)


def file_problem(path: Path, exc: Exception) -> tuple[str, str]:
    """Title and explanation for a video file that cannot be played."""
    if not path.exists():
        return f"Cannot find {path.name}", f"The file {path} does not exist."
    if path.is_dir():
        return f"Cannot play {path.name}", f"{path} is a folder, not a video file."
    why = re.search(r"\(([^()]+)\)\s*$", str(exc))  # FFmpeg's own words, e.g. "Invalid data found ..."
    reason = why.group(1) if why else short_error(exc).removeprefix(f"cannot play {path.name}: ")
    return f"Cannot play {path.name}", f"It is not a video that can be played: {reason}.\n{path}"
