"""``realtime-seg demo``: what ``make demo`` runs.

1. segments the astronaut photo (scikit-image's sample, fetched from PyPI once): mask + preview;
2. synthesises a 3.5 s 1280x720 30 fps H.264 clip from the same photo, panned and zoomed over a moving
   textured background (``demo_input.mp4``);
3. processes it with ``blur`` like ``realtime-seg process`` does (``demo_blur.mp4``, masks in ``demo_masks/``);
4. writes ``demo_contact_sheet.png``: input, mask and output side by side for four frames.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from realtime_seg.cli._common import add_model_options, out
from realtime_seg.errors import OutputError
from realtime_seg.models.registry import DEFAULT_MODEL

DEMO_SIZE_WH = (1280, 720)
DEMO_FPS = 30
DEMO_FRAMES = 105  # 3.5 s


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the default model on a sample photo and a synthetic clip (`make demo`)")
    p.add_argument("--out-dir", type=Path, default=Path("out"), help="output folder (default: out)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_model_options(p)
    p.set_defaults(func=run)


def make_demo_clip(path: Path, photo_bgr: np.ndarray) -> Path:
    """The demo input: ``photo_bgr`` Ken-Burns-panned over a moving texture, H.264, written atomically."""
    from realtime_seg.io.synth import ken_burns_frames
    from realtime_seg.io.video_writer import VideoWriter

    with VideoWriter(path, fps=DEMO_FPS, size_wh=DEMO_SIZE_WH, crf=18, preset="veryfast") as w:
        for frame in ken_burns_frames(photo_bgr, size_wh=DEMO_SIZE_WH, n_frames=DEMO_FRAMES):
            w.write(frame)
    return path


def contact_sheet(inputs: list[np.ndarray], masks: list[np.ndarray], outputs: list[np.ndarray]) -> np.ndarray:
    """One row per frame: input | mask | output, each 1/3 size, with column titles."""
    tile_w = DEMO_SIZE_WH[0] // 3
    rows = []
    for img, mask, res in zip(inputs, masks, outputs, strict=True):
        h, w = img.shape[:2]
        size = (tile_w, round(h * tile_w / w))
        tiles = [
            cv2.resize(x, size, interpolation=cv2.INTER_AREA)
            for x in (img, cv2.cvtColor(mask, cv2.COLOR_GRAY2BGR), res)
        ]
        rows.append(np.hstack([np.pad(t, ((2, 2), (2, 2), (0, 0)), constant_values=255) for t in tiles]))
    sheet = np.vstack(rows)
    header = np.full((36, sheet.shape[1], 3), 255, np.uint8)
    col = sheet.shape[1] // 3
    for i, title in enumerate(("input", "mask (alpha)", "output: blur")):
        cv2.putText(header, title, (i * col + 10, 26), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 0), 2, cv2.LINE_AA)
    return np.vstack([header, sheet])


def run(args: argparse.Namespace) -> int:
    from realtime_seg.cli.process import summary
    from realtime_seg.cli.segment import segment_images
    from realtime_seg.io.images import read_image, write_image_atomic
    from realtime_seg.io.samples import load_sample, sample_image_path
    from realtime_seg.io.video import VideoReader
    from realtime_seg.pipeline.assemble import process_video
    from realtime_seg.pipeline.settings import ProcessingSettings
    from realtime_seg.pipeline.sinks import VideoOutputs

    out_dir: Path = args.out_dir
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {out_dir}: {exc.strerror}") from exc

    photo = sample_image_path("astronaut")
    for mask, pv in segment_images([photo], out_dir, args.model, args.backend, args.threads):
        out(f"demo: segmented {photo.name}: {mask}, {pv}")

    clip = make_demo_clip(out_dir / "demo_input.mp4", load_sample("astronaut"))
    out(f"demo: synthesised {DEMO_FRAMES} frames {DEMO_SIZE_WH[0]}x{DEMO_SIZE_WH[1]} H.264: {clip}")

    blurred, masks_dir = out_dir / "demo_blur.mp4", out_dir / "demo_masks"
    # the 16:9 clip goes to the landscape model unless one was named: the square selfie model sees the
    # stretched 1280x720 frame and misses most of the torso while the photo is small (see the README)
    clip_model = "selfie-landscape" if str(args.model) == DEFAULT_MODEL else str(args.model)
    settings = ProcessingSettings(
        model=clip_model, backend=args.backend, threads=args.threads, effect="blur", downsample=args.downsample
    )
    # the demo owns its out folder: a second `make demo` replaces its outputs
    stats = process_video(clip, VideoOutputs(video=blurred, masks=masks_dir, overwrite=True), settings)
    for line in summary(stats):
        out(f"demo: {line}")

    picks = [round(i * (DEMO_FRAMES - 1) / 3) for i in range(4)]
    with VideoReader(clip) as r_in, VideoReader(blurred) as r_out:
        pairs = [(a.image, b.image) for a, b in zip(r_in, r_out, strict=True) if a.index in picks]
    masks = [read_image(masks_dir / f"{i:06d}.png")[..., 0] for i in picks]
    sheet = write_image_atomic(
        out_dir / "demo_contact_sheet.png", contact_sheet([a for a, _ in pairs], masks, [b for _, b in pairs])
    )
    out(f"demo: contact sheet (frames {', '.join(map(str, picks))}): {sheet}")
    return 0
