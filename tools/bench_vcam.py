#!/usr/bin/env python3
"""What the virtual camera costs: pixel conversion per format, and the live pipeline with and without it.

    python tools/bench_vcam.py                      # 1280x720, ~1 minute on 2 cores
    python tools/bench_vcam.py --seconds 10 --rounds 3

1. Conversion of one 1280x720 BGR frame (a photo of a person) into each device format, median of ``--reps``.
   Baseline: I420 through OpenCV's ``cvtColor`` (what the default format costs); the others as ratios to it.
2. The live pipeline (a 720p clip played as a camera, the default model, blur) for ``--seconds``, alternating
   runs without and with a virtual camera at the source's rate. The device is a null backend registered through
   pyvirtualcam's own ``register_backend`` plug point (no real device here): the real ``pyvirtualcam.Camera``,
   our conversion and clock thread, and a ``send`` that drops the frame.
Quote medians and the with/without ratio from the same run; absolute figures vary by machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def _photo(size_wh: tuple[int, int]) -> np.ndarray:
    import cv2

    from realtime_seg.io.samples import load_sample

    return np.ascontiguousarray(cv2.resize(load_sample("astronaut"), size_wh, interpolation=cv2.INTER_AREA))


def bench_convert(size_wh: tuple[int, int], reps: int) -> None:
    from realtime_seg.pipeline.vcam import FORMATS, convert, prepare

    img = _photo(size_wh)
    big = _photo((1920, 1080))
    rows: list[tuple[str, float]] = []
    cases: list[tuple[str, Any]] = [(f, (lambda f=f: convert(img, f))) for f in FORMATS]
    cases.append(("i420 from 1080p (fit)", lambda: prepare(big, size_wh, "i420")))
    cases.append(("i420 mirrored", lambda: prepare(img, size_wh, "i420", mirror=True)))
    for name, fn in cases:
        fn()
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
        rows.append((name, statistics.median(times)))
    base = rows[0][1]
    print(f"\nconversion of one {size_wh[0]}x{size_wh[1]} frame, median of {reps} (baseline: i420 via OpenCV)")
    print(f"{'format':<24}{'ms':>8}{'x i420':>9}")
    for name, ms in rows:
        print(f"{name:<24}{ms:8.2f}{ms / base:9.2f}")


class _Null:
    """A pyvirtualcam backend that drops frames (the device is hardware this machine lacks)."""

    def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: str | None) -> None:
        self.n = 0

    def close(self) -> None:
        pass

    def send(self, frame: np.ndarray) -> None:
        self.n += 1

    def device(self) -> str:
        return "null"

    def native_fourcc(self) -> int:
        return 0


def _live_run(clip: Path, seconds: float, with_vcam: bool) -> dict[str, float]:
    from realtime_seg.capture.slot import LatestFrameSlot
    from realtime_seg.capture.sources import FileSource
    from realtime_seg.capture.thread import CaptureThread
    from realtime_seg.pipeline.live import LivePipeline, LiveResult
    from realtime_seg.pipeline.settings import ProcessingSettings
    from realtime_seg.pipeline.vcam import VcamConfig, VirtualCamera

    src = FileSource(clip)
    src.open()
    slot = LatestFrameSlot()
    lat: list[float] = []
    cam: VirtualCamera | None = None
    started = [0.0]

    def on_result(r: LiveResult) -> None:
        if r.processed is not None and started[0]:
            lat.append(r.latency_ms)
        if cam is not None:
            cam.submit(r.output)

    capture = CaptureThread(src, slot)
    live = LivePipeline(slot, ProcessingSettings(effect="blur"), on_result=on_result)
    if with_vcam:
        size, fps = VcamConfig().resolve(src.size_wh, src.fps)
        cam = VirtualCamera(VcamConfig(), size, fps, raw_frame=slot.peek, want_raw=lambda: not live.ready.is_set())
        cam.start()
    capture.start()
    live.start()
    live.ready.wait(60)
    time.sleep(1.0)  # warm-up
    started[0] = time.monotonic()
    n0, f0, s0, r0 = live.processed, capture.frames, cam.sent if cam else 0, cam.repeated if cam else 0
    time.sleep(seconds)
    took = time.monotonic() - started[0]
    out = {
        "capture_fps": (capture.frames - f0) / took,
        "processing_fps": (live.processed - n0) / took,
        "latency_median_ms": statistics.median(lat) if lat else float("nan"),
        "vcam_fps": ((cam.sent - s0) / took) if cam else float("nan"),
        "vcam_repeated": float(cam.repeated - r0) if cam else float("nan"),
    }
    for w in (cam, capture, live):
        if w is not None:
            w.stop()
    return out


def bench_live(size_wh: tuple[int, int], seconds: float, rounds: int) -> None:
    import pyvirtualcam

    from realtime_seg.io.synth import ken_burns_frames, write_clip

    pyvirtualcam.camera.BACKENDS.clear()
    pyvirtualcam.register_backend("null", _Null)
    with tempfile.TemporaryDirectory() as d:
        clip = Path(d) / "clip.mp4"
        from realtime_seg.io.samples import load_sample

        write_clip(clip, ken_burns_frames(load_sample("astronaut"), size_wh=size_wh, n_frames=90))
        runs: dict[bool, list[dict[str, float]]] = {False: [], True: []}
        for _ in range(rounds):
            for with_vcam in (False, True):  # alternating, so drift on a shared machine hits both
                runs[with_vcam].append(_live_run(clip, seconds, with_vcam))
    print(f"\nlive, {size_wh[0]}x{size_wh[1]} clip as a 30 fps camera, selfie + blur, {rounds} x {seconds:g} s each")
    keys = ("capture_fps", "processing_fps", "latency_median_ms", "vcam_fps", "vcam_repeated")
    print(f"{'':<16}" + "".join(f"{k:>19}" for k in keys))
    med = {}
    for with_vcam in (False, True):
        med[with_vcam] = {k: statistics.median(r[k] for r in runs[with_vcam]) for k in keys}
        label = "with vcam" if with_vcam else "without (base)"
        print(f"{label:<16}" + "".join(f"{med[with_vcam][k]:19.1f}" for k in keys))
        for r in runs[with_vcam]:
            print(f"{'  run':<16}" + "".join(f"{r[k]:19.1f}" for k in keys))
    ratio = med[True]["processing_fps"] / med[False]["processing_fps"]
    lat = med[True]["latency_median_ms"] / med[False]["latency_median_ms"]
    print(f"processing FPS with/without: {ratio:.2f}x; latency median with/without: {lat:.2f}x")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", default="1280x720")
    p.add_argument("--reps", type=int, default=200)
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--skip-live", action="store_true")
    args = p.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    bench_convert((w, h), args.reps)
    if not args.skip_live:
        bench_live((w, h), args.seconds, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
