"""Small real video files made in the tests (PyAV encodes them; nothing is faked)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from realtime_seg.io.synth import pattern_frames, write_clip


def make_clip(
    path: Path,
    size_wh: tuple[int, int] = (64, 48),
    n: int = 12,
    *,
    audio: str | None = None,
    grey: bool = False,
    **kw: Any,
) -> Path:
    """A bright square sliding over a dark gradient (the tiny brightness model segments the square)."""
    return write_clip(path, pattern_frames(size_wh, n, grey=grey), audio=audio, **kw)


def truncate(path: Path, keep: float = 0.5) -> Path:
    """A copy of ``path`` with only the first ``keep`` of its bytes: a download cut off half-way."""
    data = path.read_bytes()
    cut = path.with_name(f"{path.stem}_cut{path.suffix}")
    cut.write_bytes(data[: int(len(data) * keep)])
    return cut


def probe(path: Path) -> dict[str, Any]:
    """What an ffprobe would tell: video frames/size/rotation and the audio stream's codec/rate/duration."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = list(c.decode(v))
        info: dict[str, Any] = {
            "frames": len(frames),
            "size_wh": (frames[0].width, frames[0].height) if frames else None,
            "rotation": frames[0].rotation if frames else None,
            "pts_s": [float(f.pts * v.time_base) for f in frames],
            "codec": v.codec_context.name,
            "audio": None,
        }
    with av.open(str(path)) as c:
        if c.streams.audio:
            a = c.streams.audio[0]
            packets = [p for p in c.demux(a) if p.size]
            end = max(float((p.pts + (p.duration or 0)) * p.time_base) for p in packets)
            info["audio"] = {
                "codec": a.codec_context.name,
                "rate": a.rate,
                "channels": a.codec_context.channels,
                "packets": len(packets),
                "end_s": end,
                "bytes": sum(p.size for p in packets),
            }
    return info


def vfr_clip(path: Path, pts_ms: list[int], size_wh: tuple[int, int] = (64, 48)) -> Path:
    """A variable-frame-rate mkv: frames at the given millisecond timestamps."""
    w, h = size_wh
    c: Any = av.open(str(path), "w")
    try:
        v = c.add_stream("libx264", rate=30)
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        v.codec_context.time_base = Fraction(1, 1000)
        v.options = {"preset": "ultrafast"}
        for img, pts in zip(pattern_frames(size_wh, len(pts_ms)), pts_ms, strict=True):
            f = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="bgr24")
            f.pts = pts
            f.time_base = Fraction(1, 1000)
            c.mux(v.encode(f))
        c.mux(v.encode(None))
    finally:
        c.close()
    return path
