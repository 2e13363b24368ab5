"""Temporal smoothing: a motion-aware exponential moving average of the alpha, reset on a scene cut.

Works at low resolution (the model's), on a grey thumbnail of the frame of the same size:

- where the image did not change, ``alpha = strength * previous + (1 - strength) * current``, which
  removes the frame-to-frame flicker of the model's edges;
- where the image changed by ``motion`` grey levels or more, the current alpha is taken as it is, so a
  moving person leaves no ghost trail (a plain EMA lags behind motion);
- when the whole thumbnail changed on average by ``scene_cut`` grey levels or more, the history is
  dropped (a cut, a camera switch, a seek).
"""

from __future__ import annotations

import cv2
import numpy as np


class TemporalSmoother:
    """Stateful per stream. ``update(alpha, grey)`` returns the smoothed alpha.

    The returned array is also the smoother's memory of the previous frame: do not modify it.
    """

    def __init__(self, strength: float, *, motion: float | None = 12.0, scene_cut: float | None = 10.0) -> None:
        if not 0.0 <= strength < 1.0:
            raise ValueError(f"strength must be in [0, 1), got {strength}")
        if motion is not None and motion <= 0:
            raise ValueError(f"motion must be > 0 grey levels or None, got {motion}")
        if scene_cut is not None and scene_cut <= 0:
            raise ValueError(f"scene_cut must be > 0 grey levels or None, got {scene_cut}")
        self.strength = strength
        self.motion = motion
        self.scene_cut = scene_cut
        self._prev_alpha: np.ndarray | None = None
        self._prev_grey: np.ndarray | None = None
        #: whether the last update detected a scene cut (for logging and tests)
        self.last_was_cut = False

    def reset(self) -> None:
        self._prev_alpha = None
        self._prev_grey = None
        self.last_was_cut = False

    def update(self, alpha: np.ndarray, grey: np.ndarray) -> np.ndarray:
        """``alpha``: float32 (h, w) in [0, 1]; ``grey``: uint8 (h, w) thumbnail of the frame, same size."""
        if alpha.shape != grey.shape:
            raise ValueError(f"alpha and grey must have the same shape, got {alpha.shape} and {grey.shape}")
        prev_a, prev_g = self._prev_alpha, self._prev_grey
        self.last_was_cut = False
        if prev_a is None or prev_g is None or prev_a.shape != alpha.shape or self.strength == 0.0:
            out = np.array(alpha, dtype=np.float32, copy=True)
        else:
            diff = cv2.absdiff(grey, prev_g)
            if self.scene_cut is not None and float(cv2.mean(diff)[0]) >= self.scene_cut:
                self.last_was_cut = True
                out = np.array(alpha, dtype=np.float32, copy=True)
            else:
                if self.motion is None:
                    keep: np.ndarray | np.float32 = np.float32(self.strength)
                else:
                    # strength where the pixel is still, falling linearly to 0 at `motion` grey levels
                    k = diff.astype(np.float32)
                    k *= np.float32(-self.strength / self.motion)
                    k += np.float32(self.strength)
                    np.maximum(k, 0.0, out=k)
                    keep = k
                # out = alpha + keep * (prev - alpha)
                out = prev_a - alpha
                out *= keep
                out += alpha
        self._prev_alpha = out
        self._prev_grey = np.array(grey, copy=True)
        return out
