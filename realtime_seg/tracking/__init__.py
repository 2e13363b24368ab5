"""Objects (grouped connected components per class) and the tracker that gives them stable ids."""

from __future__ import annotations

from realtime_seg.tracking.objects import RegionGroup, group_regions
from realtime_seg.tracking.regions import Region, find_regions, footprint_iou
from realtime_seg.tracking.tracker import HeldRegion, RegionTracker, TrackedRegion, TrackerStats

__all__ = [
    "HeldRegion",
    "Region",
    "RegionGroup",
    "RegionTracker",
    "TrackedRegion",
    "TrackerStats",
    "find_regions",
    "footprint_iou",
    "group_regions",
]
