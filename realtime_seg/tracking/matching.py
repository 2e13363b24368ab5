"""How the region tracker pairs its tracks with this frame's objects.

The per-track and per-object records (:class:`_Track`, :class:`_Obj`), footprint geometry, and
:class:`Matcher`: the pairing costs (footprint IoU, the centroid gate, appearance), the optimal
assignment, and which unmatched object is a fragment of a matched one.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from realtime_seg.tracking.kalman import ConstantVelocity
from realtime_seg.tracking.objects import RegionGroup, bbox_gap, color_histogram
from realtime_seg.tracking.regions import Region
from realtime_seg.tracking.smoothing import OutlineSmoother

_INVALID = 1e6
#: a lost track's gate grows with the time lost, to (1 + this) x its size at max_lost_s, or by
#: LOST_GATE_SIGMAS standard deviations of its predicted position, whichever is more
LOST_GATE_GROWTH = 2.0
LOST_GATE_SIGMAS = 2.0
#: a piece that brings an object seen at under COMPLETE_BELOW of its remembered area to at most COMPLETE_UP_TO
#: of it is the object's missing part
COMPLETE_BELOW = 0.85
COMPLETE_UP_TO = 1.25


@dataclass(eq=False)
class _Track:
    parts: tuple[Region, ...]
    kf: ConstantVelocity
    t_seen: float
    first_frame: int
    footprint: np.ndarray
    origin: tuple[int, int]
    area: int
    cells: int  # footprint cells set
    centroid: tuple[float, float]  # where the footprint was measured
    anchor: tuple[float, float] = (0.0, 0.0)  # where ``pos`` was when the footprint was measured
    pos: tuple[float, float] = (0.0, 0.0)  # the point the Kalman filter follows (see _follow)
    size: float = 0.0  # sqrt(area), slow to shrink: the object's size while a part of it is hidden
    hist: np.ndarray | None = None
    id: int | None = None
    hits: int = 1
    missed: int = 0
    lost_since: float | None = None  # None: seen in the last frame or held
    host: _Track | None = None  # set while held inside another track's object
    host_box: tuple[int, int, int, int] | None = None  # the host's region's box when last held
    born_near: _Track | None = None  # the track it appeared next to (a piece that split off it?)
    t_born: float = 0.0
    held_since: float = 0.0
    trail: deque[tuple[float, float]] = field(default_factory=deque)
    smoother: OutlineSmoother | None = None

    @property
    def class_id(self) -> int:
        return self.parts[0].class_id

    @property
    def class_name(self) -> str:
        return self.parts[0].class_name

    def rank(self) -> tuple[int, int]:
        """Older first: confirmed before tentative, then by first frame, then by id."""
        return (0 if self.id is not None else 1, self.first_frame if self.id is None else self.id)


@dataclass(eq=False)
class _Obj:
    group: RegionGroup
    footprint: np.ndarray
    origin: tuple[int, int]
    cells: int
    area: int
    centroid: tuple[float, float]
    bbox: tuple[int, int, int, int]
    frame: np.ndarray | None
    step: int
    extra: list[Region] = field(default_factory=list)  # fragments taken on after the assignment
    _hist: np.ndarray | None = None
    _hist_done: bool = False

    def hist(self) -> np.ndarray | None:
        """The colour histogram (square roots of the bin shares), computed on first use; None without a frame."""
        if not self._hist_done:
            self._hist_done = True
            if self.frame is not None:
                h = color_histogram(self.frame, self.footprint, self.origin, self.step)
                self._hist = None if h is None else np.sqrt(h)
        return self._hist


def _normalized(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


def _covered(fa: np.ndarray, oa: tuple[int, int], fb: np.ndarray, ob: tuple[int, int]) -> int:
    """Cells set in both footprints (each at its origin cell)."""
    ah, aw = fa.shape
    bh, bw = fb.shape
    x0, y0 = max(oa[0], ob[0]), max(oa[1], ob[1])
    x1, y1 = min(oa[0] + aw, ob[0] + bw), min(oa[1] + ah, ob[1] + bh)
    if x1 <= x0 or y1 <= y0:
        return 0
    sa = fa[y0 - oa[1] : y1 - oa[1], x0 - oa[0] : x1 - oa[0]]
    sb = fb[y0 - ob[1] : y1 - ob[1], x0 - ob[0] : x1 - ob[0]]
    return int(np.count_nonzero(sa & sb))


def _edge_displacement(
    old: tuple[int, int, int, int],
    new: tuple[int, int, int, int],
    predicted: tuple[float, float] | None,
    distinct: bool = False,
    frame_wh: tuple[int, int] | None = None,
) -> tuple[float, float]:
    """Per axis, the displacement of the box edge that moved freely, when the box changed size.

    A hiding edge (an occluder, the frame border, another object merged with this one) stands still,
    jumps or moves its own way; the free edge moves with the object: the edge whose displacement is nearer
    the ``predicted`` one. With no prediction yet, the one that moved more, or the centre's displacement
    when they moved in opposite directions (growing or shrinking about the centre). ``distinct``: for a
    track held inside another's region, an axis on which both edges moved alike moved with the other.
    An edge on the frame border (``frame_wh``) is hidden by it: the other edge is taken when it is not.
    """
    out = []
    axes = ((old[0], old[0] + old[2], new[0], new[0] + new[2]), (old[1], old[1] + old[3], new[1], new[1] + new[3]))
    for k, (a0, a1, b0, b1) in enumerate(axes):
        d0, d1 = float(b0 - a0), float(b1 - a1)
        if frame_wh is not None:
            at0, at1 = min(a0, b0) <= 0, max(a1, b1) >= frame_wh[k]
            if at0 != at1:  # one edge on the border: the other one is free
                out.append(d1 if at0 else d0)
                continue
        if predicted is not None:
            p = predicted[k]
            if distinct and abs(d0 - d1) <= 1:  # the box moved as a whole: the other object's motion, not ours
                out.append(p)
            else:
                out.append(d0 if abs(d0 - p) <= abs(d1 - p) else d1)
        elif d0 * d1 < 0:
            out.append((d0 + d1) / 2)
        else:
            out.append(d0 if abs(d0) >= abs(d1) else d1)
    return (out[0], out[1])


def _assign(cost: np.ndarray) -> list[tuple[int, int]]:
    """Optimal pairs (row, col) with a valid cost; scipy only when there is more than one way to pair."""
    n, m = cost.shape
    if n == 0 or m == 0:
        return []
    if n == 1 or m == 1:
        a, b = np.unravel_index(int(np.argmin(cost)), cost.shape)
        return [(int(a), int(b))] if cost[a, b] < _INVALID else []
    valid = cost < _INVALID
    if (valid.sum(axis=1) <= 1).all() and (valid.sum(axis=0) <= 1).all():
        rows, cols = np.nonzero(valid)
        return [(int(a), int(b)) for a, b in zip(rows, cols, strict=True)]
    from scipy.optimize import linear_sum_assignment  # lazy: start-up time matters (issue 12)

    rows, cols = linear_sum_assignment(cost)
    return [(int(a), int(b)) for a, b in zip(rows, cols, strict=True) if cost[a, b] < _INVALID]


@dataclass(frozen=True)
class Matcher:
    """The tracker's matching settings (see :class:`~realtime_seg.tracking.tracker.RegionTracker`, which
    checks them) and the costs and fragment tests computed with them."""

    iou_threshold: float
    max_centroid_distance: float
    gate_ratio: float
    max_lost_s: float
    appearance_weight: float
    join_gap: float
    relative_gap: float
    fragment_ratio: float
    footprint_step: int

    def shift(self, tr: _Track, pred: tuple[float, float]) -> tuple[int, int]:
        s = self.footprint_step
        return (
            tr.origin[0] + round((pred[0] - tr.centroid[0]) / s),
            tr.origin[1] + round((pred[1] - tr.centroid[1]) / s),
        )

    def cover(self, tr: _Track, o: _Obj, pred: tuple[float, float]) -> float:
        n = tr.cells
        if n == 0:
            return 0.0
        return _covered(tr.footprint, self.shift(tr, pred), o.footprint, o.origin) / n

    def gate(self, tr: _Track, t: float) -> float:
        """Centroid distance gate: the object's size (at least ``max_centroid_distance``); while the track is
        lost it grows with the time lost, and with the filter's uncertainty of the predicted position (which
        grows faster when the velocity is poorly known)."""
        if self.max_centroid_distance <= 0:
            return 0.0
        size = self.gate_ratio * tr.size
        gate = max(self.max_centroid_distance, size)
        if tr.lost_since is not None and self.max_lost_s > 0:
            grown = size * (1.0 + LOST_GATE_GROWTH * min(1.0, (t - tr.lost_since) / self.max_lost_s))
            gate = max(gate, grown, size + LOST_GATE_SIGMAS * tr.kf.position_sigma(t))
        return gate

    def costs(
        self, tracks: list[_Track], objs: list[_Obj], t: float, preds: dict[int, tuple[float, float]]
    ) -> np.ndarray:
        cost = np.full((len(tracks), len(objs)), _INVALID)
        for a, tr in enumerate(tracks):
            px, py = preds[id(tr)]
            origin = self.shift(tr, (px, py))
            th, tw = tr.footprint.shape
            n = tr.cells
            if tr.lost_since is not None and t - tr.lost_since > self.max_lost_s:
                continue  # lost for too long: retired at the end of this frame
            gate = self.gate(tr, t)
            for b, o in enumerate(objs):
                oh, ow = o.footprint.shape
                overlap = (
                    origin[0] < o.origin[0] + ow and o.origin[0] < origin[0] + tw
                    and origin[1] < o.origin[1] + oh and o.origin[1] < origin[1] + th
                )  # fmt: skip
                iou = 0.0
                if overlap and n and o.cells:
                    inter = _covered(tr.footprint, origin, o.footprint, o.origin)
                    iou = inter / (n + o.cells - inter)
                if iou >= self.iou_threshold:
                    c = 1.0 - iou
                elif gate > 0:
                    d = math.hypot(o.centroid[0] - px, o.centroid[1] - py)
                    if d > gate:
                        continue
                    c = 1.0 + d / gate
                else:
                    continue
                cost[a, b] = c
        if self.appearance_weight > 0:
            # appearance decides between candidates: only where a track or an object has more than one
            valid = cost < _INVALID
            rows, cols = np.nonzero(valid & ((valid.sum(axis=1) > 1)[:, None] | (valid.sum(axis=0) > 1)[None, :]))
            for a, b in zip(rows.tolist(), cols.tolist(), strict=True):
                ht, ho = tracks[a].hist, objs[b].hist()
                if ht is not None and ho is not None:
                    cost[a, b] += self.appearance_weight * math.sqrt(max(0.0, 1.0 - float(ht @ ho)))
        return cost

    def neighbour(self, o: _Obj, objs: list[_Obj], owner: dict[int, _Track]) -> _Track | None:
        """The matched track of this class whose object is within ``o``'s fragment distance, if any."""
        limit = max(self.join_gap, 2 * self.relative_gap * math.sqrt(o.area))
        best: tuple[float, _Track] | None = None
        for j, tr in owner.items():
            m = objs[j]
            if m.group.class_id == o.group.class_id and tr.id is not None:
                gap = bbox_gap(o.bbox, m.bbox)
                if gap <= limit and (best is None or gap < best[0]):
                    best = (gap, tr)
        return None if best is None else best[1]

    def fragment_of(
        self, o: _Obj, objs: list[_Obj], owner: dict[int, _Track], preds: dict[int, tuple[float, float]]
    ) -> int | None:
        """The matched object that ``o`` is a fragment of, if any.

        ``o`` must be at most ``max(join_gap, 2 x relative_gap x sqrt(o.area))`` away from it (box to box),
        and either small next to it (``fragment_ratio``, against the object or its remembered size), or the
        piece that brings an object seen smaller than it was back to its size, or mostly inside its track's
        predicted footprint (a person whose mask split in two halves of about the same size).
        """
        best: tuple[float, int] | None = None
        limit = max(self.join_gap, 2 * self.relative_gap * math.sqrt(o.area))
        for j, tr in owner.items():
            m = objs[j]
            if m.group.class_id != o.group.class_id:
                continue
            gap = bbox_gap(o.bbox, m.bbox)
            if gap > limit or (best is not None and gap >= best[0]):
                continue
            full = tr.size * tr.size
            completes = m.area < COMPLETE_BELOW * full and m.area + o.area <= COMPLETE_UP_TO * full
            if (
                completes
                or o.area <= self.fragment_ratio * max(m.area, full)
                or (
                    o.cells
                    and _covered(tr.footprint, self.shift(tr, preds[id(tr)]), o.footprint, o.origin) >= 0.5 * o.cells
                )
            ):
                best = (gap, j)
        return None if best is None else best[1]
