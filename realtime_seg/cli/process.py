"""``realtime-seg process IN -o OUT``: argument parsing for :func:`realtime_seg.pipeline.assemble.process_video`.

Every check that can fail (input readable, output folders writable, effect name, model) runs before
the first frame; outputs are written under temporary names and renamed only when complete.
"""

from __future__ import annotations

import argparse
import functools
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from realtime_seg.cli._common import add_crop_option, add_model_options, out
from realtime_seg.cli._effects import add_effect_options, add_refine_options, settings_from_args
from realtime_seg.errors import SettingsError
from realtime_seg.models.registry import AUTO_MODEL
from realtime_seg.pipeline.sinks import DEFAULT_CODEC, DEFAULT_CRF, DEFAULT_PRESET, VideoOutputs
from realtime_seg.pipeline.stats import RunStats


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "process",
        help="process a video file: blur/replace the background, write masks, alpha or outlines",
        description="Process a video file (anything FFmpeg reads: mp4, mkv, mov, webm, avi, gif, frames/%06d.png). "
        "The audio is copied unchanged; outputs appear under their final names only when complete.",
    )
    p.add_argument("input", type=Path, help="input video (or an image sequence pattern such as frames/%%06d.png)")
    p.add_argument("-o", "--output", type=Path, help="output video (.mp4, .mkv, .mov, ...)")
    add_effect_options(p)
    add_refine_options(p)
    add_model_options(p, default_model=AUTO_MODEL)
    add_crop_option(p)
    p.add_argument(
        "--every", type=int, default=1, metavar="N", help="compute the mask every N frames and reuse it in between"
    )
    p.add_argument("--masks-out", type=Path, metavar="DIR", help="write the alpha of each frame as DIR/000000.png ...")
    p.add_argument("--alpha-out", type=Path, metavar="FILE", help="write the alpha as a grey video")
    p.add_argument(
        "--outlines-out",
        type=Path,
        metavar="FILE.jsonl",
        help="write tracked region outlines (ids stable across frames) as JSON Lines, one frame per line",
    )
    p.add_argument(
        "--counts-out",
        type=Path,
        metavar="FILE.csv",
        help="write the tracked objects per class over time as CSV: frame, t, class, count, distinct_so_far",
    )
    p.add_argument("--codec", default=DEFAULT_CODEC, help=f"video encoder (default: {DEFAULT_CODEC}, H.264 yuv420p)")
    p.add_argument(
        "--crf",
        type=int,
        default=DEFAULT_CRF,
        help=f"quality for x264/x265/vpx, lower is better (default: {DEFAULT_CRF})",
    )
    p.add_argument("--preset", default=DEFAULT_PRESET, help=f"x264/x265 speed preset (default: {DEFAULT_PRESET})")
    p.add_argument(
        "-y",
        "--overwrite",
        action="store_true",
        help="replace outputs that exist already (without it an existing output file, or a --masks-out folder "
        "that is not empty, is an error); the old numbered frames in --masks-out are removed first",
    )
    p.add_argument(
        "--keep-partial",
        action="store_true",
        help="on an error, Ctrl-C or SIGTERM, keep the frames written so far as a playable file under the output name",
    )
    p.add_argument(
        "--sequential",
        action="store_true",
        help="baseline: decode, inference, OpenCV and encode one after the other on a single thread",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")
    p.set_defaults(func=run)


def outputs_from_args(args: argparse.Namespace) -> VideoOutputs:
    return VideoOutputs(
        video=args.output,
        alpha=args.alpha_out,
        masks=args.masks_out,
        outlines=args.outlines_out,
        counts=args.counts_out,
        codec=args.codec,
        crf=args.crf,
        preset=args.preset,
        overwrite=args.overwrite,
    )


def execute(args: argparse.Namespace, *, progress: bool = True) -> RunStats:
    """Run one ``process`` job from parsed arguments: translate them, then :func:`process_video`."""
    from realtime_seg.pipeline.assemble import process_video

    if args.every < 1:
        raise SettingsError(f"--every must be >= 1, got {args.every}")
    settings = settings_from_args(args)
    outputs = outputs_from_args(args)
    with ExitStack() as stack:
        on_progress = None
        if progress and not args.quiet:
            from tqdm import tqdm

            bar = stack.enter_context(
                tqdm(
                    total=None,
                    unit="frame",
                    desc=args.input.name[:24],
                    file=sys.stderr,
                    dynamic_ncols=True,
                    smoothing=0.1,
                )
            )
            on_progress = functools.partial(_tick, bar)
        return process_video(
            args.input,
            outputs,
            settings,
            threaded=not args.sequential,
            keep_partial=args.keep_partial,
            on_progress=on_progress,
        )


def _tick(bar: Any, done: int, total: int | None) -> None:
    if bar.total is None and total is not None:
        bar.total = total
    bar.update(done - bar.n)


def summary(stats: RunStats) -> list[str]:
    mode = "threaded" if stats.threaded else "sequential"
    lines = [
        f"{stats.frames} frames in {stats.wall_s:.2f} s: {stats.fps:.1f} FPS end to end ({mode}; {stats.model}); "
        f"CPU {stats.cpu_ms_per_frame:.1f} ms/frame"
    ]
    stages = "  ".join(f"{st.stage} {st.median_ms:.2f}" for st in stats.stages)
    lines.append(f"median ms per frame: {stages}")
    lines.append(f"person crop: {stats.crop}")
    if stats.tracking:
        lines.append(f"objects: {stats.tracking}")
    lines += [f"wrote {p}" for p in stats.outputs]
    return lines


def run(args: argparse.Namespace) -> int:
    stats = execute(args)
    if args.quiet:
        return 0
    for line in summary(stats):
        out(line)
    return 0
