"""The app's controls as plain values, and their one translation into processing settings. Qt-free, so the
command line can name the hotkey order without importing Qt."""

from __future__ import annotations

import re
from dataclasses import dataclass

from realtime_seg.effects import effect_names
from realtime_seg.models.registry import AUTO_MODEL
from realtime_seg.pipeline.settings import (
    DEFAULT_BLUR_STRENGTH,
    DEFAULT_EFFECT,
    DEFAULT_OVERLAY_ALPHA,
    DEFAULT_THREADS,
    ProcessingSettings,
    effect_options,
)
from realtime_seg.postprocess.refine import RefineConfig

#: the effects the app offers, in hotkey order (1-6); any others registered follow
EFFECT_ORDER = ("none", "blur", "replace", "overlay", "outline", "mask")

_HEX = re.compile(r"#[0-9a-fA-F]{6}")
_REFINE = RefineConfig()


def available_effects() -> tuple[str, ...]:
    have = effect_names()
    return tuple(n for n in EFFECT_ORDER if n in have) + tuple(n for n in have if n not in EFFECT_ORDER)


@dataclass(frozen=True)
class PanelValues:
    """What the panel's controls say; :meth:`settings` turns it into :class:`ProcessingSettings`.

    Defaults come from the processing defaults, so the app and ``process`` give the same picture.
    ``outlines`` draws tracked region outlines on top of the effect.
    """

    effect: str = DEFAULT_EFFECT
    blur_strength: int = round(DEFAULT_BLUR_STRENGTH)
    background: str = ""
    color: str = "#00b140"
    overlay_alpha: float = DEFAULT_OVERLAY_ALPHA
    outlines: bool = False
    smoothing: float = _REFINE.smoothing
    threshold_on: bool = False
    threshold: float = 0.5
    edge: bool = _REFINE.edge_refine
    model: str = AUTO_MODEL
    backend: str = "auto"
    crop: str = "auto"

    def __post_init__(self) -> None:
        if not 1 <= self.blur_strength <= 100:
            raise ValueError(f"blur_strength must be in [1, 100], got {self.blur_strength}")
        if not 0.05 <= self.overlay_alpha <= 1.0:
            raise ValueError(f"overlay_alpha must be in [0.05, 1], got {self.overlay_alpha}")
        if not 0.0 <= self.smoothing <= 0.95:
            raise ValueError(f"smoothing must be in [0, 0.95], got {self.smoothing}")
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {self.threshold}")
        if not _HEX.fullmatch(self.color):
            raise ValueError(f"color must be '#rrggbb' like '#00b140', got {self.color!r}")

    @property
    def color_bgr(self) -> tuple[int, int, int]:
        r, g, b = (int(self.color[i : i + 2], 16) for i in (1, 3, 5))
        return (b, g, r)

    def settings(self, threads: int = DEFAULT_THREADS, downsample: float | None = None) -> ProcessingSettings:
        """The processing settings these controls mean (controls the effect does not use are left out)."""
        effect = self.effect
        if self.outlines and "outline" not in effect.split("+"):
            effect = f"{effect}+outline"  # outlines drawn on the effect's output
        options = effect_options(
            effect,
            blur_strength=self.blur_strength,
            background=self.background or None,
            color_bgr=self.color_bgr,
            overlay_alpha=self.overlay_alpha,
        )
        refine = RefineConfig(
            smoothing=self.smoothing,
            edge_refine=self.edge,
            threshold=self.threshold if self.threshold_on else None,
        )
        return ProcessingSettings(
            model=self.model,
            backend=self.backend,
            threads=threads,
            downsample=downsample,
            effect=effect,
            effect_options=options,
            refine=refine,
            crop=self.crop,
        )
