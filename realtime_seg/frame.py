"""Frame: one video frame as every stage sees it, from a file (decoder) or a camera (capture thread)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Frame:
    """``image`` is BGR uint8 ``(H, W, 3)``, upright, and read-only (the producer hands it over; effects
    and sinks never write into it). ``t`` is in seconds: the presentation time for files, ``time.monotonic()``
    at capture for cameras (latencies are measured from it). ``pts`` is the file's own timestamp in its
    stream's time base (``None`` for cameras), kept so encoders can reuse it."""

    index: int
    t: float
    image: np.ndarray
    pts: int | None = None

    def __post_init__(self) -> None:
        img = self.image
        if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(
                f"image must be BGR uint8 of shape (H, W, 3), got {getattr(img, 'dtype', type(img))} "
                f"{getattr(img, 'shape', '')}"
            )
        if self.index < 0:
            raise ValueError(f"index must be >= 0, got {self.index}")
        img.setflags(write=False)

    @property
    def size_wh(self) -> tuple[int, int]:
        return (self.image.shape[1], self.image.shape[0])
