"""Time region finding + tracking + outline drawing on 1280x720 frames with up to 10 moving regions.

    python tools/bench_outlines.py [--regions 10] [--frames 200] [--smooth 0.5] [--fill 0.3] [--no-antialias]

Prints the median (and p90) ms per frame of each stage and of the total. The issue's budget: tracking
and outline drawing together add at most 2 ms per 1280x720 frame with up to 10 regions.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Iterator
from dataclasses import replace

import cv2
import numpy as np

from realtime_seg.effects.outline import OutlineEffect
from realtime_seg.postprocess.types import MaskFrame
from realtime_seg.tracking import RegionTracker, find_regions


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
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--regions", type=int, default=10)
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--smooth", type=float, default=0.0, help="RegionTracker(smooth_outline=...)")
    ap.add_argument("--fill", type=float, default=0.0, help="OutlineEffect(fill_alpha=...)")
    ap.add_argument("--no-antialias", action="store_true", help="OutlineEffect(antialias=False)")
    args = ap.parse_args()
    cv2.setNumThreads(1)  # the pipeline runs one frame at a time on one thread; measure that

    masks = synthetic_masks(args.frames, args.regions, (args.width, args.height))
    frame = np.full((args.height, args.width, 3), 100, np.uint8)
    tracker = RegionTracker(smooth_outline=args.smooth)
    effect = OutlineEffect(fill_alpha=args.fill, antialias=not args.no_antialias)
    times: dict[str, list[float]] = {"find_regions": [], "track": [], "draw": [], "total": []}
    counts = []
    for i, mask in enumerate(masks):
        t0 = time.perf_counter()
        regions = find_regions(mask, min_area=tracker.min_area, simplify_tolerance=tracker.simplify_tolerance)
        t1 = time.perf_counter()
        tracked = tracker.update(regions, i / 30)
        t2 = time.perf_counter()
        effect.apply(frame, replace(mask, regions=tuple(tracked)))
        t3 = time.perf_counter()
        counts.append(len(tracked))
        for k, v in zip(times, (t1 - t0, t2 - t1, t3 - t2, t3 - t0), strict=True):
            times[k].append(v * 1e3)
    # the frame copy every effect pays anyway
    copies = []
    for _ in range(50):
        t0 = time.perf_counter()
        frame.copy()
        copies.append((time.perf_counter() - t0) * 1e3)

    print(
        f"{args.width}x{args.height}, {args.frames} frames, regions per frame: "
        f"median {statistics.median(counts):.0f}, max {max(counts)}; tracker stats: {tracker.stats}"
    )
    for k, v in times.items():
        q = statistics.quantiles(v, n=10)
        print(f"  {k:13s} median {statistics.median(v):6.3f} ms   p90 {q[-1]:6.3f} ms")
    print(f"  (of draw: frame.copy median {statistics.median(copies):.3f} ms)")


if __name__ == "__main__":
    main()
