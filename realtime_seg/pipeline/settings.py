"""Processing settings: one frozen object that every front end translates into, with one set of defaults.

The command line (``cli/``), the app's panel (``ui/``) and Python callers build a
:class:`ProcessingSettings`; :func:`realtime_seg.pipeline.assemble.open_processor` turns it into a running
processor. A default changes here, in one line, for every front end.

:func:`effect_options` is the one mapping from raw controls (a blur strength, a background path or colour,
an overlay opacity and colour) to the chosen effect's constructor options.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from realtime_seg.backends.onnxruntime import DEFAULT_THREADS
from realtime_seg.backends.select import BACKEND_NAMES
from realtime_seg.crop import CROP_MODES
from realtime_seg.effects import Effect, create_effect, split_effect_name
from realtime_seg.errors import SettingsError, UnknownNameError
from realtime_seg.models.registry import DEFAULT_MODEL
from realtime_seg.postprocess.refine import RefineConfig

#: the effect when none is named (``replace`` when only a background is given)
DEFAULT_EFFECT = "blur"
#: blur sigma in pixels at 720p (scaled with the frame height)
DEFAULT_BLUR_STRENGTH = 12.0
#: overlay opacity
DEFAULT_OVERLAY_ALPHA = 0.5
PRECISIONS = ("fp32", "fp16")


@dataclass(frozen=True)
class ProcessingSettings:
    """Everything that decides what a processed frame looks like; replaced as a whole, never mutated.

    - ``model``: a built-in name or a path to ``model.onnx`` (with its sidecar spec); ``backend``: one of
      :data:`realtime_seg.backends.select.BACKEND_NAMES`; ``threads``: ONNX Runtime intra-op threads
      (0: its default); ``precision``: ``fp32`` or ``fp16``.
    - ``effect``: a registered effect name, or several joined by ``+``; ``effect_options``: its
      constructor keywords (see :func:`effect_options`).
    - ``refine``: the mask refinement; ``every``: compute the mask every N frames and reuse it in between
      (a recurrent model's state then advances on the computed frames only).
    - ``downsample``: a dynamic-size model's (rvm's) working resolution as a fraction of the frame;
      ``None`` chooses it from the frame size.
    - ``outlines``: track regions even when no effect draws them (for an outlines file). A tracker runs
      when this is on or the effect includes ``outline`` (:attr:`tracks`).
    - ``crop``: ``auto`` runs models whose spec asks for it on a person-centred crop (:mod:`realtime_seg.crop`);
      ``off`` always gives the model the whole frame.
    """

    model: str = DEFAULT_MODEL
    backend: str = "auto"
    threads: int = DEFAULT_THREADS
    precision: str = "fp32"
    effect: str = DEFAULT_EFFECT
    effect_options: Mapping[str, Any] = field(default_factory=dict)
    refine: RefineConfig = field(default_factory=RefineConfig)
    outlines: bool = False
    every: int = 1
    downsample: float | None = None
    crop: str = "auto"

    def __post_init__(self) -> None:
        if not str(self.model):
            raise SettingsError("model must be a built-in name or a path to model.onnx, got an empty string")
        object.__setattr__(self, "model", str(self.model))
        if self.backend not in BACKEND_NAMES:
            raise UnknownNameError("backend", self.backend, BACKEND_NAMES)
        if self.threads < 0:
            raise SettingsError(f"threads must be >= 0 (0: ONNX Runtime's default), got {self.threads}")
        if self.precision not in PRECISIONS:
            raise UnknownNameError("precision", self.precision, PRECISIONS)
        split_effect_name(self.effect)  # UnknownNameError lists the valid names
        if self.every < 1:
            raise SettingsError(f"every must be >= 1, got {self.every}")
        if self.downsample is not None and not 0.0 < self.downsample <= 1.0:
            raise SettingsError(f"downsample must be in (0, 1] (a fraction of the frame), got {self.downsample}")
        if self.crop not in CROP_MODES:
            raise UnknownNameError("crop mode", self.crop, CROP_MODES)
        object.__setattr__(self, "effect_options", MappingProxyType(dict(self.effect_options)))

    @property
    def tracks(self) -> bool:
        """Whether a region tracker runs: for an outlines file, or an effect that draws outlines."""
        return self.outlines or "outline" in split_effect_name(self.effect)

    def create_effect(self) -> Effect:
        """A new effect instance for these settings (each stream needs its own: effects keep buffers)."""
        try:
            return create_effect(self.effect, **dict(self.effect_options))
        except (TypeError, ValueError) as exc:
            raise SettingsError(f"effect {self.effect!r}: {exc}") from exc


def effect_options(
    effect: str,
    *,
    blur_strength: float | None = None,
    background: str | Path | None = None,
    color_bgr: tuple[int, int, int] | None = None,
    overlay_alpha: float | None = None,
    strict: bool = False,
) -> dict[str, Any]:
    """Constructor options for ``effect`` (``+``-stacks included) from raw controls.

    - ``blur_strength`` goes to ``blur``; ``overlay_alpha`` to ``overlay``;
    - ``background`` (an image or video file, or a colour such as ``#00b140`` or ``green``) goes to
      ``replace``; ``color_bgr`` is ``replace``'s colour when no background is given, and ``overlay``'s
      colour for the person.

    ``strict`` (the command line, hence the flag names in its message): a control for an effect that is not
    chosen is an error, because the user typed it. Otherwise (the app, whose controls all have values) it
    is left out.
    """
    from realtime_seg.effects.replace import background_options

    parts = split_effect_name(effect)
    given = {
        "blur": blur_strength is not None,
        "replace": background is not None,
        "overlay": overlay_alpha is not None,
    }
    if strict:
        for name, flag in (("blur", "--blur-strength"), ("replace", "--background"), ("overlay", "--overlay-alpha")):
            if given[name] and name not in parts:
                raise SettingsError(f"{flag} is for the {name} effect, but the effect is {effect!r}")
    options: dict[str, Any] = {}
    if "blur" in parts and blur_strength is not None:
        options["strength"] = float(blur_strength)
    if "replace" in parts:
        if background:
            options.update(background_options(str(background)))
        elif color_bgr is not None:
            options["color"] = tuple(int(c) for c in color_bgr)
    if "overlay" in parts:
        if overlay_alpha is not None:
            options["alpha"] = float(overlay_alpha)
        if color_bgr is not None and "replace" not in parts:
            options["color"] = tuple(int(c) for c in color_bgr)
    return options


def default_effect(background: str | Path | None = None) -> str:
    """The effect when none is named: ``replace`` when a background is given, else :data:`DEFAULT_EFFECT`."""
    return "replace" if background is not None else DEFAULT_EFFECT
