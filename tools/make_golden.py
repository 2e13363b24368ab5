#!/usr/bin/env python3
"""Write MediaPipe's own selfie-segmentation output as golden fixtures for the fidelity tests.

MediaPipe is installed into a throw-away virtual environment (never into ours: it pulls
opencv-contrib-python, jax and matplotlib), run there on the sample photos, and its probability
masks are written to ``tests/fixtures/golden/<model>__<image>.npz``:

* ``mask_u16``: the full frame-size mask, quantised as ``round(p * 65535)`` (step 1.5e-5, far below
  the tests' 1e-3 tolerance), compressed;
* ``mediapipe_version``, ``model``, ``model_selection``, ``image``, ``image_sha256`` (of the BGR
  pixels our ``load_sample`` returns).

Usage (from the repository root, with the project's venv)::

    python tools/make_golden.py [--python python3.11] [--venv DIR] [--out tests/fixtures/golden]

``--venv`` reuses an existing throw-away environment (created there if absent); by default a
temporary one is made and deleted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from realtime_seg.io.samples import SAMPLES, load_sample  # noqa: E402

MEDIAPIPE = "mediapipe==0.10.21"
PINS = [MEDIAPIPE, "numpy<2", "protobuf<5"]
MODELS = {"selfie": 0, "selfie-landscape": 1}  # our name -> mp model_selection

# runs inside the throw-away venv
RUNNER = r"""
import json, sys
import numpy as np
import mediapipe as mp
work = sys.argv[1]
jobs = json.load(open(work + "/jobs.json"))
out = {"mediapipe_version": mp.__version__}
for selection in sorted({j["model_selection"] for j in jobs}):
    with mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=selection) as seg:
        for j in jobs:
            if j["model_selection"] != selection:
                continue
            rgb = np.load(work + "/" + j["image"] + ".npy")
            res = seg.process(rgb)
            np.save(work + "/" + j["key"] + ".mask.npy", np.asarray(res.segmentation_mask, dtype=np.float32))
json.dump(out, open(work + "/result.json", "w"))
"""


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def ensure_venv(venv: Path, python: str) -> Path:
    py = venv_python(venv)
    if not py.exists():
        print(f"creating throw-away venv {venv} with {python}")
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
    print(f"installing {' '.join(PINS)} into {venv}")
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", *PINS], check=True)
    return py


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--python", default="python3.11", help="interpreter for the throw-away venv (3.11/3.12)")
    ap.add_argument("--venv", type=Path, help="reuse/create the throw-away venv here (kept afterwards)")
    ap.add_argument("--out", type=Path, default=REPO / "tests/fixtures/golden")
    args = ap.parse_args()
    if shutil.which(args.python) is None and not Path(args.python).exists():
        print(f"{args.python} not found; pass --python", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="golden-") as tmp:
        work = Path(tmp)
        py = ensure_venv(args.venv or work / "venv", args.python)
        jobs = []
        images = {}
        for image in SAMPLES:
            bgr = load_sample(image)
            images[image] = bgr
            np.save(work / f"{image}.npy", np.ascontiguousarray(bgr[:, :, ::-1]))  # MediaPipe wants RGB
            for model, selection in MODELS.items():
                jobs.append({"key": f"{model}__{image}", "image": image, "model_selection": selection})
        (work / "jobs.json").write_text(json.dumps(jobs))
        (work / "runner.py").write_text(RUNNER)
        subprocess.run([str(py), str(work / "runner.py"), str(work)], check=True)
        version = json.loads((work / "result.json").read_text())["mediapipe_version"]

        args.out.mkdir(parents=True, exist_ok=True)
        for job in jobs:
            mask = np.load(work / f"{job['key']}.mask.npy")
            bgr = images[job["image"]]
            if mask.shape != bgr.shape[:2]:
                raise SystemExit(f"{job['key']}: mask {mask.shape} != image {bgr.shape[:2]}")
            q = np.round(np.clip(mask, 0.0, 1.0) * 65535.0).astype(np.uint16)
            dest = args.out / f"{job['key']}.npz"
            np.savez_compressed(
                dest,
                mask_u16=q,
                mediapipe_version=np.array(version),
                model=np.array(job["key"].split("__")[0]),
                model_selection=np.array(job["model_selection"]),
                image=np.array(job["image"]),
                image_sha256=np.array(hashlib.sha256(bgr.tobytes()).hexdigest()),
            )
            shown = dest.relative_to(REPO) if dest.is_relative_to(REPO) else dest
            print(
                f"{shown}: {dest.stat().st_size} bytes, "
                f"mask {mask.shape} range [{mask.min():.4f}, {mask.max():.4f}] mean {mask.mean():.4f}"
            )
    print(f"mediapipe {version}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
