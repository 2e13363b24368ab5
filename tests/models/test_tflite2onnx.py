"""Converter: padding/option helpers by hand, then structure checks on the real models."""

from __future__ import annotations

import collections

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from realtime_seg.errors import ModelError
from realtime_seg.models.tflite2onnx import (
    INPUT_NAME,
    OPSET,
    OUTPUT_NAME,
    TransposeConvOptions,
    convert_tflite,
    parse_transpose_conv_options,
    same_padding,
    same_padding_transpose,
)


@pytest.mark.parametrize(
    ("in_size", "kernel", "stride", "dilation", "expected"),
    [
        (256, 3, 2, 1, (0, 1)),  # 3x3 s2 on even input: extra pixel bottom/right (MODEL.md)
        (128, 5, 2, 1, (1, 2)),  # 5x5 s2: pads [1, 1, 2, 2] (MODEL.md)
        (128, 3, 1, 1, (1, 1)),
        (128, 1, 1, 1, (0, 0)),
        (9, 3, 2, 1, (1, 1)),  # odd input: out 5, total (5-1)*2+3-9 = 2
        (10, 3, 1, 2, (2, 2)),  # dilation 2: effective kernel 5
        (144, 3, 2, 1, (0, 1)),
        (5, 1, 2, 1, (0, 0)),
    ],
)
def test_same_padding_matches_hand_values(
    in_size: int, kernel: int, stride: int, dilation: int, expected: tuple[int, int]
) -> None:
    assert same_padding(in_size, kernel, stride, dilation) == expected


def test_same_padding_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="must be >= 1"):
        same_padding(0, 3, 1)


@pytest.mark.parametrize(
    ("in_size", "kernel", "stride", "expected"),
    [(16, 2, 2, (0, 0)), (9, 2, 2, (0, 0)), (8, 3, 2, (0, 1)), (8, 4, 2, (1, 1)), (8, 3, 1, (1, 1))],
)
def test_same_padding_transpose(in_size: int, kernel: int, stride: int, expected: tuple[int, int]) -> None:
    # full transposed output (in-1)*s+k, cropped to in*s with the odd pixel at the end
    assert same_padding_transpose(in_size, kernel, stride) == expected


def test_same_padding_transpose_explicit_output_and_impossible() -> None:
    assert same_padding_transpose(8, 3, 2, out_size=17) == (0, 0)  # VALID
    with pytest.raises(ValueError, match="cannot produce"):
        same_padding_transpose(8, 2, 2, out_size=17)


def test_transpose_conv_options_parse_the_models_blob() -> None:
    blob = bytes.fromhex("010000000200000002000000")
    assert parse_transpose_conv_options(blob) == TransposeConvOptions("SAME", 2, 2)


def test_transpose_conv_options_little_endian_and_valid() -> None:
    blob = (2).to_bytes(4, "little") + (3).to_bytes(4, "little") + (1).to_bytes(4, "little")
    assert parse_transpose_conv_options(blob) == TransposeConvOptions("VALID", stride_w=3, stride_h=1)


@pytest.mark.parametrize(
    ("blob", "match"),
    [
        (b"\x01\x00\x00\x00", "at least 12 bytes"),
        (bytes.fromhex("070000000200000002000000"), "unknown padding enum 7"),
        (bytes.fromhex("010000000000000002000000"), "strides must be >= 1"),
    ],
)
def test_transpose_conv_options_errors(blob: bytes, match: str) -> None:
    with pytest.raises(ModelError, match=match):
        parse_transpose_conv_options(blob)


def test_not_a_tflite_file() -> None:
    with pytest.raises(ModelError, match="not a TFLite model"):
        convert_tflite(b"\x00" * 64, name="junk")


# -- real models (sources come from the pinned wheel) -------------------------------------------


def _node(model: onnx.ModelProto, op_type: str, index: int = 0) -> onnx.NodeProto:
    return [n for n in model.graph.node if n.op_type == op_type][index]


def _attrs(node: onnx.NodeProto) -> dict[str, object]:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


@pytest.mark.network
@pytest.mark.parametrize(("name", "hw"), [("selfie", (256, 256)), ("selfie-landscape", (144, 256))])
def test_converted_graph_structure(tflite_sources: dict[str, bytes], name: str, hw: tuple[int, int]) -> None:
    model = convert_tflite(tflite_sources[name], name=name)
    assert model.opset_import[0].version == OPSET
    (inp,), (out,) = model.graph.input, model.graph.output
    assert inp.name == INPUT_NAME and out.name == OUTPUT_NAME
    assert [d.dim_value for d in inp.type.tensor_type.shape.dim] == [1, 3, *hw]
    assert [d.dim_value for d in out.type.tensor_type.shape.dim] == [1, 1, *hw]
    counts = collections.Counter(n.op_type for n in model.graph.node)
    assert counts == {
        "Conv": 43 + 11,
        "HardSwish": 11,
        "Relu": 22,
        "Sigmoid": 11,
        "Mul": 10,
        "Add": 14,
        "Resize": 3,
        "GlobalAveragePool": 10,
        "ConvTranspose": 1,
    }
    # every weight and bias: 106,401 float values (+ 3 x 4 int64 Resize sizes = MODEL.md's 106,413)
    params = sum(int(np.prod(t.dims)) for t in model.graph.initializer if t.data_type == onnx.TensorProto.FLOAT)
    assert params == 106_401
    # first conv: 3x3 stride 2 on an even input -> TF SAME pads top/left 0, bottom/right 1
    first = _attrs(_node(model, "Conv", 0))
    assert first["strides"] == [2, 2] and first["pads"] == [0, 0, 1, 1]
    # every depthwise 5x5 stride 2 conv gets pads [1, 1, 2, 2]
    dw5 = [
        _attrs(n)
        for n in model.graph.node
        if n.op_type == "Conv" and _attrs(n)["group"] != 1 and _attrs(n)["kernel_shape"] == [5, 5]
    ]
    assert dw5 and all(a["pads"] == [1, 1, 2, 2] for a in dw5 if a["strides"] == [2, 2])
    for i in range(3):
        resize = _attrs(_node(model, "Resize", i))
        assert resize["mode"] == b"linear" and resize["coordinate_transformation_mode"] == b"half_pixel"
    ct = _node(model, "ConvTranspose")
    assert _attrs(ct) == {"kernel_shape": [2, 2], "strides": [2, 2], "pads": [0, 0, 0, 0]}
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    assert inits[ct.input[1]].shape == (16, 1, 2, 2)  # [Cin, Cout, kh, kw]
    onnx.checker.check_model(model, full_check=True)


def _set_opcode(buf: bytes, old: int, new: int) -> bytes:
    """Rewrite a builtin op code in place in the flatbuffer (both the int8 and int32 fields)."""
    import tflite

    data = bytearray(buf)
    model = tflite.Model.GetRootAsModel(data, 0)
    for i in range(model.OperatorCodesLength()):
        tab = model.OperatorCodes(i)._tab
        if model.OperatorCodes(i).BuiltinCode() == old:
            for slot, width in ((4, 1), (10, 4)):  # deprecated_builtin_code: int8, builtin_code: int32
                off = tab.Offset(slot)
                assert off, "field absent"
                data[tab.Pos + off : tab.Pos + off + width] = new.to_bytes(width, "little", signed=True)
            return bytes(data)
    raise AssertionError(f"op code {old} not in the model")


@pytest.mark.network
def test_unsupported_builtin_op_is_named(tflite_sources: dict[str, bytes]) -> None:
    import tflite

    buf = _set_opcode(tflite_sources["selfie"], tflite.BuiltinOperator.HARD_SWISH, tflite.BuiltinOperator.SQUARE)
    with pytest.raises(ModelError, match=r"selfie: unsupported TFLite op SQUARE \(operator \d+\)"):
        convert_tflite(buf, name="selfie")


@pytest.mark.network
def test_unsupported_custom_op_is_named(tflite_sources: dict[str, bytes]) -> None:
    buf = tflite_sources["selfie"].replace(b"Convolution2DTransposeBias", b"Convolution2DTransposeBiaX")
    with pytest.raises(ModelError, match="unsupported TFLite custom op 'Convolution2DTransposeBiaX'"):
        convert_tflite(buf, name="selfie")
