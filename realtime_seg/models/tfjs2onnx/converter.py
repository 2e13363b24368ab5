"""The conversion state: values (constant, run-time or dead), the converter that walks the TF graph, and the
registry of operator handlers (filled by the ``ops_*`` modules when the package imports).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from realtime_seg.errors import ModelError
from realtime_seg.models.tfjs2onnx.graph import TfNode

_NHWC_TO_NCHW_AXIS = (0, 2, 3, 1)  # TF axis a of a 4-D tensor is ONNX axis _NHWC_TO_NCHW_AXIS[a]
# NCHW position j holds NHWC axis NHWC_TO_NCHW_AXIS_INV[j]
NHWC_TO_NCHW_AXIS_INV = (0, 3, 1, 2)


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


def nchw_axis(axis: int, rank: int) -> int:
    axis = axis + rank if axis < 0 else axis
    return _NHWC_TO_NCHW_AXIS[axis] if rank == 4 else axis


def _to_nchw_const(c: np.ndarray) -> np.ndarray:
    """A constant that broadcasts against an NHWC tensor -> the same against the NCHW tensor."""
    if c.ndim == 0:
        return c
    c4 = c.reshape((1,) * (4 - c.ndim) + c.shape)
    return np.ascontiguousarray(c4.transpose(0, 3, 1, 2))


class Converter:
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
            pending = [] if node.op in LAZY else [src for src, _ in node.inputs if src not in self.values]
            if pending:
                stack.extend(reversed(pending))
                continue
            stack.pop()
            self.values[top] = self.convert_node(node)

    def convert_node(self, node: TfNode) -> list[Value]:
        if node.op in LAZY:  # the handler reads only the inputs it needs
            return [HANDLERS[node.op](self, node, [])]
        ins = [self.value(r) for r in node.inputs]
        if node.op == "Merge":
            live = [(i, v) for i, v in enumerate(ins) if v is not DEAD]
            if not live:
                return [DEAD, DEAD]
            return [live[0][1], np.array(live[0][0], np.int32)]
        if any(v is DEAD for v in ins):
            return [DEAD] * 4
        handler = HANDLERS.get(node.op)
        if handler is None:
            raise ModelError(
                f"unsupported TF.js operator {node.op!r} (node {node.name!r}); "
                f"this converter supports: {', '.join(sorted(supported_ops()))}"
            )
        out = handler(self, node, ins)
        return out if isinstance(out, list) else [out]

    def producer(self, ref: tuple[str, int]) -> TfNode | None:
        return self.nodes.get(ref[0])

    def single_use(self, name: str) -> bool:
        return self.consumers.get(name, 0) == 1


# --------------------------------------------------------------------------------------------
# operator handlers: (converter, node, input values) -> value or list of values

Handler = Callable[[Converter, TfNode, list[Value]], Any]
#: ops whose handler evaluates its own inputs (BatchToSpaceND skips the SpaceToBatchND it undoes)
LAZY = frozenset({"BatchToSpaceND"})
HANDLERS: dict[str, Handler] = {}


def handles(*names: str) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of the TF ops ``names``."""

    def deco(fn: Handler) -> Handler:
        for n in names:
            HANDLERS[n] = fn
        return fn

    return deco


def supported_ops() -> frozenset[str]:
    """The TF ops with a handler, plus ``Merge`` (which :meth:`Converter.convert_node` resolves itself)."""
    return frozenset(HANDLERS) | {"Merge"}


def all_const(ins: list[Value]) -> bool:
    return all(isinstance(v, np.ndarray) for v in ins)
