"""Output options shared by ``process`` (one file: paths) and ``batch`` (many files: per-input templates)."""

from __future__ import annotations

import argparse
from pathlib import Path

from realtime_seg.pipeline.sinks import DEFAULT_CODEC, DEFAULT_CRF, DEFAULT_PRESET


def add_every_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--every", type=int, default=1, metavar="N", help="compute the mask every N frames and reuse it in between"
    )


def add_output_files(p: argparse.ArgumentParser, *, templated: bool = False) -> None:
    """``--masks-out``, ``--alpha-out``, ``--outlines-out``, ``--counts-out``: paths, or (``templated``)
    templates such as ``{relpath}_masks`` filled in per input."""
    kind = str if templated else Path
    per = " (a template per input, e.g. {relpath}_masks)" if templated else ""
    p.add_argument(
        "--masks-out", type=kind, metavar="DIR", help=f"write the alpha of each frame as DIR/000000.png ...{per}"
    )
    per = " (a template per input, e.g. {relpath}_alpha.mp4)" if templated else ""
    p.add_argument("--alpha-out", type=kind, metavar="FILE", help=f"write the alpha as a grey video{per}")
    per = " (a template per input, e.g. {relpath}.outlines.jsonl)" if templated else ""
    p.add_argument(
        "--outlines-out",
        type=kind,
        metavar="FILE.jsonl",
        help=f"write tracked region outlines (ids stable across frames) as JSON Lines, one frame per line{per}",
    )
    per = " (a template per input, e.g. {relpath}.counts.csv)" if templated else ""
    p.add_argument(
        "--counts-out",
        type=kind,
        metavar="FILE.csv",
        help=f"write the tracked objects per class over time as CSV: frame, t, class, count, distinct_so_far{per}",
    )


def add_encode_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--codec", default=DEFAULT_CODEC, help=f"video encoder (default: {DEFAULT_CODEC}, H.264 yuv420p)")
    p.add_argument(
        "--crf",
        type=int,
        default=DEFAULT_CRF,
        help=f"quality for x264/x265/vpx, lower is better (default: {DEFAULT_CRF})",
    )
    p.add_argument("--preset", default=DEFAULT_PRESET, help=f"x264/x265 speed preset (default: {DEFAULT_PRESET})")
