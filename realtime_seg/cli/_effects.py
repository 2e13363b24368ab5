"""Options shared by the commands that render effects (``process``, ``app``, ``demo``), and their one
translation into :class:`~realtime_seg.pipeline.settings.ProcessingSettings`."""

from __future__ import annotations

import argparse
from typing import Any

from realtime_seg.effects import effect_names
from realtime_seg.errors import SettingsError
from realtime_seg.pipeline.settings import (
    DEFAULT_BLUR_STRENGTH,
    DEFAULT_EFFECT,
    DEFAULT_OVERLAY_ALPHA,
    ProcessingSettings,
    default_effect,
    effect_options,
)
from realtime_seg.postprocess.refine import RefineConfig


def add_effect_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("effect")
    g.add_argument(
        "--effect",
        default=None,
        metavar="NAME",
        help=f"one of {', '.join(effect_names())}, or several joined by '+' (e.g. blur+outline) "
        f"(default: {DEFAULT_EFFECT}, or replace when --background is given)",
    )
    g.add_argument(
        "--blur-strength",
        type=float,
        default=None,
        metavar="SIGMA",
        help="blur: Gaussian sigma in pixels at 720p, scaled with the frame height "
        f"(default: {DEFAULT_BLUR_STRENGTH:g})",
    )
    g.add_argument(
        "--background",
        default=None,
        metavar="PATH_OR_COLOUR",
        help="replace: an image or video file (looped), or a colour: #rrggbb or a name such as green "
        "(default: a dark slate colour)",
    )
    g.add_argument(
        "--overlay-alpha",
        type=float,
        default=None,
        metavar="A",
        help=f"overlay: opacity of the class colours, in (0, 1] (default: {DEFAULT_OVERLAY_ALPHA:g})",
    )


def add_refine_options(p: argparse.ArgumentParser) -> None:
    d = RefineConfig()
    g = p.add_argument_group("mask refinement")
    s = g.add_mutually_exclusive_group()
    s.add_argument(
        "--smoothing",
        type=float,
        default=None,
        metavar="S",
        help="temporal smoothing against flicker: weight of the previous mask where the image is still, "
        f"in [0, 1) (default: {d.smoothing})",
    )
    s.add_argument("--no-smoothing", action="store_true", help="turn temporal smoothing off (same as --smoothing 0)")
    g.add_argument(
        "--edge-refine",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="snap the mask's edge to the image with a guided filter (default: on)",
    )
    g.add_argument(
        "--threshold",
        type=float,
        default=None,
        metavar="T",
        help="a hard mask: alpha >= T is the person, in (0, 1) (default: a soft alpha)",
    )


def refine_config_from_args(args: argparse.Namespace) -> RefineConfig:
    options: dict[str, Any] = {}
    if args.no_smoothing:
        options["smoothing"] = 0.0
    elif args.smoothing is not None:
        options["smoothing"] = args.smoothing
    if args.edge_refine is not None:
        options["edge_refine"] = args.edge_refine
    if args.threshold is not None:
        options["threshold"] = args.threshold
    try:
        return RefineConfig(**options)
    except ValueError as exc:
        raise SettingsError(str(exc)) from exc


def settings_from_args(args: argparse.Namespace) -> ProcessingSettings:
    """The command line's one translation into settings. Options for effects that are not chosen are an error."""
    effect = args.effect or default_effect(args.background)
    options = effect_options(
        effect,
        blur_strength=args.blur_strength,
        background=args.background,
        overlay_alpha=args.overlay_alpha,
        strict=True,
    )
    return ProcessingSettings(
        model=str(args.model),
        backend=args.backend,
        threads=args.threads,
        effect=effect,
        effect_options=options,
        refine=refine_config_from_args(args),
        every=getattr(args, "every", 1),
        downsample=getattr(args, "downsample", None),
        crop=getattr(args, "crop", "auto"),
    )
