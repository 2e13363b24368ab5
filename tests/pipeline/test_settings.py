"""ProcessingSettings: one set of defaults, one translation per front end, validated on construction."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

from realtime_seg.cli._common import add_model_options
from realtime_seg.cli._effects import add_effect_options, add_refine_options, settings_from_args
from realtime_seg.effects.overlay import OverlayEffect
from realtime_seg.errors import SettingsError, UnknownNameError
from realtime_seg.models.registry import AUTO_MODEL
from realtime_seg.pipeline.settings import ProcessingSettings, effect_options
from realtime_seg.postprocess.types import MaskFrame
from realtime_seg.ui.controls import PanelValues


def _cli(*argv: str) -> ProcessingSettings:
    p = argparse.ArgumentParser()
    add_effect_options(p)
    add_refine_options(p)
    add_model_options(p, default_model=AUTO_MODEL)  # as `process` and `app` do
    return settings_from_args(p.parse_args(list(argv)))


def test_the_app_and_the_command_line_default_to_the_same_picture() -> None:
    cli, app, lib = _cli(), PanelValues().settings(), ProcessingSettings()
    assert cli.effect == app.effect == lib.effect == "blur"
    assert cli.refine == app.refine == lib.refine
    assert cli.threads == app.threads == lib.threads == 1
    assert cli.create_effect().strength == app.create_effect().strength == 12.0  # type: ignore[attr-defined]


def test_same_controls_give_same_settings_from_both_front_ends() -> None:
    cli = _cli("--effect", "blur", "--blur-strength", "30", "--smoothing", "0.3", "--no-edge-refine")
    app = PanelValues(effect="blur", blur_strength=30, smoothing=0.3, edge=False).settings()
    assert cli == app


def test_the_app_outlines_switch_stacks_the_outline_effect_and_tracks() -> None:
    s = PanelValues(effect="replace", outlines=True).settings()
    assert s.effect == "replace+outline" and s.tracks
    assert not PanelValues(effect="blur").settings().tracks
    assert ProcessingSettings(outlines=True).tracks  # an outlines file alone needs the tracker too


def test_bad_values_raise_one_error_type_each() -> None:
    with pytest.raises(UnknownNameError, match="unknown effect 'glow'; valid names: none, blur"):
        ProcessingSettings(effect="glow")
    with pytest.raises(UnknownNameError, match="unknown backend 'cuda'; valid names: auto, onnxruntime, cpu"):
        ProcessingSettings(backend="cuda")
    with pytest.raises(SettingsError, match="threads must be >= 0"):
        ProcessingSettings(threads=-1)
    with pytest.raises(SettingsError, match="every must be >= 1, got 0"):
        ProcessingSettings(every=0)
    with pytest.raises(SettingsError, match="effect 'blur': strength must be"):
        ProcessingSettings(effect="blur", effect_options={"strength": -1}).create_effect()
    with pytest.raises(SettingsError, match="--overlay-alpha is for the overlay effect, but the effect is 'blur'"):
        effect_options("blur", overlay_alpha=0.3, strict=True)
    assert effect_options("blur", overlay_alpha=0.3) == {}  # the app's controls all have values: ignored


def test_settings_are_frozen_and_options_read_only() -> None:
    s = ProcessingSettings(effect_options={"strength": 5.0})
    with pytest.raises(AttributeError):
        s.effect = "none"  # type: ignore[misc]
    with pytest.raises(TypeError):
        s.effect_options["strength"] = 1.0  # type: ignore[index]


def test_the_overlay_colour_reaches_the_pixels() -> None:
    frame = np.full((8, 8, 3), 100, np.uint8)
    mask = MaskFrame(0, np.ones((8, 8), np.float32))
    red = OverlayEffect(**effect_options("overlay", color_bgr=(0, 0, 255), overlay_alpha=1.0)).apply(frame, mask)
    default = OverlayEffect(alpha=1.0).apply(frame, mask)
    assert tuple(red[4, 4]) == (0, 0, 255)
    assert tuple(default[4, 4]) == (255, 160, 64)  # the model's person colour (RGB 64,160,255) in BGR


def test_a_background_path_or_colour_goes_to_replace(tmp_path: Path) -> None:
    img = tmp_path / "bg.png"
    img.write_bytes(b"x")
    assert effect_options("replace", background=str(img)) == {"image": img}
    assert effect_options("replace", background="green") == {"color": (0, 255, 0)}
