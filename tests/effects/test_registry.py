"""The registry, stacking with '+', and the rule that effects never modify their input."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime_seg.effects import EFFECTS, ComposeEffect, create_effect, effect_names
from realtime_seg.effects.blur import BlurEffect
from realtime_seg.effects.overlay import OverlayEffect
from realtime_seg.errors import UnknownNameError
from realtime_seg.postprocess.types import MaskFrame


def test_registry_names() -> None:
    assert {"none", "blur", "replace", "overlay", "mask"} <= set(effect_names())
    for name, cls in EFFECTS.items():
        assert cls.name == name


def test_unknown_names_list_the_valid_ones() -> None:
    with pytest.raises(UnknownNameError, match=r"unknown effect 'sparkle'; valid names: none, blur, replace"):
        create_effect("sparkle")
    with pytest.raises(UnknownNameError, match="'nope'"):
        create_effect("blur+nope")


def test_stacked_effects_apply_in_order_with_their_own_options(scene: tuple[np.ndarray, MaskFrame]) -> None:
    frame, mask = scene
    stack = create_effect("blur+overlay", strength=6.0, alpha=0.3)
    assert isinstance(stack, ComposeEffect)
    blur, overlay = stack.effects
    assert isinstance(blur, BlurEffect) and blur.strength == 6.0
    assert isinstance(overlay, OverlayEffect) and overlay.alpha == 0.3
    expected = OverlayEffect(0.3).apply(BlurEffect(6.0).apply(frame, mask), mask)
    np.testing.assert_array_equal(stack.apply(frame, mask), expected)
    with pytest.raises(TypeError, match="takes no option"):
        create_effect("blur+mask", colour="red")


def test_compose_of_none_returns_a_new_array(scene: tuple[np.ndarray, MaskFrame]) -> None:
    frame, mask = scene
    out = ComposeEffect([create_effect("none")]).apply(frame, mask)
    assert out is not frame
    np.testing.assert_array_equal(out, frame)


@pytest.mark.parametrize("name", ["none", "blur", "replace", "overlay", "mask", "blur+overlay", "image"])
def test_effects_never_modify_their_input(name: str, scene: tuple[np.ndarray, MaskFrame], tmp_path: Path) -> None:
    frame, mask = scene
    if name == "image":
        path = tmp_path / "bg.png"
        cv2.imwrite(str(path), np.full((30, 40, 3), 9, np.uint8))
        effect = create_effect("replace", image=path)
    else:
        effect = create_effect(name)
    frame_before, alpha_before = frame.copy(), mask.alpha.copy()
    out1 = effect.apply(frame, mask)
    out2 = effect.apply(frame, mask)  # twice: reused scratch buffers must not leak into results
    np.testing.assert_array_equal(frame, frame_before)
    np.testing.assert_array_equal(mask.alpha, alpha_before)
    assert out1 is not frame and out1.shape == frame.shape and out1.dtype == np.uint8
    if name != "image":
        np.testing.assert_array_equal(out1, out2)
    out1[:] = 0  # a caller may modify its result without affecting the next one
    assert not np.array_equal(effect.apply(frame, mask), out1) or name == "mask"
