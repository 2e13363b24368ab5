#!/usr/bin/env python3
"""GPU smoke test for the TensorRT backend: one command on a machine with an NVIDIA GPU and TensorRT.

    python tools/gpu_smoke.py [--frames 1000] [--engine-dir DIR] [--keep]
    python tools/gpu_smoke.py --cuda-only     # a GPU and cuda-python, no TensorRT needed

It checks, printing a pass/fail table at the end (exit 0 when all pass, 1 on a failure, 2 when TensorRT or
a GPU is missing). Each check runs on its own: one that raises is recorded as FAIL with the exception text
(traceback in the log) and the next check runs; checks that need an earlier one say "not run" instead:
  1. a tiny dynamic-batch ONNX model builds at opt level 0 and matches ONNX Runtime (CPU) at batch 1 and 3;
  2. the default model builds in fp32 and fp16 at opt level 0 and matches ONNX Runtime (CPU) fp32 on the
     sample photos (IoU at 0.5 and max |diff|);
  3. a second open finds the engine in the cache and does not rebuild;
  4. everything CUDA runs in a worker thread (open, infer, close there), and the thread exits cleanly;
  5. a CUDA-graph run gives the plain-enqueue result (within 1e-5 in fp32, 1e-3 in fp16);
  6. 1000 frames are timed: H2D, GPU compute (CUDA events), D2H, host latency (their sum) and end-to-end
     per-frame wall time, as min/mean/median/p90/p95/p99, trtexec style.
Engines go to a temporary folder unless --engine-dir is given, so the first build is always real.

``--cuda-only`` checks the CUDA plumbing the backend uses where a GPU and cuda-python exist but TensorRT does not,
through the backend's own ``CudartApi`` and ``CudartGraphs``, each check in a fresh worker thread: the primary
context there, page-locked and device buffers, an async H2D/D2H round trip, CUDA-event timing, and a CUDA graph
captured from a copy, replayed with new data and compared with the same copy enqueued plainly. It exits 2 with one
line where cuda-python or a GPU (or a new enough driver) is missing.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from realtime_seg.backends.tensorrt import probe_details  # noqa: E402


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def run_in_worker(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` in a fresh thread (as the app's processing thread does); re-raise its exception here."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["error"] = exc

    t = threading.Thread(target=target, name="smoke-processing")
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box.get("value")


def stats(values: list[float]) -> str:
    a = np.asarray(values)
    p = np.percentile(a, [50, 90, 95, 99])
    return (
        f"min {a.min():.3f}  mean {a.mean():.3f}  median {p[0]:.3f}  p90 {p[1]:.3f}  p95 {p[2]:.3f}  p99 {p[3]:.3f} ms"
    )


def tiny_dynamic_model(path: Path) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.array([[[[0.5]], [[-1.0]], [[2.0]]]], np.float32), "w")
    b = numpy_helper.from_array(np.array([0.1], np.float32), "b")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["input", "w", "b"], ["z"]), helper.make_node("Sigmoid", ["z"], ["probability"])],
        "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 48, 64])],
        [helper.make_tensor_value_info("probability", TensorProto.FLOAT, ["N", 1, 48, 64])],
        [w, b],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def ort_run(onnx_path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    return np.asarray(sess.run(None, {sess.get_inputs()[0].name: x})[0])


def iou(a: np.ndarray, b: np.ndarray) -> float:
    ma, mb = a >= 0.5, b >= 0.5
    union = np.logical_or(ma, mb).sum()
    return float(np.logical_and(ma, mb).sum() / union) if union else 1.0


class Checks:
    """The result table. Each check runs in its own try/except: a failure is recorded and the next check runs."""

    def __init__(self) -> None:
        self.rows: list[Check] = []

    def run(self, name: str, fn: Callable[[], tuple[bool, str]], *, needs: tuple[str, ...] = ()) -> bool:
        """Run ``fn`` -> ``(ok, detail)``; FAIL with the exception text when it raises. ``needs``: earlier checks."""
        missing = [n for n in needs if not self.passed(n)]
        if missing:
            self.rows.append(Check(name, False, f"not run: needs {', '.join(missing)}"))
            return False
        try:
            ok, detail = fn()
        except Exception as exc:  # noqa: BLE001 - recorded as a failed check, then the next one runs
            logging.getLogger("gpu_smoke").exception("check %r raised", name)
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        self.rows.append(Check(name, ok, detail))
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}", flush=True)
        return ok

    def passed(self, name: str) -> bool:
        return any(c.name == name and c.ok for c in self.rows)

    def table(self) -> int:
        width = max((len(c.name) for c in self.rows), default=10)
        print("\n" + "=" * 100)
        for c in self.rows:
            print(f"{'PASS' if c.ok else 'FAIL'}  {c.name:{width}}  {c.detail}")
        failed = sum(not c.ok for c in self.rows)
        print(f"{len(self.rows) - failed} passed, {failed} failed")
        return 1 if failed or not self.rows else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--engine-dir", type=Path, default=None, help="default: a temporary folder (fresh builds)")
    ap.add_argument("--model", default="selfie")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--cuda-only", action="store_true", help="check the CUDA plumbing only (no TensorRT needed)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    if args.cuda_only:
        return cuda_only(args.frames)

    probe = probe_details()
    if not probe.ok:
        print(f"gpu_smoke: cannot run here: {probe.reason}", file=sys.stderr)
        return 2
    print(f"TensorRT {probe.trt_version}, {probe.cuda_api} {probe.cuda_api_version}, driver CUDA {probe.driver}")
    if probe.gpu is not None:
        print(probe.gpu.summary)

    checks = Checks()
    with tempfile.TemporaryDirectory(prefix="rtseg-smoke-") as tmp:
        engine_dir = args.engine_dir or Path(tmp) / "engines"
        try:
            smoke(args, Path(tmp), engine_dir, checks)
        except BaseException as exc:  # noqa: BLE001 - e.g. Ctrl-C: still print what ran
            checks.rows.append(Check("run completed", False, f"{type(exc).__name__}: {exc}"))
    return checks.table()


# -- --cuda-only ---------------------------------------------------------------------------------


def cuda_only(frames: int) -> int:
    """The CUDA checks (see the module docstring); 2 where they cannot run here."""
    from realtime_seg.backends.tensorrt.cuda_api import CudartApi
    from realtime_seg.errors import BackendError

    try:
        api = CudartApi()
    except (ImportError, OSError) as exc:
        print(
            f"gpu_smoke --cuda-only: cannot run here: cuda-python (cuda.bindings) does not import ({exc}): "
            "pip install 'cuda-python>=12.6,<13' (driver R525+) or 'cuda-python>=13' (driver R580+)",
            file=sys.stderr,
        )
        return 2
    try:
        count = api.device_count()
        print(f"cuda-python {api.version}, driver CUDA {api.driver_version()}, {count} GPU(s)")
        if count == 0:
            raise BackendError("no NVIDIA GPU was found")
        print(api.device_info(0).summary)
    except BackendError as exc:
        print(f"gpu_smoke --cuda-only: cannot run here: {exc}", file=sys.stderr)
        return 2
    checks = Checks()
    for name, fn in cuda_checks(api, frames):
        checks.run(name, lambda fn=fn: run_in_worker(lambda: in_context(api, fn)))
    return checks.table()


def in_context(api: Any, fn: Callable[[], tuple[bool, str]]) -> tuple[bool, str]:
    """Run ``fn`` with the device's primary context current in this (worker) thread, as the backend does."""
    api.activate(0)
    try:
        return fn()
    finally:
        api.deactivate()


def cuda_checks(api: Any, frames: int) -> list[tuple[str, Callable[[], tuple[bool, str]]]]:
    shape = (1, 3, 256, 256)  # a model input's size
    rng = np.random.default_rng(0)

    class Buffers:
        """Page-locked input and output buffers and a device buffer, freed in reverse order."""

        def __enter__(self) -> Buffers:
            self.stream = api.create_stream()
            self.host_in = api.alloc_host(shape, np.dtype(np.float32))
            self.host_out = api.alloc_host(shape, np.dtype(np.float32))
            self.dev = api.alloc_device(self.host_in.nbytes)
            return self

        def round_trip(self, x: np.ndarray) -> np.ndarray:
            np.copyto(self.host_in, x)
            api.htod_async(self.dev, self.host_in, self.stream)
            api.dtoh_async(self.host_out, self.dev, self.stream)
            api.synchronize(self.stream)
            return self.host_out.copy()

        def __exit__(self, *exc: object) -> None:
            api.free_device(self.dev)
            api.free_host(self.host_out)
            api.free_host(self.host_in)
            api.destroy_stream(self.stream)

    def context() -> tuple[bool, str]:
        ptr = api.alloc_device(1 << 20)  # fails without a current context
        api.free_device(ptr)
        return True, f"primary context current in thread {threading.current_thread().name}; 1 MiB allocated, freed"

    def buffers() -> tuple[bool, str]:
        with Buffers() as b:
            b.host_in[:] = 1.5
            ok = b.host_in.shape == shape and float(b.host_in.sum()) == 1.5 * b.host_in.size
            return ok, f"page-locked {list(shape)} float32 x2 and {b.host_in.nbytes >> 10} KiB on the device"

    def round_trip() -> tuple[bool, str]:
        with Buffers() as b:
            x = rng.random(shape, dtype=np.float32)
            y = b.round_trip(x)
            return bool(np.array_equal(x, y)), f"{x.nbytes >> 10} KiB H2D then D2H on one stream: equal {x.shape}"

    def events() -> tuple[bool, str]:
        with Buffers() as b:
            start, end = api.create_event(), api.create_event()
            try:
                times = []
                for _ in range(max(frames // 100, 3)):
                    api.record_event(start, b.stream)
                    api.htod_async(b.dev, b.host_in, b.stream)
                    api.record_event(end, b.stream)
                    api.synchronize(b.stream)
                    times.append(api.elapsed_ms(start, end))
            finally:
                api.destroy_event(end)
                api.destroy_event(start)
            med = float(np.median(times))
            rate = b.host_in.nbytes / med / 1e6 if med > 0 else 0.0
            return med > 0, (
                f"H2D of {b.host_in.nbytes >> 10} KiB: median {med:.4f} ms ({rate:.1f} GB/s) over {len(times)} copies"
            )

    def graph() -> tuple[bool, str]:
        graphs = api.graphs
        with Buffers() as b:
            handle = api.stream_handle(b.stream)
            graphs.synchronize(handle)  # as the backend (and trtexec) does before capture
            graphs.begin_capture(handle)
            try:
                api.htod_async(b.dev, b.host_in, b.stream)
                api.dtoh_async(b.host_out, b.dev, b.stream)
            except BaseException:
                graphs.end_capture_on_error(handle)
                raise
            g = graphs.end_capture(handle)
            exec_ = graphs.instantiate(g)
            graphs.destroy(g, None)
            try:
                worst = 0.0
                for _ in range(3):  # each launch copies what the host buffer holds now
                    x = rng.random(shape, dtype=np.float32)
                    np.copyto(b.host_in, x)
                    b.host_out[:] = np.nan
                    graphs.launch(exec_, handle)
                    api.synchronize(b.stream)
                    graphed = b.host_out.copy()
                    plain = b.round_trip(x)
                    worst = max(worst, float(np.nanmax(np.abs(graphed - plain))) if np.isfinite(graphed).all() else 1.0)
            finally:
                graphs.destroy(None, exec_)
            return worst <= 1e-6, f"3 launches with new data vs plain enqueue: max |diff| {worst:.1e} (<= 1e-6)"

    return [
        ("primary context in a worker thread", context),
        ("page-locked and device buffers", buffers),
        ("async H2D/D2H round trip", round_trip),
        ("CUDA events time a copy", events),
        ("CUDA graph of a copy == plain enqueue", graph),
    ]


def smoke(args: argparse.Namespace, tmp: Path, engine_dir: Path, checks: Checks) -> None:
    from realtime_seg.backends.tensorrt import TensorRTBackend

    def backend(path: Path, shape: tuple[int, ...], precision: str = "auto", **kw: Any) -> TensorRTBackend:
        return TensorRTBackend(path, shape, engine_dir=engine_dir, opt_level=0, precision=precision, **kw)

    # 1. tiny dynamic-batch model, two shapes, in a worker thread
    def tiny() -> tuple[bool, str]:
        path = tiny_dynamic_model(tmp / "tiny.onnx")
        x3 = np.random.default_rng(0).random((3, 3, 48, 64), dtype=np.float32)

        def work() -> tuple[np.ndarray, np.ndarray]:
            with backend(path, (1, 3, 48, 64), max_batch=4) as be:
                return be.infer(x3[:1]).copy(), be.infer(x3).copy()

        y1, y3 = run_in_worker(work)
        ref = ort_run(path, x3)
        d1, d3 = float(np.abs(y1 - ref[:1]).max()), float(np.abs(y3 - ref).max())
        return max(d1, d3) < 1e-3, f"max |diff| {d1:.2e} (batch 1), {d3:.2e} (batch 3)"

    checks.run("tiny model, batch 1 and 3 vs ORT (worker thread)", tiny)

    # 2. the default model's inputs and ONNX Runtime references
    data: dict[str, Any] = {}

    def prepare() -> tuple[bool, str]:
        from realtime_seg.io.samples import load_sample
        from realtime_seg.models.registry import resolve_model
        from realtime_seg.segmenter import Segmenter

        spec32 = resolve_model(args.model, precision="fp32")
        assert spec32.onnx_path is not None
        seg = Segmenter(spec32, backend(spec32.onnx_path, spec32.input_shape))  # preprocessing only; never opened
        data["tensors"] = [seg.preprocess(load_sample(name)) for name in ("astronaut", "camera")]
        data["refs"] = [ort_run(spec32.onnx_path, t) for t in data["tensors"]]
        for precision in ("fp32", "fp16"):
            spec = resolve_model(args.model, precision=precision)
            assert spec.onnx_path is not None
            data[precision] = (spec.onnx_path, spec.input_shape)
        return True, f"{spec32.name}: input {list(spec32.input_shape)}, 2 sample photos, ORT CPU references"

    prepared = "default model and samples ready"
    checks.run(prepared, prepare)

    limits = {"fp32": (5e-3, 0.995), "fp16": (0.1, 0.98)}  # fp32 may use TF32 on Ampere and newer
    graph_tolerance = {"fp32": 1e-5, "fp16": 1e-3}  # graph vs plain enqueue of the same engine
    for precision in ("fp32", "fp16"):
        built = f"{precision} engine builds and runs (worker thread)"

        def first_open(precision: str = precision) -> tuple[bool, str]:
            path, shape = data[precision]

            def work() -> tuple[list[np.ndarray], bool, str]:
                with backend(path, shape, precision, cuda_graph=False) as be:
                    outs = [be.infer(t).copy() for t in data["tensors"]]
                    assert be.engine is not None
                    return outs, be.engine.built, be.description

            t0 = time.perf_counter()
            outs, was_built, desc = run_in_worker(work)
            data[f"{precision} outs"] = outs
            how = f"built in {time.perf_counter() - t0:.1f} s" if was_built else "NOT built (stale --engine-dir?)"
            return was_built, f"{how}; {desc}"

        checks.run(built, first_open, needs=(prepared,))

        def accuracy(precision: str = precision) -> tuple[bool, str]:
            outs, refs = data[f"{precision} outs"], data["refs"]
            max_diff = max(float(np.abs(o - r).max()) for o, r in zip(outs, refs, strict=True))
            min_iou = min(iou(o, r) for o, r in zip(outs, refs, strict=True))
            lim_diff, lim_iou = limits[precision]
            return (
                max_diff <= lim_diff and min_iou >= lim_iou,
                f"IoU@0.5 min {min_iou:.4f} (>= {lim_iou}), max |diff| {max_diff:.2e} (<= {lim_diff})",
            )

        checks.run(f"{precision} engine vs ORT CPU fp32 (2 photos)", accuracy, needs=(built,))

        # 3. a second open finds the engine in the cache
        def cache_round_trip(precision: str = precision) -> tuple[bool, str]:
            path, shape = data[precision]

            def work() -> tuple[bool, np.ndarray]:
                with backend(path, shape, precision, cuda_graph=False) as plain:
                    out = plain.infer(data["tensors"][0]).copy()
                    assert plain.engine is not None
                    data[f"{precision} plain"] = out
                    return plain.engine.built, out

            rebuilt, _ = run_in_worker(work)
            return not rebuilt, "reused, no second build" if not rebuilt else "REBUILT"

        checks.run(f"{precision} cache round-trip", cache_round_trip, needs=(built,))

        # 5. a captured CUDA graph gives the plain-enqueue result
        def graph_equals_plain(precision: str = precision) -> tuple[bool, str]:
            path, shape = data[precision]

            def work() -> tuple[np.ndarray, np.ndarray, bool]:
                with backend(path, shape, precision, cuda_graph=False) as plain:
                    p = plain.infer(data["tensors"][0]).copy()
                with backend(path, shape, precision, cuda_graph=True) as graphed:
                    graphed.infer(data["tensors"][0])  # plain run + capture
                    g = graphed.infer(data["tensors"][0]).copy()  # graph launch
                    return p, g, graphed.graph_captured

            p, g, captured = run_in_worker(work)
            diff = float(np.abs(p - g).max())
            hint = "" if captured else " (capture needs cuda-python: pip install cuda-python; see the log)"
            # a tolerance, not bit equality: the two opens may pick kernels whose reductions order differently
            tol = graph_tolerance[precision]
            return captured and diff <= tol, f"graph captured: {captured}{hint}; max |diff| {diff:.1e} (<= {tol})"

        checks.run(f"{precision} CUDA graph == plain enqueue", graph_equals_plain, needs=(built,))

    # 4 + 6. timing in the worker thread
    for precision in ("fp32", "fp16"):
        for graphs in (False, True):
            name = f"{precision} timing, CUDA graphs {'requested' if graphs else 'off'} (worker thread)"

            def timed(precision: str = precision, graphs: bool = graphs) -> tuple[bool, str]:
                path, shape = data[precision]
                x = data["tensors"][0]

                def work() -> dict[str, list[float]]:
                    rec: dict[str, list[float]] = {"h2d": [], "compute": [], "d2h": [], "host": [], "wall": []}
                    with backend(path, shape, precision, cuda_graph=graphs, gpu_timing=True) as be:
                        for _ in range(50):  # warm-up
                            be.infer(x)
                        t_start = time.perf_counter()
                        for _ in range(args.frames):
                            t0 = time.perf_counter()
                            be.infer(x)
                            rec["wall"].append((time.perf_counter() - t0) * 1e3)
                            g = be.last_gpu_timings_ms
                            for k in ("h2d", "compute", "d2h"):
                                rec[k].append(g[k])
                            rec["host"].append(g["h2d"] + g["compute"] + g["d2h"])
                        rec["throughput"] = [args.frames / (time.perf_counter() - t_start)]
                        rec["graph"] = [float(be.graph_captured)]
                    return rec

                rec = run_in_worker(work)
                used = "on" if rec["graph"][0] else ("requested, capture unavailable" if graphs else "off")
                print(
                    f"\n{precision}, CUDA graphs {used}, {args.frames} frames, batch 1, "
                    f"transfers included in host latency, compute excludes them:"
                )
                for k, label in (
                    ("h2d", "H2D"),
                    ("compute", "GPU compute"),
                    ("d2h", "D2H"),
                    ("host", "host latency"),
                    ("wall", "end-to-end"),
                ):
                    print(f"  {label:13} {stats(rec[k])}")
                print(f"  throughput    {rec['throughput'][0]:.1f} frames/s")
                return (
                    True,
                    f"graphs {used}; GPU compute median {np.median(rec['compute']):.3f} ms, end-to-end median "
                    f"{np.median(rec['wall']):.3f} ms, {rec['throughput'][0]:.0f} fps",
                )

            checks.run(name, timed, needs=(f"{precision} engine builds and runs (worker thread)",))

    rvm_smoke(args, engine_dir, checks)


def rvm_smoke(args: argparse.Namespace, engine_dir: Path, checks: Checks) -> None:
    """rvm on TensorRT (state on the device): the golden sequence against ONNX Runtime, then timing."""
    from realtime_seg.backends.tensorrt.runtime import recurrent_io
    from realtime_seg.models import rvm
    from realtime_seg.models.registry import resolve_model
    from realtime_seg.segmenter import Segmenter

    if not rvm.is_fetched():
        checks.run("rvm", lambda: (True, "skipped: not fetched (`realtime-seg models fetch rvm`)"))
        return
    golden = np.load(Path(__file__).resolve().parents[1] / "tests/fixtures/golden/rvm__sequence.npz")
    frames = [np.ascontiguousarray(f[:, :, ::-1]) for f in golden["src_u8"]]  # RGB -> BGR

    def sequence(backend_name: str, precision: str) -> list[np.ndarray]:
        from realtime_seg.backends.onnxruntime import OnnxRuntimeBackend
        from realtime_seg.backends.tensorrt import TensorRTBackend

        spec = resolve_model("rvm", precision=precision)
        assert spec.onnx_path is not None
        be: Any = (
            TensorRTBackend(spec.onnx_path, spec.input_shape, engine_dir=engine_dir, recurrent=recurrent_io(spec))
            if backend_name == "tensorrt"
            else OnnxRuntimeBackend(spec.onnx_path, spec.input_shape, providers=("CPUExecutionProvider",))
        )
        with Segmenter(spec, be, downsample=1.0) as seg:
            return [seg.segment(f, i).probs.copy() for i, f in enumerate(frames)]

    for precision, limit in (("fp32", 5e-3), ("fp16", 5e-2)):

        def accuracy(precision: str = precision, limit: float = limit) -> tuple[bool, str]:
            ref = sequence("onnxruntime", "fp32")
            got = run_in_worker(lambda: sequence("tensorrt", precision))
            diff = max(float(np.abs(a - b).max()) for a, b in zip(got, ref, strict=True))
            return diff <= limit, f"{len(got)} frames, state carried on the GPU: alpha max |diff| vs ORT {diff:.2e}"

        checks.run(f"rvm {precision} on TensorRT vs ONNX Runtime (golden sequence)", accuracy)

    def timing() -> tuple[bool, str]:
        from realtime_seg.backends.tensorrt import TensorRTBackend

        spec = resolve_model("rvm", precision="fp16")
        assert spec.onnx_path is not None
        out = []
        for frame_wh, ratio in (((1920, 1080), 0.25), ((1280, 720), 1.0), ((1920, 1080), 1.0)):

            def work(frame_wh: tuple[int, int] = frame_wh, ratio: float = ratio) -> float:
                be = TensorRTBackend(
                    spec.onnx_path, spec.input_shape, engine_dir=engine_dir, recurrent=recurrent_io(spec)
                )
                frame = np.full((frame_wh[1], frame_wh[0], 3), 100, np.uint8)
                with Segmenter(spec, be, downsample=ratio) as seg:
                    for i in range(20):
                        seg.segment(frame, i)
                    t0 = time.perf_counter()
                    for i in range(200):
                        seg.segment(frame, i)
                    return (time.perf_counter() - t0) / 200 * 1e3

            ms = run_in_worker(work)
            w, h = int(round(frame_wh[0] * ratio)), int(round(frame_wh[1] * ratio))
            out.append(f"{w}x{h}: {ms:.2f} ms/frame")
        return True, "fp16, segmenter incl. preprocessing: " + ", ".join(out)

    checks.run("rvm fp16 timing on TensorRT", timing, needs=("rvm fp16 on TensorRT vs ONNX Runtime (golden sequence)",))


if __name__ == "__main__":
    sys.exit(main())
