"""Convert a TensorFlow.js graph model (``model.json`` + weight shards) to ONNX (opset 17).

Purpose-built, like :mod:`realtime_seg.models.tflite2onnx`: it covers the operators Robust Video
Matting's TF.js graph uses (see the shared MODEL.md) and raises :class:`ModelError` naming any other.
No TensorFlow is needed: ``model.json`` is plain JSON and the weights are raw little-endian arrays.

* Weights: the manifest's float32 tensors may be quantized (``uint8``/``uint16`` with a per-tensor
  ``min`` and ``scale``: value = min + scale * q; or ``float16``); int32 and bool tensors are raw.
* Some inputs can be fixed at conversion time (``fixed``). Everything that then depends only on
  constants is folded with numpy, including ``Switch``/``Merge`` control flow: a ``Switch`` on a
  constant predicate sends its data down one port only, the other branch is dead and dropped, and a
  ``Merge`` takes its one live input. For RVM, fixing ``downsample_ratio = 1`` keeps the
  low-resolution network and drops the graph's own resize and full-resolution guided filter.
* The TF graph is NHWC; the ONNX graph is NCHW throughout, with no Transpose nodes: every 4-D tensor
  keeps its TF meaning with the axes reordered, and axis arguments and shape vectors are remapped.
  Shape vectors (``Shape``) are given back in TF (NHWC) order, so TF's shape arithmetic runs as is.
  Heights and widths stay dynamic: one ONNX file serves every working resolution.
* ``optimize=True`` (the default) rewrites patterns ONNX Runtime leaves unfused:
  ``SpaceToBatchND`` -> depthwise conv -> ``BatchToSpaceND`` becomes one dilated conv (always, it is
  also the only supported form of those two ops); per-channel ``Mul``/``Add`` after a conv (batch
  norm) fold into its weights; an explicit zero ``Pad`` folds into the next conv's pads;
  ``x/6 * relu6(x + 3)`` becomes ``HardSwish`` and ``relu6(x + 3)/6`` becomes ``HardSigmoid``.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from realtime_seg.errors import ModelError

__all__ = [
    "CONVERTER_VERSION",
    "OPSET",
    "SUPPORTED_OPS",
    "GraphInput",
    "convert_tfjs",
    "decode_weights",
]

log = logging.getLogger(__name__)

OPSET = 17
IR_VERSION = 8
PRODUCER = "realtime-seg.tfjs2onnx"
#: bump when the converter's output changes, so cached conversions can be told apart
CONVERTER_VERSION = "1"

_NHWC_TO_NCHW_AXIS = (0, 2, 3, 1)  # TF axis a of a 4-D tensor is ONNX axis _NHWC_TO_NCHW_AXIS[a]
_INT64_MAX = np.iinfo(np.int64).max

_QUANT_DTYPES: dict[str, type[np.generic]] = {"uint8": np.uint8, "uint16": np.uint16, "float16": np.float16}
_RAW_DTYPES: dict[str, type[np.generic]] = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}


# --------------------------------------------------------------------------------------------
# weights


def decode_weights(manifest: Sequence[Mapping[str, Any]], data: bytes) -> dict[str, np.ndarray]:
    """Decode the weights of a TF.js ``weightsManifest`` from the concatenated shard bytes.

    Quantized float tensors are dequantized to float32. Raises :class:`ModelError` for a truncated
    buffer (naming the first weight that does not fit), leftover bytes, or an unsupported dtype.
    """
    out: dict[str, np.ndarray] = {}
    offset = 0
    for group in manifest:
        for w in group.get("weights", ()):
            name, shape, dtype = w["name"], [int(d) for d in w["shape"]], w["dtype"]
            count = int(np.prod(shape)) if shape else 1
            quant = w.get("quantization")
            if quant:
                qtype = _QUANT_DTYPES.get(quant.get("dtype", ""))
                if qtype is None:
                    raise ModelError(f"weight {name!r}: unsupported quantization dtype {quant.get('dtype')!r}")
                stored: type[np.generic] = qtype
            else:
                raw = _RAW_DTYPES.get(dtype)
                if raw is None:
                    raise ModelError(f"weight {name!r}: unsupported dtype {dtype!r}")
                stored = raw
            nbytes = count * np.dtype(stored).itemsize
            if offset + nbytes > len(data):
                raise ModelError(
                    f"weights are truncated: {name!r} needs bytes {offset}..{offset + nbytes}, "
                    f"the weight file has {len(data)}"
                )
            arr = np.frombuffer(data, dtype=np.dtype(stored).newbyteorder("<"), count=count, offset=offset)
            offset += nbytes
            if quant and quant["dtype"] == "float16":
                value = arr.astype(np.float32)
            elif quant:
                value = (np.float64(quant["min"]) + np.float64(quant["scale"]) * arr.astype(np.float64)).astype(
                    np.float32
                )
            else:
                value = arr.astype(_RAW_DTYPES[dtype])
            out[name] = value.reshape(shape)
    if offset != len(data):
        raise ModelError(f"the weight file has {len(data)} bytes, the manifest describes {offset}")
    return out


# --------------------------------------------------------------------------------------------
# the TF graph


def _attr(raw: Mapping[str, Any]) -> Any:
    """One TF AttrValue (as TF.js writes it in JSON) -> a Python value."""
    if "list" in raw:
        lst = raw["list"]
        if "i" in lst:
            return [int(v) for v in lst["i"]]
        if "f" in lst:
            return [float(v) for v in lst["f"]]
        if "s" in lst:
            return [base64.b64decode(v).decode("utf-8") for v in lst["s"]]
        return []
    if "i" in raw:
        return int(raw["i"])
    if "f" in raw:
        return float(raw["f"])
    if "b" in raw:
        return bool(raw["b"])
    if "s" in raw:
        return base64.b64decode(raw["s"]).decode("utf-8")
    if "type" in raw:
        return raw["type"]
    return raw


@dataclass
class TfNode:
    name: str
    op: str
    inputs: list[tuple[str, int]]  # data inputs only: (node, port)
    attrs: dict[str, Any] = field(default_factory=dict)


def _parse_input(ref: str) -> tuple[str, int]:
    name, _, port = ref.partition(":")
    return name, int(port) if port else 0


def parse_graph(model_json: Mapping[str, Any]) -> dict[str, TfNode]:
    try:
        raw_nodes = model_json["modelTopology"]["node"]
    except (KeyError, TypeError) as exc:
        raise ModelError("not a TF.js graph model: 'modelTopology.node' is missing") from exc
    nodes: dict[str, TfNode] = {}
    for n in raw_nodes:
        inputs = [_parse_input(i) for i in n.get("input", ()) if not i.startswith("^")]
        attrs = {k: _attr(v) for k, v in n.get("attr", {}).items() if k != "_output_shapes"}
        nodes[n["name"]] = TfNode(n["name"], n["op"], inputs, attrs)
    return nodes


# --------------------------------------------------------------------------------------------
# values during conversion


class _Dead:
    """The value on the untaken port of a Switch, and of everything downstream of it."""


DEAD = _Dead()


@dataclass(frozen=True)
class Dyn:
    """A run-time ONNX tensor. 4-D tensors are NCHW; int tensors are int64 (TF's int32 widened)."""

    name: str
    rank: int
    dtype: int = TensorProto.FLOAT


Value = Any  # np.ndarray | Dyn | _Dead


@dataclass(frozen=True)
class GraphInput:
    """A graph input kept dynamic: TF placeholder name, ONNX name, and ONNX (NCHW) shape."""

    tf_name: str
    onnx_name: str
    shape: tuple[int | str, ...]


def _nchw_axis(axis: int, rank: int) -> int:
    axis = axis + rank if axis < 0 else axis
    return _NHWC_TO_NCHW_AXIS[axis] if rank == 4 else axis


def _to_nchw_const(c: np.ndarray) -> np.ndarray:
    """A constant that broadcasts against an NHWC tensor -> the same against the NCHW tensor."""
    if c.ndim == 0:
        return c
    c4 = c.reshape((1,) * (4 - c.ndim) + c.shape)
    return np.ascontiguousarray(c4.transpose(0, 3, 1, 2))


class _Converter:
    def __init__(
        self,
        nodes: dict[str, TfNode],
        weights: Mapping[str, np.ndarray],
        inputs: Sequence[GraphInput],
        fixed: Mapping[str, np.ndarray],
        optimize: bool,
    ) -> None:
        self.nodes = nodes
        self.weights = weights
        self.inputs = {i.tf_name: i for i in inputs}
        self.fixed = dict(fixed)
        self.optimize = optimize
        self.values: dict[str, list[Value]] = {}
        self.onnx_nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._names: set[str] = set()
        self._const_cache: dict[tuple[bytes, str, tuple[int, ...]], str] = {}
        self.consumers: dict[str, int] = {}
        for n in nodes.values():
            for src, _ in n.inputs:
                self.consumers[src] = self.consumers.get(src, 0) + 1

    # -- naming and emission --------------------------------------------------------------------
    def fresh(self, hint: str) -> str:
        base = hint.replace(":", "_") or "t"
        name, i = base, 1
        while name in self._names:
            name = f"{base}_{i}"
            i += 1
        self._names.add(name)
        return name

    def init(self, value: np.ndarray, hint: str) -> str:
        value = np.asarray(value)
        if value.dtype == np.int32:
            value = value.astype(np.int64)
        if value.dtype == np.float64:
            value = value.astype(np.float32)
        key = (value.tobytes(), value.dtype.str, value.shape)
        if key in self._const_cache:
            return self._const_cache[key]
        name = self.fresh(hint)
        self.inits.append(numpy_helper.from_array(value, name))
        self._const_cache[key] = name
        return name

    def emit(self, op_type: str, inputs: list[str], hint: str, n_out: int = 1, **attrs: Any) -> list[str]:
        outs = [self.fresh(hint if n_out == 1 else f"{hint}:{i}") for i in range(n_out)]
        self.onnx_nodes.append(helper.make_node(op_type, inputs, outs, name=outs[0], **attrs))
        return outs

    def emit1(self, op_type: str, inputs: list[str], hint: str, **attrs: Any) -> str:
        return self.emit(op_type, inputs, hint, 1, **attrs)[0]

    # -- values ---------------------------------------------------------------------------------
    def value(self, ref: tuple[str, int]) -> Value:
        name, port = ref
        if name not in self.values:
            self.evaluate(name)
        outs = self.values[name]
        if port >= len(outs):
            raise ModelError(f"node {name!r} has no output {port}")
        return outs[port]

    def const_input(self, node: TfNode, i: int, what: str) -> np.ndarray:
        v = self.value(node.inputs[i])
        if not isinstance(v, np.ndarray):
            raise ModelError(f"{node.op} node {node.name!r}: its {what} must be a constant")
        return v

    def name_of(self, v: Value, like: Dyn | None, hint: str) -> str:
        """The ONNX name of a value; a constant is laid out to broadcast against ``like``."""
        if isinstance(v, Dyn):
            return v.name
        c = np.asarray(v)
        if like is not None and like.rank == 4 and c.dtype.kind == "f":
            c = _to_nchw_const(c)
        if like is not None and like.dtype == TensorProto.FLOAT and c.dtype.kind in "iu":
            c = c.astype(np.float32)
        return self.init(c, hint)

    # -- driver ---------------------------------------------------------------------------------
    def evaluate(self, name: str) -> None:
        # iterative post-order walk, so deep graphs do not hit Python's recursion limit
        stack = [name]
        while stack:
            top = stack[-1]
            if top in self.values:
                stack.pop()
                continue
            node = self.nodes.get(top)
            if node is None:
                raise ModelError(f"the graph refers to a node {top!r} that it does not define")
            pending = [] if node.op in _LAZY else [src for src, _ in node.inputs if src not in self.values]
            if pending:
                stack.extend(reversed(pending))
                continue
            stack.pop()
            self.values[top] = self.convert_node(node)

    def convert_node(self, node: TfNode) -> list[Value]:
        if node.op in _LAZY:  # the handler reads only the inputs it needs
            return [_HANDLERS[node.op](self, node, [])]
        ins = [self.value(r) for r in node.inputs]
        if node.op == "Merge":
            live = [(i, v) for i, v in enumerate(ins) if v is not DEAD]
            if not live:
                return [DEAD, DEAD]
            return [live[0][1], np.array(live[0][0], np.int32)]
        if any(v is DEAD for v in ins):
            return [DEAD] * 4
        handler = _HANDLERS.get(node.op)
        if handler is None:
            raise ModelError(
                f"unsupported TF.js operator {node.op!r} (node {node.name!r}); "
                f"this converter supports: {', '.join(sorted(SUPPORTED_OPS))}"
            )
        out = handler(self, node, ins)
        return out if isinstance(out, list) else [out]

    def producer(self, ref: tuple[str, int]) -> TfNode | None:
        return self.nodes.get(ref[0])

    def single_use(self, name: str) -> bool:
        return self.consumers.get(name, 0) == 1


# --------------------------------------------------------------------------------------------
# operator handlers: (converter, node, input values) -> value or list of values

Handler = Callable[[_Converter, TfNode, list[Value]], Any]
#: ops whose handler evaluates its own inputs (BatchToSpaceND skips the SpaceToBatchND it undoes)
_LAZY = frozenset({"BatchToSpaceND"})
_HANDLERS: dict[str, Handler] = {}


def _op(*names: str) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        for n in names:
            _HANDLERS[n] = fn
        return fn

    return deco


def _all_const(ins: list[Value]) -> bool:
    return all(isinstance(v, np.ndarray) for v in ins)


@_op("Const")
def _const(c: _Converter, node: TfNode, ins: list[Value]) -> Value:
    if node.name not in c.weights:
        raise ModelError(f"Const node {node.name!r} has no value in the weights manifest")
    return c.weights[node.name]


@_op("Placeholder")
def _placeholder(c: _Converter, node: TfNode, ins: list[Value]) -> Value:
    if node.name in c.fixed:
        return np.asarray(c.fixed[node.name])
    gi = c.inputs.get(node.name)
    if gi is None:
        raise ModelError(f"graph input {node.name!r} is neither kept as an input nor fixed to a value")
    return Dyn(gi.onnx_name, len(gi.shape))


@_op("Identity", "StopGradient", "NoOp")
def _identity(c: _Converter, node: TfNode, ins: list[Value]) -> Value:
    return ins[0] if ins else DEAD


@_op("Switch")
def _switch(c: _Converter, node: TfNode, ins: list[Value]) -> list[Value]:
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


def _binary_onnx(c: _Converter, op: str, a: Value, b: Value, hint: str) -> Dyn:
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


@_op(*_NP_BINARY)
def _binary(c: _Converter, node: TfNode, ins: list[Value]) -> Value:
    a, b = ins
    if _all_const(ins):
        return np.asarray(_NP_BINARY[node.op](a, b))
    if c.optimize and node.op == "Mul":
        fused = _fuse_hard_activations(c, node, ins)
        if fused is not None:
            return fused
    return _binary_onnx(c, node.op, a, b, node.name)


def _const_scalar(c: _Converter, ref: tuple[str, int]) -> float | None:
    n = c.producer(ref)
    if n is None or n.op != "Const":
        return None
    v = c.weights.get(n.name)
    return float(v) if v is not None and v.size == 1 else None


def _hard_sigmoid_source(c: _Converter, ref: tuple[str, int]) -> tuple[str, int] | None:
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


def _fuse_hard_activations(c: _Converter, node: TfNode, ins: list[Value]) -> Value | None:
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


@_op("Square")
def _square(c: _Converter, node: TfNode, ins: list[Value]) -> Value:
    x = ins[0]
    if isinstance(x, np.ndarray):
        return x * x
    return Dyn(c.emit1("Mul", [x.name, x.name], node.name), x.rank, x.dtype)


def _unary(onnx_op: str, np_fn: Callable[[np.ndarray], np.ndarray]) -> Handler:
    def handler(c: _Converter, node: TfNode, ins: list[Value]) -> Value:
        x = ins[0]
        if isinstance(x, np.ndarray):
            return np_fn(x).astype(x.dtype)
        return Dyn(c.emit1(onnx_op, [x.name], node.name), x.rank, x.dtype)

    return handler


_op("Sigmoid")(_unary("Sigmoid", lambda x: 1 / (1 + np.exp(-x))))
_op("Tanh")(_unary("Tanh", np.tanh))
_op("Relu")(_unary("Relu", lambda x: np.maximum(x, 0)))


@_op("Relu6")
def _relu6(c: _Converter, node: TfNode, ins: list[Value]) -> Value:
    x = ins[0]
    if isinstance(x, np.ndarray):
        return np.clip(x, 0, 6)
    lo, hi = c.init(np.array(0, np.float32), "zero"), c.init(np.array(6, np.float32), "six")
    return Dyn(c.emit1("Clip", [x.name, lo, hi], node.name), x.rank)


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


def _conv_plan(c: _Converter, node: TfNode, ins: list[Value]) -> _ConvPlan:
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


def _emit_conv(c: _Converter, plan: _ConvPlan, hint: str) -> Dyn:
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


def _fold_pad(c: _Converter, node: TfNode, plan: _ConvPlan) -> None:
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


@_op("_FusedConv2D", "Conv2D", "FusedDepthwiseConv2dNative", "DepthwiseConv2dNative")
def _conv(c: _Converter, node: TfNode, ins: list[Value]) -> Value:
    plan = _conv_plan(c, node, ins)
    if c.optimize:
        _fold_pad(c, node, plan)
        split = _split_over_concat(c, node, plan)
        if split is not None:
            return split
    return _emit_conv(c, plan, node.name)


def _split_over_concat(c: _Converter, node: TfNode, plan: _ConvPlan) -> Dyn | None:
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
    sizes = [_channels(c, r) for r in concat.inputs[:-1]]
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


@_op("BatchToSpaceND")
def _batch_to_space(c: _Converter, node: TfNode, ins: list[Value]) -> Value:
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


@_op("SpaceToBatchND")
def _space_to_batch(c: _Converter, node: TfNode, ins: list[Value]) -> Value:
    # evaluated only when something other than the dilated-conv pattern reads it
    raise ModelError(
        f"SpaceToBatchND node {node.name!r}: only the dilated-convolution pattern "
        "SpaceToBatchND -> conv -> BatchToSpaceND is supported"
    )


# -- shapes, slicing, packing ------------------------------------------------------------------


@_op("Shape")
def _shape(c: _Converter, node: TfNode, ins: list[Value]) -> Value:
    x = ins[0]
    if isinstance(x, np.ndarray):
        return np.array(x.shape, np.int32)
    s = c.emit1("Shape", [x.name], node.name + "/nchw" if x.rank == 4 else node.name)
    if x.rank == 4:
        s = c.emit1("Gather", [s, c.init(np.array([0, 2, 3, 1], np.int64), "nchw_to_nhwc")], node.name, axis=0)
    return Dyn(s, 1, TensorProto.INT64)


_DTYPES = {"DT_FLOAT": (np.float32, TensorProto.FLOAT), "DT_INT32": (np.int32, TensorProto.INT64)}


@_op("Cast")
def _cast(c: _Converter, node: TfNode, ins: list[Value]) -> Value:
    dst = node.attrs.get("DstT")
    if dst not in _DTYPES:
        raise ModelError(f"Cast node {node.name!r}: unsupported target type {dst!r}")
    np_t, onnx_t = _DTYPES[dst]
    x = ins[0]
    if isinstance(x, np.ndarray):
        return x.astype(np_t)
    return Dyn(c.emit1("Cast", [x.name], node.name, to=onnx_t), x.rank, onnx_t)


@_op("Squeeze")
def _squeeze(c: _Converter, node: TfNode, ins: list[Value]) -> Value:
    x = ins[0]
    dims = node.attrs.get("squeeze_dims", [])
    if isinstance(x, np.ndarray):
        return np.squeeze(x, axis=tuple(dims)) if dims else np.squeeze(x)
    if not dims:
        raise ModelError(f"Squeeze node {node.name!r}: squeezing a run-time tensor needs explicit squeeze_dims")
    axes = sorted(_nchw_axis(d, x.rank) for d in dims)
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


@_op("StridedSlice")
def _strided_slice(c: _Converter, node: TfNode, ins: list[Value]) -> Value:
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
        axis = _nchw_axis(i, x.rank)
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


@_op("Slice")
def _slice(c: _Converter, node: TfNode, ins: list[Value]) -> Value:
    x, begin, size = ins
    if _all_const(ins):
        idx = tuple(slice(int(b), None if int(s) == -1 else int(b) + int(s)) for b, s in zip(begin, size, strict=True))
        return np.asarray(x[idx])
    if not isinstance(x, Dyn) or not isinstance(begin, np.ndarray):
        raise ModelError(f"Slice node {node.name!r}: needs a run-time input and a constant begin")
    begin64 = begin.astype(np.int64)
    if isinstance(size, np.ndarray):
        ends_v = np.where(size == -1, _INT64_MAX, begin64 + size.astype(np.int64))
        ends = c.init(ends_v[list(_NHWC_TO_NCHW_AXIS_INV)] if x.rank == 4 else ends_v, node.name + "/ends")
    else:
        summed = c.emit1("Add", [size.name, c.init(begin64, node.name + "/begin")], node.name + "/end")
        is_all = c.emit1("Equal", [size.name, c.init(np.array(-1, np.int64), "minus_one")], node.name + "/is_all")
        ends = c.emit1("Where", [is_all, c.init(np.array(_INT64_MAX, np.int64), "int64_max"), summed], node.name + "/e")
        if x.rank == 4:
            perm = c.init(np.array(_NHWC_TO_NCHW_AXIS_INV, np.int64), "nhwc_to_nchw")
            ends = c.emit1("Gather", [ends, perm], node.name + "/ends", axis=0)
    starts_v = begin64[list(_NHWC_TO_NCHW_AXIS_INV)] if x.rank == 4 else begin64
    starts = c.init(starts_v, node.name + "/starts")
    return Dyn(c.emit1("Slice", [x.name, starts, ends], node.name), x.rank, x.dtype)


# NCHW position j holds NHWC axis _NHWC_TO_NCHW_AXIS_INV[j]
_NHWC_TO_NCHW_AXIS_INV = (0, 3, 1, 2)


@_op("Pack")
def _pack(c: _Converter, node: TfNode, ins: list[Value]) -> Value:
    axis = int(node.attrs.get("axis", 0))
    if _all_const(ins):
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


@_op("ConcatV2")
def _concat(c: _Converter, node: TfNode, ins: list[Value]) -> Value:
    *values, axis_v = ins
    if not isinstance(axis_v, np.ndarray):
        raise ModelError(f"ConcatV2 node {node.name!r}: the axis must be a constant")
    axis = int(axis_v)
    if _all_const(values):
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
    return Dyn(c.emit1("Concat", names, node.name, axis=_nchw_axis(axis, like.rank)), like.rank, like.dtype)


def _split_outputs(c: _Converter, node: TfNode, x: Value, axis: int, sizes: list[int]) -> list[Value]:
    if isinstance(x, np.ndarray):
        return list(np.split(x, np.cumsum(sizes)[:-1], axis=axis))
    split = c.init(np.array(sizes, np.int64), node.name + "/sizes")
    outs = c.emit("Split", [x.name, split], node.name, len(sizes), axis=_nchw_axis(axis, x.rank))
    return [Dyn(o, x.rank, x.dtype) for o in outs]


def _dim(x: Value, axis: int, node: TfNode) -> int:
    if isinstance(x, np.ndarray):
        return int(x.shape[axis])
    raise ModelError(f"{node.op} node {node.name!r}: the split axis size is unknown at conversion time")


@_op("Split")
def _split(c: _Converter, node: TfNode, ins: list[Value]) -> list[Value]:
    axis_v, x = ins
    n = int(node.attrs.get("num_split", 1))
    if not isinstance(axis_v, np.ndarray):
        raise ModelError(f"Split node {node.name!r}: the axis must be a constant")
    axis = int(axis_v)
    if isinstance(x, np.ndarray):
        return list(np.split(x, n, axis=axis))
    # the channel count of a run-time tensor: the ONNX Split with num_outputs needs opset 18, so
    # read the size from the producer's weights where it is a conv
    total = _channels(c, node.inputs[1]) if (axis in (-1, 3) and x.rank == 4) else None
    if total is None or total % n:
        raise ModelError(f"Split node {node.name!r}: cannot tell the size of axis {axis} at conversion time")
    return _split_outputs(c, node, x, axis, [total // n] * n)


def _channels(c: _Converter, ref: tuple[str, int], depth: int = 0) -> int | None:
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
            part = _channels(c, r, depth + 1)
            if part is None:
                return None
            total += part
        return total
    if n.op == "Split":
        whole = _channels(c, n.inputs[1], depth + 1)
        return None if whole is None else whole // int(n.attrs.get("num_split", 1))
    if n.op == "SplitV":
        sizes = c.weights.get(n.inputs[1][0])
        return None if sizes is None or int(sizes[ref[1]]) < 0 else int(sizes[ref[1]])
    if n.op in ("Mul", "Add", "AddV2", "Sub", "Merge"):
        for r in n.inputs:
            p = c.producer(r)
            if p is not None and p.op != "Const":
                got = _channels(c, r, depth + 1)
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
        return _channels(c, n.inputs[0], depth + 1)
    return None


@_op("SplitV")
def _split_v(c: _Converter, node: TfNode, ins: list[Value]) -> list[Value]:
    x = ins[0]
    sizes = c.const_input(node, 1, "size_splits")
    axis = int(c.const_input(node, 2, "axis"))
    sizes_l = [int(s) for s in sizes]
    if -1 in sizes_l:
        total = _dim(x, axis, node) if isinstance(x, np.ndarray) else _channels(c, node.inputs[0])
        if total is None:
            raise ModelError(f"SplitV node {node.name!r}: cannot resolve the -1 size at conversion time")
        sizes_l[sizes_l.index(-1)] = total - (sum(sizes_l) + 1)
    return _split_outputs(c, node, x, axis, sizes_l)


# -- spatial ops ------------------------------------------------------------------------------


@_op("Pad")
def _pad(c: _Converter, node: TfNode, ins: list[Value]) -> Value:
    x = ins[0]
    paddings = c.const_input(node, 1, "paddings").astype(np.int64)
    if isinstance(x, np.ndarray):
        return np.pad(x, paddings)
    if x.rank == 4:
        paddings = paddings[list(_NHWC_TO_NCHW_AXIS_INV)]
    pads = np.concatenate([paddings[:, 0], paddings[:, 1]])
    return Dyn(c.emit1("Pad", [x.name, c.init(pads, node.name + "/pads")], node.name), x.rank, x.dtype)


@_op("Mean")
def _mean(c: _Converter, node: TfNode, ins: list[Value]) -> Value:
    x = ins[0]
    axes = c.const_input(node, 1, "axes").reshape(-1)
    keep = bool(node.attrs.get("keep_dims", False))
    if isinstance(x, np.ndarray):
        return np.mean(x, axis=tuple(int(a) for a in axes), keepdims=keep)
    if x.rank == 4 and not keep:
        raise ModelError(f"Mean node {node.name!r}: reducing a 4-D tensor needs keep_dims")
    onnx_axes = sorted(_nchw_axis(int(a), x.rank) for a in axes)
    if c.optimize and x.rank == 4 and onnx_axes == [2, 3]:
        return Dyn(c.emit1("GlobalAveragePool", [x.name], node.name), 4, x.dtype)
    out = c.emit1("ReduceMean", [x.name], node.name, axes=onnx_axes, keepdims=int(keep))
    return Dyn(out, x.rank if keep else x.rank - len(onnx_axes), x.dtype)


@_op("AvgPool")
def _avg_pool(c: _Converter, node: TfNode, ins: list[Value]) -> Value:
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


@_op("ResizeBilinear")
def _resize_bilinear(c: _Converter, node: TfNode, ins: list[Value]) -> Value:
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


@_op("BroadcastTo")
def _broadcast_to(c: _Converter, node: TfNode, ins: list[Value]) -> Value:
    x, shape = ins
    if _all_const(ins):
        return np.broadcast_to(x, tuple(int(s) for s in shape)).copy()
    if isinstance(x, np.ndarray) and x.ndim == 4:
        x = Dyn(c.init(np.ascontiguousarray(x.transpose(0, 3, 1, 2)), node.name + "/value"), 4)
    if not isinstance(x, Dyn) or x.rank != 4:
        raise ModelError(f"BroadcastTo node {node.name!r}: only 4-D tensors are supported")
    if isinstance(shape, np.ndarray):
        shape_name = c.init(shape.astype(np.int64)[list(_NHWC_TO_NCHW_AXIS_INV)], node.name + "/shape")
    else:
        perm = c.init(np.array(_NHWC_TO_NCHW_AXIS_INV, np.int64), "nhwc_to_nchw")
        shape_name = c.emit1("Gather", [shape.name, perm], node.name + "/shape", axis=0)
    return Dyn(c.emit1("Expand", [x.name, shape_name], node.name), 4)


SUPPORTED_OPS: frozenset[str] = frozenset(_HANDLERS) | {"Merge"}


# --------------------------------------------------------------------------------------------
# batch-norm folding (ONNX level): Conv -> Mul(c) -> Add(c) with per-channel constants


def _fold_conv_affine(model: onnx.ModelProto) -> int:
    """Fold ``Mul``/``Add`` by per-channel constants into the preceding bias-carrying Conv; return the count."""
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    outputs = {o.name for o in g.output}
    removed: set[int] = set()
    folded = 0
    for conv in list(g.node):
        if conv.op_type != "Conv":
            continue
        while True:
            out = conv.output[0]
            users = consumers.get(out, [])
            if len(users) != 1 or out in outputs:
                break
            nxt = users[0]
            if nxt.op_type not in ("Mul", "Add") or id(nxt) in removed:
                break
            other = [i for i in nxt.input if i != out]
            if len(other) != 1 or other[0] not in inits:
                break
            k = numpy_helper.to_array(inits[other[0]]).astype(np.float32)
            cout = numpy_helper.to_array(inits[conv.input[1]]).shape[0]
            if k.size not in (1, cout):
                break
            k = k.reshape(-1)
            w = numpy_helper.to_array(inits[conv.input[1]]).astype(np.float32)
            if len(conv.input) > 2:
                b = numpy_helper.to_array(inits[conv.input[2]]).astype(np.float32)
            else:
                b = np.zeros(cout, np.float32)
            if nxt.op_type == "Mul":
                w = w * k.reshape(-1, 1, 1, 1) if k.size == cout else w * k[0]
                b = b * k
            else:
                b = b + k
            wname, bname = conv.input[1] + "/f", (conv.input[2] if len(conv.input) > 2 else conv.input[1]) + "/fb"
            wname, bname = _unique(inits, wname), _unique(inits, bname)
            for name, arr in ((wname, w), (bname, b)):
                t = numpy_helper.from_array(arr.astype(np.float32), name)
                g.initializer.append(t)
                inits[name] = t
            del conv.input[1:]
            conv.input.extend([wname, bname])
            conv.output[0] = nxt.output[0]
            removed.add(id(nxt))
            g.node.remove(nxt)
            consumers[conv.output[0]] = consumers.get(nxt.output[0], [])
            folded += 1
    _drop_unused_initializers(model)
    return folded


def _unique(existing: Mapping[str, Any], name: str) -> str:
    i, out = 1, name
    while out in existing:
        out = f"{name}_{i}"
        i += 1
    return out


def _drop_unused_initializers(model: onnx.ModelProto) -> None:
    used = {i for n in model.graph.node for i in n.input}
    keep = [t for t in model.graph.initializer if t.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(keep)


# --------------------------------------------------------------------------------------------
# public API


def convert_tfjs(
    model_json: Mapping[str, Any],
    weights: Mapping[str, np.ndarray],
    *,
    inputs: Sequence[GraphInput],
    outputs: Mapping[str, str],
    fixed: Mapping[str, np.ndarray] | None = None,
    name: str = "tfjs",
    optimize: bool = True,
) -> onnx.ModelProto:
    """Convert a TF.js graph model to a validated ONNX model.

    ``inputs``: the placeholders kept as graph inputs (NCHW shapes; str dims are dynamic).
    ``outputs``: ONNX output name -> TF tensor (``"node"`` or ``"node:port"``); all are float32,
    4-D outputs NCHW. ``fixed``: placeholder name -> constant value folded into the graph.
    """
    nodes = parse_graph(model_json)
    conv = _Converter(nodes, weights, inputs, fixed or {}, optimize)
    graph_outputs = []
    for out_name, ref in outputs.items():
        v = conv.value(_parse_input(ref))
        if v is DEAD:
            raise ModelError(f"output {out_name!r} ({ref}) is on a branch the fixed inputs switch off")
        if not isinstance(v, Dyn):
            raise ModelError(f"output {out_name!r} ({ref}) is a constant; nothing to convert")
        conv.onnx_nodes.append(helper.make_node("Identity", [v.name], [out_name], name=out_name))
        dims = [f"{out_name}_{i}" for i in range(v.rank)]
        graph_outputs.append(helper.make_tensor_value_info(out_name, TensorProto.FLOAT, dims))
    graph_inputs = [helper.make_tensor_value_info(i.onnx_name, TensorProto.FLOAT, list(i.shape)) for i in inputs]
    graph = helper.make_graph(conv.onnx_nodes, name, graph_inputs, graph_outputs, conv.inits)
    model = helper.make_model(
        graph,
        producer_name=PRODUCER,
        producer_version=CONVERTER_VERSION,
        opset_imports=[helper.make_opsetid("", OPSET)],
    )
    model.ir_version = IR_VERSION
    _prune(model)
    if optimize:
        n = _fold_conv_affine(model)
        log.debug("folded %d per-channel Mul/Add into convolutions", n)
    return validate(model)


def _prune(model: onnx.ModelProto) -> None:
    """Drop nodes whose outputs nobody reads (pattern rewrites can leave some behind)."""
    g = model.graph
    needed = {o.name for o in g.output}
    keep = []
    for n in reversed(list(g.node)):
        if any(o in needed for o in n.output):
            keep.append(n)
            needed.update(i for i in n.input if i)
    del g.node[:]
    g.node.extend(reversed(keep))
    _drop_unused_initializers(model)


def validate(model: onnx.ModelProto) -> onnx.ModelProto:
    """Full ``onnx.checker`` check plus strict shape inference; raises :class:`ModelError`."""
    try:
        onnx.checker.check_model(model, full_check=True)
        inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise ModelError(f"the converted model is not valid ONNX: {exc}") from exc
    del inferred
    return model
