"""Real media files broken in the ways users' files break: a corrupt first group of pictures, a gap in an
image sequence. Made with PyAV/OpenCV, then damaged byte by byte (nothing is mocked)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from realtime_seg.io.synth import write_clip


def corrupt_first_gop(path: Path, n: int = 90, gop: int = 15, size_wh: tuple[int, int] = (64, 48)) -> Path:
    """An H.264 mp4 of ``n`` noise frames, keyframes every ``gop`` frames, whose first GOP's packets are
    overwritten with random bytes (the container and its index stay intact). FFmpeg decodes ``n - gop``."""
    rng = np.random.default_rng(0)
    w, h = size_wh
    clean = path.with_name(f"{path.stem}_clean{path.suffix}")
    frames = [rng.integers(0, 255, (h, w, 3), dtype=np.uint8) for _ in range(n)]
    write_clip(clean, frames, options={"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0"})
    c: Any
    with av.open(str(clean)) as c:
        packets = [(p.pos, p.size) for p in c.demux(c.streams.video[0]) if p.size]
    data = bytearray(clean.read_bytes())
    for pos, size in packets[:gop]:  # the first GOP in decoding order
        data[pos : pos + size] = rng.integers(0, 255, size, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    clean.unlink()
    return path


def sequence_with_gap(folder: Path, n: int = 12, missing: int = 9, size_wh: tuple[int, int] = (64, 48)) -> str:
    """``folder/000000.png`` .. ``folder/{n-1}.png`` without ``missing``; returns the ``%06d`` pattern."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    w, h = size_wh
    for i in range(n):
        if i != missing:
            img = rng.integers(0, 90, (h, w, 3), dtype=np.uint8)
            img[h // 4 : 3 * h // 4, w // 4 : w // 2] = 240
            cv2.imwrite(str(folder / f"{i:06d}.png"), img)
    return str(folder / "%06d.png")
