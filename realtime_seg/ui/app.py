"""Starting the desktop app: the QApplication, the main window, the event loop."""

from __future__ import annotations

import sys

from PyQt6.QtWidgets import QApplication

from realtime_seg.ui.window import AppOptions, MainWindow


def run_app(options: AppOptions) -> int:
    """Show the window until it is closed; returns the exit code."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("realtime-seg")
    app.setOrganizationName("realtime-seg")
    window = MainWindow(options)
    window.show()
    return int(app.exec())
