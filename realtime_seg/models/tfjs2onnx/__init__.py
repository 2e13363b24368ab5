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

Modules: :mod:`.weights` (the weights manifest), :mod:`.graph` (``model.json``'s nodes), :mod:`.converter`
(values, the graph walk with constant and control-flow folding, the handler registry), the operator handlers
in :mod:`.ops_basic`, :mod:`.ops_shape` and :mod:`.ops_spatial`, :mod:`.onnx_passes` (passes over the
finished ONNX graph) and :mod:`.convert` (:func:`convert_tfjs`).
"""

from __future__ import annotations

from realtime_seg.models.tfjs2onnx.convert import CONVERTER_VERSION, OPSET, SUPPORTED_OPS, convert_tfjs
from realtime_seg.models.tfjs2onnx.converter import GraphInput
from realtime_seg.models.tfjs2onnx.weights import decode_weights

__all__ = [
    "CONVERTER_VERSION",
    "OPSET",
    "SUPPORTED_OPS",
    "GraphInput",
    "convert_tfjs",
    "decode_weights",
]
