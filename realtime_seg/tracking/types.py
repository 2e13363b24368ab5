"""What the region tracker reports: the objects it sees, the ones it holds, and its counts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from realtime_seg.tracking.objects import group_centroid, union_bbox
from realtime_seg.tracking.regions import Region


@dataclass(frozen=True, eq=False)
class TrackedRegion:
    """An object with its track's state, as reported for one frame.

    - ``id``: stable across frames, from 1, never reused until ``reset()``.
    - ``region``: the object's largest part; ``parts``: every part, largest first (``(region,)`` when
      the object is in one piece).
    - ``age``: frames since the track was first seen (0 on its first frame).
    - ``hits``: frames in which it was seen; ``missed``: consecutive frames it has been missing
      (always 0 in what ``update`` returns: only objects seen in the frame are reported).
    - ``trail``: the last few centroids, oldest first, the current one last.
    - ``contour``: the largest part's outline to draw: smoothed over time when the tracker smooths, else
      ``region.contour``.
    - ``area`` / ``centroid`` / ``bbox``: of the whole object (all parts).
    """

    id: int
    region: Region
    age: int
    hits: int
    missed: int
    trail: tuple[tuple[float, float], ...]
    contour: np.ndarray
    parts: tuple[Region, ...] = ()

    def __post_init__(self) -> None:
        if self.id < 1:
            raise ValueError(f"id must be >= 1, got {self.id}")
        if self.hits < 1 or self.age < 0 or self.missed < 0:
            raise ValueError(f"need hits >= 1, age >= 0, missed >= 0; got {self.hits}, {self.age}, {self.missed}")
        c = self.contour
        if not isinstance(c, np.ndarray) or c.ndim != 2 or c.shape[1] != 2 or c.dtype != np.int32:
            raise ValueError(
                f"contour must be an int32 array of shape (N, 2), got {getattr(c, 'dtype', type(c))} "
                f"{getattr(c, 'shape', '')}"
            )
        c.setflags(write=False)
        if not self.parts:
            object.__setattr__(self, "parts", (self.region,))
        elif self.parts[0] is not self.region:
            raise ValueError("parts must start with region (the largest part)")

    @property
    def class_id(self) -> int:
        return self.region.class_id

    @property
    def class_name(self) -> str:
        return self.region.class_name

    @property
    def area(self) -> int:
        return sum(p.area for p in self.parts)

    @property
    def centroid(self) -> tuple[float, float]:
        return group_centroid(self.parts)

    @property
    def bbox(self) -> tuple[int, int, int, int]:
        return union_bbox(self.parts)


@dataclass(frozen=True)
class HeldRegion:
    """A track held as occluded (merged into ``host_id``'s region, or hidden): where it is predicted to be."""

    id: int
    class_name: str
    host_id: int | None
    centroid: tuple[float, float]
    bbox: tuple[int, int, int, int]


@dataclass(frozen=True)
class TrackerStats:
    """Counts since the last ``reset()``.

    - ``frames``: frames seen; ``distinct_ids``: ids given (all classes); ``max_simultaneous``: most
      objects reported in one frame.
    - ``counts``: class name -> objects present in the last frame (seen, or held inside another's region).
    - ``distinct``: class name -> ids given so far for that class.
    """

    frames: int = 0
    distinct_ids: int = 0
    max_simultaneous: int = 0
    counts: Mapping[str, int] = field(default_factory=dict)
    distinct: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "counts", MappingProxyType(dict(self.counts)))
        object.__setattr__(self, "distinct", MappingProxyType(dict(self.distinct)))

    def summary(self) -> str:
        """One line: per class, the count now and the distinct count (``person: 2 now, 5 distinct``)."""
        if not self.distinct:
            return "no objects tracked"
        return ", ".join(f"{c}: {self.counts.get(c, 0)} now, {n} distinct" for c, n in sorted(self.distinct.items()))
