"""Qt tests run on the offscreen platform with real widgets; a test must leave no thread running."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Callable, Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PyQt6.QtCore import QSettings, QThread  # noqa: E402
from PyQt6.QtGui import QImage  # noqa: E402

from realtime_seg.capture.sources import Source, SyntheticSource  # noqa: E402
from realtime_seg.ui.window import AppOptions, MainWindow  # noqa: E402
from tests.thread_check import no_new_threads  # noqa: E402
from tests.tiny_models import write_user_model  # noqa: E402


@pytest.fixture(autouse=True)
def _no_thread_leak(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """napari's check: fail a test that leaves a QThread or a Python thread it started running."""
    started: list[QThread] = []
    original = QThread.start

    def start(self: QThread, *args: Any) -> None:
        started.append(self)
        original(self, *args)

    monkeypatch.setattr(QThread, "start", start)
    with no_new_threads():
        yield
    assert not [t for t in started if t.isRunning()], "a QThread started by the test is still running"


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(write_user_model(tmp_path_factory.mktemp("models"), "brightness"))


def to_array(image: QImage) -> np.ndarray:
    """A displayed QImage as a BGR uint8 array."""
    img = image.convertToFormat(QImage.Format.Format_BGR888)
    h, w, bpl = img.height(), img.width(), img.bytesPerLine()
    ptr = img.constBits()
    assert ptr is not None
    ptr.setsize(bpl * h)
    return np.frombuffer(ptr, np.uint8).reshape(h, bpl)[:, : 3 * w].reshape(h, w, 3).copy()


MakeWindow = Callable[..., MainWindow]


@pytest.fixture
def make_window(qtbot: Any, tmp_path: Path, tiny_model: str) -> Iterator[MakeWindow]:
    """Builds a shown window on a small synthetic camera with the tiny model; closes it afterwards."""
    windows: list[MainWindow] = []

    def make(source: Source | None = None, **opts: Any) -> MainWindow:
        options = {"model": tiny_model, "backend": "onnxruntime", "effect": "none", "output_dir": tmp_path / "out"}
        options.update(opts)
        w = MainWindow(
            AppOptions(**options),
            qsettings=QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat),
            source=source if source is not None or {"camera", "input"} & set(opts) else SyntheticSource((160, 120)),
            cameras=[],
        )
        qtbot.addWidget(w)
        w.resize(640, 400)
        w.show()
        windows.append(w)
        return w

    yield make
    for w in windows:
        w.close()
        assert not w.bridge.live.alive
        assert w.bridge.capture is None
