"""``a+b``: effects applied one after the other (e.g. ``blur+outline``: outlines drawn on the blur)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from realtime_seg.effects.base import Effect
from realtime_seg.postprocess.types import MaskFrame


class ComposeEffect(Effect):
    """Applies ``effects`` in order, each to the previous one's output, all with the same mask."""

    name = "compose"

    def __init__(self, effects: Sequence[Effect]) -> None:
        if not effects:
            raise ValueError("ComposeEffect needs at least one effect, got none")
        bad = [type(e).__name__ for e in effects if not isinstance(e, Effect)]
        if bad:
            raise ValueError(f"ComposeEffect takes Effect instances, got {', '.join(bad)}")
        self.effects = tuple(effects)

    def apply(self, frame: np.ndarray, mask: MaskFrame) -> np.ndarray:
        out = frame
        for effect in self.effects:
            out = effect.apply(out, mask)
        # every effect returns a new array, but a single `none`-like one could hand back its input
        return out.copy() if out is frame else out

    def __repr__(self) -> str:
        return "+".join(getattr(e, "name", type(e).__name__) for e in self.effects)
