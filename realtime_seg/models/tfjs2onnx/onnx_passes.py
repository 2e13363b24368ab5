"""Passes over the finished ONNX graph: batch-norm folding into convs, pruning, validation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from realtime_seg.errors import ModelError

# --------------------------------------------------------------------------------------------
# batch-norm folding (ONNX level): Conv -> Mul(c) -> Add(c) with per-channel constants


def fold_conv_affine(model: onnx.ModelProto) -> int:
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


def prune(model: onnx.ModelProto) -> None:
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
