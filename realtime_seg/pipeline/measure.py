"""Measuring the live pipeline headless: what ``realtime-seg app --measure SECONDS`` prints.

It runs the same capture thread and processing thread as the app, without Qt, and reports capture FPS,
processing FPS, capture-to-output latency (median, p90), the most frames ever queued and the frames dropped.

Only scalars are kept per frame (the latency and the stage timings, as float64 arrays): never the output
image or the mask, so memory stays flat however long it runs (``tools/soak.py`` checks that).
"""

from __future__ import annotations

import threading
import time
from array import array
from dataclasses import dataclass, replace

import numpy as np

from realtime_seg.capture.slot import LatestFrameSlot
from realtime_seg.capture.sources import Source
from realtime_seg.capture.thread import CaptureThread
from realtime_seg.models.registry import resolve_auto
from realtime_seg.pipeline.live import LivePipeline, LiveResult, LiveStatus
from realtime_seg.pipeline.settings import ProcessingSettings


class _Scalars:
    """Per-frame latency and stage timings as compact float arrays (8 bytes a value); nothing else."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.frames = 0
        self.latency_ms = array("d")
        self.stage_ms: dict[str, array[float]] = {}

    def add(self, r: LiveResult) -> None:
        with self.lock:
            self.frames += 1
            self.latency_ms.append(r.latency_ms)
            for k, v in r.timings_ms.items():
                self.stage_ms.setdefault(k, array("d")).append(float(v))


@dataclass(frozen=True)
class LiveStats:
    seconds: float
    source: str
    source_size_wh: tuple[int, int]
    source_fps: float
    backend: str
    frames_captured: int
    frames_processed: int
    capture_fps: float
    processing_fps: float
    latency_median_ms: float
    latency_p90_ms: float
    latency_max_ms: float
    max_queued: int
    dropped: int
    stage_ms: dict[str, float]
    messages: tuple[str, ...]

    def lines(self) -> list[str]:
        w, h = self.source_size_wh
        stages = ", ".join(f"{k} {v:.1f}" for k, v in self.stage_ms.items())
        return [
            f"source:           {self.source} ({w}x{h} @ {self.source_fps:.1f} fps)",
            f"backend:          {self.backend}",
            f"measured:         {self.seconds:.1f} s",
            f"capture FPS:      {self.capture_fps:.1f} ({self.frames_captured} frames)",
            f"processing FPS:   {self.processing_fps:.1f} ({self.frames_processed} frames)",
            f"latency (capture to output): median {self.latency_median_ms:.1f} ms, p90 {self.latency_p90_ms:.1f} ms, "
            f"max {self.latency_max_ms:.1f} ms",
            f"max queued:       {self.max_queued} frame(s)",
            f"dropped:          {self.dropped} frame(s) replaced before processing",
            f"stage medians ms: {stages}",
        ]


def measure_live(
    source: Source,
    settings: ProcessingSettings,
    seconds: float,
    *,
    warmup_s: float = 1.0,
    measuring_started: threading.Event | None = None,
) -> LiveStats:
    """Open ``source``, load the model, then stream for ``warmup_s + seconds`` and measure the last ``seconds``.

    ``measuring_started`` (optional) is set when the measured window begins (the model is loaded and frames flow).
    """
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    kept = _Scalars()
    statuses: list[LiveStatus] = []
    measuring = threading.Event()

    def on_result(r: LiveResult) -> None:
        if measuring.is_set():
            kept.add(r)  # scalars only: the result (image, mask) is dropped here

    slot = LatestFrameSlot()
    source.open()
    # loaded before the clock
    settings = replace(settings, model=resolve_auto(settings.model, source.size_wh, settings.backend))
    capture = CaptureThread(source, slot)
    live = LivePipeline(slot, settings, on_result=on_result, on_status=statuses.append, capture_fps=lambda: capture.fps)
    live.start()
    try:
        live.ready.wait(120)  # the model loads before the clock starts
        capture.start()
        time.sleep(warmup_s)
        f0, d0 = capture.frames, slot.dropped
        slot.max_pending = 0
        measuring.set()
        if measuring_started is not None:
            measuring_started.set()
        t0 = time.monotonic()
        time.sleep(seconds)
        measuring.clear()
        elapsed = time.monotonic() - t0
        f1, d1, max_pending = capture.frames, slot.dropped, slot.max_pending
    finally:
        live.stop()
        capture.stop()
    with kept.lock:
        n = kept.frames
        lat = np.frombuffer(kept.latency_ms, np.float64).copy() if n else np.array([np.nan])
        stages = {k: float(np.median(np.frombuffer(v, np.float64))) for k, v in sorted(kept.stage_ms.items())}
    return LiveStats(
        seconds=elapsed,
        source=source.name,
        source_size_wh=source.size_wh,
        source_fps=source.fps,
        backend=live.backend_text,
        frames_captured=f1 - f0,
        frames_processed=n,
        capture_fps=(f1 - f0) / elapsed,
        processing_fps=n / elapsed,
        latency_median_ms=float(np.median(lat)),
        latency_p90_ms=float(np.percentile(lat, 90)),
        latency_max_ms=float(np.max(lat)),
        max_queued=max_pending,
        dropped=d1 - d0,
        stage_ms=stages,
        messages=tuple(s.message for s in statuses),
    )
