"""``realtime-seg app``: the desktop app on a webcam or a file played as a camera; ``--measure`` runs headless."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from realtime_seg.cli._common import add_crop_option, add_model_options, out, seconds_arg, size_arg
from realtime_seg.errors import InputError
from realtime_seg.models.registry import AUTO_MODEL, resolve_auto


def register(sub: argparse._SubParsersAction) -> None:
    from realtime_seg.ui.controls import EFFECT_ORDER

    p = sub.add_parser(
        "app",
        help="the live desktop app (webcam, or a file played as a camera)",
        description="Live segmentation in a window. Keys: space pause, S snapshot, R record, F full screen, "
        "1-6 effects, Q quit, F1 help. --measure runs without a window and prints the speed figures.",
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--camera", type=int, metavar="N", help="camera index (default: the last used, or 0)")
    src.add_argument("--input", type=Path, metavar="FILE", help="play a video file as if it were a camera (loops)")
    p.add_argument("--size", type=size_arg, default=(1280, 720), metavar="WxH", help="camera resolution (1280x720)")
    p.add_argument("--effect", default=None, help=f"start with this effect ({', '.join(EFFECT_ORDER)})")
    p.add_argument("--outlines", action="store_true", help="with --measure: draw tracked region outlines")
    p.add_argument("--output-dir", type=Path, default=None, help="snapshots and recordings (default: Pictures)")
    p.add_argument(
        "--measure",
        type=seconds_arg,
        default=None,
        metavar="SECONDS",
        help="no window: run for SECONDS and print capture FPS, processing FPS, latency, queued and dropped frames",
    )
    add_model_options(p, default_model=AUTO_MODEL)
    add_crop_option(p, default=None)
    p.set_defaults(func=run, model=None, backend=None)  # None: as last time (saved), else auto


def run(args: argparse.Namespace) -> int:
    from realtime_seg.ui.controls import available_effects

    if args.effect is not None and args.effect not in available_effects():
        from realtime_seg.errors import UnknownNameError

        raise UnknownNameError("effect", args.effect, available_effects())
    if args.measure is not None:
        if args.input is not None and not args.input.is_file():
            raise InputError(f"input file not found: {args.input}")
        return _measure(args)
    # a missing or unreadable --input opens the window on a screen that says so (a desktop launcher shows no
    # terminal); what must be said on the terminal is that no window can open at all
    from realtime_seg.ui.qtlibs import xcb_problem

    problem = xcb_problem()
    if problem is not None:
        sys.stderr.write(f"realtime-seg: error: {problem}\n")
        return 1
    from realtime_seg.ui.app import run_app
    from realtime_seg.ui.window import AppOptions

    opts = AppOptions(
        camera=args.camera,
        input=args.input,
        model=args.model,
        backend=args.backend,
        effect=args.effect,
        crop=args.crop,
        threads=args.threads,
        output_dir=args.output_dir,
        camera_size_wh=args.size,
        downsample=args.downsample,
    )
    return run_app(opts)


def _measure(args: argparse.Namespace) -> int:
    from realtime_seg.capture.sources import CameraSource, FileSource, Source
    from realtime_seg.pipeline.measure import measure_live
    from realtime_seg.ui.controls import PanelValues

    source: Source = FileSource(args.input) if args.input else CameraSource(args.camera or 0, *args.size)
    values = PanelValues(
        effect=args.effect or PanelValues.effect,
        model=args.model or AUTO_MODEL,
        backend=args.backend or "auto",
        outlines=args.outlines,
        crop=args.crop or "auto",
    )
    settings = values.settings(args.threads, args.downsample)
    stats = measure_live(source, settings, args.measure)
    model = settings.model
    if model == AUTO_MODEL:
        model = f"{AUTO_MODEL} ({resolve_auto(model, stats.source_size_wh)})"
    out(f"realtime-seg app --measure: effect {settings.effect}, model {model}")
    for line in stats.lines():
        out("  " + line)
    for msg in stats.messages:
        out(f"  note: {msg}")
    return 0
