"""The top-level conversion: :func:`convert_tfjs` builds, optimizes and validates the ONNX model."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

from realtime_seg.errors import ModelError
from realtime_seg.models.tfjs2onnx import ops_basic, ops_shape, ops_spatial  # noqa: F401 - they register the handlers
from realtime_seg.models.tfjs2onnx.converter import DEAD, Converter, Dyn, GraphInput, supported_ops
from realtime_seg.models.tfjs2onnx.graph import parse_graph, parse_input
from realtime_seg.models.tfjs2onnx.onnx_passes import fold_conv_affine, prune, validate

log = logging.getLogger(__name__)

OPSET = 17
IR_VERSION = 8
PRODUCER = "realtime-seg.tfjs2onnx"
#: bump when the converter's output changes, so cached conversions can be told apart
CONVERTER_VERSION = "1"
#: the TF ops the converter handles; any other raises a ModelError naming it
SUPPORTED_OPS: frozenset[str] = supported_ops()


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
    conv = Converter(nodes, weights, inputs, fixed or {}, optimize)
    graph_outputs = []
    for out_name, ref in outputs.items():
        v = conv.value(parse_input(ref))
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
    prune(model)
    if optimize:
        n = fold_conv_affine(model)
        log.debug("folded %d per-channel Mul/Add into convolutions", n)
    return validate(model)
