#!/usr/bin/env python3
"""CPU cost of each pipeline stage per frame, measured as thread CPU time: robust when the machine is shared.

Wall-clock stage times of the threaded pipeline include waiting for a core; on a shared machine they say
more about the neighbours than about the code. This runs the real stages (PyAV decode to BGR, the model,
the refiner, the blur effect, x264 encode) one after the other in one thread, with every library pool at
one thread, and times each with ``time.thread_time()`` (CPU seconds this thread used). The sum is the CPU a
frame costs; ``cores / sum`` is the bound on FPS that any threading can reach.

    python tools/bench_stage_cpu.py [--resolution 480p,720p,1080p] [--input FILE] [--frames 120]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

TOOLS = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS.parent))
sys.path.insert(0, str(TOOLS))

RESOLUTIONS = {"480p": (854, 480), "720p": (1280, 720), "1080p": (1920, 1080)}
STAGES = ("decode", "preprocess", "infer", "postprocess", "refine", "effect", "encode")


def measure(clip: Path, frames: int, model: str, preset: str) -> dict[str, float]:
    import tempfile

    import cv2

    from realtime_seg.effects.blur import BlurEffect
    from realtime_seg.io.video import VideoReader
    from realtime_seg.io.video_writer import VideoWriter
    from realtime_seg.postprocess.refine import Refiner
    from realtime_seg.segmenter import SegResult, open_segmenter

    cv2.setNumThreads(1)
    samples: dict[str, list[float]] = {s: [] for s in STAGES}
    with (
        tempfile.TemporaryDirectory(prefix="rs-stage-cpu-") as tmp,
        VideoReader(clip, decoder_threads=1) as reader,
        open_segmenter(model, "onnxruntime", threads=1) as seg,
    ):
        info = reader.info
        writer = VideoWriter(
            Path(tmp) / "out.mp4", fps=info.fps, size_wh=info.size_wh, time_base=info.time_base, threads=1,
            preset=preset,
        )  # fmt: skip
        refiner, effect = Refiner(), BlurEffect()
        it = iter(reader)
        for _ in range(frames):
            t0 = time.thread_time()
            frame = next(it, None)
            if frame is None:
                break
            t1 = time.thread_time()
            tensor = seg.preprocess(frame.image)
            t2 = time.thread_time()
            raw = seg.backend.infer(tensor)
            t3 = time.thread_time()
            probs = seg.postprocess(raw)
            t4 = time.thread_time()
            h, w = frame.image.shape[:2]
            mask = refiner.refine(frame.image, SegResult(frame.index, probs, (w, h), seg.spec, {}))
            t5 = time.thread_time()
            out = effect.apply(frame.image, mask)
            t6 = time.thread_time()
            writer.write(out, frame.pts)
            t7 = time.thread_time()
            for name, a, b in zip(STAGES, (t0, t1, t2, t3, t4, t5, t6), (t1, t2, t3, t4, t5, t6, t7), strict=True):
                samples[name].append((b - a) * 1e3)
        writer.close()
    warm = 5  # the first frames allocate
    return {s: float(np.mean(v[warm:])) for s, v in samples.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--resolution", default="480p,720p,1080p")
    ap.add_argument("--input", type=Path, help="a video instead of the benchmark's default (camera-encoded) clip")
    ap.add_argument("--clip", default="carphone", help="carphone or astronaut (see tools/benchmark.py --clip)")
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--model", default="selfie")
    ap.add_argument("--preset", default="ultrafast")
    args = ap.parse_args()
    import _peer

    from realtime_seg.threads import available_cores

    cores = available_cores()
    head = "| input | " + " | ".join(STAGES) + " | sum (CPU ms/frame) | bound FPS |"
    print(f"# thread CPU time per stage, mean ms over frames 5..{args.frames}; {cores} core(s); model {args.model}")
    print(head)
    print("|" + "---|" * (len(STAGES) + 3))
    for res in args.resolution.split(","):
        clip = args.input or _peer.camera_clip(RESOLUTIONS[res], 220, args.clip)
        cost = measure(clip, args.frames, args.model, args.preset)
        total = sum(cost.values())
        cells = " | ".join(f"{cost[s]:.2f}" for s in STAGES)
        name = res if args.input is None else args.input.name
        print(f"| {name} | {cells} | {total:.1f} | {cores * 1000 / total:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
