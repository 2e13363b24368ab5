"""The region tracker: stable ids across frames, a per-frame state machine in the spirit of norfair.

Each frame, per class:

1. every live track predicts where it is now (last centroid + velocity x elapsed time);
2. the cost of pairing a track with a region is ``1 - IoU`` of their footprints (the track's moved to
   its prediction); when the IoU is below ``iou_threshold`` but the centroids are within
   ``max_centroid_distance`` pixels (small or fast regions), the cost is ``1 + distance / max``, always
   worse than any overlap;
3. ``scipy.optimize.linear_sum_assignment`` picks the optimal pairs;
4. matched tracks take the region (hits + 1); unmatched tracks miss a frame and are retired after
   ``max_missed`` misses; unmatched regions start new tracks.

Splits and merges fall out of the assignment: when one region becomes two, the piece that overlaps the
track more keeps the id and the other starts a new track; when two regions merge, the one that overlaps
more keeps the id and the other coasts on its velocity for up to ``max_missed`` frames, so it gets its id
back when they separate (two people crossing).

A track is reported once it has ``min_hits`` hits (its id is given then, so flicker does not use up ids),
and only in frames where it was seen.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from realtime_seg.errors import InputError
from realtime_seg.postprocess.types import MaskFrame
from realtime_seg.tracking.regions import (
    DEFAULT_FOOTPRINT_STEP,
    DEFAULT_MIN_AREA,
    DEFAULT_SIMPLIFY_TOLERANCE,
    Region,
    find_regions,
    footprint_iou,
)
from realtime_seg.tracking.smoothing import OutlineSmoother

_INVALID = 1e6


@dataclass(frozen=True, eq=False)
class TrackedRegion:
    """A region with its track's state, as reported for one frame.

    - ``id``: stable across frames, from 1, never reused until ``reset()``.
    - ``age``: frames since the track was first seen (0 on its first frame).
    - ``hits``: frames in which it was seen; ``missed``: consecutive frames it has been missing
      (always 0 in what ``update`` returns: only regions seen in the frame are reported).
    - ``trail``: the last few centroids, oldest first, the current one last.
    - ``contour``: the outline to draw: smoothed over time when the tracker smooths, else ``region.contour``.
    """

    id: int
    region: Region
    age: int
    hits: int
    missed: int
    trail: tuple[tuple[float, float], ...]
    contour: np.ndarray

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

    @property
    def class_id(self) -> int:
        return self.region.class_id

    @property
    def class_name(self) -> str:
        return self.region.class_name

    @property
    def area(self) -> int:
        return self.region.area

    @property
    def centroid(self) -> tuple[float, float]:
        return self.region.centroid

    @property
    def bbox(self) -> tuple[int, int, int, int]:
        return self.region.bbox


@dataclass(frozen=True)
class TrackerStats:
    """Counts since the last ``reset()``: frames seen, distinct ids given, most regions in one frame."""

    frames: int = 0
    distinct_ids: int = 0
    max_simultaneous: int = 0


@dataclass(eq=False)
class _Track:
    region: Region
    t: float
    first_frame: int
    id: int | None = None
    hits: int = 1
    missed: int = 0
    velocity: tuple[float, float] = (0.0, 0.0)
    clean: bool = True
    trail: deque[tuple[float, float]] = field(default_factory=deque)
    smoother: OutlineSmoother | None = None

    def predicted_shift(self, t: float) -> tuple[float, float]:
        dt = t - self.t
        if not (dt > 0 and math.isfinite(dt)):
            return (0.0, 0.0)
        return (self.velocity[0] * dt, self.velocity[1] * dt)


class RegionTracker:
    """Gives regions ids that stay stable across frames.

    - ``max_missed``: frames a track may go unseen and keep its id; one more miss retires it.
    - ``iou_threshold``: the least footprint IoU that counts as an overlap match.
    - ``max_centroid_distance``: pixels; fallback match for small/fast regions (``0`` turns it off).
    - ``trail_length``: centroids kept per track (``0``: no trail).
    - ``smooth_outline``: weight in [0, 1) of the previous outline when smoothing over time (``0``: off).
    - ``min_hits``: hits before a track gets an id and is reported (norfair's initialisation delay).
    - ``min_area`` / ``simplify_tolerance`` / ``footprint_step``: passed to :func:`find_regions` by ``step``;
      ``step`` also drops regions smaller than ``min_area_fraction`` of the frame (0.1%: 922 px at 720p), so
      specks of a soft mask do not become short-lived ids.
    """

    def __init__(
        self,
        *,
        max_missed: int = 10,
        iou_threshold: float = 0.1,
        max_centroid_distance: float = 100.0,
        trail_length: int = 20,
        smooth_outline: float = 0.0,
        min_hits: int = 1,
        min_area: int = DEFAULT_MIN_AREA,
        min_area_fraction: float = 0.001,
        simplify_tolerance: float = DEFAULT_SIMPLIFY_TOLERANCE,
        footprint_step: int = DEFAULT_FOOTPRINT_STEP,
    ) -> None:
        if not isinstance(max_missed, int) or max_missed < 0:
            raise ValueError(f"max_missed must be an int >= 0, got {max_missed!r}")
        if not (0.0 < iou_threshold <= 1.0):
            raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold!r}")
        if not (max_centroid_distance >= 0 and math.isfinite(max_centroid_distance)):
            raise ValueError(f"max_centroid_distance must be a finite number >= 0, got {max_centroid_distance!r}")
        if not isinstance(trail_length, int) or trail_length < 0:
            raise ValueError(f"trail_length must be an int >= 0, got {trail_length!r}")
        if not (0.0 <= smooth_outline < 1.0):
            raise ValueError(f"smooth_outline must be in [0, 1), got {smooth_outline!r}")
        if not isinstance(min_hits, int) or min_hits < 1:
            raise ValueError(f"min_hits must be an int >= 1, got {min_hits!r}")
        if min_area < 0:
            raise ValueError(f"min_area must be >= 0, got {min_area!r}")
        if not (0.0 <= min_area_fraction < 1.0):
            raise ValueError(f"min_area_fraction must be in [0, 1), got {min_area_fraction!r}")
        if footprint_step < 1:
            raise ValueError(f"footprint_step must be >= 1, got {footprint_step!r}")
        self.max_missed = max_missed
        self.iou_threshold = float(iou_threshold)
        self.max_centroid_distance = float(max_centroid_distance)
        self.trail_length = trail_length
        self.smooth_outline = float(smooth_outline)
        self.min_hits = min_hits
        self.min_area = min_area
        self.min_area_fraction = float(min_area_fraction)
        self.simplify_tolerance = simplify_tolerance
        self.footprint_step = footprint_step
        self.reset()

    def reset(self) -> None:
        """Forget every track and start ids and stats again (a new stream, or a new frame size)."""
        self._tracks: list[_Track] = []
        self._next_id = 1
        self._frame = 0
        self._max_simultaneous = 0
        self._shape: tuple[int, int] | None = None

    @property
    def stats(self) -> TrackerStats:
        return TrackerStats(self._frame, self._next_id - 1, self._max_simultaneous)

    @property
    def live_tracks(self) -> int:
        """Tracks alive now, seen this frame or coasting (including ones still without an id)."""
        return len(self._tracks)

    def step(self, mask: MaskFrame, t: float) -> list[TrackedRegion]:
        """``update(find_regions(mask), t)``; every mask of a stream must have the first one's size."""
        h, w = mask.alpha.shape[:2] if isinstance(mask, MaskFrame) else np.shape(mask)[:2]
        regions = find_regions(
            mask,
            min_area=max(self.min_area, int(self.min_area_fraction * h * w)),
            simplify_tolerance=self.simplify_tolerance,
            footprint_step=self.footprint_step,
            expected_shape=self._shape,
        )
        if self._shape is None:
            self._shape = mask.alpha.shape[:2] if isinstance(mask, MaskFrame) else np.shape(mask)[:2]
        return self.update(regions, t)

    def update(self, regions: list[Region], t: float) -> list[TrackedRegion]:
        """Advance one frame at time ``t`` (seconds) with this frame's regions; returns those tracked now."""
        for r in regions:
            if not isinstance(r, Region):
                raise InputError(f"update() takes a list of Region, got a {type(r).__name__}")
            if r.footprint_step != self.footprint_step:
                raise InputError(
                    f"region footprints use step {r.footprint_step}, this tracker expects {self.footprint_step}"
                )
        t = float(t)
        if not math.isfinite(t):
            raise ValueError(f"t must be a finite number of seconds, got {t}")

        matched_tracks: set[int] = set()
        matched_regions: set[int] = set()
        pairs: list[tuple[int, int]] = []
        overlaps_t: dict[int, int] = {}
        overlaps_r: dict[int, int] = {}
        for cls in {r.class_id for r in regions} | {tr.region.class_id for tr in self._tracks}:
            ti = [i for i, tr in enumerate(self._tracks) if tr.region.class_id == cls]
            ri = [j for j, r in enumerate(regions) if r.class_id == cls]
            if not ti or not ri:
                continue
            cost = self._costs([self._tracks[i] for i in ti], [regions[j] for j in ri], t)
            overlapping = cost < 1.0
            for a, n in enumerate(overlapping.sum(axis=1)):
                overlaps_t[ti[a]] = int(n)
            for b, n in enumerate(overlapping.sum(axis=0)):
                overlaps_r[ri[b]] = int(n)
            rows, cols = linear_sum_assignment(cost)
            for a, b in zip(rows, cols, strict=True):
                if cost[a, b] < _INVALID:
                    pairs.append((ti[a], ri[b]))
                    matched_tracks.add(ti[a])
                    matched_regions.add(ri[b])

        # a match is clean when neither side overlaps anything else and the area is about the same; after a
        # split or merge the centroid jumps, so the velocity is not updated and outline smoothing restarts
        for ti_, rj in pairs:
            tr, r = self._tracks[ti_], regions[rj]
            contested = overlaps_t.get(ti_, 0) > 1 or overlaps_r.get(rj, 0) > 1
            clean = not contested and 0.7 <= r.area / max(tr.region.area, 1) <= 1 / 0.7
            self._advance(tr, r, t, clean)

        survivors: list[_Track] = []
        for i, tr in enumerate(self._tracks):
            if i in matched_tracks:
                survivors.append(tr)
                continue
            tr.missed += 1
            if tr.missed <= self.max_missed and tr.id is not None:
                survivors.append(tr)
        for j, r in enumerate(regions):
            if j not in matched_regions:
                tr = _Track(region=r, t=t, first_frame=self._frame)
                self._start_outline(tr)
                tr.trail.append(r.centroid)
                self._confirm(tr)
                survivors.append(tr)
        self._tracks = survivors
        self._frame += 1

        out = [self._report(tr) for tr in self._tracks if tr.missed == 0 and tr.id is not None]
        out.sort(key=lambda x: x.id)
        self._max_simultaneous = max(self._max_simultaneous, len(out))
        return out

    # -- internals -----------------------------------------------------------------------------------

    def _costs(self, tracks: list[_Track], regions: list[Region], t: float) -> np.ndarray:
        cost = np.full((len(tracks), len(regions)), _INVALID)
        step = self.footprint_step
        maxd = self.max_centroid_distance
        for a, tr in enumerate(tracks):
            dx, dy = tr.predicted_shift(t)
            px, py = tr.region.centroid[0] + dx, tr.region.centroid[1] + dy
            bw, bh = tr.region.bbox[2], tr.region.bbox[3]
            bx, by = tr.region.bbox[0] + dx, tr.region.bbox[1] + dy
            shift = (round(dx / step), round(dy / step))
            for b, r in enumerate(regions):
                rx, ry, rw, rh = r.bbox
                overlap = bx < rx + rw and rx < bx + bw and by < ry + rh and ry < by + bh
                iou = footprint_iou(tr.region, r, shift) if overlap else 0.0
                if iou >= self.iou_threshold:
                    cost[a, b] = 1.0 - iou
                elif maxd > 0:
                    d = math.hypot(r.centroid[0] - px, r.centroid[1] - py)
                    if d <= maxd:
                        cost[a, b] = 1.0 + d / maxd
        return cost

    def _advance(self, tr: _Track, r: Region, t: float, clean: bool) -> None:
        dt = t - tr.t
        # after a gap, a split or a merge the track keeps its velocity: a fresh estimate would be unreliable
        if clean and tr.clean and dt > 0 and tr.missed == 0:
            vx = (r.centroid[0] - tr.region.centroid[0]) / dt
            vy = (r.centroid[1] - tr.region.centroid[1]) / dt
            if tr.hits == 1:
                tr.velocity = (vx, vy)
            else:
                tr.velocity = (0.5 * tr.velocity[0] + 0.5 * vx, 0.5 * tr.velocity[1] + 0.5 * vy)
        tr.clean = clean
        tr.region, tr.t = r, t
        tr.hits += 1
        tr.missed = 0
        tr.trail.append(r.centroid)
        if tr.smoother is not None:
            if clean:
                tr.smoother.update(r.contour, r.centroid)
            else:
                tr.smoother.restart(r.contour, r.centroid)
        self._confirm(tr)

    def _start_outline(self, tr: _Track) -> None:
        tr.trail = deque(maxlen=max(self.trail_length, 1))
        if self.smooth_outline > 0:
            tr.smoother = OutlineSmoother(self.smooth_outline, self.simplify_tolerance)
            tr.smoother.restart(tr.region.contour, tr.region.centroid)

    def _confirm(self, tr: _Track) -> None:
        if tr.id is None and tr.hits >= self.min_hits:
            tr.id = self._next_id
            self._next_id += 1

    def _report(self, tr: _Track) -> TrackedRegion:
        assert tr.id is not None
        contour = tr.smoother.contour() if tr.smoother is not None else tr.region.contour
        trail = tuple(tr.trail) if self.trail_length > 0 else ()
        return TrackedRegion(tr.id, tr.region, self._frame - 1 - tr.first_frame, tr.hits, tr.missed, trail, contour)
