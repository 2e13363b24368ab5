"""realtime-seg: real-time video segmentation with portrait effects and tracked region outlines."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

if TYPE_CHECKING:
    from realtime_seg.pipeline.assemble import open_processor, process_video
    from realtime_seg.pipeline.settings import ProcessingSettings
    from realtime_seg.pipeline.sinks import VideoOutputs

#: the library API, imported on first use so ``import realtime_seg`` stays quick
_LAZY = {
    "process_video": "realtime_seg.pipeline.assemble",
    "open_processor": "realtime_seg.pipeline.assemble",
    "ProcessingSettings": "realtime_seg.pipeline.settings",
    "VideoOutputs": "realtime_seg.pipeline.sinks",
}
__all__ = ["ProcessingSettings", "VideoOutputs", "__version__", "open_processor", "process_video"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'realtime_seg' has no attribute {name!r}")
