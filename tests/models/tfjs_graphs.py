"""Hand-built TF.js graph models (``model.json`` dicts + weight bytes) and numpy references (NHWC).

Each test graph has one run-time input ``x`` (NHWC float32) and one output ``y``; the references
implement TensorFlow's semantics (SAME padding, half-pixel bilinear resize, ...) directly.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnxruntime as ort

from realtime_seg.models import tfjs2onnx
from realtime_seg.models.tflite2onnx import same_padding


def s(text: str) -> dict[str, str]:
    return {"s": base64.b64encode(text.encode()).decode()}


def ints(*v: int) -> dict[str, Any]:
    return {"list": {"i": [str(i) for i in v]}}


def strs(*v: str) -> dict[str, Any]:
    return {"list": {"s": [base64.b64encode(t.encode()).decode() for t in v]}}


@dataclass
class GraphBuilder:
    """Collects nodes and constants; ``build()`` gives the model.json dict and the weight bytes."""

    nodes: list[dict[str, Any]] = field(default_factory=list)
    consts: dict[str, np.ndarray] = field(default_factory=dict)
    quantize: dict[str, str] = field(default_factory=dict)  # const name -> "uint8" | "float16"
    _n: int = 0

    def node(self, op: str, inputs: list[str], name: str | None = None, **attr: Any) -> str:
        self._n += 1
        name = name or f"{op.lower()}_{self._n}"
        self.nodes.append({"name": name, "op": op, "input": inputs, "attr": attr})
        return name

    def const(self, value: Any, dtype: Any = np.float32, quant: str | None = None) -> str:
        name = self.node("Const", [])
        self.consts[name] = np.asarray(value, dtype)
        if quant:
            self.quantize[name] = quant
        return name

    def placeholder(self, name: str) -> str:
        return self.node("Placeholder", [], name=name, dtype={"type": "DT_FLOAT"})

    def build(self) -> tuple[dict[str, Any], bytes]:
        specs, chunks = [], []
        for name, value in self.consts.items():
            spec: dict[str, Any] = {"name": name, "shape": list(value.shape)}
            q = self.quantize.get(name)
            if value.dtype == np.float32 and q == "uint8":
                lo, hi = float(value.min()), float(value.max())
                scale = (hi - lo) / 255 or 1.0
                spec.update(dtype="float32", quantization={"dtype": "uint8", "min": lo, "scale": scale})
                chunks.append(np.round((value - lo) / scale).astype(np.uint8).tobytes())
            elif value.dtype == np.float32 and q == "float16":
                spec.update(dtype="float32", quantization={"dtype": "float16"})
                chunks.append(value.astype("<f2").tobytes())
            else:
                spec["dtype"] = {np.dtype(np.float32): "float32", np.dtype(np.int32): "int32", np.dtype(bool): "bool"}[
                    value.dtype
                ]
                chunks.append(value.astype(value.dtype.newbyteorder("<")).tobytes())
            specs.append(spec)
        model = {
            "format": "graph-model",
            "modelTopology": {"node": self.nodes},
            "weightsManifest": [{"paths": ["w.bin"], "weights": specs}],
        }
        return model, b"".join(chunks)


def convert_and_run(
    b: GraphBuilder,
    x: np.ndarray,
    output: str,
    *,
    optimize: bool = True,
    fixed: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """Convert the graph (input ``x``, NHWC), run it with ONNX Runtime, return ``output`` as NHWC."""
    model, data = b.build()
    weights = tfjs2onnx.decode_weights(model["weightsManifest"], data)
    proto = tfjs2onnx.convert_tfjs(
        model,
        weights,
        inputs=[tfjs2onnx.GraphInput("x", "x", (1, x.shape[3], "h", "w"))],
        outputs={"y": output},
        fixed=fixed,
        optimize=optimize,
    )
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(proto.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    (y,) = sess.run(["y"], {"x": np.ascontiguousarray(x.transpose(0, 3, 1, 2))})
    return y.transpose(0, 2, 3, 1) if y.ndim == 4 else y


# -- numpy references (NHWC) ---------------------------------------------------------------------


def conv_nhwc(
    x: np.ndarray,
    w: np.ndarray,
    *,
    stride: int = 1,
    dilation: int = 1,
    padding: str | tuple[int, int, int, int] = "VALID",
    depthwise: bool = False,
) -> np.ndarray:
    """TF conv2d / depthwise_conv2d; ``w`` is HWIO (HW, C, multiplier for depthwise); pads (t, b, l, r)."""
    kh, kw = w.shape[:2]
    _, h, wd, c = x.shape
    if padding == "SAME":
        t, bo = same_padding(h, kh, stride, dilation)
        le, r = same_padding(wd, kw, stride, dilation)
    elif padding == "VALID":
        t = bo = le = r = 0
    else:
        t, bo, le, r = padding  # type: ignore[misc]
    xp = np.pad(x, ((0, 0), (t, bo), (le, r), (0, 0))).astype(np.float64)
    oh = (xp.shape[1] - (kh - 1) * dilation - 1) // stride + 1
    ow = (xp.shape[2] - (kw - 1) * dilation - 1) // stride + 1
    cout = c * w.shape[3] if depthwise else w.shape[3]
    out = np.zeros((1, oh, ow, cout))
    for i in range(kh):
        for j in range(kw):
            patch = xp[
                :,
                i * dilation : i * dilation + stride * oh : stride,
                j * dilation : j * dilation + stride * ow : stride,
            ]
            if depthwise:
                out += (patch[..., :, None] * w[i, j][None, None, None]).reshape(1, oh, ow, cout)
            else:
                out += patch @ w[i, j]
    return out.astype(np.float32)


def resize_bilinear_half_pixel(x: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    """TF ``ResizeBilinear(half_pixel_centers=True)``."""
    _, h, w, _ = x.shape
    oh, ow = out_hw

    def axis(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        src = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
        lo = np.floor(src).astype(int)
        frac = src - lo
        return np.clip(lo, 0, n_in - 1), np.clip(lo + 1, 0, n_in - 1), frac

    y0, y1, fy = axis(h, oh)
    x0, x1, fx = axis(w, ow)
    top = x[:, y0][:, :, x0] * (1 - fx)[None, None, :, None] + x[:, y0][:, :, x1] * fx[None, None, :, None]
    bot = x[:, y1][:, :, x0] * (1 - fx)[None, None, :, None] + x[:, y1][:, :, x1] * fx[None, None, :, None]
    return (top * (1 - fy)[None, :, None, None] + bot * fy[None, :, None, None]).astype(np.float32)
