"""Effect and refinement options shared by ``process``, ``demo`` and ``app``.

Placeholder written against the agreed names until the effects branch lands its own version
(``add_effect_options``, ``add_refine_options``, ``effect_from_args``, ``refine_config_from_args``).
"""

from __future__ import annotations

import argparse

from realtime_seg.effects import create_effect, effect_names
from realtime_seg.effects.base import Effect
from realtime_seg.postprocess.refine import RefineConfig


def add_effect_options(p: argparse.ArgumentParser) -> None:
    default = "blur" if "blur" in effect_names() else "none"
    p.add_argument("--effect", default=default, help=f"effect: {', '.join(effect_names())} (default: {default})")


def add_refine_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threshold", type=float, default=None, help="hard mask at this probability (default: soft)")


def effect_from_args(args: argparse.Namespace) -> Effect:
    return create_effect(args.effect)


def refine_config_from_args(args: argparse.Namespace) -> RefineConfig:
    return RefineConfig(threshold=args.threshold)
