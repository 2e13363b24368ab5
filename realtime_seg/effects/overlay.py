"""``overlay``: each class painted in its colour over the frame, with ``alpha`` opacity."""

from __future__ import annotations

import cv2
import numpy as np

from realtime_seg.effects._composite import Compositor
from realtime_seg.effects.base import Effect
from realtime_seg.postprocess.types import MaskFrame


class OverlayEffect(Effect):
    """Class colours (``MaskFrame.class_colors_rgb``) blended over the frame; class 0 (background) is
    left as it is. For portrait models (no label map) the person is coloured by its soft alpha, in the
    model's person colour or in ``color`` (BGR, or a name / ``#rrggbb``) when given."""

    name = "overlay"

    def __init__(self, alpha: float = 0.5, color: str | tuple[int, int, int] | None = None) -> None:
        from realtime_seg.effects.replace import parse_color

        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"alpha (the overlay's opacity) must be in (0, 1], got {alpha}")
        self.alpha = float(alpha)
        self.color_bgr = parse_color(color) if color is not None else None
        self._compositor = Compositor()
        self._lut_key: tuple[tuple[int, int, int], ...] = ()
        self._lut = np.zeros((256, 1, 3), np.uint8)
        self._fill_key: tuple[int, ...] = ()
        self._fill = np.zeros((0, 0, 3), np.uint8)

    def _colour_lut(self, colors_rgb: tuple[tuple[int, int, int], ...]) -> np.ndarray:
        if colors_rgb != self._lut_key:
            lut = np.zeros((256, 1, 3), np.uint8)
            for k, (r, g, b) in enumerate(colors_rgb[:256]):
                lut[k, 0] = (b, g, r)  # RGB in the spec, BGR in frames
            self._lut, self._lut_key = lut, colors_rgb
        return self._lut

    def apply(self, frame: np.ndarray, mask: MaskFrame) -> np.ndarray:
        h, w = frame.shape[:2]
        if mask.labels is None:
            if self.color_bgr is not None:
                b, g, r = self.color_bgr
            else:
                r, g, b = mask.class_colors_rgb[1] if len(mask.class_colors_rgb) > 1 else (64, 160, 255)
            if self._fill_key != (h, w, b, g, r):  # a constant image, made once per size and colour
                self._fill = np.full((h, w, 3), (b, g, r), np.uint8)
                self._fill_key = (h, w, b, g, r)
            colour: np.ndarray = self._fill
            weight = self._compositor.alpha_u8(mask.alpha, self.alpha)
        else:
            lut = self._colour_lut(tuple(mask.class_colors_rgb))
            colour = cv2.LUT(cv2.cvtColor(mask.labels, cv2.COLOR_GRAY2BGR), lut)
            # opacity where the label is not background, 0 on background
            weight = cv2.threshold(mask.labels, 0, round(255 * self.alpha), cv2.THRESH_BINARY)[1]
        return self._compositor.blend(colour, frame, weight)
