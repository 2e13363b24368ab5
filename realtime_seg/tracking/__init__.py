"""Regions (connected components per class) and the region tracker that gives them stable ids."""

from __future__ import annotations

from realtime_seg.tracking.regions import Region, find_regions, footprint_iou
from realtime_seg.tracking.tracker import RegionTracker, TrackedRegion, TrackerStats

__all__ = ["Region", "RegionTracker", "TrackedRegion", "TrackerStats", "find_regions", "footprint_iou"]
