"""Options shared by the commands that render effects (``process``, ``app``): the effect and the refiner."""

from __future__ import annotations

import argparse
from typing import Any

from realtime_seg.effects import Effect, create_effect, effect_names, split_effect_name
from realtime_seg.effects.replace import background_options
from realtime_seg.errors import InputError
from realtime_seg.postprocess.refine import RefineConfig

DEFAULT_EFFECT = "blur"


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
        help="blur: Gaussian sigma in pixels at 720p, scaled with the frame height (default: 12)",
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
        help="overlay: opacity of the class colours, in (0, 1] (default: 0.5)",
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


def effect_from_args(args: argparse.Namespace) -> Effect:
    """The effect the options ask for. Options for effects that are not chosen are an error."""
    name = args.effect or ("replace" if args.background is not None else DEFAULT_EFFECT)
    parts = split_effect_name(name)  # UnknownNameError lists the valid names
    options: dict[str, Any] = {}
    for flag, value, effect in (
        ("--blur-strength", args.blur_strength, "blur"),
        ("--background", args.background, "replace"),
        ("--overlay-alpha", args.overlay_alpha, "overlay"),
    ):
        if value is not None and effect not in parts:
            raise InputError(f"{flag} is for the {effect} effect, but the effect is {name!r}")
    if args.blur_strength is not None:
        options["strength"] = args.blur_strength
    if args.background is not None:
        options.update(background_options(args.background))
    if args.overlay_alpha is not None:
        options["alpha"] = args.overlay_alpha
    try:
        return create_effect(name, **options)
    except ValueError as exc:
        raise InputError(f"effect {name!r}: {exc}") from exc


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
        raise InputError(str(exc)) from exc
