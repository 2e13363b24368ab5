"""Live sources (camera, file, synthetic), the one-slot latest-frame buffer and the capture thread. Qt-free."""

from realtime_seg.capture.slot import CapturedFrame, LatestFrameSlot
from realtime_seg.capture.sources import (
    CameraInfo,
    CameraSource,
    FileSource,
    Source,
    SyntheticSource,
    list_cameras,
)
from realtime_seg.capture.thread import CaptureEvent, CaptureState, CaptureThread, RateMeter

__all__ = [
    "CameraInfo",
    "CameraSource",
    "CaptureEvent",
    "CaptureState",
    "CaptureThread",
    "CapturedFrame",
    "FileSource",
    "LatestFrameSlot",
    "RateMeter",
    "Source",
    "SyntheticSource",
    "list_cameras",
]
