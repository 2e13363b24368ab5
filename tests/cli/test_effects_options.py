"""The shared effect/refine CLI options turn into the right Effect and RefineConfig, with clear errors."""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime_seg.cli._common import add_model_options
from realtime_seg.cli._effects import (
    add_effect_options,
    add_refine_options,
    refine_config_from_args,
    settings_from_args,
)
from realtime_seg.effects import ComposeEffect
from realtime_seg.effects.base import Effect
from realtime_seg.effects.blur import BlurEffect
from realtime_seg.effects.overlay import OverlayEffect
from realtime_seg.effects.replace import ReplaceEffect
from realtime_seg.errors import InputError, UnknownNameError
from realtime_seg.postprocess.refine import RefineConfig


def _parse(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_effect_options(p)
    add_refine_options(p)
    add_model_options(p)
    return p.parse_args(list(argv))


def effect_from_args(args: argparse.Namespace) -> Effect:
    return settings_from_args(args).create_effect()


def test_defaults() -> None:
    args = _parse()
    effect = effect_from_args(args)
    assert isinstance(effect, BlurEffect) and effect.strength == 12.0
    assert refine_config_from_args(args) == RefineConfig()


def test_effect_options(tmp_path: Path) -> None:
    assert effect_from_args(_parse("--blur-strength", "5")).strength == 5.0  # type: ignore[attr-defined]
    replace = effect_from_args(_parse("--background", "#ff0000"))  # --background implies replace
    assert isinstance(replace, ReplaceEffect) and replace.source == "#ff0000"
    img = tmp_path / "bg.png"
    cv2.imwrite(str(img), np.zeros((8, 8, 3), np.uint8))
    assert effect_from_args(_parse("--effect", "replace", "--background", str(img))).source == str(img)  # type: ignore[attr-defined]
    stack = effect_from_args(_parse("--effect", "blur+overlay", "--overlay-alpha", "0.2"))
    assert isinstance(stack, ComposeEffect) and isinstance(stack.effects[1], OverlayEffect)
    assert stack.effects[1].alpha == 0.2


def test_effect_errors() -> None:
    with pytest.raises(UnknownNameError, match="valid names"):
        effect_from_args(_parse("--effect", "glow"))
    with pytest.raises(InputError, match="--background is for the replace effect, but the effect is 'blur'"):
        effect_from_args(_parse("--effect", "blur", "--background", "green"))
    with pytest.raises(InputError, match="background not found: missing.jpg"):
        effect_from_args(_parse("--background", "missing.jpg"))
    with pytest.raises(InputError, match="strength must be"):
        effect_from_args(_parse("--blur-strength", "-1"))


def test_refine_options() -> None:
    assert refine_config_from_args(_parse("--no-smoothing")).smoothing == 0.0
    assert refine_config_from_args(_parse("--smoothing", "0.3")).smoothing == 0.3
    assert refine_config_from_args(_parse("--no-edge-refine")).edge_refine is False
    assert refine_config_from_args(_parse("--threshold", "0.4")).threshold == 0.4
    with pytest.raises(InputError, match="threshold must be in"):
        refine_config_from_args(_parse("--threshold", "4"))
    with pytest.raises(SystemExit):
        _parse("--smoothing", "0.3", "--no-smoothing")
