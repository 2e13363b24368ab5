"""Soak check: run the live pipeline for N minutes and check that memory and threads stay flat.

It runs what ``realtime-seg app --measure`` runs (capture thread with the latest-frame slot, processing
thread, ``measure_live`` collecting its figures) on a looping 720p clip made from a real photo, and samples
the process every ``--sample-s`` seconds:

- RSS (resident memory) of the whole process;
- the OS thread count (Python threads plus native ones: ONNX Runtime, FFmpeg, OpenCV), the Python threads,
  and the long-lived threads (older than 30 s; Linux).

After ``--warmup-s`` of streaming (the model loads first, then allocator arenas settle) the first sample is
the reference. It passes when every later sample's RSS is within ``--tolerance`` (default 5%) of the
reference, the Python thread count and the long-lived thread count never change, and the OS thread count
does not grow steadily (the last quarter's samples all above the first quarter's highest). The OS count
itself moves by a few threads from sample to sample: FFmpeg's decoder threads for the looping clip are
replaced each time the file restarts (every 3 s), and the old ones exit a moment later; a leaked thread never
exits, so it shows among the long-lived ones. The exit code is 0 on a pass, 1 on a failure, 2 on bad options.

    python tools/soak.py --minutes 10                      # 1280x720, blur, the default model
    python tools/soak.py --minutes 0.5 --model tiny.onnx --size 320x240 --json soak.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(REPO))


@dataclass(frozen=True)
class Sample:
    t_s: float
    rss_mb: float
    os_threads: int
    py_threads: int
    #: OS threads older than ``LONG_LIVED_S``: a leaked thread never exits, so it ends up here; threads
    #: that come and go (the looping clip's decoder threads, replaced every time the file restarts) do not
    long_threads: int = -1


LONG_LIVED_S = 30.0


def long_lived_threads(min_age_s: float = LONG_LIVED_S) -> int:
    """How many of this process's threads have run for more than ``min_age_s`` (Linux /proc; -1 elsewhere)."""
    try:
        hz = os.sysconf("SC_CLK_TCK")
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        n = 0
        for task in Path("/proc/self/task").iterdir():
            try:
                stat = (task / "stat").read_text()
            except OSError:  # the thread ended meanwhile
                continue
            start = int(stat.rsplit(")", 1)[1].split()[19]) / hz  # field 22: start time in ticks since boot
            n += uptime - start > min_age_s
        return n
    except (OSError, ValueError, IndexError):
        return -1


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reference_rss_mb: float
    min_rss_mb: float
    max_rss_mb: float
    last_rss_mb: float
    max_deviation_pct: float
    rss_slope_mb_per_min: float
    os_threads: list[int]
    py_threads: list[int]
    long_threads: list[int]
    problems: list[str]


def judge(samples: list[Sample], warmup_s: float, tolerance: float, long_lived_s: float = LONG_LIVED_S) -> Verdict:
    """Compare every sample after ``warmup_s`` with the first one after it."""
    after = [s for s in samples if s.t_s >= warmup_s]
    if len(after) < 2:
        raise SystemExit(f"soak: too few samples after the warm-up ({len(after)}); run longer or sample more often")
    ref = after[0].rss_mb
    rss = [s.rss_mb for s in after]
    dev = max(abs(r - ref) / ref for r in rss)
    ts = [s.t_s / 60.0 for s in after]
    slope = statistics.linear_regression(ts, rss).slope if len(set(ts)) > 1 else 0.0
    os_threads = sorted({s.os_threads for s in after})
    py_threads = sorted({s.py_threads for s in after})
    problems = []
    if dev > tolerance:
        worst = max(after, key=lambda s: abs(s.rss_mb - ref))
        problems.append(
            f"RSS moved {dev * 100:.1f}% from {ref:.1f} MB (at {after[0].t_s:.0f} s) to {worst.rss_mb:.1f} MB "
            f"(at {worst.t_s:.0f} s); allowed {tolerance * 100:.0f}%"
        )
    long_threads = sorted({s.long_threads for s in after})
    if len(long_threads) > 1:
        grew = next(s for s in after if s.long_threads != after[0].long_threads)
        problems.append(
            f"the number of long-lived threads (older than {long_lived_s:g} s) changed after the warm-up: "
            f"{after[0].long_threads} at {after[0].t_s:.0f} s, {grew.long_threads} at {grew.t_s:.0f} s"
        )
    quarter = after[: max(1, len(after) // 4)]
    ceiling = max(s.os_threads for s in quarter)
    late = after[-max(1, len(after) // 4) :]
    if min(s.os_threads for s in late) > ceiling:  # every late sample above the early ceiling: steady growth
        problems.append(
            f"the OS thread count grew after the warm-up: at most {ceiling} in the first quarter, at least "
            f"{min(s.os_threads for s in late)} in the last (all counts seen: {os_threads})"
        )
    if len(py_threads) > 1:
        problems.append(f"the Python thread count changed after the warm-up: {py_threads}")
    return Verdict(
        ok=not problems,
        reference_rss_mb=round(ref, 1),
        min_rss_mb=round(min(rss), 1),
        max_rss_mb=round(max(rss), 1),
        last_rss_mb=round(rss[-1], 1),
        max_deviation_pct=round(dev * 100, 2),
        rss_slope_mb_per_min=round(slope, 3),
        os_threads=os_threads,
        py_threads=py_threads,
        long_threads=long_threads,
        problems=problems,
    )


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad size {text!r}: expected WIDTHxHEIGHT, e.g. 1280x720") from None
    if w < 16 or h < 16:
        raise argparse.ArgumentTypeError(f"bad size {text!r}: at least 16x16")
    return w, h


def _clip(size: tuple[int, int], folder: Path) -> Path:
    from realtime_seg.io.samples import load_sample
    from realtime_seg.io.synth import ken_burns_frames, write_clip

    path = folder / f"soak_{size[0]}x{size[1]}.mp4"
    frames = ken_burns_frames(load_sample("astronaut"), size_wh=size, n_frames=90)
    return write_clip(path, frames, options={"preset": "veryfast"})


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=10.0, help="how long to stream (default: 10)")
    p.add_argument("--size", type=_size, default=(1280, 720), help="frame size (default: 1280x720)")
    p.add_argument("--effect", default="blur", help="effect (default: blur)")
    p.add_argument("--model", default=None, help="model name or ONNX path (default: the default model)")
    p.add_argument("--backend", default="onnxruntime", help="backend (default: onnxruntime)")
    p.add_argument("--threads", type=int, default=None, help="ONNX Runtime threads")
    p.add_argument(
        "--warmup-s",
        type=float,
        default=60.0,
        help="seconds of streaming (after the model has loaded) before the reference sample (default: 60)",
    )
    p.add_argument("--sample-s", type=float, default=5.0, help="seconds between samples (default: 5)")
    p.add_argument("--tolerance", type=float, default=0.05, help="allowed RSS change after warm-up (default: 0.05)")
    p.add_argument(
        "--long-lived-s", type=float, default=LONG_LIVED_S, help="age of a long-lived thread (default: 30 s)"
    )
    p.add_argument("--input", type=Path, help="a video to loop instead of the synthetic clip made from a photo")
    p.add_argument("--json", type=Path, help="write the samples and the verdict here")
    args = p.parse_args(argv)
    seconds = args.minutes * 60.0
    if args.warmup_s < args.long_lived_s:
        p.error(f"--warmup-s ({args.warmup_s:g}) must be at least --long-lived-s ({args.long_lived_s:g})")
    if seconds <= args.warmup_s + 2 * args.sample_s:
        p.error(f"--minutes {args.minutes} leaves no time after the {args.warmup_s:.0f} s warm-up")

    from realtime_seg.capture.sources import FileSource
    from realtime_seg.models.registry import DEFAULT_MODEL
    from realtime_seg.pipeline.measure import LiveStats, measure_live
    from realtime_seg.pipeline.settings import ProcessingSettings, effect_options

    settings = ProcessingSettings(
        model=args.model or DEFAULT_MODEL,
        backend=args.backend,
        effect=args.effect,
        effect_options=effect_options(args.effect),
        **({"threads": args.threads} if args.threads is not None else {}),
    )
    proc = psutil.Process()
    samples: list[Sample] = []
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="rs-soak-") as tmp:
        clip = args.input if args.input is not None else _clip(args.size, Path(tmp))
        if not clip.is_file():
            p.error(f"input not found: {clip}")

        started = threading.Event()

        def run() -> None:
            try:
                source = FileSource(clip, loop=True, paced=True)
                result["stats"] = measure_live(source, settings, seconds, warmup_s=1.0, measuring_started=started)
            except BaseException as exc:  # reported below
                result["error"] = exc

        worker = threading.Thread(target=run, name="soak-measure", daemon=True)
        worker.start()
        while not started.wait(0.1) and worker.is_alive():  # the clock starts when frames flow (model loaded)
            pass
        t0 = time.monotonic()
        while worker.is_alive():
            worker.join(args.sample_s)
            if not worker.is_alive() or time.monotonic() - t0 >= seconds - 0.5:
                break  # not while the pipeline shuts down
            s = Sample(round(time.monotonic() - t0, 1), proc.memory_info().rss / 2**20, proc.num_threads(),
                       threading.active_count(), long_lived_threads(args.long_lived_s))  # fmt: skip
            samples.append(s)
            print(
                f"{s.t_s:7.1f} s  RSS {s.rss_mb:8.1f} MB  threads {s.os_threads} (Python {s.py_threads}, "
                f"long-lived {s.long_threads})",
                flush=True,
            )
        worker.join()
    if "error" in result:
        print(f"soak: the live pipeline failed: {result['error']}", file=sys.stderr)
        return 1
    stats: LiveStats = result["stats"]
    verdict = judge(samples, args.warmup_s, args.tolerance, args.long_lived_s)
    load = os.getloadavg()
    print()
    for line in stats.lines():
        print("  " + line)
    print(
        f"RSS after warm-up: reference {verdict.reference_rss_mb} MB, min {verdict.min_rss_mb}, max "
        f"{verdict.max_rss_mb}, last {verdict.last_rss_mb} (max deviation {verdict.max_deviation_pct}%, "
        f"slope {verdict.rss_slope_mb_per_min} MB/min); OS threads {verdict.os_threads}, "
        f"Python threads {verdict.py_threads}, long-lived threads {verdict.long_threads}; "
        f"load average at the end {load[0]:.2f} on {os.cpu_count()} cores"
    )
    if args.json is not None:
        report = {
            "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "loadavg": load},
            "live": {k: v for k, v in asdict(stats).items() if k != "messages"},
            "samples": [asdict(s) for s in samples],
            "verdict": asdict(verdict),
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    if not verdict.ok:
        for problem in verdict.problems:
            print(f"soak: FAIL: {problem}", file=sys.stderr)
        return 1
    print(f"soak: PASS ({len(samples)} samples over {seconds / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
