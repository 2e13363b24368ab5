"""Operator handlers: convolutions (with their rewrites: a zero ``Pad`` folded into the conv, a conv over a
``Concat`` split into one conv per part, ``SpaceToBatchND`` -> conv -> ``BatchToSpaceND`` as one dilated conv),
padding, means, pooling, resizing and broadcasting."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from realtime_seg.errors import ModelError
from realtime_seg.models.tfjs2onnx.converter import (
    DEAD,
    NHWC_TO_NCHW_AXIS_INV,
    Converter,
    Dyn,
    Value,
    all_const,
    handles,
    nchw_axis,
)
from realtime_seg.models.tfjs2onnx.graph import TfNode
from realtime_seg.models.tfjs2onnx.ops_shape import channels

# -- convolutions ---------------------------------------------------------------------------------


@dataclass
class _ConvPlan:
    x: Dyn
    weight: np.ndarray  # ONNX OIHW
    bias: np.ndarray | None
    group: int
    strides: list[int]
    dilations: list[int]
    pads: list[int] | None  # [top, left, bottom, right]; None = SAME_UPPER
    activation: str | None


def _fused_activation(node: TfNode) -> str | None:
    fused = node.attrs.get("fused_ops", [])
    if node.op in ("Conv2D", "DepthwiseConv2dNative"):
        return None
    if not fused or fused[0] != "BiasAdd":
        raise ModelError(f"{node.op} node {node.name!r}: unsupported fused ops {fused} (expected BiasAdd first)")
    acts = fused[1:]
    if len(acts) > 1 or (acts and acts[0] not in ("Relu", "Relu6", "Sigmoid", "Tanh")):
        raise ModelError(f"{node.op} node {node.name!r}: unsupported fused activation {acts}")
    return acts[0] if acts else None


def _conv_plan(c: Converter, node: TfNode, ins: list[Value]) -> _ConvPlan:
    x = ins[0]
    if not isinstance(x, Dyn) or x.rank != 4:
        raise ModelError(f"{node.op} node {node.name!r}: the input must be a 4-D run-time tensor")
    if node.attrs.get("data_format", "NHWC") != "NHWC":
        raise ModelError(f"{node.op} node {node.name!r}: only NHWC data_format is supported")
    filt = c.const_input(node, 1, "filter").astype(np.float32)
    depthwise = "Depthwise" in node.op
    if depthwise:
        kh, kw, cin, mult = filt.shape
        weight = filt.reshape(kh, kw, cin * mult).transpose(2, 0, 1)[:, None]
        group = cin
    else:
        weight = filt.transpose(3, 2, 0, 1)
        group = 1
    bias = None
    activation = _fused_activation(node)
    if node.op.startswith("_Fused") or node.op.startswith("Fused"):
        if int(node.attrs.get("num_args", 1)) != 1:
            raise ModelError(f"{node.op} node {node.name!r}: only a fused BiasAdd (num_args 1) is supported")
        bias = c.const_input(node, 2, "bias").astype(np.float32)
    strides = node.attrs.get("strides", [1, 1, 1, 1])
    dilations = node.attrs.get("dilations", [1, 1, 1, 1])
    padding = node.attrs.get("padding", "VALID")
    pads: list[int] | None
    if padding == "SAME":
        pads = None
    elif padding == "VALID":
        pads = [0, 0, 0, 0]
    elif padding == "EXPLICIT":
        e = node.attrs.get("explicit_paddings", [0] * 8)
        pads = [e[2], e[4], e[3], e[5]]
    else:
        raise ModelError(f"{node.op} node {node.name!r}: unsupported padding {padding!r}")
    return _ConvPlan(x, weight, bias, group, strides[1:3], dilations[1:3], pads, activation)


def _emit_conv(c: Converter, plan: _ConvPlan, hint: str) -> Dyn:
    inputs = [plan.x.name, c.init(plan.weight.astype(np.float32), hint + "/weight")]
    if plan.bias is not None:
        inputs.append(c.init(plan.bias.astype(np.float32), hint + "/bias"))
    attrs: dict[str, Any] = {"strides": plan.strides, "dilations": plan.dilations, "group": plan.group}
    attrs["kernel_shape"] = list(plan.weight.shape[2:])
    if plan.pads is None:
        attrs["auto_pad"] = "SAME_UPPER"
    else:
        attrs["pads"] = plan.pads
    act = plan.activation
    out = c.emit1("Conv", inputs, hint if act is None else hint + "/conv", **attrs)
    if act == "Relu6":
        lo, hi = c.init(np.array(0, np.float32), "zero"), c.init(np.array(6, np.float32), "six")
        out = c.emit1("Clip", [out, lo, hi], hint)
    elif act is not None:
        out = c.emit1(act, [out], hint)
    return Dyn(out, 4)


def _fold_pad(c: Converter, node: TfNode, plan: _ConvPlan) -> None:
    """A zero Pad (spatial only) right before a VALID conv becomes the conv's own padding."""
    if plan.pads != [0, 0, 0, 0]:
        return
    pad = c.producer(node.inputs[0])
    if pad is None or pad.op != "Pad":
        return
    paddings = c.value(pad.inputs[1])
    if not isinstance(paddings, np.ndarray) or paddings.shape != (4, 2) or paddings[[0, 3]].any():
        return
    x = c.value(pad.inputs[0])
    if not isinstance(x, Dyn):
        return
    plan.x = x
    plan.pads = [int(paddings[1, 0]), int(paddings[2, 0]), int(paddings[1, 1]), int(paddings[2, 1])]


@handles("_FusedConv2D", "Conv2D", "FusedDepthwiseConv2dNative", "DepthwiseConv2dNative")
def _conv(c: Converter, node: TfNode, ins: list[Value]) -> Value:
    plan = _conv_plan(c, node, ins)
    if c.optimize:
        _fold_pad(c, node, plan)
        split = _split_over_concat(c, node, plan)
        if split is not None:
            return split
    return _emit_conv(c, plan, node.name)


def _split_over_concat(c: Converter, node: TfNode, plan: _ConvPlan) -> Dyn | None:
    """conv(concat(a, b, ...)) = conv_a(a) + conv_b(b) + ...: one conv per part.

    ONNX Runtime runs a conv whose input channels are not a multiple of its block size (8 or 16) on
    a slow generic path; RVM's decoder concatenates 3-channel images onto its features, so its
    biggest convs are such. Per part, the large parts take the fast (NCHWc) path and the Concat goes.
    """
    concat = c.producer(node.inputs[0])
    if concat is None or concat.op != "ConcatV2" or plan.group != 1:
        return None
    cin = plan.weight.shape[1]
    if cin % 8 == 0:
        return None
    axis = c.value(concat.inputs[-1])
    if not isinstance(axis, np.ndarray) or int(axis) not in (-1, 3):
        return None
    parts = [c.value(r) for r in concat.inputs[:-1]]
    sizes = [channels(c, r) for r in concat.inputs[:-1]]
    if any(s is None for s in sizes) or sum(sizes) != cin or not all(isinstance(p, Dyn) for p in parts):  # type: ignore[arg-type]
        return None
    total: str | None = None
    start = 0
    for i, (part, size) in enumerate(zip(parts, sizes, strict=True)):
        assert size is not None
        sub = _ConvPlan(
            part,
            plan.weight[:, start : start + size],
            plan.bias if i == 0 else None,
            1,
            plan.strides,
            plan.dilations,
            plan.pads,
            None,
        )
        start += size
        out = _emit_conv(c, sub, f"{node.name}/part{i}").name
        total = out if total is None else c.emit1("Add", [total, out], f"{node.name}/sum{i}")
    assert total is not None
    act = plan.activation
    if act == "Relu6":
        lo, hi = c.init(np.array(0, np.float32), "zero"), c.init(np.array(6, np.float32), "six")
        total = c.emit1("Clip", [total, lo, hi], node.name)
    elif act is not None:
        total = c.emit1(act, [total], node.name)
    return Dyn(total, 4)


@handles("BatchToSpaceND")
def _batch_to_space(c: Converter, node: TfNode, ins: list[Value]) -> Value:
    """``SpaceToBatchND -> (depthwise) conv VALID -> BatchToSpaceND``: TF's dilated conv, as one conv."""
    conv = c.producer(node.inputs[0])
    s2b = c.producer(conv.inputs[0]) if conv is not None and conv.inputs else None
    if (
        conv is None
        or s2b is None
        or s2b.op != "SpaceToBatchND"
        or conv.op not in ("DepthwiseConv2dNative", "Conv2D", "FusedDepthwiseConv2dNative", "_FusedConv2D")
    ):
        raise ModelError(
            f"BatchToSpaceND node {node.name!r}: only the dilated-convolution pattern "
            "SpaceToBatchND -> conv -> BatchToSpaceND is supported"
        )
    block = c.const_input(s2b, 1, "block_shape")
    block_back = c.const_input(node, 1, "block_shape")
    if block.shape != (2,) or not np.array_equal(block, block_back):
        raise ModelError(f"BatchToSpaceND node {node.name!r}: block shapes differ or are not 2-D")
    if conv.attrs.get("padding") != "VALID" or conv.attrs.get("strides", [1, 1, 1, 1]) != [1, 1, 1, 1]:
        raise ModelError(f"BatchToSpaceND node {node.name!r}: the inner conv must be VALID with stride 1")
    conv_ins = [c.value(r) for r in conv.inputs[1:]]
    conv_ins.insert(0, c.value(s2b.inputs[0]))  # skip SpaceToBatchND: the padding it adds is cropped again
    if any(v is DEAD for v in conv_ins):
        return DEAD
    plan = _conv_plan(c, conv, conv_ins)
    plan.dilations = [int(block[0]), int(block[1])]
    if c.optimize:
        _fold_pad(c, s2b, plan)
    return _emit_conv(c, plan, node.name)


@handles("SpaceToBatchND")
def _space_to_batch(c: Converter, node: TfNode, ins: list[Value]) -> Value:
    # evaluated only when something other than the dilated-conv pattern reads it
    raise ModelError(
        f"SpaceToBatchND node {node.name!r}: only the dilated-convolution pattern "
        "SpaceToBatchND -> conv -> BatchToSpaceND is supported"
    )


# -- spatial ops ------------------------------------------------------------------------------


@handles("Pad")
def _pad(c: Converter, node: TfNode, ins: list[Value]) -> Value:
    x = ins[0]
    paddings = c.const_input(node, 1, "paddings").astype(np.int64)
    if isinstance(x, np.ndarray):
        return np.pad(x, paddings)
    if x.rank == 4:
        paddings = paddings[list(NHWC_TO_NCHW_AXIS_INV)]
    pads = np.concatenate([paddings[:, 0], paddings[:, 1]])
    return Dyn(c.emit1("Pad", [x.name, c.init(pads, node.name + "/pads")], node.name), x.rank, x.dtype)


@handles("Mean")
def _mean(c: Converter, node: TfNode, ins: list[Value]) -> Value:
    x = ins[0]
    axes = c.const_input(node, 1, "axes").reshape(-1)
    keep = bool(node.attrs.get("keep_dims", False))
    if isinstance(x, np.ndarray):
        return np.mean(x, axis=tuple(int(a) for a in axes), keepdims=keep)
    if x.rank == 4 and not keep:
        raise ModelError(f"Mean node {node.name!r}: reducing a 4-D tensor needs keep_dims")
    onnx_axes = sorted(nchw_axis(int(a), x.rank) for a in axes)
    if c.optimize and x.rank == 4 and onnx_axes == [2, 3]:
        return Dyn(c.emit1("GlobalAveragePool", [x.name], node.name), 4, x.dtype)
    out = c.emit1("ReduceMean", [x.name], node.name, axes=onnx_axes, keepdims=int(keep))
    return Dyn(out, x.rank if keep else x.rank - len(onnx_axes), x.dtype)


@handles("AvgPool")
def _avg_pool(c: Converter, node: TfNode, ins: list[Value]) -> Value:
    x = ins[0]
    if not isinstance(x, Dyn) or x.rank != 4:
        raise ModelError(f"AvgPool node {node.name!r}: the input must be a 4-D run-time tensor")
    ksize, strides = node.attrs["ksize"], node.attrs["strides"]
    padding = node.attrs.get("padding", "VALID")
    attrs: dict[str, Any] = {"kernel_shape": ksize[1:3], "strides": strides[1:3]}
    if padding == "SAME":
        attrs["auto_pad"] = "SAME_UPPER"
        attrs["count_include_pad"] = 0  # TF averages over the valid pixels only
    elif padding != "VALID":
        raise ModelError(f"AvgPool node {node.name!r}: unsupported padding {padding!r}")
    return Dyn(c.emit1("AveragePool", [x.name], node.name, **attrs), 4)


@handles("ResizeBilinear")
def _resize_bilinear(c: Converter, node: TfNode, ins: list[Value]) -> Value:
    x, size = ins
    if not isinstance(x, Dyn) or x.rank != 4:
        raise ModelError(f"ResizeBilinear node {node.name!r}: the input must be a 4-D run-time tensor")
    if node.attrs.get("align_corners", False):
        mode = "align_corners"
    elif node.attrs.get("half_pixel_centers", False):
        mode = "half_pixel"
    else:
        mode = "asymmetric"
    nc = c.emit1("Shape", [x.name], node.name + "/shape", start=0, end=2)
    size_name = c.name_of(size, None, node.name + "/size")
    if isinstance(size, np.ndarray):
        size_name = c.init(size.astype(np.int64), node.name + "/size")
    sizes = c.emit1("Concat", [nc, size_name], node.name + "/sizes", axis=0)
    out = c.emit1(
        "Resize",
        [x.name, "", "", sizes],
        node.name,
        mode="linear",
        coordinate_transformation_mode=mode,
    )
    return Dyn(out, 4)


@handles("BroadcastTo")
def _broadcast_to(c: Converter, node: TfNode, ins: list[Value]) -> Value:
    x, shape = ins
    if all_const(ins):
        return np.broadcast_to(x, tuple(int(s) for s in shape)).copy()
    if isinstance(x, np.ndarray) and x.ndim == 4:
        x = Dyn(c.init(np.ascontiguousarray(x.transpose(0, 3, 1, 2)), node.name + "/value"), 4)
    if not isinstance(x, Dyn) or x.rank != 4:
        raise ModelError(f"BroadcastTo node {node.name!r}: only 4-D tensors are supported")
    if isinstance(shape, np.ndarray):
        shape_name = c.init(shape.astype(np.int64)[list(NHWC_TO_NCHW_AXIS_INV)], node.name + "/shape")
    else:
        perm = c.init(np.array(NHWC_TO_NCHW_AXIS_INV, np.int64), "nhwc_to_nchw")
        shape_name = c.emit1("Gather", [shape.name, perm], node.name + "/shape", axis=0)
    return Dyn(c.emit1("Expand", [x.name, shape_name], node.name), 4)
