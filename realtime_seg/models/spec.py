"""ModelSpec: everything the pipeline needs to know about a segmentation model.

A built-in model has its spec in :mod:`realtime_seg.models.registry`. A user model is an ONNX file plus
a sidecar TOML file of the same stem (``model.onnx`` + ``model.toml``) holding these fields::

    name = "my-model"
    input_size = [256, 256]        # width, height
    layout = "NCHW"                # or "NHWC"
    color_order = "RGB"            # or "BGR"
    value_range = [0.0, 1.0]       # pixel 0 -> first value, 255 -> second value
    mean = [0.0, 0.0, 0.0]         # optional, subtracted after value_range
    std = [1.0, 1.0, 1.0]          # optional, divided after mean
    resample = "linear"            # "mediapipe", "linear", "area" or "nearest"
    output = "probability"         # "probability" (1 channel), "logits" (C channels) or "labels"
    classes = ["background", "person"]
    colors = [[0, 0, 0], [255, 64, 64]]   # RGB per class
    foreground = [1]               # classes that make up the alpha (default: every class but 0)
    license = "..."
    crop = false                   # true: run on a person-centred crop (see realtime_seg.crop)

A recurrent model (one that carries hidden state from frame to frame, like Robust Video Matting)
also declares its state tensors in input/output pairs, any extra scalar inputs, its named outputs,
and whether its input size follows the frame (``dynamic_size``: ``input_size`` is then the size for
a 1280x720 frame and the working resolution is chosen per frame)::

    dynamic_size = true
    input = "src"                  # the image input (default: the graph's first input)
    [outputs]
    alpha = "pha"                  # kind alpha: foreground alpha / probability, 1 channel
    foreground = "fgr"             # kind foreground: the predicted foreground colour, 3 channels
    [[state]]
    input = "r1i"
    output = "r1o"
    channels = 16                  # the state's channel count
    stride = 2                     # its height/width are ceil(input height or width / stride)
    [[scalar]]
    name = "downsample_ratio"
    value = 1.0
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from realtime_seg.errors import SpecError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

Layout = Literal["NCHW", "NHWC"]
ColorOrder = Literal["RGB", "BGR"]
Resample = Literal["mediapipe", "linear", "area", "nearest"]
OutputKind = Literal["probability", "logits", "labels"]

LAYOUTS: tuple[str, ...] = ("NCHW", "NHWC")
COLOR_ORDERS: tuple[str, ...] = ("RGB", "BGR")
RESAMPLES: tuple[str, ...] = ("mediapipe", "linear", "area", "nearest")
OUTPUT_KINDS: tuple[str, ...] = ("probability", "logits", "labels")

# A palette for models that give no colours (RGB).
DEFAULT_PALETTE: tuple[tuple[int, int, int], ...] = (
    (0, 0, 0),
    (255, 99, 71),
    (65, 105, 225),
    (60, 179, 113),
    (255, 215, 0),
    (186, 85, 211),
    (0, 206, 209),
    (255, 140, 0),
    (199, 21, 133),
    (154, 205, 50),
)


@dataclass(frozen=True)
class StateSpec:
    """One recurrent state: fed as ``input``, read back from ``output`` for the next frame.

    Its shape (batch 1, in the spec's layout) is ``channels`` x ceil(h / stride) x ceil(w / stride)
    for a model input of ``h`` x ``w``.
    """

    input: str
    output: str
    channels: int
    stride: int = 1

    def __post_init__(self) -> None:
        if not self.input or not self.output or self.input == self.output:
            raise SpecError(
                f"spec field 'state': expected distinct input and output names, got {self.input!r}/{self.output!r}"
            )
        for fname in ("channels", "stride"):
            v = getattr(self, fname)
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise SpecError(f"spec field 'state.{fname}' of {self.input!r}: expected an integer > 0, got {v!r}")

    def shape(self, input_size_wh: tuple[int, int], layout: str = "NCHW") -> tuple[int, int, int, int]:
        w, h = input_size_wh
        sh, sw = -(-h // self.stride), -(-w // self.stride)
        return (1, self.channels, sh, sw) if layout == "NCHW" else (1, sh, sw, self.channels)


def _choice(field_name: str, value: object, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise SpecError(f"spec field {field_name!r}: expected one of {', '.join(valid)}, got {value!r}")


@dataclass(frozen=True)
class ModelSpec:
    """A segmentation model's interface. Immutable and validated when built."""

    name: str
    input_size_wh: tuple[int, int]
    layout: Layout = "NCHW"
    color_order: ColorOrder = "RGB"
    value_range: tuple[float, float] = (0.0, 1.0)
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    resample: Resample = "linear"
    output_kind: OutputKind = "probability"
    class_names: tuple[str, ...] = ("background", "person")
    class_colors_rgb: tuple[tuple[int, int, int], ...] = ()
    foreground_classes: tuple[int, ...] = ()
    license: str = ""
    onnx_path: Path | None = None
    builtin: bool = False
    description: str = ""
    #: recurrent state pairs (empty for a frame-by-frame model)
    states: tuple[StateSpec, ...] = ()
    #: extra scalar inputs fed with a fixed value on every frame: (name, value)
    scalar_inputs: tuple[tuple[str, float], ...] = ()
    #: the image input's name ("" = the graph's first input)
    input_name: str = ""
    #: the output of kind alpha ("" = the graph's first output), and of kind foreground ("" = none)
    alpha_output: str = ""
    foreground_output: str = ""
    #: the input size follows the frame (input_size_wh is then the size for a 1280x720 frame)
    dynamic_size: bool = False
    crop: bool = False  #: the model does better on a person-centred crop than on a wide frame (realtime_seg.crop)

    def __post_init__(self) -> None:
        if not self.name:
            raise SpecError("spec field 'name': expected a non-empty string, got ''")
        w_h = tuple(self.input_size_wh)
        if len(w_h) != 2 or not all(isinstance(v, int) and v > 0 for v in w_h):
            raise SpecError(f"spec field 'input_size': expected [width, height] > 0, got {self.input_size_wh!r}")
        _choice("layout", self.layout, LAYOUTS)
        _choice("color_order", self.color_order, COLOR_ORDERS)
        _choice("resample", self.resample, RESAMPLES)
        _choice("output", self.output_kind, OUTPUT_KINDS)
        if len(self.value_range) != 2 or self.value_range[0] == self.value_range[1]:
            raise SpecError(f"spec field 'value_range': expected [low, high], low != high, got {self.value_range!r}")
        for fname in ("mean", "std"):
            v = getattr(self, fname)
            if len(v) != 3:
                raise SpecError(f"spec field {fname!r}: expected 3 values (one per channel), got {len(v)}")
        if any(s == 0 for s in self.std):
            raise SpecError(f"spec field 'std': expected non-zero values, got {self.std!r}")
        if not self.class_names:
            raise SpecError("spec field 'classes': expected at least one class name, got none")
        if self.output_kind == "probability" and len(self.class_names) != 2:
            raise SpecError(
                "spec field 'classes': a 'probability' model has 2 classes (background, foreground), "
                f"got {len(self.class_names)}"
            )
        colors = self.class_colors_rgb or tuple(
            DEFAULT_PALETTE[i % len(DEFAULT_PALETTE)] for i in range(len(self.class_names))
        )
        if len(colors) != len(self.class_names):
            raise SpecError(
                f"spec field 'colors': expected {len(self.class_names)} colours (one per class), got {len(colors)}"
            )
        for c in colors:
            if len(c) != 3 or not all(0 <= int(x) <= 255 for x in c):
                raise SpecError(f"spec field 'colors': expected [r, g, b] in 0..255, got {list(c)!r}")
        object.__setattr__(self, "class_colors_rgb", tuple(tuple(int(x) for x in c) for c in colors))
        fg = self.foreground_classes or tuple(range(1, len(self.class_names)))
        bad = [i for i in fg if not 0 <= i < len(self.class_names)]
        if bad:
            raise SpecError(
                f"spec field 'foreground': expected class indices in 0..{len(self.class_names) - 1}, got {bad}"
            )
        object.__setattr__(self, "foreground_classes", tuple(fg))
        names = [self.input_name] if self.input_name else []
        for st in self.states:
            names.append(st.input)
        names += [n for n, _ in self.scalar_inputs]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise SpecError(f"spec fields 'input'/'state'/'scalar': input name(s) {dup} used more than once")
        outs = [n for n in (self.alpha_output, self.foreground_output) if n] + [st.output for st in self.states]
        dup = sorted({n for n in outs if outs.count(n) > 1})
        if dup:
            raise SpecError(f"spec fields 'outputs'/'state': output name(s) {dup} used more than once")
        if (self.states or self.foreground_output) and self.output_kind != "probability":
            raise SpecError(
                "spec field 'output': a model with states or a foreground output must be 'probability' "
                f"(alpha), got {self.output_kind!r}"
            )
        object.__setattr__(self, "input_size_wh", (int(w_h[0]), int(w_h[1])))

    @property
    def recurrent(self) -> bool:
        return bool(self.states)

    @property
    def matting(self) -> bool:
        """A matting model (recurrent or with a foreground output): its alpha is a matte to keep as it is."""
        return bool(self.states or self.foreground_output)

    @property
    def named_io(self) -> bool:
        """Whether the model needs more than one input tensor or reads more than its first output."""
        return bool(self.states or self.scalar_inputs or self.foreground_output or self.alpha_output)

    def with_size(self, input_size_wh: tuple[int, int]) -> ModelSpec:
        """The same spec at another input size (a dynamic-size model's working resolution)."""
        return replace(self, input_size_wh=(int(input_size_wh[0]), int(input_size_wh[1])))

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """The model input's shape for batch 1, in the spec's layout."""
        w, h = self.input_size_wh
        return (1, 3, h, w) if self.layout == "NCHW" else (1, h, w, 3)

    def with_path(self, onnx_path: Path) -> ModelSpec:
        return replace(self, onnx_path=Path(onnx_path))

    @classmethod
    def from_toml(cls, toml_path: Path, onnx_path: Path | None = None) -> ModelSpec:
        """Read a sidecar spec file. Errors name the file and the field."""
        toml_path = Path(toml_path)
        try:
            data = tomllib.loads(toml_path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise SpecError(f"model spec not found: {toml_path} (a user model needs a sidecar .toml)") from exc
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SpecError(f"{toml_path}: not a valid TOML file: {exc}") from exc
        try:
            return cls.from_dict(data, onnx_path=onnx_path)
        except SpecError as exc:
            raise SpecError(f"{toml_path}: {exc}") from exc

    @classmethod
    def from_dict(cls, data: dict[str, Any], onnx_path: Path | None = None) -> ModelSpec:
        known = {
            "name", "input_size", "layout", "color_order", "value_range", "mean", "std", "resample",
            "output", "classes", "colors", "foreground", "license", "description", "crop",
            "dynamic_size", "input", "outputs", "state", "scalar",
        }  # fmt: skip
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpecError(f"unknown spec field(s) {unknown}; valid fields: {', '.join(sorted(known))}")
        if "input_size" not in data:
            raise SpecError("spec field 'input_size' is missing: expected [width, height]")
        if "output" not in data:
            raise SpecError(f"spec field 'output' is missing: expected one of {', '.join(OUTPUT_KINDS)}")
        outputs = data.get("outputs", {})
        if not isinstance(outputs, dict) or sorted(set(outputs) - {"alpha", "foreground"}):
            raise SpecError(
                f"spec field 'outputs': expected a table with keys alpha and/or foreground, got {outputs!r}"
            )
        states_raw = data.get("state", [])
        if not isinstance(states_raw, list) or not all(isinstance(s, dict) for s in states_raw):
            raise SpecError(f"spec field 'state': expected [[state]] tables, got {states_raw!r}")
        for st in states_raw:
            bad = sorted(set(st) - {"input", "output", "channels", "stride"})
            missing = sorted({"input", "output", "channels"} - set(st))
            if bad or missing:
                raise SpecError(
                    f"spec field 'state': expected keys input, output, channels[, stride]; "
                    f"unknown {bad}, missing {missing}"
                )
        scalars_raw = data.get("scalar", [])
        if not isinstance(scalars_raw, list) or not all(
            isinstance(s, dict) and set(s) == {"name", "value"} for s in scalars_raw
        ):
            raise SpecError(f"spec field 'scalar': expected [[scalar]] tables with name and value, got {scalars_raw!r}")
        try:
            return cls(
                name=str(data.get("name") or (onnx_path.stem if onnx_path else "")),
                input_size_wh=tuple(data["input_size"]),
                layout=data.get("layout", "NCHW"),
                color_order=data.get("color_order", "RGB"),
                value_range=tuple(float(v) for v in data.get("value_range", (0.0, 1.0))),  # type: ignore[arg-type]
                mean=tuple(float(v) for v in data.get("mean", (0.0, 0.0, 0.0))),  # type: ignore[arg-type]
                std=tuple(float(v) for v in data.get("std", (1.0, 1.0, 1.0))),  # type: ignore[arg-type]
                resample=data.get("resample", "linear"),
                output_kind=data["output"],
                class_names=tuple(str(c) for c in data.get("classes", ("background", "foreground"))),
                class_colors_rgb=tuple(tuple(c) for c in data.get("colors", ())),
                foreground_classes=tuple(int(i) for i in data.get("foreground", ())),
                license=str(data.get("license", "")),
                description=str(data.get("description", "")),
                crop=bool(data.get("crop", False)),
                onnx_path=onnx_path,
                states=tuple(
                    StateSpec(str(st["input"]), str(st["output"]), st["channels"], st.get("stride", 1))
                    for st in states_raw
                ),
                scalar_inputs=tuple((str(sc["name"]), float(sc["value"])) for sc in scalars_raw),
                input_name=str(data.get("input", "")),
                alpha_output=str(outputs.get("alpha", "")),
                foreground_output=str(outputs.get("foreground", "")),
                dynamic_size=bool(data.get("dynamic_size", False)),
            )
        except (TypeError, ValueError) as exc:
            raise SpecError(f"invalid spec value: {exc}") from exc
