"""Batch throughput: many short clips through ``run_batch`` (local pool, 1 and 2 workers; Ray) against the best
single-file FPS measured in the same run.

    python tools/bench_batch.py [--files 20] [--frames 60,120] [--resolution 640x360] [--model selfie]
                                [--modes single,loop,local1,local2,ray] [--json out/bench_batch.json]

- ``single``: ``process_video`` on the three longest clips, one at a time in this process (the whole machine,
  threaded pipeline, the model already loaded); the best FPS is the baseline. ``ideal`` = files x frames at
  that FPS.
- ``loop``: what a shell loop does: ``realtime-seg process`` once per file (interpreter and model load per
  file), on the first ``--loop-files`` clips.
- ``localN``: ``run_batch`` with N worker processes (``localNs``: each worker runs its files' stages one
  after the other), start-up and model loads included in the wall time; the steady rate excludes the
  time until the first worker was ready.
- ``--rounds R`` runs the modes R times, interleaved, so every ratio compares runs minutes apart at most.
- ``ray`` (``rayN``: N actors): the same on a local Ray instance (``ray.init`` timed separately; actor
  start-up included). ``local`` and ``ray`` without a number: the defaults (here 1 worker of 2 cores).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from realtime_seg.pipeline.assemble import open_settings_segmenter, process_video
from realtime_seg.pipeline.batch import (
    Event,
    Manifest,
    OutputTemplates,
    WorkersReady,
    collect_inputs,
    plan,
    run_batch,
    settings_hash,
)
from realtime_seg.pipeline.settings import ProcessingSettings
from realtime_seg.pipeline.sinks import VideoOutputs


def make_clips(folder: Path, files: int, lo: int, hi: int, size_wh: tuple[int, int]) -> list[Path]:
    from realtime_seg.io.samples import load_sample
    from realtime_seg.io.synth import ken_burns_frames, write_clip

    photo = load_sample("astronaut")
    paths = []
    for i in range(files):
        n = lo + (hi - lo) * i // max(1, files - 1)
        p = folder / f"clip{i:02d}.mp4"
        write_clip(p, ken_burns_frames(photo, size_wh=size_wh, n_frames=n, seed=i), options={"preset": "veryfast"})
        paths.append(p)
    return paths


def run_local_or_ray(
    clips: Path, out: Path, settings: ProcessingSettings, *, workers: int | None, use_ray: bool, threaded: bool
) -> dict[str, Any]:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    templates = OutputTemplates()
    shash = settings_hash(settings, templates)
    manifest = Manifest(out / "batch.jsonl")
    t0 = time.perf_counter()
    ready: list[float] = []
    desc: list[str] = []

    def on_event(ev: Event) -> None:
        if isinstance(ev, WorkersReady) and not ready:
            ready.append(time.perf_counter())
            desc.append(f"{ev.plan.workers} x {ev.plan.threads} threads, threaded={ev.plan.threaded} ({ev.where})")

    the_plan = plan(collect_inputs([clips]), out, templates, shash, {})
    result = run_batch(
        the_plan, settings, manifest, shash=shash, workers=workers, use_ray=use_ray, on_event=on_event,
        threaded=threaded, stop=threading.Event(),
    )  # fmt: skip
    wall = time.perf_counter() - t0
    assert result.count("done") == len(the_plan.todo), [r.error for r in result.records if r.error]
    first_ready = ready[0] - t0 if ready else 0.0
    return {
        "workers": desc[0] if desc else "",
        "frames": result.frames,
        "wall_s": wall,
        "fps": result.frames / wall,
        "startup_s": first_ready,
        "steady_fps": result.frames / (wall - first_ready),
        "files_per_hour": len(the_plan.todo) / wall * 3600,
    }


def run_round(
    args: argparse.Namespace,
    modes: list[str],
    paths: list[Path],
    clips: Path,
    root: Path,
    settings: ProcessingSettings,
    total_frames: int,
    lo_hi: tuple[int, int],
) -> dict[str, Any]:
    lo, hi = lo_hi
    report: dict[str, Any] = {}
    for mode in modes:
        if mode == "single":
            fps = []
            with open_settings_segmenter(settings) as seg:
                for p in paths[-3:]:
                    s = process_video(
                        p, VideoOutputs(video=root / "single.mp4", overwrite=True), settings, segmenter=seg
                    )
                    fps.append(s.fps)
            best = max(fps)
            report["single"] = {"fps": fps, "best_fps": best, "ideal_s": total_frames / best}
            print(f"single file (threaded, model loaded): {', '.join(f'{f:.1f}' for f in fps)} FPS; best {best:.1f}"
                  f" (the batch at that FPS: {total_frames / best:.1f} s)")  # fmt: skip
        elif mode == "loop":
            walls = []
            for p in paths[: args.loop_files]:
                t0 = time.perf_counter()
                subprocess.run(
                    [sys.executable, "-m", "realtime_seg", "process", str(p), "-o", str(root / "loop.mp4")]
                    + ["--model", args.model, "--backend", "onnxruntime", "--effect", args.effect, "-q", "-y"],
                    check=True,
                )
                walls.append(time.perf_counter() - t0)
            n = [lo + (hi - lo) * i // max(1, args.files - 1) for i in range(args.loop_files)]
            fps = sum(n) / sum(walls)
            report["loop"] = {"walls_s": walls, "fps": fps, "files_per_hour": len(walls) / sum(walls) * 3600}
            print(f"shell loop, one process per file ({args.loop_files} files): {fps:.1f} FPS, "
                  f"median {statistics.median(walls):.2f} s per file")  # fmt: skip
        else:
            use_ray = mode.startswith("ray")
            threaded = not mode.endswith("s")  # local2s: each worker's files sequential (one thread)
            digits = mode.removeprefix("local").removeprefix("ray").removesuffix("s")
            workers = int(digits) if digits else None
            if use_ray:
                import ray

                t0 = time.perf_counter()
                ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
                print(f"ray.init: {time.perf_counter() - t0:.1f} s (not counted below)")
            try:
                r = run_local_or_ray(clips, root / "out", settings, workers=workers, use_ray=use_ray, threaded=threaded)
            finally:
                if use_ray:
                    ray.shutdown()
            report[mode] = r
            line = f"{mode}: {r['fps']:.1f} FPS overall ({r['wall_s']:.1f} s, start-up {r['startup_s']:.1f} s), "
            line += f"{r['steady_fps']:.1f} FPS after start-up, {r['files_per_hour']:.0f} files/hour; {r['workers']}"
            print(line)
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=20)
    ap.add_argument("--frames", default="60,120", help="clip lengths from LO to HI frames (30 FPS)")
    ap.add_argument("--resolution", default="640x360")
    ap.add_argument("--model", default="selfie")
    ap.add_argument("--effect", default="blur")
    ap.add_argument("--modes", default="single,loop,local,local2,ray,ray2")
    ap.add_argument("--loop-files", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    lo, hi = (int(x) for x in args.frames.split(","))
    w, h = (int(x) for x in args.resolution.split("x"))
    modes = args.modes.split(",")
    settings = ProcessingSettings(model=args.model, backend="onnxruntime", effect=args.effect)
    report: dict[str, Any] = {"files": args.files, "frames": [lo, hi], "resolution": args.resolution}
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        root = Path(tmp)
        clips = root / "clips"
        clips.mkdir()
        t0 = time.perf_counter()
        paths = make_clips(clips, args.files, lo, hi, (w, h))
        total_frames = sum(lo + (hi - lo) * i // max(1, args.files - 1) for i in range(args.files))
        print(f"{args.files} clips, {total_frames} frames at {w}x{h}, made in {time.perf_counter() - t0:.1f} s")
        report["total_frames"] = total_frames
        rounds: list[dict[str, Any]] = []
        for k in range(args.rounds):
            print(f"-- round {k + 1} of {args.rounds}")
            rounds.append(run_round(args, modes, paths, clips, root, settings, total_frames, (lo, hi)))
        report["rounds"] = rounds
        print("-- medians over the rounds")
        for mode in modes:
            if mode == "single":
                vals = [r["single"]["best_fps"] for r in rounds]
                print(f"single best FPS: median {statistics.median(vals):.1f} ({', '.join(f'{v:.1f}' for v in vals)})")
                continue
            vals = [r[mode]["fps"] for r in rounds]
            line = f"{mode}: {statistics.median(vals):.1f} FPS overall ({', '.join(f'{v:.1f}' for v in vals)})"
            if mode != "loop":
                steady = [r[mode]["steady_fps"] for r in rounds]
                line += f", {statistics.median(steady):.1f} after start-up"
            if "single" in modes:
                ratios = [r[mode]["fps"] / r["single"]["best_fps"] for r in rounds]
                line += f"; vs best single-file FPS (same round): {', '.join(f'{x:.2f}' for x in ratios)}x"
                if mode != "loop":
                    ratios = [r[mode]["steady_fps"] / r["single"]["best_fps"] for r in rounds]
                    line += f" overall, {', '.join(f'{x:.2f}' for x in ratios)}x after start-up"
            print(line)
        for ray_mode, local_mode in (("ray", "local"), ("ray1", "local1"), ("ray2", "local2")):
            if ray_mode in modes and local_mode in modes:
                ratios = [r[ray_mode]["fps"] / r[local_mode]["fps"] for r in rounds]
                steady = [r[ray_mode]["steady_fps"] / r[local_mode]["steady_fps"] for r in rounds]
                print(f"{ray_mode} / {local_mode} (same round): {', '.join(f'{x:.2f}' for x in ratios)}x overall, "
                      f"{', '.join(f'{x:.2f}' for x in steady)}x after start-up")  # fmt: skip
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
