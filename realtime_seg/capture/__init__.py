"""Live sources (camera, file, synthetic), the one-slot latest-frame buffer and the capture thread. Qt-free."""

from realtime_seg.capture.slot import LatestFrameSlot
from realtime_seg.capture.sources import (
    CameraInfo,
    CameraSource,
    FileSource,
    Source,
    SyntheticSource,
    list_cameras,
)
from realtime_seg.capture.thread import CaptureEvent, CaptureState, CaptureThread, RateMeter
from realtime_seg.frame import Frame

__all__ = [
    "CameraInfo",
    "CameraSource",
    "CaptureEvent",
    "CaptureState",
    "CaptureThread",
    "Frame",
    "FileSource",
    "LatestFrameSlot",
    "RateMeter",
    "Source",
    "SyntheticSource",
    "list_cameras",
]
