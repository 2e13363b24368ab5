"""Render the desktop app's screenshots offscreen: docs/app_blur.png and docs/app_outlines.png.

Usage: QT_QPA_PLATFORM=offscreen python tools/app_screenshots.py [--out-dir docs]
Plays a 1280x720 clip made from the astronaut sample photo (panned and zoomed) as the camera.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PyQt6.QtCore import QSettings  # noqa: E402
from PyQt6.QtGui import QImage  # noqa: E402
from PyQt6.QtWidgets import QApplication  # noqa: E402

from realtime_seg.capture.sources import FileSource  # noqa: E402
from realtime_seg.io.samples import load_sample  # noqa: E402
from realtime_seg.io.synth import ken_burns_frames, write_clip  # noqa: E402
from realtime_seg.ui.window import AppOptions, MainWindow  # noqa: E402


def grab(window: MainWindow) -> np.ndarray:
    img = window.grab().toImage().convertToFormat(QImage.Format.Format_BGR888)
    h, w, bpl = img.height(), img.width(), img.bytesPerLine()
    ptr = img.constBits()
    assert ptr is not None
    ptr.setsize(bpl * h)
    return np.frombuffer(ptr, np.uint8).reshape(h, bpl)[:, : 3 * w].reshape(h, w, 3).copy()


def save_small_png(image: np.ndarray, out: Path, limit: int = 300_000) -> None:
    """A PNG under ``limit`` bytes: lossless if it fits, else reduced to a 256-colour palette (Pillow)."""
    ok, buf = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    assert ok
    if len(buf) > limit:
        from PIL import Image

        pal = Image.fromarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB)).quantize(256, dither=Image.Dither.NONE)
        pal.save(out, optimize=True)
    else:
        out.write_bytes(buf.tobytes())


def shoot(app: QApplication, clip: Path, tmp: Path, out: Path, effect: str, outlines: bool) -> Path:
    settings = QSettings(str(tmp / f"{effect}.ini"), QSettings.Format.IniFormat)
    w = MainWindow(
        AppOptions(effect=effect, backend="auto", output_dir=tmp),
        qsettings=settings,
        source=FileSource(clip),
        cameras=[],
    )
    w.panel.outlines_check.setChecked(outlines)
    w.resize(1080, 580)
    w.show()
    deadline = time.monotonic() + 60

    def ready() -> bool:  # a few seconds in, with the HUD's rates past their warm-up
        warm = any(line.endswith("ms") for line in w.view.hud_lines)
        return w.last_result is not None and w.last_result.index >= 45 and warm

    while not ready() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.005)
    app.processEvents()
    image = grab(w)  # grab() renders the frame on screen now; no pause, so the HUD shows live figures
    w.close()
    save_small_png(image, out)
    print(f"wrote {out} ({out.stat().st_size // 1024} KB, {image.shape[1]}x{image.shape[0]})")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out-dir", type=Path, default=Path("docs"))
    args = ap.parse_args()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        clip = write_clip(tmp / "astronaut.mp4", ken_burns_frames(load_sample("astronaut"), n_frames=90), fps=30)
        shoot(app, clip, tmp, args.out_dir / "app_blur.png", "blur", outlines=False)
        shoot(app, clip, tmp, args.out_dir / "app_outlines.png", "blur", outlines=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
