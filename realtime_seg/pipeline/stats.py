"""Per-stage timings: collect milliseconds per named stage (from any thread), summarise as median/p90/p99."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class StageStats:
    """One stage's timing summary, in milliseconds."""

    stage: str
    count: int
    median_ms: float
    p90_ms: float
    p99_ms: float
    total_ms: float

    def __post_init__(self) -> None:
        if self.count < 0:
            raise ValueError(f"count must be >= 0, got {self.count}")

    @property
    def fps(self) -> float:
        """How many frames per second this stage alone could do (1000 / median)."""
        return 1000.0 / self.median_ms if self.median_ms > 0 else float("inf")


class StageTimer:
    """Thread-safe collector of per-stage durations. Stages keep the order in which they first appear."""

    def __init__(self) -> None:
        self._samples: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def add(self, stage: str, ms: float) -> None:
        with self._lock:
            self._samples.setdefault(stage, []).append(float(ms))

    def add_all(self, timings_ms: Mapping[str, float], prefix: str = "") -> None:
        with self._lock:
            for stage, ms in timings_ms.items():
                self._samples.setdefault(prefix + stage, []).append(float(ms))

    @contextmanager
    def time(self, stage: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, (time.perf_counter() - t0) * 1e3)

    def summary(self) -> tuple[StageStats, ...]:
        with self._lock:
            items = [(k, np.asarray(v, np.float64)) for k, v in self._samples.items() if v]
        out = []
        for stage, a in items:
            p50, p90, p99 = np.percentile(a, [50, 90, 99])
            out.append(StageStats(stage, int(a.size), float(p50), float(p90), float(p99), float(a.sum())))
        return tuple(out)


@dataclass(frozen=True)
class RunStats:
    """A whole run: frames, wall time, FPS end to end, and the per-stage summaries."""

    frames: int
    wall_s: float
    stages: tuple[StageStats, ...]
    threaded: bool
    cpu_s: float = 0.0  #: CPU time of the whole process (all threads, FFmpeg's included) during the run
    outputs: tuple[Path, ...] = ()  #: the files (and mask folder) written, under their final names
    model: str = ""  #: the model and backend that ran, and why that backend
    crop: str = ""  #: how the person-centred crop ran ("off", or how often it cropped and ran the whole frame)
    tracking: str = ""  #: the objects tracked, per class at the end and distinct ("" when no tracker ran)

    def __post_init__(self) -> None:
        if self.frames < 0 or self.wall_s < 0:
            raise ValueError(f"frames and wall_s must be >= 0, got {self.frames}, {self.wall_s}")

    @property
    def fps(self) -> float:
        return self.frames / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def cpu_ms_per_frame(self) -> float:
        """CPU cost per frame; ``cores * 1000 / cpu_ms_per_frame`` is the FPS an otherwise idle machine allows."""
        return self.cpu_s * 1e3 / self.frames if self.frames else 0.0

    def stage(self, name: str) -> StageStats | None:
        return next((s for s in self.stages if s.stage == name), None)

    def table(self) -> str:
        """A small text table: stage, count, median, p90, p99 (ms)."""
        lines = [f"{'stage':14} {'frames':>6} {'median':>8} {'p90':>8} {'p99':>8}  (ms)"]
        for s in self.stages:
            lines.append(f"{s.stage:14} {s.count:6d} {s.median_ms:8.2f} {s.p90_ms:8.2f} {s.p99_ms:8.2f}")
        return "\n".join(lines)
