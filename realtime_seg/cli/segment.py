"""``realtime-seg segment IMAGE... --out-dir DIR``: a mask and a preview per image."""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from realtime_seg.cli._common import add_model_options, out
from realtime_seg.errors import InputError, OutputError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("segment", help="segment still images: writes <stem>_mask.png and <stem>_preview.png")
    p.add_argument("images", nargs="+", type=Path, help="image files")
    p.add_argument("--out-dir", type=Path, default=Path("out"), help="output folder (default: out)")
    p.add_argument(
        "-y",
        "--overwrite",
        action="store_true",
        help="replace masks and previews that exist already (without it an existing one is an error, before any work)",
    )
    add_model_options(p)
    p.set_defaults(func=run)


def preview(image: np.ndarray, mask_u8: np.ndarray) -> np.ndarray:
    """The image beside its mask (grey), same height."""
    return np.hstack([image, cv2.cvtColor(mask_u8, cv2.COLOR_GRAY2BGR)])


def check_distinct_stems(images: list[Path], out_dir: Path) -> None:
    """Two inputs with one stem (``a.jpg a.png``) would write the same ``<stem>_mask.png``: refuse before any work."""
    seen: dict[str, Path] = {}
    for path in images:
        first = seen.setdefault(path.stem, path)
        if first is not path:
            raise InputError(
                f"{first} and {path} would both be written as {out_dir / (path.stem + '_mask.png')}; "
                "rename one of them or segment them in separate runs with different --out-dir"
            )


def segment_images(
    images: list[Path],
    out_dir: Path,
    model: str,
    backend: str,
    threads: int | None,
    downsample: float | None = None,
    *,
    overwrite: bool = True,
) -> list[tuple[Path, Path]]:
    """``<stem>_mask.png`` and ``<stem>_preview.png`` per image in ``out_dir``. Everything is checked before any
    work: the stems are distinct, every image reads, and (``overwrite=False``) no output exists yet."""
    from realtime_seg.io.images import alpha_u8, read_image, write_image_atomic
    from realtime_seg.segmenter import open_segmenter

    check_distinct_stems(images, out_dir)
    if not overwrite:
        taken = [out_dir / f"{p.stem}_{kind}.png" for p in images for kind in ("mask", "preview")]
        taken = [t for t in taken if t.exists()]
        if taken:
            more = f" (and {len(taken) - 1} more)" if len(taken) > 1 else ""
            raise OutputError(f"{taken[0]} exists already{more}; -y/--overwrite replaces it")
    frames = [read_image(p) for p in images]  # every input is checked before any work
    written = []
    # the model loads before anything is written
    with open_segmenter(model, backend, threads=threads, downsample=downsample) as seg:
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create output folder {out_dir}: {exc.strerror}") from exc
        for path, frame in zip(images, frames, strict=True):
            seg.reset()  # each image is its own source: a recurrent model starts from zeros
            mask = alpha_u8(seg.segment(frame).alpha())
            m = write_image_atomic(out_dir / f"{path.stem}_mask.png", mask)
            pv = write_image_atomic(out_dir / f"{path.stem}_preview.png", preview(frame, mask))
            written.append((m, pv))
    return written


def run(args: argparse.Namespace) -> int:
    for mask, pv in segment_images(
        args.images, args.out_dir, args.model, args.backend, args.threads, args.downsample, overwrite=args.overwrite
    ):
        out(f"wrote {mask} and {pv}")
    return 0
