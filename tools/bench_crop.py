"""Measure the person-centred crop (realtime_seg.crop) on small people in wide frames, and draw a contact sheet.

The clips are made from a real photo (scikit-image's astronaut): the photo is scaled to a fraction of a 1280x720
frame's height and panned across a textured background. The ground truth for each frame is the selfie model's
mask of the photo on its own (what the model does when the person fills its input), pasted where the photo is.
For each model, crop off and crop auto run through the real pipeline (refinement included), and we report:

- IoU against that ground truth inside the photo's box, median over the frames;
- flicker: the mean absolute alpha change between consecutive frames inside the box (lower is steadier);
- the crop stage's own cost in ms (model time excluded), median.

    PYTHONPATH=. python tools/bench_crop.py --sheet docs/crop_sheet.png --json out/crop.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from realtime_seg.io.samples import load_sample
from realtime_seg.pipeline.assemble import open_processor
from realtime_seg.pipeline.settings import ProcessingSettings

SIZE = (1280, 720)


def clip(photo: np.ndarray, height_frac: float, n: int, seed: int = 0) -> list[tuple[np.ndarray, tuple[int, int, int]]]:
    """Frames and the photo's box (x, y, side) in each."""
    w, h = SIZE
    rng = np.random.default_rng(seed)
    tex = cv2.GaussianBlur(rng.integers(0, 255, (h, w * 2, 3), dtype=np.uint8), (0, 0), 6)
    side = int(h * height_frac)
    small = cv2.resize(photo, (side, side), interpolation=cv2.INTER_AREA)
    out = []
    for i in range(n):
        u = i / max(1, n - 1)
        off = int(u * w * 0.5)
        frame = np.ascontiguousarray(tex[:, off : off + w])
        x = int(w * 0.1 + u * (w * 0.8 - side))
        y = int(h * 0.55 - side / 2)
        frame[y : y + side, x : x + side] = small
        out.append((frame, (x, y, side)))
    return out


def run(model: str, crop: str, frames: list[tuple[np.ndarray, tuple[int, int, int]]], own: np.ndarray) -> dict:
    settings = ProcessingSettings(model=model, backend="onnxruntime", effect="mask", crop=crop)
    ious, flick, crop_ms, alphas = [], [], [], []
    prev = None
    with open_processor(settings) as proc:
        for i, (img, (x, y, s)) in enumerate(frames):
            p = proc.process(img, i, i / 30)
            a = p.mask.alpha[y : y + s, x : x + s]
            truth = cv2.resize(own, (s, s), interpolation=cv2.INTER_NEAREST) >= 0.5
            got = a >= 0.5
            ious.append(float((got & truth).sum() / max(1, (got | truth).sum())))
            if prev is not None:
                flick.append(float(np.abs(a - prev).mean()))
            prev = a
            if "crop" in p.timings_ms:
                crop_ms.append(p.timings_ms["crop"])
            alphas.append(p.mask.alpha)
        summary = proc.crop.summary if proc.crop is not None else "off"
    return {
        "iou_median": float(np.median(ious)),
        "flicker_mean": float(np.mean(flick)),
        "crop_ms_median": float(np.median(crop_ms)) if crop_ms else 0.0,
        "crop": summary,
        "alphas": alphas,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--heights", default="0.3,0.45,0.6", help="photo height as a fraction of the frame's")
    ap.add_argument("--models", default="selfie,selfie-landscape")
    ap.add_argument("--sheet", type=Path, default=None, help="contact sheet PNG (crop off vs auto)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    photo = load_sample("astronaut")
    rows, sheet_rows = [], []
    print(f"{'model':17} {'height':>6} {'crop':>5} {'IoU':>6} {'flicker':>8} {'crop ms':>8}  crop use")
    for model in args.models.split(","):
        from realtime_seg.segmenter import open_segmenter

        with open_segmenter(model, "onnxruntime") as seg:
            own = seg.segment(photo).alpha((256, 256))
        for hf in (float(v) for v in args.heights.split(",")):
            frames = clip(photo, hf, args.frames)
            res = {c: run(model, c, frames, own) for c in ("off", "auto")}
            for c, r in res.items():
                print(
                    f"{model:17} {hf:6.2f} {c:>5} {r['iou_median']:6.3f} {r['flicker_mean']:8.4f} "
                    f"{r['crop_ms_median']:8.2f}  {r['crop']}"
                )
                rows.append({"model": model, "height": hf, "crop": c, **{k: v for k, v in r.items() if k != "alphas"}})
            if args.sheet is not None and model == "selfie":
                i = len(frames) // 2
                img = frames[i][0]
                tiles = [img] + [
                    cv2.cvtColor((res[c]["alphas"][i] * 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
                    for c in ("off", "auto")
                ]
                tiles = [cv2.resize(t, (426, 240), interpolation=cv2.INTER_AREA) for t in tiles]
                sheet_rows.append(np.hstack([np.pad(t, ((2, 2), (2, 2), (0, 0)), constant_values=255) for t in tiles]))
    if args.sheet is not None and sheet_rows:
        sheet = np.vstack(sheet_rows)
        header = np.full((32, sheet.shape[1], 3), 255, np.uint8)
        for k, t in enumerate(("frame", "selfie, crop off", "selfie, crop auto")):
            cv2.putText(header, t, (k * 430 + 8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 0), 2, cv2.LINE_AA)
        args.sheet.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(args.sheet), np.vstack([header, sheet]))
        print(f"wrote {args.sheet}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
