"""Effects: one-method classes configured in the constructor, found by name in a registry.

An effect never modifies its input frame: it returns a new array (or the same object unchanged for
``none``-like effects, which callers must not modify either).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from realtime_seg.postprocess.types import MaskFrame


class Effect(ABC):
    #: registry name, e.g. ``"blur"``
    name: ClassVar[str]

    @abstractmethod
    def apply(self, frame: np.ndarray, mask: MaskFrame) -> np.ndarray:
        """Return the composited BGR uint8 frame (same shape as ``frame``)."""
