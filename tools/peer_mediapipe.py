#!/usr/bin/env python3
"""The peer: the MediaPipe + OpenCV background-blur recipe most tutorials and Linux-Fake-Background-Webcam use.

The recipe, exactly as issue 12 states it:

1. MediaPipe ``SelfieSegmentation(model_selection=1)`` from ``mediapipe==0.10.21``;
2. threshold the mask at 0.75, dilate it 5x5, box-blur it 10x10;
3. ``cv2.GaussianBlur(frame, (21, 21), 0)``, then a float blend;
4. OpenCV ``VideoCapture`` to read, ``VideoWriter`` with ``mp4v`` to write.

MediaPipe is never installed into our environment (it pulls opencv-contrib-python, jax and matplotlib):
this script installs it into a throw-away virtual environment with ``tools/make_golden.py``'s helper and
re-runs itself there. Usage (from the repository root, with the project's venv)::

    python tools/peer_mediapipe.py IN.mp4 OUT.mp4 [--venv DIR] [--python python3.11]

The last line on stdout is JSON: ``frames``, ``loop_s`` (first read to last write), ``first_frame_s``
(process start to the first frame written), ``mediapipe`` (version).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: a time stamp taken by the parent just before it starts the peer, so start-up includes the interpreter's
_LAUNCH_ENV = "PEER_LAUNCH_TIME"


def recipe(src: str, dst: str) -> dict[str, object]:
    """The recipe itself. Runs inside the throw-away venv: imports only cv2, numpy and mediapipe."""
    import cv2
    import mediapipe as mp
    import numpy as np

    cap = cv2.VideoCapture(src)
    if not cap.isOpened():
        raise SystemExit(f"peer: cannot open {src}")
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    out = cv2.VideoWriter(dst, cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    if not out.isOpened():
        raise SystemExit(f"peer: cannot write {dst}")
    kernel = np.ones((5, 5), np.uint8)
    frames, t_loop, first = 0, time.perf_counter(), None
    with mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=1) as seg:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            mask = seg.process(rgb).segmentation_mask
            _, mask = cv2.threshold(mask, 0.75, 1.0, cv2.THRESH_BINARY)
            mask = cv2.dilate(mask, kernel, iterations=1)
            mask = cv2.blur(mask, (10, 10))
            background = cv2.GaussianBlur(frame, (21, 21), 0)
            m3 = mask[:, :, None]
            blended = frame * m3 + background * (1.0 - m3)
            out.write(blended.astype(np.uint8))
            frames += 1
            if first is None:
                first = time.time()
    cap.release()
    out.release()
    launch = float(os.environ.get(_LAUNCH_ENV, "nan"))
    return {
        "frames": frames,
        "loop_s": time.perf_counter() - t_loop,
        "first_frame_s": (first - launch) if first is not None else None,
        "mediapipe": mp.__version__,
        "size_wh": [w, h],
    }


def default_venv() -> Path:
    """Where the throw-away environment is kept between benchmark runs: ``<cache>/peer-mediapipe`` (delete at will)."""
    sys.path.insert(0, str(REPO))
    from realtime_seg._pypi import cache_dir

    return cache_dir() / "peer-mediapipe"


def ensure_peer_python(venv: Path | None = None, python: str = "python3.11") -> Path:
    """The throw-away venv's interpreter, with the pinned mediapipe installed (created on first use)."""
    sys.path.insert(0, str(REPO / "tools"))
    from make_golden import ensure_venv, venv_python

    venv = venv or default_venv()
    py = venv_python(venv)
    if py.exists():
        check = subprocess.run([str(py), "-c", "import mediapipe"], capture_output=True)
        if check.returncode == 0:
            return py
    return ensure_venv(venv, python)


def peer_command(py: Path, src: Path, dst: Path) -> list[str]:
    """The command line that runs the recipe on ``src`` into ``dst`` with the venv's interpreter ``py``."""
    return [str(py), str(Path(__file__).resolve()), "--run", str(src), str(dst)]


def peer_env() -> dict[str, str]:
    """The environment for :func:`peer_command`, stamped with the launch time (call just before starting)."""
    env = dict(os.environ, **{_LAUNCH_ENV: repr(time.time())})
    env.pop("PYTHONPATH", None)
    env.setdefault("GLOG_minloglevel", "2")  # MediaPipe's start-up chatter
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input", type=Path)
    ap.add_argument("output", type=Path)
    ap.add_argument("--run", action="store_true", help="internal: run the recipe in this interpreter")
    ap.add_argument("--venv", type=Path, help="the throw-away venv (default: <cache>/peer-mediapipe)")
    ap.add_argument("--python", default="python3.11", help="interpreter for the throw-away venv (3.11/3.12)")
    args = ap.parse_args(argv)
    if args.run:
        print(json.dumps(recipe(str(args.input), str(args.output))), flush=True)
        return 0
    if not args.input.is_file():
        print(f"peer: input not found: {args.input}", file=sys.stderr)
        return 2
    py = ensure_peer_python(args.venv, args.python)
    return subprocess.run(peer_command(py, args.input, args.output), env=peer_env()).returncode


if __name__ == "__main__":
    raise SystemExit(main())
