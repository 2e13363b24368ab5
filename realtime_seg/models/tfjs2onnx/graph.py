"""The TF graph as TF.js writes it in ``model.json``: nodes, their data inputs and their attributes."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from realtime_seg.errors import ModelError


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


def parse_input(ref: str) -> tuple[str, int]:
    name, _, port = ref.partition(":")
    return name, int(port) if port else 0


def parse_graph(model_json: Mapping[str, Any]) -> dict[str, TfNode]:
    try:
        raw_nodes = model_json["modelTopology"]["node"]
    except (KeyError, TypeError) as exc:
        raise ModelError("not a TF.js graph model: 'modelTopology.node' is missing") from exc
    nodes: dict[str, TfNode] = {}
    for n in raw_nodes:
        inputs = [parse_input(i) for i in n.get("input", ()) if not i.startswith("^")]
        attrs = {k: _attr(v) for k, v in n.get("attr", {}).items() if k != "_output_shapes"}
        nodes[n["name"]] = TfNode(n["name"], n["op"], inputs, attrs)
    return nodes
