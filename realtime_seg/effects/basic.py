"""The simplest effects: ``none`` (the frame as it is) and ``mask`` (the alpha as grey)."""

from __future__ import annotations

import cv2
import numpy as np

from realtime_seg.effects.base import Effect
from realtime_seg.io.images import alpha_u8
from realtime_seg.postprocess.types import MaskFrame


class NoEffect(Effect):
    """Returns a copy of the frame, so callers may modify the result freely."""

    name = "none"

    def apply(self, frame: np.ndarray, mask: MaskFrame) -> np.ndarray:
        return frame.copy()


class MaskEffect(Effect):
    """The alpha as an 8-bit grey image (3 channels, so it encodes like any frame)."""

    name = "mask"

    def apply(self, frame: np.ndarray, mask: MaskFrame) -> np.ndarray:
        return cv2.cvtColor(alpha_u8(mask.alpha), cv2.COLOR_GRAY2BGR)
