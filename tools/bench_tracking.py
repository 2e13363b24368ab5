"""Identity metrics of the region tracker on the synthetic scenes (real cutouts, damaged masks, true ids).

    python tools/bench_tracking.py [--scenes fragments,crossing] [--frames N] [--baseline-rev REV] [--json out.json]

For each scene of :data:`realtime_seg.tracking.scenes.SCENES` it runs the tracker on the damaged masks
(with the colour frame) and scores it with py-motmetrics against the true ids: IDF1, ID switches, MOTA,
ID switches per 1000 frames per person, and distinct ids given vs people who appeared. A hypothesis
matches a true person when their boxes overlap with IoU >= 0.5. The tracker's hypotheses are the objects
it reports plus the ones it holds as occluded (merged into another's region) at their predicted box.

``--baseline-rev`` (default: the commit before the object tracker) runs that revision's tracker in the
same process on the same masks, for before/after figures; ``--baseline-rev none`` skips it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BASELINE = "4f3f487"  # main before issue 13: one id per connected component

Hyp = list[tuple[int, tuple[int, int, int, int]]]


def load_baseline_tracker(rev: str) -> type:
    """``RegionTracker`` as it was at git revision ``rev`` (its module, loaded beside today's package)."""
    src = subprocess.run(
        ["git", "show", f"{rev}:realtime_seg/tracking/tracker.py"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    tmp = Path(tempfile.mkdtemp(prefix="bench-tracking-")) / f"tracker_{rev}.py"
    tmp.write_text(src)
    spec = importlib.util.spec_from_file_location(f"baseline_tracker_{rev}", tmp)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod.RegionTracker  # type: ignore[no-any-return]


def iou_distances(a: list[tuple[int, int, int, int]], b: list[tuple[int, int, int, int]]) -> np.ndarray:
    """``1 - IoU`` of ``(x, y, w, h)`` boxes, NaN (no match) below IoU 0.5 (motmetrics' convention; its own
    ``iou_matrix`` uses ``np.asfarray``, gone in NumPy 2)."""
    out = np.full((len(a), len(b)), np.nan)
    for i, (ax, ay, aw, ah) in enumerate(a):
        for j, (bx, by, bw, bh) in enumerate(b):
            iw = min(ax + aw, bx + bw) - max(ax, bx)
            ih = min(ay + ah, by + bh) - max(ay, by)
            if iw <= 0 or ih <= 0:
                continue
            inter = iw * ih
            iou = inter / (aw * ah + bw * bh - inter)
            if iou >= 0.5:
                out[i, j] = 1.0 - iou
    return out


def evaluate(frames: list[Any], step: Callable[[Any], Hyp]) -> dict[str, float]:
    import motmetrics as mm

    acc = mm.MOTAccumulator(auto_id=True)
    ids: set[int] = set()
    times = []
    for f in frames:
        t0 = time.perf_counter()
        hyp = step(f)
        times.append((time.perf_counter() - t0) * 1e3)
        ids.update(h for h, _ in hyp)
        gt = list(f.truth)
        dist = iou_distances([b for _, b in gt], [b for _, b in hyp])
        acc.update([g for g, _ in gt], [h for h, _ in hyp], dist)
    mh = mm.metrics.create()
    s = mh.compute(acc, metrics=["idf1", "num_switches", "mota", "num_objects", "num_unique_objects"], name="x")
    row = s.loc["x"]
    switches = int(row["num_switches"])
    return {
        "frames": len(frames),
        "people": int(row["num_unique_objects"]),
        "idf1": float(row["idf1"]),
        "id_switches": switches,
        "switches_per_1000_person_frames": 1000.0 * switches / max(int(row["num_objects"]), 1),
        "mota": float(row["mota"]),
        "distinct_ids": len(ids),
        "track_ms_median": float(np.median(times)),
    }


def main() -> None:
    from realtime_seg.tracking import RegionTracker
    from realtime_seg.tracking.scenes import SCENES, render

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", default=",".join(SCENES), help=f"comma-separated, from {', '.join(SCENES)}")
    ap.add_argument("--frames", type=int, default=0, help="only the first N frames of each scene (0: all)")
    ap.add_argument("--baseline-rev", default=DEFAULT_BASELINE, help="git revision of the 'before' tracker, or none")
    ap.add_argument("--no-appearance", action="store_true", help="run the tracker without the colour frames")
    ap.add_argument("--min-hits", type=int, default=None, help="RegionTracker(min_hits=...) (default: its default)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    names = [n.strip() for n in args.scenes.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCENES]
    if unknown:
        ap.error(f"unknown scene(s) {', '.join(unknown)}; choose from {', '.join(SCENES)}")
    baseline = None if args.baseline_rev.lower() == "none" else load_baseline_tracker(args.baseline_rev)

    results: dict[str, dict[str, dict[str, float]]] = {}
    for name in names:
        spec = SCENES[name]
        frames = list(render(spec))
        if args.frames:
            frames = frames[: args.frames]
        tracker = RegionTracker() if args.min_hits is None else RegionTracker(min_hits=args.min_hits)

        def step_new(f: Any, tracker: RegionTracker = tracker) -> Hyp:
            seen = tracker.step(f.mask, f.t, None if args.no_appearance else f.image)
            return [(tr.id, tr.bbox) for tr in seen] + [(h.id, h.bbox) for h in tracker.held()]

        results[name] = {"after": evaluate(frames, step_new)}
        if baseline is not None:
            old = baseline()

            def step_old(f: Any, old: Any = old) -> Hyp:
                return [(tr.id, tr.bbox) for tr in old.step(f.mask, f.t)]

            results[name]["before"] = evaluate(frames, step_old)

    cols = ["frames", "people", "idf1", "id_switches", "switches_per_1000_person_frames", "mota", "distinct_ids"]
    head = f"{'scene':12s} {'tracker':7s} " + " ".join(f"{c[:12]:>12s}" for c in cols)
    print(head)
    for name, by in results.items():
        for which in ("before", "after"):
            if which in by:
                r = by[which]
                cells = " ".join(
                    f"{r[c]:12.3f}" if isinstance(r[c], float) and c not in ("frames",) else f"{r[c]:12d}" for c in cols
                )
                print(f"{name:12s} {which:7s} {cells}")
    if args.json:
        args.json.write_text(json.dumps({"baseline_rev": args.baseline_rev, "results": results}, indent=2))


if __name__ == "__main__":
    main()
