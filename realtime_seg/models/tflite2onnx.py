"""Convert the MediaPipe selfie-segmentation ``.tflite`` models to ONNX (opset 17).

This is a small, purpose-built converter: it handles exactly the operators the two MediaPipe
selfie models use (see ``docs``/``MODEL.md``) and raises :class:`ModelError` naming any other.

* The TFLite graph is NHWC; the ONNX graph runs NCHW throughout, so no Transpose nodes are
  needed: every 4-D activation keeps its TFLite meaning with the axes reordered.
* I/O: input ``input`` float32 ``[1, 3, H, W]`` (RGB in [0, 1]), output ``probability`` float32
  ``[1, 1, H, W]`` (the graph ends in a sigmoid).
* Float16 constants behind ``DEQUANTIZE`` are folded to float32 (exact).
* ``SAME`` padding follows TensorFlow (asymmetric: the extra pixel goes bottom/right).

After building, the model is checked with ``onnx.checker`` (full check) and strict shape
inference, and every inferred shape is compared with the TFLite tensor shape.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
import tflite
from onnx import TensorProto, helper, numpy_helper

from realtime_seg.errors import ModelError
from realtime_seg.models._versions import CONVERTER_VERSION, OPSET  # kept apart: the cache check needs no onnx

__all__ = [
    "INPUT_NAME",
    "OPSET",
    "OUTPUT_NAME",
    "TransposeConvOptions",
    "convert_tflite",
    "parse_transpose_conv_options",
    "same_padding",
    "same_padding_transpose",
]

log = logging.getLogger(__name__)

#: IR version 8 is the newest every opset-17 consumer (older ORT, TensorRT's parser) accepts
IR_VERSION = 8
INPUT_NAME = "input"
OUTPUT_NAME = "probability"
PRODUCER = "realtime-seg.tflite2onnx"

_OP_NAMES: dict[int, str] = {
    v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_") and isinstance(v, int)
}
_NP_TYPES: dict[int, type[np.generic]] = {
    tflite.TensorType.FLOAT32: np.float32,
    tflite.TensorType.FLOAT16: np.float16,
    tflite.TensorType.INT32: np.int32,
    tflite.TensorType.INT64: np.int64,
    tflite.TensorType.UINT8: np.uint8,
}
_SAME = tflite.Padding.SAME
_VALID = tflite.Padding.VALID


# --------------------------------------------------------------------------------------------
# small pure helpers (unit-tested on their own)


def same_padding(in_size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow ``SAME`` padding along one axis: ``(begin, end)``; the odd pixel goes at the end."""
    if in_size < 1 or kernel < 1 or stride < 1 or dilation < 1:
        raise ValueError(f"sizes must be >= 1, got in={in_size} k={kernel} s={stride} d={dilation}")
    out = -(-in_size // stride)  # ceil
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - in_size, 0)
    begin = total // 2
    return begin, total - begin


def same_padding_transpose(in_size: int, kernel: int, stride: int, out_size: int | None = None) -> tuple[int, int]:
    """Cropping ``(begin, end)`` of a transposed convolution that yields ``out_size`` pixels.

    ``out_size`` defaults to ``in_size * stride`` (TF ``SAME``). The full transposed output is
    ``(in - 1) * stride + kernel`` pixels; the surplus is cropped with the odd pixel at the end, as
    TFLite's padding helpers (and MediaPipe's kernel) do. For the selfie models (k = s = 2) it is 0.
    """
    if in_size < 1 or kernel < 1 or stride < 1:
        raise ValueError(f"sizes must be >= 1, got in={in_size} k={kernel} s={stride}")
    out = in_size * stride if out_size is None else out_size
    total = (in_size - 1) * stride + kernel - out
    if total < 0:
        raise ValueError(f"a transposed conv of {in_size} (k={kernel}, s={stride}) cannot produce {out}")
    begin = total // 2
    return begin, total - begin


@dataclass(frozen=True)
class TransposeConvOptions:
    """The options blob of MediaPipe's ``Convolution2DTransposeBias`` custom op."""

    padding: str  # "SAME" or "VALID"
    stride_w: int
    stride_h: int


def parse_transpose_conv_options(blob: bytes) -> TransposeConvOptions:
    """Parse the custom options: three little-endian int32 ``{padding, stride_w, stride_h}``.

    ``padding`` uses TFLite's C enum (``TfLitePadding``): 1 = SAME, 2 = VALID.
    """
    if len(blob) < 12:
        raise ModelError(f"Convolution2DTransposeBias options must be at least 12 bytes (3 x int32), got {len(blob)}")
    padding, stride_w, stride_h = struct.unpack_from("<3i", blob, 0)
    names = {1: "SAME", 2: "VALID"}
    if padding not in names:
        raise ModelError(f"Convolution2DTransposeBias: unknown padding enum {padding} (expected 1 or 2)")
    if stride_w < 1 or stride_h < 1:
        raise ModelError(f"Convolution2DTransposeBias: strides must be >= 1, got w={stride_w} h={stride_h}")
    return TransposeConvOptions(names[padding], stride_w, stride_h)


def _nchw(shape: list[int]) -> list[int]:
    """A TFLite activation shape (NHWC, or lower rank) in the ONNX graph's layout."""
    if len(shape) == 4:
        n, h, w, c = shape
        return [n, c, h, w]
    return list(shape)


# --------------------------------------------------------------------------------------------
# the converter


class _Converter:
    def __init__(self, buf: bytes, name: str) -> None:
        if len(buf) < 8 or buf[4:8] != b"TFL3":
            raise ModelError(f"{name}: not a TFLite model (no 'TFL3' file identifier)")
        try:
            self.model = tflite.Model.GetRootAsModel(buf, 0)
            n_subgraphs = self.model.SubgraphsLength()
        except Exception as exc:  # flatbuffers raises assorted errors on garbage
            raise ModelError(f"{name}: not a TFLite flatbuffer ({exc})") from exc
        if n_subgraphs != 1:
            raise ModelError(f"{name}: expected 1 subgraph, found {n_subgraphs}")
        self.name = name
        self.graph = self.model.Subgraphs(0)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: dict[str, np.ndarray] = {}
        self.consts: dict[int, np.ndarray] = {}  # tflite tensor index -> value (TFLite layout)
        self.names: dict[int, str] = {}
        self._used_names: set[str] = set()
        self._counter = 0
        inputs = self.graph.InputsAsNumpy().tolist()
        outputs = self.graph.OutputsAsNumpy().tolist()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelError(f"{name}: expected 1 input and 1 output, found {len(inputs)} and {len(outputs)}")
        self.input_index, self.output_index = inputs[0], outputs[0]
        self.names[self.input_index] = INPUT_NAME
        self.names[self.output_index] = OUTPUT_NAME
        self._used_names.update((INPUT_NAME, OUTPUT_NAME))

    # -- tensors -----------------------------------------------------------------------------

    def shape(self, idx: int) -> list[int]:
        return [int(d) for d in self.graph.Tensors(idx).ShapeAsNumpy()]

    def tensor_name(self, idx: int) -> str:
        if idx not in self.names:
            raw = self.graph.Tensors(idx).Name()
            base = raw.decode("utf-8", "replace") if raw else f"t{idx}"
            name = base if base not in self._used_names else f"{base}__{idx}"
            self._used_names.add(name)
            self.names[idx] = name
        return self.names[idx]

    def fresh(self, hint: str) -> str:
        self._counter += 1
        name = f"{hint}__{self._counter}"
        self._used_names.add(name)
        return name

    def buffer_value(self, idx: int) -> np.ndarray | None:
        t = self.graph.Tensors(idx)
        buf = self.model.Buffers(t.Buffer())
        if buf is None:
            return None
        if buf.DataLength() > 0:
            raw = buf.DataAsNumpy().tobytes()
        elif buf.Offset() > 1:  # large-model layout: data after the flatbuffer
            raise ModelError(f"{self.name}: tensor {idx} keeps its data outside the flatbuffer")
        else:
            return None
        ttype = t.Type()
        if ttype not in _NP_TYPES:
            raise ModelError(f"{self.name}: constant tensor {idx} has unsupported type {ttype}")
        arr = np.frombuffer(raw, dtype=np.dtype(_NP_TYPES[ttype]).newbyteorder("<"))
        return arr.reshape(self.shape(idx)).astype(_NP_TYPES[ttype])

    def const(self, idx: int, what: str) -> np.ndarray:
        if idx not in self.consts:
            raise ModelError(f"{self.name}: {what} (tensor {idx}) must be a constant")
        return self.consts[idx]

    def add_init(self, value: np.ndarray, hint: str) -> str:
        name = self.fresh(hint)
        self.initializers[name] = value
        return name

    def activation(self, idx: int) -> str:
        """The ONNX name of an input operand; constants become initializers in NCHW layout."""
        if idx in self.consts:
            value = self.consts[idx]
            if value.dtype == np.float32 and value.ndim == 4:
                value = value.transpose(0, 3, 1, 2)
            elif value.dtype == np.float32 and value.ndim == 1 and value.size > 1:
                value = value.reshape(1, -1, 1, 1)  # per-channel, broadcast against NCHW
            return self.add_init(np.ascontiguousarray(value), f"{self.tensor_name(idx)}_const")
        return self.tensor_name(idx)

    def node(self, op_type: str, inputs: list[str], outputs: list[str], **attrs: Any) -> None:
        self.nodes.append(helper.make_node(op_type, inputs, outputs, name=self.fresh(op_type), **attrs))

    # -- ops ---------------------------------------------------------------------------------

    def fused(self, act: int, out: str, final: str) -> None:
        """Apply a fused activation from ``out`` into ``final`` (or rename when there is none)."""
        if act == tflite.ActivationFunctionType.NONE:
            self.node("Identity", [out], [final])
        elif act == tflite.ActivationFunctionType.RELU:
            self.node("Relu", [out], [final])
        elif act == tflite.ActivationFunctionType.RELU6:
            self.node(
                "Clip",
                [
                    out,
                    self.add_init(np.array(0, np.float32), "zero"),
                    self.add_init(np.array(6, np.float32), "six"),
                ],
                [final],
            )
        else:
            raise ModelError(f"{self.name}: fused activation {act} is not supported")

    def conv_out(self, act: int, final: str) -> str:
        return final if act == tflite.ActivationFunctionType.NONE else self.fresh(f"{final}_preact")

    def op_conv(self, op: Any, depthwise: bool) -> None:
        ins, outs = op.InputsAsNumpy().tolist(), op.OutputsAsNumpy().tolist()
        opts: Any = tflite.DepthwiseConv2DOptions() if depthwise else tflite.Conv2DOptions()
        table = op.BuiltinOptions()
        opts.Init(table.Bytes, table.Pos)
        weight = self.const(ins[1], "conv weight").astype(np.float32)
        in_shape = self.shape(ins[0])  # NHWC
        if depthwise:
            # [1, kh, kw, C*mult] -> [C*mult, 1, kh, kw]
            w = weight.transpose(3, 0, 1, 2)
            group = in_shape[3]
        else:
            # OHWI -> OIHW
            w = weight.transpose(0, 3, 1, 2)
            group = 1
        kh, kw = int(w.shape[2]), int(w.shape[3])
        sh, sw = int(opts.StrideH()), int(opts.StrideW())
        dh, dw = int(opts.DilationHFactor()), int(opts.DilationWFactor())
        if opts.Padding() == _SAME:
            top, bottom = same_padding(in_shape[1], kh, sh, dh)
            left, right = same_padding(in_shape[2], kw, sw, dw)
        elif opts.Padding() == _VALID:
            top = bottom = left = right = 0
        else:
            raise ModelError(f"{self.name}: unknown padding {opts.Padding()}")
        inputs = [self.tensor_name(ins[0]), self.add_init(np.ascontiguousarray(w), "W")]
        if len(ins) > 2 and ins[2] >= 0:
            inputs.append(self.add_init(self.const(ins[2], "conv bias").astype(np.float32), "B"))
        final = self.tensor_name(outs[0])
        out = self.conv_out(opts.FusedActivationFunction(), final)
        self.node(
            "Conv",
            inputs,
            [out],
            kernel_shape=[kh, kw],
            strides=[sh, sw],
            dilations=[dh, dw],
            pads=[top, left, bottom, right],
            group=group,
        )
        if out != final:
            self.fused(opts.FusedActivationFunction(), out, final)

    def op_transpose_conv_bias(self, op: Any) -> None:
        ins, outs = op.InputsAsNumpy().tolist(), op.OutputsAsNumpy().tolist()
        opts = parse_transpose_conv_options(bytes(op.CustomOptionsAsNumpy()))
        weight = self.const(ins[1], "transposed conv weight").astype(np.float32)
        # OHWI [Cout, kh, kw, Cin] -> ONNX ConvTranspose [Cin, Cout, kh, kw]; no kernel flip
        w = np.ascontiguousarray(weight.transpose(3, 0, 1, 2))
        kh, kw = int(w.shape[2]), int(w.shape[3])
        in_shape, out_shape = self.shape(ins[0]), self.shape(outs[0])
        # the declared output size decides the cropping (SAME: in * stride, VALID: no cropping)
        try:
            top, bottom = same_padding_transpose(in_shape[1], kh, opts.stride_h, out_shape[1])
            left, right = same_padding_transpose(in_shape[2], kw, opts.stride_w, out_shape[2])
        except ValueError as exc:
            raise ModelError(f"{self.name}: Convolution2DTransposeBias: {exc}") from exc
        if opts.padding == "VALID" and top + bottom + left + right:
            raise ModelError(f"{self.name}: VALID Convolution2DTransposeBias with output {out_shape} needs cropping")
        inputs = [self.tensor_name(ins[0]), self.add_init(w, "W")]
        if len(ins) > 2 and ins[2] >= 0:
            inputs.append(self.add_init(self.const(ins[2], "transposed conv bias").astype(np.float32), "B"))
        self.node(
            "ConvTranspose",
            inputs,
            [self.tensor_name(outs[0])],
            kernel_shape=[kh, kw],
            strides=[opts.stride_h, opts.stride_w],
            pads=[top, left, bottom, right],
        )

    def op_global_pool(self, op: Any, kind: str) -> None:
        ins, outs = op.InputsAsNumpy().tolist(), op.OutputsAsNumpy().tolist()
        in_shape, out_shape = self.shape(ins[0]), self.shape(outs[0])
        table = op.BuiltinOptions()
        if kind == "AVERAGE_POOL_2D":
            opts = tflite.Pool2DOptions()
            opts.Init(table.Bytes, table.Pos)
            whole = (opts.FilterHeight(), opts.FilterWidth()) == (in_shape[1], in_shape[2])
            if not whole or opts.FusedActivationFunction() != tflite.ActivationFunctionType.NONE:
                raise ModelError(
                    f"{self.name}: AVERAGE_POOL_2D is supported only over the whole feature map with no "
                    f"fused activation (window {opts.FilterHeight()}x{opts.FilterWidth()}, "
                    f"map {in_shape[1]}x{in_shape[2]})"
                )
        else:  # MEAN
            axes = sorted(int(a) % 4 for a in self.const(ins[1], "MEAN axes").reshape(-1))
            opts = tflite.ReducerOptions()
            opts.Init(table.Bytes, table.Pos)
            if axes != [1, 2] or not opts.KeepDims():
                raise ModelError(
                    f"{self.name}: MEAN is supported only over axes (1, 2) with keep_dims, got axes "
                    f"{axes} keep_dims={bool(opts.KeepDims())}"
                )
        if out_shape != [in_shape[0], 1, 1, in_shape[3]]:
            raise ModelError(f"{self.name}: {kind} output {out_shape} is not a global pool of {in_shape}")
        self.node("GlobalAveragePool", [self.tensor_name(ins[0])], [self.tensor_name(outs[0])])

    def op_resize_bilinear(self, op: Any) -> None:
        ins, outs = op.InputsAsNumpy().tolist(), op.OutputsAsNumpy().tolist()
        table = op.BuiltinOptions()
        opts = tflite.ResizeBilinearOptions()
        opts.Init(table.Bytes, table.Pos)
        size_hw = [int(v) for v in self.const(ins[1], "RESIZE_BILINEAR size").reshape(-1)]
        n, _, _, c = self.shape(ins[0])
        if opts.AlignCorners() and opts.HalfPixelCenters():
            raise ModelError(f"{self.name}: RESIZE_BILINEAR with both align_corners and half_pixel_centers")
        if opts.HalfPixelCenters():
            mode = "half_pixel"
        elif opts.AlignCorners():
            mode = "align_corners"
        else:
            mode = "asymmetric"
        sizes = self.add_init(np.array([n, c, *size_hw], dtype=np.int64), "sizes")
        self.node(
            "Resize",
            [self.tensor_name(ins[0]), "", "", sizes],
            [self.tensor_name(outs[0])],
            mode="linear",
            coordinate_transformation_mode=mode,
        )

    def op_binary(self, op: Any, op_type: str) -> None:
        ins, outs = op.InputsAsNumpy().tolist(), op.OutputsAsNumpy().tolist()
        table = op.BuiltinOptions()
        opts: Any = tflite.AddOptions() if op_type == "Add" else tflite.MulOptions()
        act = tflite.ActivationFunctionType.NONE
        if table is not None:
            opts.Init(table.Bytes, table.Pos)
            act = opts.FusedActivationFunction()
        final = self.tensor_name(outs[0])
        out = self.conv_out(act, final)
        self.node(op_type, [self.activation(ins[0]), self.activation(ins[1])], [out])
        if out != final:
            self.fused(act, out, final)

    def op_unary(self, op: Any, op_type: str) -> None:
        ins, outs = op.InputsAsNumpy().tolist(), op.OutputsAsNumpy().tolist()
        self.node(op_type, [self.tensor_name(ins[0])], [self.tensor_name(outs[0])])

    def op_dequantize(self, op: Any) -> None:
        ins, outs = op.InputsAsNumpy().tolist(), op.OutputsAsNumpy().tolist()
        src = self.const(ins[0], "DEQUANTIZE input")
        if src.dtype != np.float16:
            raise ModelError(f"{self.name}: DEQUANTIZE of {src.dtype} is not supported (only float16)")
        self.consts[outs[0]] = src.astype(np.float32)

    # -- driver ------------------------------------------------------------------------------

    def convert(self) -> onnx.ModelProto:
        g = self.graph
        for i in range(g.TensorsLength()):
            value = self.buffer_value(i)
            if value is not None:
                self.consts[i] = value
        handlers: dict[str, Callable[[Any], None]] = {
            "DEQUANTIZE": self.op_dequantize,
            "CONV_2D": lambda op: self.op_conv(op, depthwise=False),
            "DEPTHWISE_CONV_2D": lambda op: self.op_conv(op, depthwise=True),
            "AVERAGE_POOL_2D": lambda op: self.op_global_pool(op, "AVERAGE_POOL_2D"),
            "MEAN": lambda op: self.op_global_pool(op, "MEAN"),
            "HARD_SWISH": lambda op: self.op_unary(op, "HardSwish"),
            "RELU": lambda op: self.op_unary(op, "Relu"),
            "LOGISTIC": lambda op: self.op_unary(op, "Sigmoid"),
            "ADD": lambda op: self.op_binary(op, "Add"),
            "MUL": lambda op: self.op_binary(op, "Mul"),
            "RESIZE_BILINEAR": self.op_resize_bilinear,
        }
        custom: dict[str, Callable[[Any], None]] = {
            "Convolution2DTransposeBias": self.op_transpose_conv_bias,
        }
        for j in range(g.OperatorsLength()):
            op = g.Operators(j)
            code = self.model.OperatorCodes(op.OpcodeIndex())
            builtin = max(int(code.BuiltinCode()), int(code.DeprecatedBuiltinCode()))
            op_name = _OP_NAMES.get(builtin, f"builtin #{builtin}")
            if op_name == "CUSTOM":
                custom_name = (code.CustomCode() or b"").decode("utf-8", "replace")
                if custom_name not in custom:
                    raise ModelError(f"{self.name}: unsupported TFLite custom op {custom_name!r} (operator {j})")
                custom[custom_name](op)
            elif op_name in handlers:
                handlers[op_name](op)
            else:
                raise ModelError(f"{self.name}: unsupported TFLite op {op_name} (operator {j})")
        return self.build()

    def build(self) -> onnx.ModelProto:
        in_shape = _nchw(self.shape(self.input_index))
        out_shape = _nchw(self.shape(self.output_index))
        if len(in_shape) != 4 or in_shape[1] != 3 or out_shape[1] != 1:
            raise ModelError(
                f"{self.name}: expected an RGB image in and a 1-channel map out, got {in_shape} -> {out_shape}"
            )
        graph = helper.make_graph(
            self.nodes,
            self.name,
            [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, in_shape)],
            [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, out_shape)],
            initializer=[numpy_helper.from_array(v, k) for k, v in self.initializers.items()],
        )
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", OPSET)],
            producer_name=PRODUCER,
            producer_version=CONVERTER_VERSION,
            doc_string=f"{self.name}: converted from TFLite by realtime-seg. Input RGB in [0, 1], NCHW.",
        )
        model.ir_version = IR_VERSION
        helper.set_model_props(
            model,
            {"source": self.name, "layout": "NCHW", "input_range": "0..1", "color": "RGB"},
        )
        expected = {name: _nchw(self.shape(idx)) for idx, name in self.names.items() if idx not in self.consts}
        return validate(model, expected)


def validate(model: onnx.ModelProto, expected_shapes: dict[str, list[int]] | None = None) -> onnx.ModelProto:
    """Full ``onnx.checker`` check plus strict shape inference; compare inferred shapes if given.

    Returns the model with inferred ``value_info`` (the caller may drop it).
    """
    try:
        onnx.checker.check_model(model, full_check=True)
        inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True, data_prop=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise ModelError(f"{model.graph.name}: converted model is not valid ONNX: {exc}") from exc
    if expected_shapes:
        seen = {
            vi.name: [d.dim_value for d in vi.type.tensor_type.shape.dim]
            for vi in [*inferred.graph.value_info, *inferred.graph.output, *inferred.graph.input]
        }
        for name, shape in expected_shapes.items():
            if name in seen and seen[name] != shape:
                raise ModelError(
                    f"{model.graph.name}: tensor {name!r} has ONNX shape {seen[name]} but TFLite says {shape}"
                )
        missing = [n for n in expected_shapes if n not in seen]
        if missing:
            raise ModelError(f"{model.graph.name}: shape inference left {len(missing)} tensors unknown: {missing[:5]}")
    return model


def convert_tflite(tflite_bytes: bytes, *, name: str) -> onnx.ModelProto:
    """Convert a MediaPipe selfie-segmentation TFLite model to a validated ONNX model (opset 17).

    ``name`` becomes the ONNX graph name and appears in error messages.
    Raises :class:`ModelError` for an unsupported op, a malformed file or a failed validation.
    """
    model = _Converter(tflite_bytes, name).convert()
    log.debug("converted %s: %d nodes, %d initializers", name, len(model.graph.node), len(model.graph.initializer))
    return model
