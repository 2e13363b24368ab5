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
        object.__setattr__(self, "input_size_wh", (int(w_h[0]), int(w_h[1])))

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
        }  # fmt: skip
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpecError(f"unknown spec field(s) {unknown}; valid fields: {', '.join(sorted(known))}")
        if "input_size" not in data:
            raise SpecError("spec field 'input_size' is missing: expected [width, height]")
        if "output" not in data:
            raise SpecError(f"spec field 'output' is missing: expected one of {', '.join(OUTPUT_KINDS)}")
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
            )
        except (TypeError, ValueError) as exc:
            raise SpecError(f"invalid spec value: {exc}") from exc
