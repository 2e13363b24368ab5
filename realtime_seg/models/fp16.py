"""Float16 variant of a float32 ONNX model, keeping float32 inputs and outputs.

Every float32 initializer becomes float16 and so does every activation; a ``Cast`` after each
graph input and before each graph output keeps the interface float32, so callers need no change.
Only the small op set our converter emits is handled (ops whose attributes carry no float32
tensor); anything else raises :class:`ModelError`.
"""

from __future__ import annotations

import logging

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from realtime_seg.errors import ModelError

__all__ = ["to_fp16"]

log = logging.getLogger(__name__)

#: ops that are type-polymorphic over float16 and have no float-typed tensor attribute
_SUPPORTED = frozenset(
    {
        "Add",
        "Mul",
        "Sub",
        "Div",
        "Conv",
        "ConvTranspose",
        "Relu",
        "Sigmoid",
        "HardSwish",
        "HardSigmoid",
        "Clip",
        "GlobalAveragePool",
        "Resize",
        "Identity",
        # shape and data-movement ops (RVM's TF.js graph; see tfjs2onnx)
        "Tanh",
        "Min",
        "Max",
        "Concat",
        "Split",
        "Slice",
        "Shape",
        "Gather",
        "Unsqueeze",
        "Squeeze",
        "Equal",
        "Where",
        "Expand",
        "AveragePool",
        "ReduceMean",
    }
)
_FP16_MAX = float(np.finfo(np.float16).max)


def to_fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    """Return a copy of ``model`` that computes in float16 with float32 I/O.

    Raises :class:`ModelError` for an op outside the supported set, or for a weight that does not
    fit float16's range.
    """
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    del graph.value_info[:]  # stale float32 types; recomputed by shape inference below

    unsupported = sorted(
        {n.op_type for n in graph.node if n.domain not in ("", "ai.onnx")}
        | {n.op_type for n in graph.node if n.op_type not in _SUPPORTED}
    )
    if unsupported:
        raise ModelError(f"{graph.name}: to_fp16 does not support op(s) {', '.join(unsupported)}")

    for init in graph.initializer:
        if init.data_type != TensorProto.FLOAT:
            continue
        value = numpy_helper.to_array(init)
        peak = float(np.abs(value).max()) if value.size else 0.0
        if peak > _FP16_MAX:
            raise ModelError(f"{graph.name}: initializer {init.name!r} ({peak:g}) overflows float16")
        init.CopyFrom(numpy_helper.from_array(value.astype(np.float16), init.name))

    renames: dict[str, str] = {}
    cast_nodes_in: list[onnx.NodeProto] = []
    for inp in graph.input:
        if inp.type.tensor_type.elem_type == TensorProto.FLOAT:
            half = f"{inp.name}__fp16"
            renames[inp.name] = half
            cast_nodes_in.append(
                helper.make_node("Cast", [inp.name], [half], name=f"{inp.name}_to_fp16", to=TensorProto.FLOAT16)
            )
    cast_nodes_out: list[onnx.NodeProto] = []
    out_renames: dict[str, str] = {}
    for outp in graph.output:
        if outp.type.tensor_type.elem_type == TensorProto.FLOAT:
            half = f"{outp.name}__fp16"
            out_renames[outp.name] = half
            cast_nodes_out.append(
                helper.make_node("Cast", [half], [outp.name], name=f"{outp.name}_to_fp32", to=TensorProto.FLOAT)
            )

    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in renames:
                node.input[i] = renames[name]
            elif name in out_renames:
                node.input[i] = out_renames[name]
        for i, name in enumerate(node.output):
            if name in out_renames:
                node.output[i] = out_renames[name]

    nodes = [*cast_nodes_in, *graph.node, *cast_nodes_out]
    del graph.node[:]
    graph.node.extend(nodes)
    helper.set_model_props(
        out, {**{p.key: p.value for p in out.metadata_props}, "precision": "fp16", "io_dtype": "float32"}
    )
    try:
        onnx.checker.check_model(out, full_check=True)
        onnx.shape_inference.infer_shapes(out, check_type=True, strict_mode=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise ModelError(f"{graph.name}: float16 model failed validation: {exc}") from exc
    log.debug("to_fp16 %s: %d initializers converted", graph.name, len(graph.initializer))
    return out
