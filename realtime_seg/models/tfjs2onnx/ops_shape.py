"""Operator handlers: shapes, casts, slicing, packing, concatenation and splitting, and :func:`channels`,
the channel count of a run-time tensor read back through the graph to a conv's weights or an input."""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx import TensorProto

from realtime_seg.errors import ModelError
from realtime_seg.models.tfjs2onnx.converter import (
    NHWC_TO_NCHW_AXIS_INV,
    Converter,
    Dyn,
    Value,
    all_const,
    handles,
    nchw_axis,
)
from realtime_seg.models.tfjs2onnx.graph import TfNode

_INT64_MAX = np.iinfo(np.int64).max


@handles("Shape")
def _shape(c: Converter, node: TfNode, ins: list[Value]) -> Value:
    x = ins[0]
    if isinstance(x, np.ndarray):
        return np.array(x.shape, np.int32)
    s = c.emit1("Shape", [x.name], node.name + "/nchw" if x.rank == 4 else node.name)
    if x.rank == 4:
        s = c.emit1("Gather", [s, c.init(np.array([0, 2, 3, 1], np.int64), "nchw_to_nhwc")], node.name, axis=0)
    return Dyn(s, 1, TensorProto.INT64)


_DTYPES = {"DT_FLOAT": (np.float32, TensorProto.FLOAT), "DT_INT32": (np.int32, TensorProto.INT64)}


@handles("Cast")
def _cast(c: Converter, node: TfNode, ins: list[Value]) -> Value:
    dst = node.attrs.get("DstT")
    if dst not in _DTYPES:
        raise ModelError(f"Cast node {node.name!r}: unsupported target type {dst!r}")
    np_t, onnx_t = _DTYPES[dst]
    x = ins[0]
    if isinstance(x, np.ndarray):
        return x.astype(np_t)
    return Dyn(c.emit1("Cast", [x.name], node.name, to=onnx_t), x.rank, onnx_t)


@handles("Squeeze")
def _squeeze(c: Converter, node: TfNode, ins: list[Value]) -> Value:
    x = ins[0]
    dims = node.attrs.get("squeeze_dims", [])
    if isinstance(x, np.ndarray):
        return np.squeeze(x, axis=tuple(dims)) if dims else np.squeeze(x)
    if not dims:
        raise ModelError(f"Squeeze node {node.name!r}: squeezing a run-time tensor needs explicit squeeze_dims")
    axes = sorted(nchw_axis(d, x.rank) for d in dims)
    if x.rank == 4:
        raise ModelError(f"Squeeze node {node.name!r}: squeezing a 4-D run-time tensor is not supported")
    out = c.emit1("Squeeze", [x.name, c.init(np.array(axes, np.int64), "axes")], node.name)
    return Dyn(out, x.rank - len(axes), x.dtype)


def _strided_slice_np(x: np.ndarray, begin: np.ndarray, end: np.ndarray, strides: np.ndarray, a: dict) -> np.ndarray:
    idx: list[Any] = []
    shrink = []
    for i in range(len(begin)):
        b = None if a["begin_mask"] >> i & 1 else int(begin[i])
        e = None if a["end_mask"] >> i & 1 else int(end[i])
        if a["shrink_axis_mask"] >> i & 1:
            idx.append(int(begin[i]))
            shrink.append(i)
        else:
            idx.append(slice(b, e, int(strides[i])))
    return np.asarray(x[tuple(idx)])


@handles("StridedSlice")
def _strided_slice(c: Converter, node: TfNode, ins: list[Value]) -> Value:
    x = ins[0]
    begin = c.const_input(node, 1, "begin")
    end = c.const_input(node, 2, "end")
    strides = c.const_input(node, 3, "strides")
    a = {k: int(node.attrs.get(k, 0)) for k in ("begin_mask", "end_mask", "shrink_axis_mask")}
    if node.attrs.get("ellipsis_mask", 0) or node.attrs.get("new_axis_mask", 0):
        raise ModelError(f"StridedSlice node {node.name!r}: ellipsis_mask/new_axis_mask are not supported")
    if isinstance(x, np.ndarray):
        return _strided_slice_np(x, begin, end, strides, a)
    starts, ends, axes, steps, shrink = [], [], [], [], []
    for i in range(len(begin)):
        axis = nchw_axis(i, x.rank)
        step = int(strides[i])
        if a["shrink_axis_mask"] >> i & 1:
            b = int(begin[i])
            starts.append(b)
            ends.append(b + 1 if b != -1 else _INT64_MAX)
            shrink.append(axis)
            step = 1
        else:
            big = _INT64_MAX if step > 0 else -_INT64_MAX
            starts.append((0 if step > 0 else -1) if a["begin_mask"] >> i & 1 else int(begin[i]))
            ends.append(big if a["end_mask"] >> i & 1 else int(end[i]))
        axes.append(axis)
        steps.append(step)
    arrays = [np.array(v, np.int64) for v in (starts, ends, axes, steps)]
    names = [c.init(v, node.name + "/" + k) for v, k in zip(arrays, ("starts", "ends", "axes", "steps"), strict=True)]
    out = c.emit1("Slice", [x.name, *names], node.name if not shrink else node.name + "/slice")
    if shrink:
        if x.rank == 4:
            raise ModelError(f"StridedSlice node {node.name!r}: shrinking a 4-D run-time tensor is not supported")
        out = c.emit1("Squeeze", [out, c.init(np.array(sorted(shrink), np.int64), "axes")], node.name)
    return Dyn(out, x.rank - len(shrink), x.dtype)


@handles("Slice")
def _slice(c: Converter, node: TfNode, ins: list[Value]) -> Value:
    x, begin, size = ins
    if all_const(ins):
        idx = tuple(slice(int(b), None if int(s) == -1 else int(b) + int(s)) for b, s in zip(begin, size, strict=True))
        return np.asarray(x[idx])
    if not isinstance(x, Dyn) or not isinstance(begin, np.ndarray):
        raise ModelError(f"Slice node {node.name!r}: needs a run-time input and a constant begin")
    begin64 = begin.astype(np.int64)
    if isinstance(size, np.ndarray):
        ends_v = np.where(size == -1, _INT64_MAX, begin64 + size.astype(np.int64))
        ends = c.init(ends_v[list(NHWC_TO_NCHW_AXIS_INV)] if x.rank == 4 else ends_v, node.name + "/ends")
    else:
        summed = c.emit1("Add", [size.name, c.init(begin64, node.name + "/begin")], node.name + "/end")
        is_all = c.emit1("Equal", [size.name, c.init(np.array(-1, np.int64), "minus_one")], node.name + "/is_all")
        ends = c.emit1("Where", [is_all, c.init(np.array(_INT64_MAX, np.int64), "int64_max"), summed], node.name + "/e")
        if x.rank == 4:
            perm = c.init(np.array(NHWC_TO_NCHW_AXIS_INV, np.int64), "nhwc_to_nchw")
            ends = c.emit1("Gather", [ends, perm], node.name + "/ends", axis=0)
    starts_v = begin64[list(NHWC_TO_NCHW_AXIS_INV)] if x.rank == 4 else begin64
    starts = c.init(starts_v, node.name + "/starts")
    return Dyn(c.emit1("Slice", [x.name, starts, ends], node.name), x.rank, x.dtype)


@handles("Pack")
def _pack(c: Converter, node: TfNode, ins: list[Value]) -> Value:
    axis = int(node.attrs.get("axis", 0))
    if all_const(ins):
        return np.stack([np.asarray(v) for v in ins], axis=axis)
    ranks = {v.rank if isinstance(v, Dyn) else np.ndim(v) for v in ins}
    if ranks != {0} or axis != 0:
        raise ModelError(f"Pack node {node.name!r}: only packing scalars along axis 0 is supported at run time")
    dtype = next(v.dtype for v in ins if isinstance(v, Dyn))
    parts = []
    for i, v in enumerate(ins):
        if isinstance(v, Dyn):
            parts.append(c.emit1("Unsqueeze", [v.name, c.init(np.array([0], np.int64), "axes0")], f"{node.name}/{i}"))
        else:
            np_t = np.int64 if dtype == TensorProto.INT64 else np.float32
            parts.append(c.init(np.asarray(v, np_t).reshape(1), f"{node.name}/{i}"))
    return Dyn(c.emit1("Concat", parts, node.name, axis=0), 1, dtype)


@handles("ConcatV2")
def _concat(c: Converter, node: TfNode, ins: list[Value]) -> Value:
    *values, axis_v = ins
    if not isinstance(axis_v, np.ndarray):
        raise ModelError(f"ConcatV2 node {node.name!r}: the axis must be a constant")
    axis = int(axis_v)
    if all_const(values):
        return np.concatenate([np.asarray(v) for v in values], axis=axis)
    like = next(v for v in values if isinstance(v, Dyn))
    names = []
    for v in values:
        if isinstance(v, Dyn):
            names.append(v.name)
        else:
            cv = np.asarray(v)
            if like.rank == 4:
                cv = np.ascontiguousarray(cv.transpose(0, 3, 1, 2))
            names.append(c.init(cv.astype(np.int64 if like.dtype == TensorProto.INT64 else cv.dtype), node.name))
    return Dyn(c.emit1("Concat", names, node.name, axis=nchw_axis(axis, like.rank)), like.rank, like.dtype)


def _split_outputs(c: Converter, node: TfNode, x: Value, axis: int, sizes: list[int]) -> list[Value]:
    if isinstance(x, np.ndarray):
        return list(np.split(x, np.cumsum(sizes)[:-1], axis=axis))
    split = c.init(np.array(sizes, np.int64), node.name + "/sizes")
    outs = c.emit("Split", [x.name, split], node.name, len(sizes), axis=nchw_axis(axis, x.rank))
    return [Dyn(o, x.rank, x.dtype) for o in outs]


def _dim(x: Value, axis: int, node: TfNode) -> int:
    if isinstance(x, np.ndarray):
        return int(x.shape[axis])
    raise ModelError(f"{node.op} node {node.name!r}: the split axis size is unknown at conversion time")


@handles("Split")
def _split(c: Converter, node: TfNode, ins: list[Value]) -> list[Value]:
    axis_v, x = ins
    n = int(node.attrs.get("num_split", 1))
    if not isinstance(axis_v, np.ndarray):
        raise ModelError(f"Split node {node.name!r}: the axis must be a constant")
    axis = int(axis_v)
    if isinstance(x, np.ndarray):
        return list(np.split(x, n, axis=axis))
    # the channel count of a run-time tensor: the ONNX Split with num_outputs needs opset 18, so
    # read the size from the producer's weights where it is a conv
    total = channels(c, node.inputs[1]) if (axis in (-1, 3) and x.rank == 4) else None
    if total is None or total % n:
        raise ModelError(f"Split node {node.name!r}: cannot tell the size of axis {axis} at conversion time")
    return _split_outputs(c, node, x, axis, [total // n] * n)


def channels(c: Converter, ref: tuple[str, int], depth: int = 0) -> int | None:
    """The channel count of a 4-D tensor, followed back through shape-keeping ops to a conv or an input."""
    n = c.producer(ref)
    if n is None or depth > 200:
        return None
    if n.op in ("_FusedConv2D", "Conv2D"):
        return int(c.weights[n.inputs[1][0]].shape[3])
    if n.op in ("FusedDepthwiseConv2dNative", "DepthwiseConv2dNative"):
        w = c.weights[n.inputs[1][0]]
        return int(w.shape[2] * w.shape[3])
    if n.op == "Placeholder":
        gi = c.inputs.get(n.name)
        return gi.shape[1] if gi is not None and isinstance(gi.shape[1], int) else None
    if n.op == "ConcatV2":
        axis = c.weights.get(n.inputs[-1][0])
        if axis is None or int(axis) not in (-1, 3):
            return None
        total = 0
        for r in n.inputs[:-1]:
            part = channels(c, r, depth + 1)
            if part is None:
                return None
            total += part
        return total
    if n.op == "Split":
        whole = channels(c, n.inputs[1], depth + 1)
        return None if whole is None else whole // int(n.attrs.get("num_split", 1))
    if n.op == "SplitV":
        sizes = c.weights.get(n.inputs[1][0])
        return None if sizes is None or int(sizes[ref[1]]) < 0 else int(sizes[ref[1]])
    if n.op in ("Mul", "Add", "AddV2", "Sub", "Merge"):
        for r in n.inputs:
            p = c.producer(r)
            if p is not None and p.op != "Const":
                got = channels(c, r, depth + 1)
                if got is not None:
                    return got
        return None
    if n.op in (
        "Relu",
        "Relu6",
        "Sigmoid",
        "Tanh",
        "Identity",
        "BatchToSpaceND",
        "Switch",
        "Slice",
        "ResizeBilinear",
        "AvgPool",
        "Pad",
        "Minimum",
        "Maximum",
        "BroadcastTo",
    ):
        return channels(c, n.inputs[0], depth + 1)
    return None


@handles("SplitV")
def _split_v(c: Converter, node: TfNode, ins: list[Value]) -> list[Value]:
    x = ins[0]
    sizes = c.const_input(node, 1, "size_splits")
    axis = int(c.const_input(node, 2, "axis"))
    sizes_l = [int(s) for s in sizes]
    if -1 in sizes_l:
        total = _dim(x, axis, node) if isinstance(x, np.ndarray) else channels(c, node.inputs[0])
        if total is None:
            raise ModelError(f"SplitV node {node.name!r}: cannot resolve the -1 size at conversion time")
        sizes_l[sizes_l.index(-1)] = total - (sum(sizes_l) + 1)
    return _split_outputs(c, node, x, axis, sizes_l)
