"""Benchmark ``realtime-seg process`` end to end: 1280x720 H.264 in, ``blur``, H.264 out (decode + encode included).

    python tools/bench_process.py                       # threaded vs sequential, ORT 1 vs 2 threads
    python tools/bench_process.py --frames 300 --preset ultrafast --model selfie-landscape

The input clip is the demo's (astronaut Ken Burns over a moving texture), made once in a temp folder.
Every configuration runs the same frames; the table gives FPS end to end and per-stage medians.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
from pathlib import Path

from realtime_seg.cli import build_parser
from realtime_seg.cli.process import execute


def make_input(folder: Path, frames: int, size_wh: tuple[int, int]) -> Path:
    from realtime_seg.io.samples import load_sample
    from realtime_seg.io.synth import ken_burns_frames, write_clip

    path = folder / "bench_in.mp4"
    photo = load_sample("astronaut")
    write_clip(
        path,
        ken_burns_frames(photo, size_wh=size_wh, n_frames=frames),
        options={"preset": "veryfast", "crf": "20"},
    )
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=210)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--model", default="selfie")
    ap.add_argument("--effect", default="blur")
    ap.add_argument("--preset", nargs="+", default=["veryfast"])
    ap.add_argument("--ort-threads", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--modes", nargs="+", default=["threaded", "sequential"], choices=["threaded", "sequential"])
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--extra", default="", help="extra process arguments, e.g. '--every 2'")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_input(Path(tmp), args.frames, (w, h))
        print(f"input: {args.frames} frames {w}x{h} H.264; effect {args.effect}; model {args.model}", file=sys.stderr)
        configs = [
            (p, t, m, r)
            for r, p, t, m in itertools.product(range(args.repeat), args.preset, args.ort_threads, args.modes)
            if m == "threaded" or t == 1  # the sequential baseline is one thread for everything
        ]
        for preset, threads, mode, rep in configs:
            argv = ["process", str(clip), "-o", str(Path(tmp) / "out.mp4"), "--effect", args.effect, "--quiet"]
            argv += ["--model", args.model, "--threads", str(threads), "--preset", preset, *args.extra.split()]
            argv += ["--sequential"] if mode == "sequential" else []
            outcome = execute(build_parser().parse_args(argv), progress=False)
            s = outcome.stats
            med = {st.stage: st.median_ms for st in s.stages}
            size_kb = (Path(tmp) / "out.mp4").stat().st_size / 1024
            rows.append((preset, threads, mode, rep, s.fps, s.cpu_ms_per_frame, size_kb))
            stages = " ".join(f"{k}={v:.1f}" for k, v in med.items() if k != "postprocess")
            head = f"{preset:9} ort={threads} {mode:10} run{rep}: {s.fps:6.1f} FPS cpu={s.cpu_ms_per_frame:.1f}ms"
            print(f"{head} | {stages}", flush=True)
    print("\npreset    ort  mode        FPS  CPU ms/frame  output KB  (2 idle cores allow at most ~2000/CPU FPS)")
    for preset, threads, mode, _rep, fps, cpu, kb in rows:
        print(f"{preset:9} {threads:3}  {mode:10} {fps:6.1f}  {cpu:6.1f}  {kb:9.0f}")
    for preset in args.preset:
        q = [r[4] for r in rows if r[:3] == (preset, 1, "sequential")]
        for threads in args.ort_threads:
            t = [r[4] for r in rows if r[:3] == (preset, threads, "threaded")]
            if t and q:
                print(f"{preset} threaded (ort={threads}) / sequential one-thread = {max(t) / max(q):.2f}x (best runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
