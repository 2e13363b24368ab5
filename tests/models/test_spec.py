from __future__ import annotations

from pathlib import Path

import pytest

from realtime_seg.errors import ModelError, SpecError
from realtime_seg.models.registry import (
    BUILTIN_SPECS,
    check_spec_against_graph,
    get_builtin,
    load_user_model,
    read_graph_io,
)
from realtime_seg.models.spec import ModelSpec
from tests.tiny_models import SPEC_TOML_BRIGHTNESS, brightness_model, write_user_model


def test_builtin_specs_match_the_mediapipe_models() -> None:
    assert BUILTIN_SPECS["selfie"].input_shape == (1, 3, 256, 256)
    assert BUILTIN_SPECS["selfie-landscape"].input_shape == (1, 3, 144, 256)
    for spec in (BUILTIN_SPECS["selfie"], BUILTIN_SPECS["selfie-landscape"]):
        assert spec.color_order == "RGB" and spec.value_range == (0.0, 1.0) and spec.resample == "mediapipe"


def test_unknown_builtin_lists_valid_names() -> None:
    with pytest.raises(KeyError, match="unknown model 'selfy'; valid names: selfie, selfie-landscape, rvm"):
        get_builtin("selfy")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"input_size_wh": (0, 10)}, r"'input_size': expected \[width, height\] > 0, got \(0, 10\)"),
        ({"layout": "CHW"}, r"'layout': expected one of NCHW, NHWC, got 'CHW'"),
        ({"output_kind": "boxes"}, r"'output': expected one of probability, logits, labels, got 'boxes'"),
        ({"std": (1.0, 0.0, 1.0)}, r"'std': expected non-zero values"),
        ({"class_names": ("a", "b", "c")}, r"a 'probability' model has 2 classes .* got 3"),
        ({"class_colors_rgb": ((0, 0, 0),)}, r"'colors': expected 2 colours \(one per class\), got 1"),
        ({"foreground_classes": (5,)}, r"'foreground': expected class indices in 0..1, got \[5\]"),
    ],
)
def test_spec_validation_names_field_and_values(kwargs: dict, message: str) -> None:
    base = {"name": "m", "input_size_wh": (32, 32)}
    with pytest.raises(SpecError, match=message):
        ModelSpec(**{**base, **kwargs})


def test_spec_defaults_palette_and_foreground() -> None:
    spec = ModelSpec(name="m", input_size_wh=(8, 4), output_kind="logits", class_names=("bg", "a", "b"))
    assert spec.foreground_classes == (1, 2)
    assert len(spec.class_colors_rgb) == 3
    assert spec.input_shape == (1, 3, 4, 8)


def test_user_model_loads_with_its_sidecar(tmp_path: Path) -> None:
    spec = load_user_model(write_user_model(tmp_path, "logits"))
    assert spec.name == "rgb-classes"
    assert spec.class_names == ("background", "red", "green")
    assert spec.class_colors_rgb[1] == (255, 0, 0)


def test_user_model_without_sidecar(tmp_path: Path) -> None:
    path = brightness_model(tmp_path / "m.onnx")
    with pytest.raises(SpecError, match=r"has no sidecar spec m.toml"):
        load_user_model(path)


def test_spec_disagreeing_with_graph_names_both_shapes(tmp_path: Path) -> None:
    path = brightness_model(tmp_path / "m.onnx", size_wh=(64, 48))
    path.with_suffix(".toml").write_text(SPEC_TOML_BRIGHTNESS.replace("[64, 48]", "[256, 256]"))
    with pytest.raises(SpecError, match=r"input shape \[1, 3, 256, 256\].*has shape \[1, 3, 48, 64\]"):
        load_user_model(path)


def test_logits_channel_count_checked(tmp_path: Path) -> None:
    path = write_user_model(tmp_path, "logits")
    spec = ModelSpec.from_toml(path.with_suffix(".toml"), path)
    spec4 = ModelSpec(
        name="x", input_size_wh=(64, 48), output_kind="logits", class_names=("a", "b", "c", "d"), onnx_path=path
    )
    check_spec_against_graph(spec, read_graph_io(path))
    with pytest.raises(SpecError, match=r"expects 4 output channel\(s\), but the graph's output 'logits' has 3"):
        check_spec_against_graph(spec4, read_graph_io(path))


def test_missing_and_non_onnx_files(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="model file not found"):
        load_user_model(tmp_path / "nope.onnx")
    bogus = tmp_path / "photo.onnx"
    bogus.write_bytes(b"\x89PNG\r\n\x1a\n not a model at all")
    with pytest.raises(ModelError, match=r"photo.onnx is not an ONNX model"):
        read_graph_io(bogus)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('input_size = [4, 4]\nclasses = ["a", "b"]\n', r"'output' is missing"),
        ('output = "probability"\n', r"'input_size' is missing"),
        ('output = "probability"\ninput_size = [4, 4]\ncolour = 1\n', r"unknown spec field\(s\) \['colour'\]"),
        ("output = = 3", r"not a valid TOML file"),
    ],
)
def test_bad_sidecar_files(tmp_path: Path, toml: str, message: str) -> None:
    p = tmp_path / "m.toml"
    p.write_text(toml)
    with pytest.raises(SpecError, match=message):
        ModelSpec.from_toml(p)
