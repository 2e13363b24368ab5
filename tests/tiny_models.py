"""Tiny ONNX models built in the tests (after Polygraphy's tests/models): real graphs, real ONNX Runtime.

``brightness_model``: probability = sigmoid(gain * (mean over RGB - 0.5)), so bright pixels are foreground.
``class_logits_model``: C-channel logits where class k scores high where the input's channel k is bright.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _save(graph: onnx.GraphProto, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="realtime-seg-tests")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
    return path


def brightness_model(path: Path, size_wh: tuple[int, int] = (64, 48), gain: float = 20.0) -> Path:
    w, h = size_wh
    weight = np.full((1, 3, 1, 1), gain / 3.0, np.float32)
    bias = np.array([-gain * 0.5], np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["input", "w", "b"], ["z"]), helper.make_node("Sigmoid", ["z"], ["probability"])],
        "brightness",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, h, w])],
        [helper.make_tensor_value_info("probability", TensorProto.FLOAT, [1, 1, h, w])],
        [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias, "b")],
    )
    return _save(graph, path)


def class_logits_model(path: Path, size_wh: tuple[int, int] = (64, 48), classes: int = 3) -> Path:
    """Logits: class 0 = constant 0.5*gain (background), class k>=1 = gain * input channel k-1 (R, G, B)."""
    w, h = size_wh
    gain = 10.0
    weight = np.zeros((classes, 3, 1, 1), np.float32)
    for k in range(1, classes):
        weight[k, (k - 1) % 3, 0, 0] = gain
    bias = np.zeros((classes,), np.float32)
    bias[0] = 0.5 * gain
    graph = helper.make_graph(
        [helper.make_node("Conv", ["input", "w", "b"], ["logits"])],
        "class_logits",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, h, w])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, classes, h, w])],
        [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias, "b")],
    )
    return _save(graph, path)


SPEC_TOML_BRIGHTNESS = """
name = "brightness"
input_size = [64, 48]
layout = "NCHW"
color_order = "RGB"
value_range = [0.0, 1.0]
resample = "linear"
output = "probability"
classes = ["background", "bright"]
"""

SPEC_TOML_LOGITS = """
name = "rgb-classes"
input_size = [64, 48]
layout = "NCHW"
color_order = "RGB"
value_range = [0.0, 1.0]
resample = "linear"
output = "logits"
classes = ["background", "red", "green"]
colors = [[0, 0, 0], [255, 0, 0], [0, 255, 0]]
"""


def write_user_model(dirpath: Path, kind: str = "brightness") -> Path:
    """A user model: ``<kind>.onnx`` plus its sidecar ``<kind>.toml``; returns the ONNX path."""
    onnx_path = dirpath / f"{kind}.onnx"
    if kind == "brightness":
        brightness_model(onnx_path)
        onnx_path.with_suffix(".toml").write_text(SPEC_TOML_BRIGHTNESS)
    elif kind == "logits":
        class_logits_model(onnx_path)
        onnx_path.with_suffix(".toml").write_text(SPEC_TOML_LOGITS)
    else:
        raise ValueError(kind)
    return onnx_path


def counter_matting_model(path: Path, channels: int = 2, stride: int = 2) -> Path:
    """A recurrent matting stand-in with RVM's interface and any input size.

    ``src`` [1, 3, H, W] -> ``fgr`` = ``src``; ``r1o`` = ``r1i`` + 1 (so the state counts the model's
    runs since it last started from zeros); ``pha`` [1, 1, H, W] = mean(``r1i``) / 100 everywhere: the
    alpha tells how many runs the state had seen. ``r1i`` is [1, channels, ceil(H/stride), ceil(W/stride)].
    """
    one = numpy_helper.from_array(np.array(1.0, np.float32), "one")
    zero = numpy_helper.from_array(np.array(0.0, np.float32), "zero")
    hundredth = numpy_helper.from_array(np.array(0.01, np.float32), "hundredth")
    nodes = [
        helper.make_node("Add", ["r1i", "one"], ["r1o"]),
        helper.make_node("ReduceMean", ["src"], ["grey"], axes=[1], keepdims=1),
        helper.make_node("Mul", ["grey", "zero"], ["zeros"]),
        helper.make_node("ReduceMean", ["r1i"], ["count"], axes=[0, 1, 2, 3], keepdims=1),
        helper.make_node("Mul", ["count", "hundredth"], ["level"]),
        helper.make_node("Add", ["zeros", "level"], ["pha"]),
        helper.make_node("Identity", ["src"], ["fgr"]),
    ]
    graph = helper.make_graph(
        nodes,
        "counter_matting",
        [
            helper.make_tensor_value_info("src", TensorProto.FLOAT, [1, 3, "h", "w"]),
            helper.make_tensor_value_info("r1i", TensorProto.FLOAT, [1, channels, "h2", "w2"]),
        ],
        [
            helper.make_tensor_value_info("pha", TensorProto.FLOAT, [1, 1, "h", "w"]),
            helper.make_tensor_value_info("fgr", TensorProto.FLOAT, [1, 3, "h", "w"]),
            helper.make_tensor_value_info("r1o", TensorProto.FLOAT, [1, channels, "h2", "w2"]),
        ],
        [one, zero, hundredth],
    )
    return _save(graph, path)


SPEC_TOML_COUNTER = """
name = "counter"
input_size = [64, 36]
dynamic_size = true
output = "probability"
input = "src"
[outputs]
alpha = "pha"
foreground = "fgr"
[[state]]
input = "r1i"
output = "r1o"
channels = {channels}
stride = 2
"""


def write_counter_model(dirpath: Path, *, spec_channels: int = 2) -> Path:
    """``counter.onnx`` + ``counter.toml`` (the TOML may claim another channel count, for error tests)."""
    path = counter_matting_model(dirpath / "counter.onnx")
    (dirpath / "counter.toml").write_text(SPEC_TOML_COUNTER.format(channels=spec_channels), encoding="utf-8")
    return path
