"""The TF.js-graph-to-ONNX converter on hand-built tiny graphs, one op (or pattern) at a time.

Every graph is converted, validated (onnx.checker full check, strict shape inference), run by ONNX
Runtime and compared with a numpy reference of TensorFlow's semantics, with and without the
optimizing rewrites.
"""

from __future__ import annotations

import numpy as np
import pytest

from realtime_seg.errors import ModelError
from realtime_seg.models import tfjs2onnx
from tests.models.tfjs_graphs import (
    GraphBuilder,
    conv_nhwc,
    convert_and_run,
    ints,
    resize_bilinear_half_pixel,
    s,
    strs,
)

RNG = np.random.default_rng(7)
OPT = pytest.mark.parametrize("optimize", [True, False], ids=["optimized", "naive"])


def _x(h: int = 7, w: int = 9, c: int = 4) -> np.ndarray:
    return RNG.standard_normal((1, h, w, c)).astype(np.float32)


def _conv_attrs(stride: int = 1, padding: str = "VALID", dilation: int = 1) -> dict:
    return {
        "strides": ints(1, stride, stride, 1),
        "dilations": ints(1, dilation, dilation, 1),
        "padding": s(padding),
        "data_format": s("NHWC"),
    }


@OPT
@pytest.mark.parametrize(("stride", "padding", "act"), [(2, "SAME", "Relu6"), (1, "VALID", "Relu"), (1, "SAME", None)])
def test_fused_conv2d(optimize: bool, stride: int, padding: str, act: str | None) -> None:
    b = GraphBuilder()
    x = b.placeholder("x")
    w = RNG.standard_normal((3, 3, 4, 5)).astype(np.float32)
    bias = RNG.standard_normal(5).astype(np.float32)
    fused = ["BiasAdd"] + ([act] if act else [])
    y = b.node(
        "_FusedConv2D",
        [x, b.const(w), b.const(bias)],
        fused_ops=strs(*fused),
        num_args={"i": "1"},
        **_conv_attrs(stride, padding),
    )
    xv = _x()
    want = conv_nhwc(xv, w, stride=stride, padding=padding) + bias
    want = {"Relu6": np.clip(want, 0, 6), "Relu": np.maximum(want, 0), None: want}[act]
    np.testing.assert_allclose(convert_and_run(b, xv, y, optimize=optimize), want, atol=1e-4)


@OPT
def test_pad_then_depthwise_conv_and_batch_norm(optimize: bool) -> None:
    """Pad -> DepthwiseConv2dNative (no bias) -> Mul/Add per channel: folded into one conv when optimizing."""
    b = GraphBuilder()
    x = b.placeholder("x")
    paddings = np.array([[0, 0], [1, 2], [2, 1], [0, 0]], np.int32)
    pad = b.node("Pad", [x, b.const(paddings, np.int32)])
    w = RNG.standard_normal((3, 3, 4, 1)).astype(np.float32)
    dw = b.node("DepthwiseConv2dNative", [pad, b.const(w)], **_conv_attrs(2))
    scale, shift = RNG.standard_normal(4).astype(np.float32), RNG.standard_normal(4).astype(np.float32)
    y = b.node("Add", [b.node("Mul", [dw, b.const(scale)]), b.const(shift)])
    xv = _x()
    want = conv_nhwc(xv, w, stride=2, padding=(1, 2, 2, 1), depthwise=True) * scale + shift
    np.testing.assert_allclose(convert_and_run(b, xv, y, optimize=optimize), want, atol=1e-4)


@OPT
def test_fused_depthwise_and_plain_conv2d(optimize: bool) -> None:
    b = GraphBuilder()
    x = b.placeholder("x")
    w1 = RNG.standard_normal((3, 3, 4, 2)).astype(np.float32)  # channel multiplier 2
    b1 = RNG.standard_normal(8).astype(np.float32)
    dw = b.node(
        "FusedDepthwiseConv2dNative",
        [x, b.const(w1), b.const(b1)],
        fused_ops=strs("BiasAdd", "Relu"),
        num_args={"i": "1"},
        **_conv_attrs(1, "SAME"),
    )
    w2 = RNG.standard_normal((1, 1, 8, 3)).astype(np.float32)
    y = b.node("Conv2D", [dw, b.const(w2)], **_conv_attrs())
    xv = _x()
    want = conv_nhwc(np.maximum(conv_nhwc(xv, w1, padding="SAME", depthwise=True) + b1, 0), w2)
    np.testing.assert_allclose(convert_and_run(b, xv, y, optimize=optimize), want, atol=1e-4)


@OPT
def test_dilated_depthwise_conv_pattern(optimize: bool) -> None:
    """TF's dilated conv: SpaceToBatchND -> depthwise conv (VALID) -> BatchToSpaceND becomes one dilated conv."""
    b = GraphBuilder()
    x = b.placeholder("x")
    pad = b.node("Pad", [x, b.const(np.array([[0, 0], [4, 4], [4, 4], [0, 0]]), np.int32)])
    block = np.array([2, 2], np.int32)
    # paddings / crops for a 7x9 input padded to 15x17: make it divisible by 2 (the converter never reads them)
    s2b = b.node("SpaceToBatchND", [pad, b.const(block, np.int32), b.const([[0, 1], [0, 1]], np.int32)])
    w = RNG.standard_normal((5, 5, 4, 1)).astype(np.float32)
    dw = b.node("DepthwiseConv2dNative", [s2b, b.const(w)], **_conv_attrs())
    y = b.node("BatchToSpaceND", [dw, b.const(block, np.int32), b.const([[0, 1], [0, 1]], np.int32)])
    xv = _x()
    want = conv_nhwc(xv, w, dilation=2, padding=(4, 4, 4, 4), depthwise=True)
    got = convert_and_run(b, xv, y, optimize=optimize)
    assert got.shape == xv.shape
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_space_to_batch_outside_the_pattern_is_refused() -> None:
    b = GraphBuilder()
    x = b.placeholder("x")
    y = b.node("SpaceToBatchND", [x, b.const([2, 2], np.int32), b.const([[0, 1], [0, 1]], np.int32)], name="s2b")
    with pytest.raises(ModelError, match=r"SpaceToBatchND node 's2b': only the dilated-convolution pattern"):
        convert_and_run(b, _x(), y)


@OPT
def test_hard_swish_and_hard_sigmoid(optimize: bool) -> None:
    """MobileNetV3's x/6 * relu6(x + 3) and squeeze-excitation's relu6(x + 3)/6, as TF writes them."""
    b = GraphBuilder()
    x = b.placeholder("x")
    sixth, three = b.const(np.float32(1 / 6)), b.const(np.float32(3.0))
    hs = b.node("Mul", [b.node("Mul", [sixth, x]), b.node("Relu6", [b.node("AddV2", [x, three])])])
    gate = b.node("Mul", [sixth, b.node("Relu6", [b.node("AddV2", [hs, three])])])
    y = b.node("Mul", [hs, gate])
    xv = _x() * 4
    hswish = xv * np.clip(xv + 3, 0, 6) / 6
    want = hswish * np.clip(hswish + 3, 0, 6) / 6
    np.testing.assert_allclose(convert_and_run(b, xv, y, optimize=optimize), want, atol=1e-5)


@OPT
def test_upsample_and_crop_with_shape_arithmetic(optimize: bool) -> None:
    """RVM's decoder: Shape -> StridedSlice -> Mul -> ResizeBilinear (x2), then Slice to a skip size via Pack."""
    b = GraphBuilder()
    x = b.placeholder("x")
    shape = b.node("Shape", [x], out_type={"type": "DT_INT32"})
    one, three, step = b.const([1], np.int32), b.const([3], np.int32), b.const([1], np.int32)
    hw = b.node("StridedSlice", [shape, one, three, step], shrink_axis_mask={"i": "0"})
    up = b.node("ResizeBilinear", [x, b.node("Mul", [hw, b.const([2, 2], np.int32)])], half_pixel_centers={"b": True})
    # crop to (2h - 1) x (2w - 3): the target size built from scalars
    h = b.node("StridedSlice", [shape, one, b.const([2], np.int32), step], shrink_axis_mask={"i": "1"})
    w = b.node("StridedSlice", [shape, b.const([2], np.int32), three, step], shrink_axis_mask={"i": "1"})
    th = b.node("Sub", [b.node("Mul", [h, b.const(2, np.int32)]), b.const(1, np.int32)])
    tw = b.node("Sub", [b.node("Mul", [w, b.const(2, np.int32)]), b.const(3, np.int32)])
    size = b.node("Pack", [b.const(-1, np.int32), th, tw, b.const(-1, np.int32)], axis={"i": "0"})
    y = b.node("Slice", [up, b.const([0, 0, 0, 0], np.int32), size])
    xv = _x(5, 6, 3)
    want = resize_bilinear_half_pixel(xv, (10, 12))[:, :9, :9]
    got = convert_and_run(b, xv, y, optimize=optimize)
    assert got.shape == (1, 9, 9, 3)
    np.testing.assert_allclose(got, want, atol=1e-5)


@OPT
def test_concat_split_and_elementwise(optimize: bool) -> None:
    """ConcatV2 on channels, Split / SplitV, and Sigmoid, Tanh, Sub, RealDiv, Square, Minimum, Maximum."""
    b = GraphBuilder()
    x = b.placeholder("x")
    axis = b.const(-1, np.int32)
    w = RNG.standard_normal((1, 1, 4, 6)).astype(np.float32)
    conv = b.node("Conv2D", [x, b.const(w)], **_conv_attrs())
    cat = b.node("ConcatV2", [conv, x, axis])  # 10 channels
    parts = b.node("SplitV", [cat, b.const([3, -1], np.int32), axis])  # 3 + 7
    halves = b.node("Split", [axis, conv], num_split={"i": "2"})  # 3 + 3
    a = b.node("Sigmoid", [f"{parts}:0"])
    t = b.node("Tanh", [f"{halves}:1"])
    mixed = b.node("RealDiv", [b.node("Sub", [a, t]), b.const(np.float32(2.0))])
    sq = b.node("Square", [mixed])
    y = b.node("Maximum", [b.node("Minimum", [sq, b.const(np.float32(0.2))]), b.const(np.float32(0.01))])
    xv = _x()
    cv = conv_nhwc(xv, w)
    want = np.clip(((1 / (1 + np.exp(-cv[..., :3])) - np.tanh(cv[..., 3:])) / 2) ** 2, 0.01, 0.2)
    np.testing.assert_allclose(convert_and_run(b, xv, y, optimize=optimize), want, atol=1e-5)


@OPT
def test_mean_avgpool_and_broadcast_state(optimize: bool) -> None:
    """Mean over H, W (keep_dims), AvgPool SAME (TF averages valid pixels only), BroadcastTo of a 1x1x1x1 state."""
    b = GraphBuilder()
    x = b.placeholder("x")
    mean = b.node("Mean", [x, b.const([1, 2], np.int32)], keep_dims={"b": True})
    pool = b.node(
        "AvgPool", [x], ksize=ints(1, 2, 2, 1), strides=ints(1, 2, 2, 1), padding=s("SAME"), data_format=s("NHWC")
    )
    state = b.const(np.full((1, 1, 1, 1), 0.25, np.float32))
    wide = b.node("BroadcastTo", [state, b.node("Shape", [pool])])
    y = b.node("AddV2", [b.node("Mul", [pool, mean]), wide])
    xv = _x(7, 9, 4)
    padded = np.pad(xv, ((0, 0), (0, 1), (0, 1), (0, 0)), constant_values=np.nan)
    blocks = padded.reshape(1, 4, 2, 5, 2, 4)
    pooled = np.nanmean(blocks, axis=(2, 4))
    want = pooled * xv.mean(axis=(1, 2), keepdims=True) + 0.25
    np.testing.assert_allclose(convert_and_run(b, xv, y, optimize=optimize), want, atol=1e-5)


def _switch_graph(dead_op: str) -> tuple[GraphBuilder, str]:
    """RVM's control flow: ``y = ratio == 1 ? x : dead_op(x)`` through Switch / Merge."""
    b = GraphBuilder()
    x = b.placeholder("x")
    ratio = b.placeholder("ratio")
    pred = b.node("Equal", [ratio, b.const(np.float32(1.0))])
    sw = b.node("Switch", [x, pred])
    then = b.node("Identity", [f"{sw}:1"])
    other = b.node(dead_op, [f"{sw}:0"], name="else_branch")
    return b, b.node("Merge", [other, then], N={"i": "2"})


def test_switch_merge_folds_and_drops_the_dead_branch() -> None:
    """With the ratio fixed to 1 the else branch is dead: even an unsupported op there is never converted."""
    b, y = _switch_graph("FancyUnknownOp")
    xv = _x()
    np.testing.assert_allclose(convert_and_run(b, xv, y, fixed={"ratio": np.float32(1.0)}), xv)
    b, y = _switch_graph("Relu")
    np.testing.assert_allclose(convert_and_run(b, xv, y, fixed={"ratio": np.float32(0.5)}), np.maximum(xv, 0))


def test_unknown_op_is_named() -> None:
    b, y = _switch_graph("FancyUnknownOp")
    with pytest.raises(ModelError, match=r"unsupported TF\.js operator 'FancyUnknownOp' \(node 'else_branch'\)"):
        convert_and_run(b, _x(), y, fixed={"ratio": np.float32(0.5)})


def test_a_run_time_predicate_is_refused() -> None:
    b, y = _switch_graph("Relu")
    model, data = b.build()
    with pytest.raises(ModelError, match=r"predicate depends on a run-time input; fix that input"):
        tfjs2onnx.convert_tfjs(
            model,
            tfjs2onnx.decode_weights(model["weightsManifest"], data),
            inputs=[tfjs2onnx.GraphInput("x", "x", (1, 4, "h", "w")), tfjs2onnx.GraphInput("ratio", "ratio", ())],
            outputs={"y": y},
        )


# -- weights --------------------------------------------------------------------------------------


def test_weight_decoding_quantized_float16_int32_bool() -> None:
    b = GraphBuilder()
    q = RNG.uniform(-2, 3, (3, 4)).astype(np.float32)
    h = RNG.standard_normal(5).astype(np.float32)
    names = [
        b.const(q, quant="uint8"),
        b.const(h, quant="float16"),
        b.const([7, -8, 9], np.int32),
        b.const([True, False], bool),
    ]
    model, data = b.build()
    w = tfjs2onnx.decode_weights(model["weightsManifest"], data)
    lo, scale = q.min(), (q.max() - q.min()) / 255
    np.testing.assert_allclose(w[names[0]], lo + scale * np.round((q - lo) / scale), atol=1e-6)
    assert w[names[0]].dtype == np.float32 and np.abs(w[names[0]] - q).max() <= scale / 2 + 1e-6
    np.testing.assert_array_equal(w[names[1]], h.astype(np.float16).astype(np.float32))
    np.testing.assert_array_equal(w[names[2]], [7, -8, 9])
    np.testing.assert_array_equal(w[names[3]], [True, False])


def test_truncated_weights_name_the_weight() -> None:
    b = GraphBuilder()
    b.const(np.ones((4, 4), np.float32))
    last = b.const(np.ones((8,), np.float32))
    model, data = b.build()
    with pytest.raises(
        ModelError, match=rf"weights are truncated: '{last}' needs bytes 64\.\.96, the weight file has 90"
    ):
        tfjs2onnx.decode_weights(model["weightsManifest"], data[:90])
    with pytest.raises(ModelError, match=r"the weight file has 100 bytes, the manifest describes 96"):
        tfjs2onnx.decode_weights(model["weightsManifest"], data + b"\0" * 4)


def test_unsupported_weight_dtype() -> None:
    manifest = [{"paths": ["w.bin"], "weights": [{"name": "s", "shape": [1], "dtype": "string"}]}]
    with pytest.raises(ModelError, match=r"weight 's': unsupported dtype 'string'"):
        tfjs2onnx.decode_weights(manifest, b"")


def test_not_a_graph_model() -> None:
    with pytest.raises(ModelError, match=r"not a TF\.js graph model: 'modelTopology\.node' is missing"):
        tfjs2onnx.convert_tfjs({"format": "layers-model"}, {}, inputs=[], outputs={})


@OPT
def test_cast_floormod_squeeze_in_shape_arithmetic(optimize: bool) -> None:
    """RVM's resize-by-ratio branch: Shape -> Cast to float -> Mul by a ratio -> Cast to int; FloorMod; Squeeze."""
    b = GraphBuilder()
    x = b.placeholder("x")
    shape = b.node("Shape", [x], out_type={"type": "DT_INT32"})
    hw = b.node("StridedSlice", [shape, b.const([1], np.int32), b.const([3], np.int32), b.const([1], np.int32)])
    as_float = b.node("Cast", [hw], DstT={"type": "DT_FLOAT"}, SrcT={"type": "DT_INT32"})
    half = b.node("Cast", [b.node("Mul", [as_float, b.const(np.float32(0.5))])], DstT={"type": "DT_INT32"})
    even = b.node("Sub", [b.node("Mul", [half, b.const(2, np.int32)]), b.node("FloorMod", [hw, b.const(2, np.int32)])])
    ratio = b.node("Squeeze", [b.const(np.ones((1, 1), np.float32))], squeeze_dims=ints())  # folded: a constant
    scaled = b.node("Mul", [x, ratio])
    y = b.node("ResizeBilinear", [scaled, even], half_pixel_centers={"b": True})
    xv = _x(7, 9, 2)
    # 7x9: half = 3x4 (truncated), even = 2*half - (hw mod 2) = 5x7
    want = resize_bilinear_half_pixel(xv, (5, 7))
    got = convert_and_run(b, xv, y, optimize=optimize)
    assert got.shape == (1, 5, 7, 2)
    np.testing.assert_allclose(got, want, atol=1e-5)
