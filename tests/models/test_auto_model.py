"""The model ``auto``: picked from the frame's shape."""

from __future__ import annotations

import pytest

from realtime_seg.errors import ModelError
from realtime_seg.models.registry import AUTO_MODEL, auto_model, resolve_auto, resolve_model


@pytest.mark.parametrize(
    ("size_wh", "expected"),
    [
        ((1920, 1080), "selfie-landscape"),  # 16:9 action footage
        ((1280, 720), "selfie-landscape"),
        ((640, 480), "selfie-landscape"),  # 4:3 webcams
        ((1280, 1024), "selfie"),  # 5:4: nearly square
        ((720, 720), "selfie"),
        ((1080, 1920), "selfie"),  # phone video
    ],
)
def test_auto_picks_landscape_for_wide_frames_and_selfie_otherwise(size_wh: tuple[int, int], expected: str) -> None:
    assert auto_model(size_wh) == expected
    assert resolve_auto(AUTO_MODEL, size_wh) == expected


def test_other_models_pass_through_and_auto_needs_a_size() -> None:
    assert resolve_auto("selfie", (1920, 1080)) == "selfie"
    assert resolve_auto("/models/mine.onnx", (1920, 1080)) == "/models/mine.onnx"
    with pytest.raises(ValueError, match="must be positive"):
        auto_model((0, 480))
    with pytest.raises(ModelError, match="picked from the frame size"):
        resolve_model(AUTO_MODEL)
