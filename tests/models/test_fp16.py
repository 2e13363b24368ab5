"""The fp16 variant: float16 inside, float32 I/O, same masks as fp32."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto
from onnx.reference import ReferenceEvaluator

from realtime_seg.errors import ModelError
from realtime_seg.models.fetch import BUILTIN_MODELS
from realtime_seg.models.fp16 import to_fp16
from realtime_seg.models.preprocess import to_model_input
from realtime_seg.models.tflite2onnx import convert_tflite

from .conftest import iou

log = logging.getLogger(__name__)


def _ref_run(evaluator: ReferenceEvaluator, feeds: dict[str, np.ndarray]) -> np.ndarray:
    out: Any = evaluator.run(None, feeds)
    return np.asarray(out[0])


def _inputs(samples: dict[str, np.ndarray], hw: tuple[int, int]) -> list[np.ndarray]:
    return [to_model_input(np.ascontiguousarray(b[:, :, ::-1]), (hw[1], hw[0])) for b in samples.values()]


@pytest.mark.network
@pytest.mark.parametrize("name", list(BUILTIN_MODELS))
def test_fp16_types(tflite_sources: dict[str, bytes], name: str) -> None:
    half = to_fp16(convert_tflite(tflite_sources[name], name=name))
    io = [*half.graph.input, *half.graph.output]
    assert all(v.type.tensor_type.elem_type == TensorProto.FLOAT for v in io)
    floats = [t for t in half.graph.initializer if t.data_type in (TensorProto.FLOAT, TensorProto.FLOAT16)]
    assert floats and all(t.data_type == TensorProto.FLOAT16 for t in floats)
    inferred = onnx.shape_inference.infer_shapes(half, strict_mode=True)
    inner = {v.type.tensor_type.elem_type for v in inferred.graph.value_info}
    assert inner == {TensorProto.FLOAT16}  # every activation is float16
    assert [n.op_type for n in (half.graph.node[0], half.graph.node[-1])] == ["Cast", "Cast"]


@pytest.mark.network
@pytest.mark.parametrize("name", list(BUILTIN_MODELS))
def test_fp16_vs_fp32_on_onnxruntime(fetched: dict, samples: dict[str, np.ndarray], name: str) -> None:
    """ORT CPU runs the fp16 file (it upcasts ops without fp16 CPU kernels internally)."""
    s32 = ort.InferenceSession(str(fetched[(name, "fp32")]), providers=["CPUExecutionProvider"])
    s16 = ort.InferenceSession(str(fetched[(name, "fp16")]), providers=["CPUExecutionProvider"])
    assert s16.get_inputs()[0].type == "tensor(float)" and s16.get_outputs()[0].type == "tensor(float)"
    for x in _inputs(samples, BUILTIN_MODELS[name].input_hw):
        (a,) = s32.run(None, {"input": x})
        (b,) = s16.run(None, {"input": x})
        assert b.dtype == np.float32
        log.info("%s fp16 vs fp32 on ORT CPU: max abs diff %.3g", name, float(np.abs(a - b).max()))
        assert iou(a, b) >= 0.99


@pytest.mark.network
@pytest.mark.parametrize("name", list(BUILTIN_MODELS))
def test_fp16_arithmetic_vs_fp32(
    tflite_sources: dict[str, bytes],
    samples: dict[str, np.ndarray],
    name: str,
) -> None:
    """True float16 arithmetic (ONNX reference evaluator, numpy float16) stays within IoU 0.99."""
    fp32 = convert_tflite(tflite_sources[name], name=name)
    ref16 = ReferenceEvaluator(to_fp16(fp32))
    s32 = ort.InferenceSession(fp32.SerializeToString(), providers=["CPUExecutionProvider"])
    for x in _inputs(samples, BUILTIN_MODELS[name].input_hw):
        (a,) = s32.run(None, {"input": x})
        with np.errstate(over="ignore", invalid="ignore"):  # float16 exp() inside Sigmoid saturates
            b = _ref_run(ref16, {"input": x})
        assert np.isfinite(b).all()
        log.info("%s fp16 arithmetic: max abs diff %.3g, IoU %.5f", name, float(np.abs(a - b).max()), iou(a, b))
        assert iou(a, b) >= 0.99


def test_fp16_rejects_unknown_ops() -> None:
    from onnx import helper

    graph = helper.make_graph(
        [helper.make_node("Softmax", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(ModelError, match="does not support op"):
        to_fp16(model)


def test_fp16_small_graph_numerics() -> None:
    from onnx import helper, numpy_helper

    w = np.linspace(-1, 1, 8 * 3 * 3 * 3, dtype=np.float32).reshape(8, 3, 3, 3)
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
            helper.make_node("HardSwish", ["c"], ["h"]),
            helper.make_node("Sigmoid", ["h"], ["y"]),
        ],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 8, 8])],
        initializer=[numpy_helper.from_array(w, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    x = np.random.default_rng(0).random((1, 3, 8, 8), dtype=np.float32)
    a = _ref_run(ReferenceEvaluator(model), {"x": x})
    with np.errstate(over="ignore", invalid="ignore"):
        b = _ref_run(ReferenceEvaluator(to_fp16(model)), {"x": x})
    assert b.dtype == np.float32
    np.testing.assert_allclose(a, b, atol=5e-3)
