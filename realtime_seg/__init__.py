"""realtime-seg: real-time video segmentation with portrait effects and tracked region outlines."""

from __future__ import annotations

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
