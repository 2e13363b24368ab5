#!/usr/bin/env python3
"""RVM's network under ONNX Runtime: our optimized conversion against the naive one, in the same run.

Both come from :func:`realtime_seg.models.rvm.convert` on the cached TF.js sources (``realtime-seg
models fetch rvm`` first): ``optimize=False`` translates op by op; ``optimize=True`` rewrites what
ONNX Runtime leaves unfused (batch norm into convs, hard-swish / hard-sigmoid, zero Pad into the conv,
the decoder's concat+conv split so every big conv takes ORT's blocked NCHWc path). The two sessions
run interleaved on the same input, so machine load affects both alike. Reported per configuration:
the median wall time and the median CPU time of the process per run (the work done, which other
processes on a shared machine do not inflate).

Usage::

    python tools/bench_rvm_convert.py [--size 320x180,480x270] [--threads 1,2] [--runs 30] [--with-selfie]

``--with-selfie`` also times the fetched MediaPipe models (fp32) in the same run, for a per-model
speed comparison on the same machine state.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from realtime_seg.models import rvm  # noqa: E402


def session(model_bytes: bytes, threads: int):  # type: ignore[no-untyped-def]
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.log_severity_level = 3
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")  # CPU time = work, not spinning
    return ort.InferenceSession(model_bytes, opts, providers=["CPUExecutionProvider"])


def measure(runs: dict, n: int) -> dict[str, tuple[float, float, float]]:  # type: ignore[type-arg]
    """Interleaved runs: name -> (median wall ms, median CPU ms, min wall ms)."""
    wall: dict[str, list[float]] = {k: [] for k in runs}
    cpu: dict[str, list[float]] = {k: [] for k in runs}
    for sess, feeds in runs.values():
        for _ in range(3):
            sess.run(None, feeds)
    for _ in range(n):
        for name, (sess, feeds) in runs.items():
            c0, t0 = time.process_time(), time.perf_counter()
            sess.run(None, feeds)
            wall[name].append((time.perf_counter() - t0) * 1e3)
            cpu[name].append((time.process_time() - c0) * 1e3)
    return {k: (statistics.median(wall[k]), statistics.median(cpu[k]), min(wall[k])) for k in runs}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="320x180", help="comma-separated working resolutions WxH (default: 320x180)")
    ap.add_argument("--with-selfie", action="store_true", help="also time selfie and selfie-landscape (fetched)")
    ap.add_argument("--threads", default="1,2", help="comma-separated intra-op thread counts (default: 1,2)")
    ap.add_argument("--runs", type=int, default=30, help="measured runs per model (default: 30)")
    args = ap.parse_args()
    sizes = [tuple(int(v) for v in text.lower().split("x")) for text in args.size.split(",")]
    src = rvm.rvm_dir() / "src"
    rvm.rvm_onnx_path()  # a clear error when rvm is not fetched
    graph, weights = (src / "rvm.json").read_bytes(), (src / "rvm.bin").read_bytes()
    models = {
        "naive": rvm.convert(graph, weights, optimize=False).SerializeToString(),
        "optimized": rvm.convert(graph, weights, optimize=True).SerializeToString(),
    }
    rng = np.random.default_rng(0)
    for w, h in sizes:
        feeds = {"src": rng.random((1, 3, h, w), dtype=np.float32)}
        feeds.update({s.input: np.zeros(rvm.state_shape(s, (w, h)), np.float32) for s in rvm.STATES})
        print(f"RVM network at {w}x{h}, {args.runs} interleaved runs each, ONNX Runtime CPU")
        for threads in (int(t) for t in args.threads.split(",")):
            runs = {name: (session(data, threads), feeds) for name, data in models.items()}
            if args.with_selfie:
                from realtime_seg.models.fetch import builtin_onnx_path
                from realtime_seg.models.registry import get_builtin

                for name in ("selfie", "selfie-landscape"):
                    shape = get_builtin(name).input_shape
                    data = builtin_onnx_path(name, fetch=False).read_bytes()
                    runs[name] = (session(data, threads), {"input": rng.random(shape, dtype=np.float32)})
            med = measure(runs, args.runs)
            for name, (wm, cm, wmin) in med.items():
                print(
                    f"  {threads} thread(s) {name:16}: wall median {wm:6.1f} ms (min {wmin:6.1f}), CPU {cm:6.1f} ms/run"
                )
            nw, nc, _ = med["naive"]
            ow, oc, _ = med["optimized"]
            print(f"  {threads} thread(s) naive/optimized: wall x{nw / ow:.2f}, CPU x{nc / oc:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
