from __future__ import annotations

import numpy as np
import pytest

from realtime_seg.postprocess.types import MaskFrame
from tests.synthetic import person_scene


@pytest.fixture
def scene() -> tuple[np.ndarray, MaskFrame]:
    """A 320x180 synthetic person frame and its exact (soft-edged) mask."""
    frame, alpha = person_scene(320, 180)
    return frame, MaskFrame(index=0, alpha=alpha)
