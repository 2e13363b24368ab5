"""Operator handlers: constants, placeholders, ``Switch`` control flow, element-wise math and activations.

With ``optimize``, ``x/6 * relu6(x + 3)`` becomes ``HardSwish`` and ``relu6(x + 3)/6`` ``HardSigmoid`` here.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from onnx import TensorProto

from realtime_seg.errors import ModelError
from realtime_seg.models.tfjs2onnx.converter import (
    DEAD,
    Converter,
    Dyn,
    Handler,
    Value,
    all_const,
    handles,
)
from realtime_seg.models.tfjs2onnx.graph import TfNode


@handles("Const")
def _const(c: Converter, node: TfNode, ins: list[Value]) -> Value:
    if node.name not in c.weights:
        raise ModelError(f"Const node {node.name!r} has no value in the weights manifest")
    return c.weights[node.name]


@handles("Placeholder")
def _placeholder(c: Converter, node: TfNode, ins: list[Value]) -> Value:
    if node.name in c.fixed:
        return np.asarray(c.fixed[node.name])
    gi = c.inputs.get(node.name)
    if gi is None:
        raise ModelError(f"graph input {node.name!r} is neither kept as an input nor fixed to a value")
    return Dyn(gi.onnx_name, len(gi.shape))


@handles("Identity", "StopGradient", "NoOp")
def _identity(c: Converter, node: TfNode, ins: list[Value]) -> Value:
    return ins[0] if ins else DEAD


@handles("Switch")
def _switch(c: Converter, node: TfNode, ins: list[Value]) -> list[Value]:
    data, pred = ins
    if not isinstance(pred, np.ndarray):
        raise ModelError(
            f"Switch node {node.name!r}: its predicate depends on a run-time input; fix that input "
            "(e.g. downsample_ratio) at conversion time so the branch can be chosen"
        )
    return [DEAD, data] if bool(pred) else [data, DEAD]


_NP_BINARY: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "Add": np.add,
    "AddV2": np.add,
    "Sub": np.subtract,
    "Mul": np.multiply,
    "RealDiv": np.divide,
    "Minimum": np.minimum,
    "Maximum": np.maximum,
    "FloorMod": np.mod,
    "Equal": np.equal,
}
_ONNX_BINARY = {
    "Add": "Add",
    "AddV2": "Add",
    "Sub": "Sub",
    "Mul": "Mul",
    "RealDiv": "Div",
    "Minimum": "Min",
    "Maximum": "Max",
    "FloorMod": "Mod",
    "Equal": "Equal",
}


def _binary_onnx(c: Converter, op: str, a: Value, b: Value, hint: str) -> Dyn:
    like = a if isinstance(a, Dyn) else b
    assert isinstance(like, Dyn)
    ranks = [v.rank if isinstance(v, Dyn) else np.ndim(v) for v in (a, b)]
    if isinstance(a, Dyn) and isinstance(b, Dyn) and 4 in ranks and ranks[0] != ranks[1] and min(ranks) > 0:
        raise ModelError(f"{op} node {hint!r}: cannot broadcast a 4-D tensor against a rank-{min(ranks)} tensor")
    names = [c.name_of(a, like, hint + "/a"), c.name_of(b, like, hint + "/b")]
    out_dtype = TensorProto.BOOL if op == "Equal" else like.dtype
    if op == "FloorMod":
        if like.dtype == TensorProto.FLOAT:
            raise ModelError(f"FloorMod node {hint!r}: only integer FloorMod is supported")
        return Dyn(c.emit1("Mod", names, hint, fmod=0), max(ranks), out_dtype)
    return Dyn(c.emit1(_ONNX_BINARY[op], names, hint), max(ranks), out_dtype)


@handles(*_NP_BINARY)
def _binary(c: Converter, node: TfNode, ins: list[Value]) -> Value:
    a, b = ins
    if all_const(ins):
        return np.asarray(_NP_BINARY[node.op](a, b))
    if c.optimize and node.op == "Mul":
        fused = _fuse_hard_activations(c, node, ins)
        if fused is not None:
            return fused
    return _binary_onnx(c, node.op, a, b, node.name)


def _const_scalar(c: Converter, ref: tuple[str, int]) -> float | None:
    n = c.producer(ref)
    if n is None or n.op != "Const":
        return None
    v = c.weights.get(n.name)
    return float(v) if v is not None and v.size == 1 else None


def _hard_sigmoid_source(c: Converter, ref: tuple[str, int]) -> tuple[str, int] | None:
    """If ``ref`` is ``relu6(x + 3)``, the ref of ``x``."""
    relu6 = c.producer(ref)
    if relu6 is None or relu6.op != "Relu6":
        return None
    add = c.producer(relu6.inputs[0])
    if add is None or add.op not in ("Add", "AddV2"):
        return None
    for xi, ci in ((0, 1), (1, 0)):
        k = _const_scalar(c, add.inputs[ci])
        if k is not None and abs(k - 3.0) < 1e-6:
            return add.inputs[xi]
    return None


def _fuse_hard_activations(c: Converter, node: TfNode, ins: list[Value]) -> Value | None:
    """``x/6 * relu6(x + 3)`` -> HardSwish(x); ``relu6(x + 3) * (1/6)`` -> HardSigmoid(x)."""
    for ai, bi in ((0, 1), (1, 0)):
        # HardSigmoid: Mul(const 1/6, relu6(x + 3))
        k = _const_scalar(c, node.inputs[ai])
        if k is not None and abs(k - 1 / 6) < 1e-6:
            x_ref = _hard_sigmoid_source(c, node.inputs[bi])
            if x_ref is not None:
                x = c.value(x_ref)
                if isinstance(x, Dyn):
                    return Dyn(c.emit1("HardSigmoid", [x.name], node.name, alpha=1 / 6, beta=0.5), x.rank)
        # HardSwish: Mul(Mul(const 1/6, x), relu6(x + 3))
        scaled = c.producer(node.inputs[ai])
        x_ref = _hard_sigmoid_source(c, node.inputs[bi])
        if scaled is None or scaled.op != "Mul" or x_ref is None:
            continue
        for si, xi in ((0, 1), (1, 0)):
            k = _const_scalar(c, scaled.inputs[si])
            if k is not None and abs(k - 1 / 6) < 1e-6 and scaled.inputs[xi] == x_ref:
                x = c.value(x_ref)
                if isinstance(x, Dyn):
                    return Dyn(c.emit1("HardSwish", [x.name], node.name), x.rank)
    return None


@handles("Square")
def _square(c: Converter, node: TfNode, ins: list[Value]) -> Value:
    x = ins[0]
    if isinstance(x, np.ndarray):
        return x * x
    return Dyn(c.emit1("Mul", [x.name, x.name], node.name), x.rank, x.dtype)


def _unary(onnx_op: str, np_fn: Callable[[np.ndarray], np.ndarray]) -> Handler:
    def handler(c: Converter, node: TfNode, ins: list[Value]) -> Value:
        x = ins[0]
        if isinstance(x, np.ndarray):
            return np_fn(x).astype(x.dtype)
        return Dyn(c.emit1(onnx_op, [x.name], node.name), x.rank, x.dtype)

    return handler


handles("Sigmoid")(_unary("Sigmoid", lambda x: 1 / (1 + np.exp(-x))))
handles("Tanh")(_unary("Tanh", np.tanh))
handles("Relu")(_unary("Relu", lambda x: np.maximum(x, 0)))


@handles("Relu6")
def _relu6(c: Converter, node: TfNode, ins: list[Value]) -> Value:
    x = ins[0]
    if isinstance(x, np.ndarray):
        return np.clip(x, 0, 6)
    lo, hi = c.init(np.array(0, np.float32), "zero"), c.init(np.array(6, np.float32), "six")
    return Dyn(c.emit1("Clip", [x.name, lo, hi], node.name), x.rank)
