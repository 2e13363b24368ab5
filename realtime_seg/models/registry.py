"""The model registry: built-in specs, user models (ONNX + sidecar TOML), and checks against the graph."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from realtime_seg.errors import ModelError, SpecError, UnknownNameError
from realtime_seg.models.spec import ModelSpec

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "selfie"
#: the model name that means "pick from the frame size" (:func:`auto_model`): the app's and ``process``'s default
AUTO_MODEL = "auto"
#: frames at least this much wider than tall count as landscape (4:3 and 16:9 do; 5:4 and square do not)
LANDSCAPE_MIN_ASPECT = 1.3

_MEDIAPIPE_LICENSE = (
    "MediaPipe Selfie Segmentation, (c) Google LLC, Apache License 2.0; "
    "imported from the mediapipe==0.10.21 wheel on PyPI and converted to ONNX by realtime-seg."
)


def _mediapipe_selfie(name: str, size_wh: tuple[int, int], description: str) -> ModelSpec:
    """The two MediaPipe selfie models share everything but their input size (see shared MODEL.md)."""
    return ModelSpec(
        name=name,
        input_size_wh=size_wh,
        layout="NCHW",
        color_order="RGB",
        value_range=(0.0, 1.0),
        resample="mediapipe",
        output_kind="probability",
        class_names=("background", "person"),
        class_colors_rgb=((0, 0, 0), (64, 160, 255)),
        license=_MEDIAPIPE_LICENSE,
        builtin=True,
        description=description,
        crop=True,
    )


BUILTIN_SPECS: dict[str, ModelSpec] = {
    "selfie": _mediapipe_selfie(
        "selfie", (256, 256), "MediaPipe Selfie Segmentation, general model (256x256). The default."
    ),
    "selfie-landscape": _mediapipe_selfie(
        "selfie-landscape",
        (256, 144),
        "MediaPipe Selfie Segmentation, landscape model (256x144): faster, for 16:9 video.",
    ),
}


def builtin_names() -> tuple[str, ...]:
    return tuple(BUILTIN_SPECS)


def get_builtin(name: str) -> ModelSpec:
    try:
        return BUILTIN_SPECS[name]
    except KeyError:
        raise UnknownNameError("model", name, builtin_names()) from None


def auto_model(frame_size_wh: tuple[int, int]) -> str:
    """The built-in model ``auto`` means for frames of ``frame_size_wh`` (width, height):
    ``selfie-landscape`` (256x144, made for 16:9 video calls) for landscape frames, ``selfie`` (256x256) for
    portrait and square ones, whose person the landscape model would see squashed."""
    w, h = frame_size_wh
    if w <= 0 or h <= 0:
        raise ValueError(f"frame_size_wh must be positive (width, height), got {frame_size_wh}")
    return "selfie-landscape" if w >= LANDSCAPE_MIN_ASPECT * h else "selfie"


def resolve_auto(model: str, frame_size_wh: tuple[int, int]) -> str:
    """``model`` itself, or :func:`auto_model`'s choice when it is :data:`AUTO_MODEL`."""
    return auto_model(frame_size_wh) if str(model) == AUTO_MODEL else str(model)


def _looks_like_path(name: str) -> bool:
    return name.endswith(".onnx") or "/" in name or "\\" in name


def resolve_model(name_or_path: str | Path, *, precision: str = "fp32", fetch: bool = True) -> ModelSpec:
    """Return a spec with ``onnx_path`` set, for a built-in name or a user ``.onnx`` file.

    Built-in models are fetched from PyPI and converted on first use (see :mod:`realtime_seg.models.fetch`).
    A user model must have a sidecar ``.toml`` spec; the spec is checked against the graph.
    """
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or _looks_like_path(text):
        return load_user_model(Path(text))
    if text == AUTO_MODEL:
        raise ModelError(
            f"model {AUTO_MODEL!r} is picked from the frame size: resolve it first with resolve_auto(model, size_wh)"
        )
    spec = get_builtin(text)
    from realtime_seg.models.fetch import builtin_onnx_path

    return spec.with_path(builtin_onnx_path(spec.name, precision, fetch=fetch))


@dataclass(frozen=True)
class GraphIO:
    """The names and static shapes of a model's first input and output (None for a dynamic dimension)."""

    input_name: str
    input_shape: tuple[int | None, ...]
    output_name: str
    output_shape: tuple[int | None, ...]


def load_onnx(onnx_path: Path) -> Any:
    """The ``onnx.ModelProto`` in ``onnx_path`` (external data not loaded); a missing file or one that is
    not ONNX raises :class:`ModelError` with a one-line reason."""
    import onnx

    onnx_path = Path(onnx_path)
    if not onnx_path.is_file():
        raise ModelError(f"model file not found: {onnx_path}")
    try:
        return onnx.load(str(onnx_path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError, ValueError, ... for non-ONNX bytes
        raise ModelError(f"{onnx_path} is not an ONNX model ({type(exc).__name__}: {exc})") from exc


def read_graph_io(onnx_path: Path) -> GraphIO:
    """Read the I/O of an ONNX file; a file that is not ONNX raises :class:`ModelError`."""
    graph = load_onnx(onnx_path).graph
    initializers = {init.name for init in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]
    if not inputs or not graph.output:
        raise ModelError(f"{onnx_path} is not a usable ONNX model: it has no graph inputs or outputs")

    def dims(value_info: object) -> tuple[int | None, ...]:
        shape = value_info.type.tensor_type.shape  # type: ignore[attr-defined]
        return tuple(d.dim_value if d.HasField("dim_value") else None for d in shape.dim)

    return GraphIO(inputs[0].name, dims(inputs[0]), graph.output[0].name, dims(graph.output[0]))


def check_spec_against_graph(spec: ModelSpec, io: GraphIO) -> None:
    """Raise :class:`SpecError` naming the field and both values when spec and graph disagree."""
    if len(io.input_shape) != 4:
        raise SpecError(f"model {spec.name!r}: input rank: spec expects 4 (batch, image), graph has {io.input_shape}")
    expected = spec.input_shape
    for axis, (want, got) in enumerate(zip(expected, io.input_shape, strict=True)):
        if axis == 0 or got is None:
            continue
        if want != got:
            w, h = spec.input_size_wh
            raise SpecError(
                f"model {spec.name!r}: field 'input_size'/'layout' says input shape {list(expected)} "
                f"({spec.layout}, {w}x{h}), but the graph's input {io.input_name!r} has shape "
                f"{[d if d is not None else '?' for d in io.input_shape]}"
            )
    out = io.output_shape
    if spec.output_kind in ("probability", "logits") and len(out) == 4:
        channels = out[1] if spec.layout == "NCHW" else out[3]
        want_c = 1 if spec.output_kind == "probability" else spec.num_classes
        if channels is not None and channels != want_c:
            raise SpecError(
                f"model {spec.name!r}: field 'output' = {spec.output_kind!r} with {spec.num_classes} classes "
                f"expects {want_c} output channel(s), but the graph's output {io.output_name!r} has {channels}"
            )


def load_user_model(onnx_path: Path) -> ModelSpec:
    onnx_path = Path(onnx_path)
    if not onnx_path.exists():
        raise ModelError(f"model file not found: {onnx_path}")
    io = read_graph_io(onnx_path)
    toml_path = onnx_path.with_suffix(".toml")
    if not toml_path.exists():
        raise SpecError(
            f"{onnx_path} has no sidecar spec {toml_path.name}: write one with input_size, layout, "
            "color_order, value_range, output and classes (see the README, 'Your own model')"
        )
    spec = ModelSpec.from_toml(toml_path, onnx_path=onnx_path)
    check_spec_against_graph(spec, io)
    return spec


@dataclass(frozen=True)
class ModelListing:
    name: str
    fetched: bool
    input_size_wh: tuple[int, int]
    classes: tuple[str, ...]
    path: Path | None
    description: str


def list_models(extra_paths: tuple[Path, ...] = ()) -> list[ModelListing]:
    """Every built-in model (fetched or not) and any user models given."""
    from realtime_seg.models.fetch import builtin_onnx_path, is_fetched

    rows = []
    for spec in BUILTIN_SPECS.values():
        fetched = is_fetched(spec.name)
        path = builtin_onnx_path(spec.name, fetch=False) if fetched else None
        rows.append(ModelListing(spec.name, fetched, spec.input_size_wh, spec.class_names, path, spec.description))
    for p in extra_paths:
        spec = load_user_model(p)
        rows.append(ModelListing(spec.name, True, spec.input_size_wh, spec.class_names, p, spec.description))
    return rows
