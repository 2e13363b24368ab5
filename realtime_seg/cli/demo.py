"""``realtime-seg demo``: fetch the default model and segment a registry-shipped photo of a person."""

from __future__ import annotations

import argparse
from pathlib import Path

from realtime_seg.cli._common import add_model_options, out


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="fetch the default model and run it on a sample photo (what `make demo` runs)")
    p.add_argument("--out-dir", type=Path, default=Path("out"), help="output folder (default: out)")
    add_model_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from realtime_seg.cli.segment import segment_images
    from realtime_seg.io.samples import sample_image_path

    photo = sample_image_path("astronaut")
    for mask, pv in segment_images([photo], args.out_dir, args.model, args.backend, args.threads):
        out(f"demo: segmented {photo.name} with model {args.model!r}")
        out(f"  mask:    {mask}")
        out(f"  preview: {pv}")
    return 0
