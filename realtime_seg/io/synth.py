"""Synthetic clips for the demo, the benchmark and tests.

- :func:`ken_burns_frames`: a photo panned and zoomed (Ken Burns) over a moving textured background.
- :func:`pattern_frames`: small moving test patterns (bright square over dark gradient), cheap to make.
- :func:`write_clip`: encode frames with PyAV directly (not through :class:`~realtime_seg.io.video_writer.VideoWriter`,
  so tests of the writer do not depend on themselves), optionally with an AAC/Opus/... tone as audio.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np


def _texture(size_wh: tuple[int, int], seed: int) -> np.ndarray:
    """A colourful, blurry, bokeh-like texture (BGR uint8) of ``size_wh``."""
    w, h = size_wh
    rng = np.random.default_rng(seed)
    small = rng.integers(40, 200, (max(2, h // 48), max(2, w // 48), 3), dtype=np.uint8)
    tex = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    for _ in range(max(8, w * h // 12000)):
        cx, cy = int(rng.integers(0, w)), int(rng.integers(0, h))
        r = int(rng.integers(max(3, h // 40), max(4, h // 10)))
        color = tuple(int(c) for c in rng.integers(90, 255, 3))
        cv2.circle(tex, (cx, cy), r, color, -1, lineType=cv2.LINE_AA)
    # thin stripes give the blur something to visibly smooth
    for x in range(0, w, max(8, w // 64)):
        cv2.line(tex, (x, 0), (x, h - 1), (30, 30, 30), 1, lineType=cv2.LINE_AA)
    return tex


def ken_burns_frames(
    photo_bgr: np.ndarray,
    *,
    size_wh: tuple[int, int] = (1280, 720),
    n_frames: int = 105,
    seed: int = 0,
) -> Iterator[np.ndarray]:
    """``n_frames`` BGR frames: ``photo_bgr`` panned left to right and zoomed in over a scrolling texture."""
    if photo_bgr.ndim != 3 or photo_bgr.shape[2] != 3 or photo_bgr.dtype != np.uint8:
        raise ValueError(f"photo must be BGR uint8 (H, W, 3), got {photo_bgr.dtype} {photo_bgr.shape}")
    if n_frames < 1:
        raise ValueError(f"n_frames must be >= 1, got {n_frames}")
    w, h = size_wh
    ph, pw = photo_bgr.shape[:2]
    tex = _texture((w * 2, h), seed)
    for i in range(n_frames):
        u = i / max(1, n_frames - 1)
        ease = 0.5 - 0.5 * np.cos(np.pi * u)
        off = int(round(ease * w * 0.6))
        canvas = np.ascontiguousarray(tex[:, off : off + w])
        scale = (0.80 + 0.15 * ease) * h / ph  # photo height 80% -> 95% of the frame
        cx = w * (0.30 + 0.40 * ease)  # pans from left third to right third
        cy = h * (0.52 - 0.02 * ease)
        m = np.array([[scale, 0.0, cx - scale * pw / 2], [0.0, scale, cy - scale * ph / 2]], np.float64)
        cv2.warpAffine(photo_bgr, m, (w, h), dst=canvas, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_TRANSPARENT)
        yield canvas


def pattern_frames(size_wh: tuple[int, int], n_frames: int, *, grey: bool = False) -> Iterator[np.ndarray]:
    """A bright square moving over a dark gradient: the tiny "brightness" test model segments the square."""
    w, h = size_wh
    grad = np.linspace(10, 90, w, dtype=np.float32)[None, :].repeat(h, 0)
    base = np.dstack([grad, grad * 0.8, grad * 0.6]).astype(np.uint8)
    side = max(2, min(w, h) // 3)
    for i in range(n_frames):
        f = base.copy()
        x = int((w - side) * (i / max(1, n_frames - 1)))
        y = (h - side) // 2
        f[y : y + side, x : x + side] = (230, 240, 250)
        yield cv2.cvtColor(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR) if grey else f


def write_clip(
    path: str | Path,
    frames: Iterable[np.ndarray],
    *,
    fps: int | Fraction = 30,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    options: dict[str, str] | None = None,
    audio: str | None = None,
    audio_rate: int = 44100,
    rotation: int = 0,
    container_options: dict[str, str] | None = None,
) -> Path:
    """Encode BGR frames to ``path`` with PyAV; ``audio="aac"`` (etc.) adds a 440 Hz tone as long as the video."""
    path = Path(path)
    frames = iter(frames)
    first = next(frames)
    h, w = first.shape[:2]
    c: Any = av.open(str(path), "w", options=container_options or {})
    try:
        v = c.add_stream(codec, rate=fps)
        v.width, v.height, v.pix_fmt = w, h, pix_fmt
        v.options = options if options is not None else ({"preset": "ultrafast"} if codec == "libx264" else {})
        if rotation:
            v.set_display_rotation(rotation)
        a = None
        if audio:
            a = c.add_stream(audio, rate=audio_rate)
            a.layout = "mono"
        n = 0
        for img in _chain(first, frames):
            c.mux(v.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="bgr24")))
            n += 1
        c.mux(v.encode(None))
        if a is not None:
            total = int(audio_rate * n / float(fps))
            chunk = 1024
            for start in range(0, total, chunk):
                t = (np.arange(start, min(total, start + chunk)) / audio_rate).astype(np.float32)
                samples = (0.2 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)[None]
                af = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
                af.sample_rate = audio_rate
                af.pts = start
                c.mux(a.encode(af))
            c.mux(a.encode(None))
    finally:
        c.close()
    return path


def _chain(first: np.ndarray, rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    yield first
    yield from rest
