"""Small real video files for the capture tests, encoded with PyAV."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np


def write_clip(path: Path, frames: int = 12, size_wh: tuple[int, int] = (96, 64), fps: int = 30) -> Path:
    """An H.264 MP4 whose frame k is filled with grey level 20*k (so frames can be told apart)."""
    w, h = size_wh
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for k in range(frames):
            img = np.full((h, w, 3), (20 * k) % 256, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
