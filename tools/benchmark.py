#!/usr/bin/env python3
"""realtime-seg FPS benchmark: per-stage timings, a same-run baseline, JSON, a table and a plot.

    python tools/benchmark.py                              # default run (< 2 minutes on 2 cores)
    python tools/benchmark.py --mode infer --resolution 480p,720p,1080p --json out/bench.json --plot out/bench.png
    python tools/benchmark.py --mode offline --resolution 720p --effect blur --frames 300

Modes:
  infer    model only: preprocess, infer and postprocess timed separately. Baseline: ONNX Runtime, 1 thread.
  offline  the real `process` pipeline, decode to encode. Baseline: the same stages sequentially in one thread.
  live     a source paced at its frame rate, as a camera would be: capture-to-output latency, dropped frames,
           processing FPS. Baseline: the same stages sequentially in one thread (unpaced).

Quote medians, and ratios against the baseline measured in the same run: absolute figures vary by machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from realtime_seg.errors import RealtimeSegError  # noqa: E402

sys.path.insert(0, str(REPO / "tools"))
import _peer  # noqa: E402

RESOLUTIONS = {"360p": (640, 360), "480p": (854, 480), "720p": (1280, 720), "1080p": (1920, 1080)}
MODES = ("infer", "offline", "live")
BACKENDS = ("onnxruntime", "tensorrt", "all")


class BenchError(RealtimeSegError):
    """A bad option or an unusable input for the benchmark."""

    exit_code = 2


# -- statistics ---------------------------------------------------------------------------------------
def summarize(samples_ms: Sequence[float]) -> dict[str, float]:
    a = np.asarray(samples_ms, dtype=np.float64)
    if a.size == 0:
        return {"n": 0}
    return {
        "n": int(a.size),
        "min": float(a.min()),
        "mean": float(a.mean()),
        "median": float(np.median(a)),
        "p90": float(np.percentile(a, 90)),
        "p95": float(np.percentile(a, 95)),
        "p99": float(np.percentile(a, 99)),
    }


class CpuMeter:
    """Process CPU utilisation over a span, as a fraction of all cores (1.0 = every core busy)."""

    def __enter__(self) -> CpuMeter:
        self._t0, self._c0 = time.perf_counter(), os.times()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self._t0
        c1 = os.times()
        busy = (c1.user - self._c0.user) + (c1.system - self._c0.system)
        self.utilisation = busy / max(wall, 1e-9) / (os.cpu_count() or 1)
        self.wall_s = wall


@dataclass
class Result:
    mode: str
    backend: str
    model: str
    resolution: str
    effect: str
    threads: int | None
    stages_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    fps: float = 0.0
    cpu_utilisation: float = 0.0
    baseline_fps: float | None = None
    ratio: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    skipped: str | None = None


# -- environment --------------------------------------------------------------------------------------
def environment() -> dict[str, Any]:
    import cv2
    import onnxruntime as ort

    env: dict[str, Any] = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "onnxruntime": ort.__version__,
        "onnxruntime_providers": ort.get_available_providers(),
        "git_commit": _git_commit(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    try:
        import av

        env["pyav"] = av.__version__
    except ImportError:  # pragma: no cover
        env["pyav"] = None
    from realtime_seg.backends.select import tensorrt_status

    ok, why = tensorrt_status()
    env["tensorrt"] = why
    from realtime_seg.threads import thread_budget

    env["thread_budget"] = thread_budget().describe()
    return env


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
        m = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
        if m:
            return m.group(1).strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


# -- inputs -------------------------------------------------------------------------------------------
def parse_resolutions(text: str) -> list[tuple[str, tuple[int, int]]]:
    out = []
    for item in filter(None, (s.strip() for s in text.split(","))):
        if item in RESOLUTIONS:
            out.append((item, RESOLUTIONS[item]))
            continue
        m = re.fullmatch(r"(\d+)x(\d+)", item)
        if not m or int(m.group(1)) < 16 or int(m.group(2)) < 16:
            raise BenchError(
                f"bad resolution {item!r}: expected one of {', '.join(RESOLUTIONS)} or WIDTHxHEIGHT (>= 16x16)"
            )
        out.append((item, (int(m.group(1)), int(m.group(2)))))
    if not out:
        raise BenchError("no resolution given")
    return out


def photo_frames(size_wh: tuple[int, int], n: int) -> list[np.ndarray]:
    """``n`` distinct frames made from a registry-shipped photo of a person, panned slowly."""
    import cv2

    from realtime_seg.io.samples import load_sample

    photo = load_sample("astronaut")
    w, h = size_wh
    big = cv2.resize(photo, (int(w * 1.2), int(h * 1.2)), interpolation=cv2.INTER_AREA)
    frames = []
    for i in range(n):
        dx = int((big.shape[1] - w) * (0.5 + 0.5 * np.sin(i / 15.0)))
        frames.append(np.ascontiguousarray(big[:h, dx : dx + w]))
    return frames


# -- modes --------------------------------------------------------------------------------------------
def bench_infer(args: argparse.Namespace, backend: str, model: str, res: str, size: tuple[int, int]) -> Result:
    """Model only. On TensorRT the CUDA-event times of each frame are kept too (trtexec-style: ``gpu_h2d``,
    ``gpu_compute``, ``gpu_d2h``), and ``infer`` is the host latency, transfers included."""
    from realtime_seg.segmenter import open_segmenter

    frames = photo_frames(size, 30)
    gpu = backend == "tensorrt"

    def run(be: str, threads: int | None, n: int) -> tuple[dict[str, list[float]], float, float, str]:
        samples: dict[str, list[float]] = {"preprocess": [], "infer": [], "postprocess": []}
        if be == "tensorrt":
            samples.update(gpu_h2d=[], gpu_compute=[], gpu_d2h=[])
        totals: list[float] = []
        options: dict[str, Any] = {"gpu_timing": True} if be == "tensorrt" else {}
        with open_segmenter(model, be, threads=threads, downsample=args.downsample, **options) as seg:
            working = seg.model_size(size)
            for i in range(args.warmup):
                seg.segment(frames[i % len(frames)], i)
            with CpuMeter() as cpu:
                for i in range(n):
                    r = seg.segment(frames[i % len(frames)], i)
                    for k in ("preprocess", "infer", "postprocess"):
                        samples[k].append(r.timings_ms[k])
                    if be == "tensorrt":
                        for k, v in getattr(seg.backend, "last_gpu_timings_ms", {}).items():
                            samples[f"gpu_{k}"].append(v)
                    totals.append(r.timings_ms["preprocess"] + r.timings_ms["infer"] + r.timings_ms["postprocess"])
            description = seg.backend.description
            if seg.spec.dynamic_size:
                description += f", working resolution {working[0]}x{working[1]}"
        return samples, 1000.0 / float(np.median(totals)), cpu.utilisation, description

    samples, fps, util, description = run(backend, args.threads, args.frames)
    result = Result("infer", backend, model, res, "-", args.threads, fps=fps, cpu_utilisation=util)
    result.stages_ms = {k: summarize(v) for k, v in samples.items() if v}
    result.extra["backend"] = description
    if gpu:
        result.extra["timing"] = (
            "infer = host latency (H2D + compute + D2H; gpu_* from CUDA events); CUDA graphs: see backend; "
            "throughput = frames / wall time after warm-up, one frame in flight"
        )
        _, base_fps, _, _ = run("onnxruntime", None, max(args.frames // 2, 10))
        result.baseline_fps, result.ratio = base_fps, fps / base_fps
        result.extra["baseline"] = "ONNX Runtime on the CPU (1 thread), same frames"
    elif backend == "onnxruntime" and args.threads != 0:
        _, base_fps, _, _ = run("onnxruntime", 0, max(args.frames // 2, 10))
        result.baseline_fps, result.ratio = base_fps, fps / base_fps
        result.extra["baseline"] = "ONNX Runtime with its own default threads (one per core)"
    return result


def _clip(args: argparse.Namespace, size: tuple[int, int], frames: int, folder: Path) -> Path:
    """The input video: ``--input`` as given, else a synthetic H.264 clip made from a real photo."""
    if args.input is not None:
        return Path(args.input)
    if getattr(args, "clip", "synthetic") != "synthetic":
        return _peer.camera_clip(size, frames, args.clip)
    from realtime_seg.io.samples import load_sample
    from realtime_seg.io.synth import ken_burns_frames, write_clip

    path = folder / f"bench_{size[0]}x{size[1]}_{frames}.mp4"
    if not path.exists():
        photo = load_sample("astronaut")
        write_clip(path, ken_burns_frames(photo, size_wh=size, n_frames=frames), options={"preset": "veryfast"})
    return path


def _settings(args: argparse.Namespace, model: str, backend: str) -> Any:
    from realtime_seg.pipeline.settings import ProcessingSettings

    threads = {} if args.threads is None else {"threads": args.threads}
    return ProcessingSettings(model=model, backend=backend, effect=args.effect, downsample=args.downsample, **threads)


def _offline_run(args: argparse.Namespace, clip: Path, out: Path, model: str, backend: str, sequential: bool) -> Any:
    from realtime_seg.pipeline.assemble import process_video
    from realtime_seg.pipeline.sinks import VideoOutputs

    settings = _settings(args, model, backend)
    with CpuMeter() as cpu:
        outputs = VideoOutputs(video=out, preset=args.preset, overwrite=True)  # the same name for every run
        stats = process_video(clip, outputs, settings, threaded=not sequential)
    return stats, cpu.utilisation


def bench_offline(args: argparse.Namespace, backend: str, model: str, res: str, size: tuple[int, int]) -> Result:
    with tempfile.TemporaryDirectory(prefix="rs-bench-") as tmp:
        clip = _clip(args, size, args.frames + args.warmup, Path(tmp))
        stats, util = _offline_run(args, clip, Path(tmp) / "out.mp4", model, backend, sequential=False)
        base, _ = _offline_run(args, clip, Path(tmp) / "base.mp4", model, backend, sequential=True)
    result = Result("offline", backend, model, res, args.effect, args.threads, fps=stats.fps, cpu_utilisation=util)
    for st in stats.stages:
        result.stages_ms[st.stage] = {"n": st.count, "median": st.median_ms, "p90": st.p90_ms, "p99": st.p99_ms}
    result.baseline_fps = base.fps
    result.ratio = stats.fps / base.fps if base.fps else None
    result.extra["baseline"] = "the same frames, every stage sequential in one thread"
    result.extra["frames"] = stats.frames
    result.extra["cpu_ms_per_frame"] = round(stats.cpu_ms_per_frame, 2)
    result.extra["x264_preset"] = args.preset
    return result


def bench_live(args: argparse.Namespace, backend: str, model: str, res: str, size: tuple[int, int]) -> Result:
    from realtime_seg.capture.sources import FileSource
    from realtime_seg.pipeline.measure import measure_live

    settings = _settings(args, model, backend)
    with tempfile.TemporaryDirectory(prefix="rs-bench-") as tmp:
        clip = _clip(args, size, 90, Path(tmp))
        with CpuMeter() as cpu:
            stats = measure_live(FileSource(clip, loop=True, paced=True), settings, args.live_seconds, warmup_s=1.0)
        samples = _live_latencies(stats)
    result = Result(
        "live",
        backend,
        model,
        res,
        args.effect,
        args.threads,
        fps=stats.processing_fps,
        cpu_utilisation=cpu.utilisation,
    )
    # the live measurement keeps per-stage medians only; latency has its full distribution
    result.stages_ms = {k: {"n": stats.frames_processed, "median": v} for k, v in stats.stage_ms.items()}
    result.stages_ms["latency"] = samples
    result.extra.update(
        baseline="none: a live source is paced at its frame rate; compare processing FPS with source_fps",
        capture_fps=round(stats.capture_fps, 1),
        source_fps=round(stats.source_fps, 1),
        dropped=stats.dropped,
        max_queued=stats.max_queued,
        latency="capture to output (median/p90/max ms): "
        f"{stats.latency_median_ms:.1f} / {stats.latency_p90_ms:.1f} / {stats.latency_max_ms:.1f}",
    )
    return result


def _live_latencies(stats: Any) -> dict[str, float]:
    return {
        "n": stats.frames_processed,
        "median": stats.latency_median_ms,
        "p90": stats.latency_p90_ms,
        "max": stats.latency_max_ms,
    }


MODE_FUNCS: dict[str, Callable[..., Result]] = {"infer": bench_infer, "offline": bench_offline, "live": bench_live}


# -- output -------------------------------------------------------------------------------------------
STAGE_ORDER = (
    "capture", "decode", "segment", "preprocess", "infer", "postprocess", "composite", "refine", "track", "effect",
    "encode", "write", "latency",
)  # fmt: skip


#: stages that add up to a frame's work; "segment" and "composite" are sums of others, "latency" is not work
STACKED_STAGES = ("capture", "decode", "preprocess", "infer", "postprocess", "refine", "track", "effect", "encode")
# (gpu_* stages are parts of "infer" on TensorRT, so they are not stacked either)


def table(results: list[Result]) -> str:
    lines = []
    head = (
        f"{'mode':8} {'backend':12} {'model':17} {'res':6} {'effect':8} {'thr':>3} "
        f"{'FPS':>7} {'base':>7} {'ratio':>6} {'CPU':>5}"
    )
    lines.append(head)
    lines.append("-" * len(head))
    for r in results:
        if r.skipped:
            lines.append(f"{r.mode:8} {r.backend:12} {r.model:17} {r.resolution:6} skipped: {r.skipped}")
            continue
        base = f"{r.baseline_fps:7.1f}" if r.baseline_fps else f"{'-':>7}"
        ratio = f"{r.ratio:5.2f}x" if r.ratio else f"{'-':>6}"
        thr = str(r.threads) if r.threads else "def"
        lines.append(
            f"{r.mode:8} {r.backend:12} {r.model:17} {r.resolution:6} {r.effect:8} {thr:>3} {r.fps:7.1f} {base} "
            f"{ratio} {r.cpu_utilisation * 100:4.0f}%"
        )
        stages = sorted(r.stages_ms, key=lambda s: STAGE_ORDER.index(s) if s in STAGE_ORDER else 99)
        for s in stages:
            st = r.stages_ms[s]
            if st.get("n"):
                tail = "".join(f"   {q} {st[q]:7.2f}" for q in ("p90", "p99", "max") if q in st)
                lines.append(f"{'':10}{s:12} median {st['median']:7.2f} ms{tail}")
        for k, v in r.extra.items():
            lines.append(f"{'':10}{k}: {v}")
    return "\n".join(lines)


def plot(results: list[Result], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise BenchError("--plot needs matplotlib: pip install 'realtime-seg[bench]'") from exc
    done = [r for r in results if not r.skipped]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(max(13.0, 6.0 + 0.7 * len(done)), 5.5))
    labels = [f"{r.mode} {r.resolution}\n{r.model}\n{r.backend} {'' if r.effect == '-' else r.effect}" for r in done]
    bottom = np.zeros(len(done))
    for stage in STACKED_STAGES:
        vals = np.array([r.stages_ms.get(stage, {}).get("median", 0.0) for r in done])
        if vals.any():
            ax1.bar(range(len(done)), vals, bottom=bottom, label=stage)
            bottom += vals
    ax1.set_xticks(range(len(done)), labels, fontsize=7, rotation=60, ha="right")
    ax1.set_ylabel("median ms per frame, stacked")
    ax1.text(0.99, 0.98, "threaded stages overlap in time", transform=ax1.transAxes, ha="right", va="top", fontsize=7)
    ax1.set_title("Stage breakdown")
    ax1.legend(fontsize=7, loc="upper left")
    groups: dict[tuple[str, str, str], list[Result]] = {}
    for r in done:
        groups.setdefault((r.mode, r.backend, r.model), []).append(r)
    for (mode, be, model), rs in groups.items():
        rs = sorted(rs, key=lambda r: _pixels(r.resolution))
        ax2.plot([_pixels(r.resolution) / 1e6 for r in rs], [r.fps for r in rs], "o-", label=f"{mode} {be} {model}")
    ax2.set_xlabel("megapixels per frame")
    ax2.set_ylabel("FPS")
    ax2.set_title("FPS against resolution")
    ax2.legend(fontsize=7)
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _pixels(res: str) -> int:
    w, h = RESOLUTIONS.get(res) or tuple(int(v) for v in res.split("x"))
    return w * h


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    from realtime_seg.io.atomic import write_bytes_atomic

    write_bytes_atomic(path, (json.dumps(data, indent=2) + "\n").encode(), mkdir=True)


# -- main ---------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", default="onnxruntime", help="onnxruntime, tensorrt or all (default: onnxruntime)")
    p.add_argument("--model", default="selfie", help="comma-separated models (default: selfie)")
    p.add_argument(
        "--downsample",
        type=float,
        default=None,
        help="rvm's working resolution as a fraction of the frame (default: chosen from the frame size)",
    )
    p.add_argument("--resolution", default="720p", help="comma-separated: 480p,720p,1080p or WxH (default: 720p)")
    p.add_argument("--effect", default="blur", help="effect for offline/live modes (default: blur)")
    p.add_argument("--mode", default="infer,offline,live", help="comma-separated: infer,offline,live (default: all)")
    p.add_argument("--input", type=Path, help="a video file to use instead of the default clip (see --clip)")
    p.add_argument("--frames", type=int, default=200, help="measured frames per configuration (default: 200)")
    p.add_argument("--warmup", type=int, default=20, help="warm-up frames, not measured (default: 20)")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="ONNX Runtime intra-op threads (default: 1; 0 = ONNX Runtime's default)",
    )
    p.add_argument("--preset", default="ultrafast", help="x264 preset for offline mode (default: ultrafast)")
    p.add_argument("--live-seconds", type=float, default=8.0, help="duration of live mode (default: 8)")
    p.add_argument("--json", type=Path, help="write results + environment as JSON")
    p.add_argument("--plot", type=Path, help="write a PNG plot")
    p.add_argument("--quiet", action="store_true", help="no table on stdout")
    _peer.add_peer_options(p)
    return p


def validate(args: argparse.Namespace) -> None:
    if args.backend not in BACKENDS:
        raise BenchError(f"unknown backend {args.backend!r}; valid names: {', '.join(BACKENDS)}")
    modes = [m.strip() for m in args.mode.split(",") if m.strip()]
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise BenchError(f"unknown mode {','.join(bad) or args.mode}; valid names: {', '.join(MODES)}")
    args.modes = modes
    args.resolutions = parse_resolutions(args.resolution)
    args.models = [m.strip() for m in args.model.split(",") if m.strip()]
    if args.input is not None and not args.input.is_file():
        raise BenchError(f"input file not found: {args.input}")
    _peer.check_peer_args(args, modes)
    if args.frames < 1 or args.warmup < 0:
        raise BenchError(f"--frames must be >= 1 and --warmup >= 0, got {args.frames} and {args.warmup}")


def run(args: argparse.Namespace) -> tuple[dict[str, Any], list[Result]]:
    from realtime_seg.backends.select import tensorrt_status

    backends = ["onnxruntime", "tensorrt"] if args.backend == "all" else [args.backend]
    results: list[Result] = []
    for backend in backends:
        skip = None
        if backend == "tensorrt":
            ok, why = tensorrt_status()
            skip = None if ok else why
        for model in args.models:
            for res, size in args.resolutions:
                for mode in args.modes:
                    effect = args.effect if mode != "infer" else "-"
                    if skip:
                        results.append(Result(mode, backend, model, res, effect, args.threads, skipped=skip))
                        continue
                    results.append(MODE_FUNCS[mode](args, backend, model, res, size))
                    if mode == "offline" and args.peer:
                        with tempfile.TemporaryDirectory(prefix="rs-bench-") as tmp:
                            clip = _clip(args, size, args.frames + args.warmup, Path(tmp))
                            results.append(_peer.bench_peer(args, backend, model, res, clip, Result))
    report = {"environment": environment(), "args": _jsonable(vars(args)), "results": [asdict(r) for r in results]}
    return report, results


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in d.items() if k not in ("resolutions",)}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        validate(args)
        report, results = run(args)
        if not args.quiet:
            env = report["environment"]
            print(
                f"# {env['cpu']} ({env['cores']} cores), {env['os']}, Python {env['python']}, "
                f"ORT {env['onnxruntime']}, commit {env['git_commit']}"
            )
            print(f"# thread budget: {env['thread_budget']}")
            print(table(results))
        if args.json:
            write_json_atomic(args.json, report)
            print(f"wrote {args.json}")
        if args.plot:
            plot(results, args.plot)
            print(f"wrote {args.plot}")
    except RealtimeSegError as exc:
        print(f"benchmark: error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
