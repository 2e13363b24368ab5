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
    - ``foreground``: the model's predicted foreground colour (matting models such as RVM), uint8 BGR
      ``(h, w, 3)`` at the model's resolution, or ``None``; see :func:`full_res_foreground`.
    """

    index: int
    alpha: np.ndarray
    labels: np.ndarray | None = None
    class_names: tuple[str, ...] = ("background", "person")
    class_colors_rgb: tuple[tuple[int, int, int], ...] = ((0, 0, 0), (64, 160, 255))
    regions: Sequence[Any] = field(default=())
    foreground: np.ndarray | None = None

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
        fg = self.foreground
        if fg is not None and (
            not isinstance(fg, np.ndarray) or fg.dtype != np.uint8 or fg.ndim != 3 or fg.shape[2] != 3
        ):
            raise ValueError(
                f"foreground must be a uint8 BGR array of shape (h, w, 3), got "
                f"{getattr(fg, 'dtype', type(fg))} {getattr(fg, 'shape', '')}"
            )
        if len(self.class_colors_rgb) != len(self.class_names):
            raise ValueError(
                f"class_colors_rgb must have one colour per class ({len(self.class_names)}), "
                f"got {len(self.class_colors_rgb)}"
            )

    @property
    def size_wh(self) -> tuple[int, int]:
        return (self.alpha.shape[1], self.alpha.shape[0])


def full_res_foreground(frame_bgr: np.ndarray, foreground_small: np.ndarray) -> np.ndarray:
    """The person's colour at frame size, from a matting model's low-resolution foreground prediction.

    RVM predicts the foreground as the input plus a residual (the old background's colour removed from
    the soft edge). The residual, not the colour, is upsampled and added to the full-resolution frame,
    as RVM's own refiner does, so the frame's detail stays: ``frame + up(fg_small - down(frame))``, in
    saturating uint8 ops (the residual's positive and negative parts separately).
    """
    import cv2

    h, w = frame_bgr.shape[:2]
    sh, sw = foreground_small.shape[:2]
    src_small = cv2.resize(frame_bgr, (sw, sh), interpolation=cv2.INTER_AREA)
    pos = cv2.subtract(foreground_small, src_small)
    neg = cv2.subtract(src_small, foreground_small)
    out = cv2.add(frame_bgr, cv2.resize(pos, (w, h), interpolation=cv2.INTER_LINEAR))
    return cv2.subtract(out, cv2.resize(neg, (w, h), interpolation=cv2.INTER_LINEAR), dst=out)
