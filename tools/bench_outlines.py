"""Time region finding + tracking + outline drawing on 1280x720 frames with up to 10 moving regions.

    python tools/bench_outlines.py [--regions 10] [--frames 200] [--smooth 0.5] [--fill 0.3] [--no-antialias]
                                   [--baseline-rev REV]

Prints the median (and p90) ms per frame of each stage and of the total, for today's tracker (objects,
Kalman, colour histograms: it gets the frame) and, in the same run on the same masks, frame by frame in
turn, for the tracker of ``--baseline-rev`` (default: the one before issue 13; ``none`` skips it), with
the ratio of the medians. The issue's budget: tracking and outline drawing together add at most 2 ms per
1280x720 frame with up to 10 regions.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from realtime_seg.effects.outline import OutlineEffect
from realtime_seg.postprocess.types import MaskFrame
from realtime_seg.tracking import RegionTracker, TrackedRegion, find_regions


def synthetic_masks(n_frames: int, n_regions: int, size_wh: tuple[int, int], seed: int = 0) -> Iterator[MaskFrame]:
    """Person-like blobs (an ellipse body with a head) drifting and bouncing; some cross each other.

    Made one at a time, as the refiner makes them, so the mask is as warm in the cache as in the pipeline.
    """
    w, h = size_wh
    rng = np.random.default_rng(seed)
    pos = rng.uniform([80, 120], [w - 80, h - 120], size=(n_regions, 2))
    vel = rng.uniform(-6, 6, size=(n_regions, 2))
    size = rng.uniform(20, 45, size=n_regions)
    for i in range(n_frames):
        alpha = np.zeros((h, w), np.float32)
        for k in range(n_regions):
            x, y = pos[k]
            s = size[k]
            cv2.ellipse(alpha, (int(x), int(y)), (int(s), int(s * 1.8)), 0, 0, 360, 1.0, -1)
            cv2.circle(alpha, (int(x), int(y - s * 2.2)), int(s * 0.6), 1.0, -1)
        pos += vel
        vel[(pos[:, 0] < 60) | (pos[:, 0] > w - 60), 0] *= -1
        vel[(pos[:, 1] < 100) | (pos[:, 1] > h - 100), 1] *= -1
        yield MaskFrame(index=i, alpha=alpha)


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_tracking import DEFAULT_BASELINE, load_baseline_tracker

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--regions", type=int, default=10)
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--smooth", type=float, default=0.0, help="RegionTracker(smooth_outline=...)")
    ap.add_argument("--fill", type=float, default=0.0, help="OutlineEffect(fill_alpha=...)")
    ap.add_argument("--no-antialias", action="store_true", help="OutlineEffect(antialias=False)")
    ap.add_argument("--baseline-rev", default=DEFAULT_BASELINE, help="git revision of the 'before' tracker, or none")
    args = ap.parse_args()
    cv2.setNumThreads(1)  # the pipeline runs one frame at a time on one thread; measure that

    masks = synthetic_masks(args.frames, args.regions, (args.width, args.height))
    frame = np.full((args.height, args.width, 3), 100, np.uint8)
    frame[:, :, 2] = np.linspace(40, 220, args.width, dtype=np.uint8)[None, :]  # colours for the histograms
    trackers: dict[str, Any] = {"after": RegionTracker(smooth_outline=args.smooth)}
    if args.baseline_rev.lower() != "none":
        trackers["before"] = load_baseline_tracker(args.baseline_rev)(smooth_outline=args.smooth)
    effect = OutlineEffect(fill_alpha=args.fill, antialias=not args.no_antialias)
    stages = ("find_regions", "track", "draw", "total")
    times: dict[str, dict[str, list[float]]] = {k: {s: [] for s in stages} for k in trackers}
    counts = []
    for i, mask in enumerate(masks):
        for name, tracker in trackers.items():  # in turn on the same mask: both see the same noise
            t0 = time.perf_counter()
            regions = find_regions(mask, min_area=tracker.min_area, simplify_tolerance=tracker.simplify_tolerance)
            t1 = time.perf_counter()
            tracked = tracker.update(regions, i / 30, frame) if name == "after" else tracker.update(regions, i / 30)
            t2 = time.perf_counter()
            if name == "before":  # the old module's own TrackedRegion class: same fields, today's type (untimed)
                tracked = [TrackedRegion(r.id, r.region, r.age, r.hits, r.missed, r.trail, r.contour) for r in tracked]
            t2b = time.perf_counter()
            effect.apply(frame, replace(mask, regions=tuple(tracked)))
            t3 = time.perf_counter()
            for k, v in zip(stages, (t1 - t0, t2 - t1, t3 - t2b, (t2 - t0) + (t3 - t2b)), strict=True):
                times[name][k].append(v * 1e3)
            if name == "after":
                counts.append(len(tracked))
    # the frame copy every effect pays anyway
    copies = []
    for _ in range(50):
        t0 = time.perf_counter()
        frame.copy()
        copies.append((time.perf_counter() - t0) * 1e3)

    print(
        f"{args.width}x{args.height}, {args.frames} frames, objects per frame: "
        f"median {statistics.median(counts):.0f}, max {max(counts)}; tracker stats: {trackers['after'].stats}"
    )
    for name, by in times.items():
        label = "after (this tree)" if name == "after" else f"before ({args.baseline_rev})"
        print(f" {label}")
        for k, v in by.items():
            q = statistics.quantiles(v, n=10)
            print(f"  {k:13s} median {statistics.median(v):6.3f} ms   p90 {q[-1]:6.3f} ms")
    if "before" in times:
        for k in ("track", "draw", "total"):
            a, b = statistics.median(times["after"][k]), statistics.median(times["before"][k])
            print(f"  ratio after/before, {k:6s}: {a / b:5.2f}")
    print(f"  (of draw: frame.copy median {statistics.median(copies):.3f} ms)")


if __name__ == "__main__":
    main()
