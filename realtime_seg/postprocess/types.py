"""MaskFrame: one frame's refined mask at frame size, what effects, trackers and sinks consume."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class MaskFrame:
    """A refined mask at frame size.

    - ``alpha``: float32 ``(H, W)`` foreground alpha in [0, 1] (soft, or 0/1 after a threshold).
    - ``labels``: uint8 ``(H, W)`` class index per pixel, or ``None`` for one-channel portrait models
      (then ``alpha >= 0.5`` is the person).
    - ``class_names`` / ``class_colors_rgb``: from the model spec, for overlays and outlines.
    - ``regions``: tracked regions (filled by the tracker stage; empty otherwise).
    """

    index: int
    alpha: np.ndarray
    labels: np.ndarray | None = None
    class_names: tuple[str, ...] = ("background", "person")
    class_colors_rgb: tuple[tuple[int, int, int], ...] = ((0, 0, 0), (64, 160, 255))
    regions: Sequence[Any] = field(default=())

    def __post_init__(self) -> None:
        a = self.alpha
        if not isinstance(a, np.ndarray) or a.ndim != 2 or a.dtype != np.float32:
            raise ValueError(
                f"alpha must be a float32 array of shape (H, W), got "
                f"{getattr(a, 'dtype', type(a))} {getattr(a, 'shape', '')}"
            )
        if self.labels is not None and (self.labels.shape != a.shape or self.labels.dtype != np.uint8):
            raise ValueError(
                f"labels must be uint8 with the alpha's shape {a.shape}, got {self.labels.dtype} {self.labels.shape}"
            )
        if len(self.class_colors_rgb) != len(self.class_names):
            raise ValueError(
                f"class_colors_rgb must have one colour per class ({len(self.class_names)}), "
                f"got {len(self.class_colors_rgb)}"
            )

    @property
    def size_wh(self) -> tuple[int, int]:
        return (self.alpha.shape[1], self.alpha.shape[0])
