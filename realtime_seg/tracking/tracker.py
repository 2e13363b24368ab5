"""The region tracker: one id per object, held through merges, splits and short dropouts.

Each frame, per class (norfair's per-frame state machine, with ByteTrack's idea of keeping lost tracks
around to match again; written for masks, not boxes):

1. the components are grouped into objects (:func:`~realtime_seg.tracking.objects.group_regions`): a
   person with a separated arm is one object with two parts;
2. every track predicts where it is now with a constant-velocity Kalman filter on its centroid;
3. the cost of pairing a track with an object is ``1 - IoU`` of their footprints (the track's moved to
   its prediction); below ``iou_threshold`` it falls back to the centroid distance, ``1 + d / gate``, with
   a gate that scales with the object's size; when a frame is given, the
   Hellinger distance of small colour histograms is added (``appearance_weight``); the optimal pairs come
   from ``scipy.optimize.linear_sum_assignment`` (imported only when there is a real choice to make);
4. **merge**: a track left unmatched whose predicted footprint lies mostly inside an object matched to
   another track has merged with it (two people touching). The **older** track takes the object and
   the other is *held* as occluded: it keeps its id, follows its own prediction inside the merged
   object, and is counted, but not drawn;
5. **split**: held and lost tracks take part in every assignment, so when the merged region comes apart
   the held id goes to the piece that matches its predicted position and appearance;
6. **fragment**: an object left unmatched that is small next to a matched object of its class and near
   it (or inside the track's predicted footprint) is taken as one more part of it, not a new object;
7. a track unseen for at most ``max_lost_s`` seconds keeps its id and matches again near its
   prediction; held tracks last while their host does (at most ``max_held_s``); unmatched objects start
   tentative tracks, which get an id after ``min_hits`` frames seen in a row.

Per frame the tracker reports the objects it sees (:class:`TrackedRegion`: the largest part as
``region``, every part in ``parts``), and :attr:`RegionTracker.stats` counts the objects present now
(seen or held) per class and the distinct ids so far.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from realtime_seg.errors import InputError
from realtime_seg.postprocess.types import MaskFrame
from realtime_seg.tracking.kalman import ConstantVelocity
from realtime_seg.tracking.matching import Matcher, _assign, _edge_displacement, _normalized, _Obj, _Track
from realtime_seg.tracking.objects import (
    DEFAULT_FRAGMENT_RATIO,
    DEFAULT_JOIN_GAP,
    DEFAULT_RELATIVE_GAP,
    RegionGroup,
    group_centroid,
    group_regions,
    union_bbox,
    union_footprint,
)
from realtime_seg.tracking.regions import (
    DEFAULT_FOOTPRINT_STEP,
    DEFAULT_MIN_AREA,
    DEFAULT_SIMPLIFY_TOLERANCE,
    Region,
    find_regions,
)
from realtime_seg.tracking.smoothing import OutlineSmoother
from realtime_seg.tracking.types import HeldRegion, TrackedRegion, TrackerStats

__all__ = ["HeldRegion", "RegionTracker", "TrackedRegion", "TrackerStats"]

#: per frame, how fast a track's remembered size shrinks towards the size it is seen at
SIZE_DECAY = 0.995
#: an object seen at less than this share of its remembered area is partly hidden: its centroid moves for
#: reasons other than motion, so it does not update the velocity
PARTIAL_AREA = 0.6
#: largest deviation (share of the object's size) of a box edge's displacement from the prediction
#: that counts as motion (more is a part appearing, vanishing or merging)
MAX_EDGE_SURPRISE = 0.05
#: frames between refreshes of a track's colour histogram
HIST_EVERY = 6
#: a young track under this share of the other's area that merges into it was a piece of it
SMALL_PIECE = 0.15
#: seconds: a track born next to another that merges back into it within this time was a piece of it
FRAGMENT_LIFE = 2.0


class RegionTracker:
    """Gives objects ids that stay stable across frames.

    - ``max_lost_s``: seconds a track may go unseen and keep its id (about 1 s).
    - ``max_held_s``: seconds a track may stay held inside another's region (two people together).
    - ``iou_threshold``: the least footprint IoU that counts as an overlap match.
    - ``max_centroid_distance``: pixels; least gate of the centroid fallback for small/fast objects, which
      otherwise scales with the object (``gate_ratio x sqrt(area)``); ``0`` turns the fallback off.
    - ``merge_cover``: share of a track's predicted footprint inside another's object that makes it merged.
    - ``appearance_weight``: weight of the colour-histogram distance in the cost (needs the frame).
    - ``join_gap`` / ``relative_gap`` / ``fragment_ratio``: how parts are grouped into objects
      (:func:`~realtime_seg.tracking.objects.group_regions`).
    - ``trail_length``: centroids kept per track (``0``: no trail).
    - ``smooth_outline``: weight in [0, 1) of the previous outline when smoothing over time (``0``: off).
    - ``min_hits``: frames seen in a row before a track gets an id and is reported (flicker uses no ids).
    - ``min_area`` / ``simplify_tolerance`` / ``footprint_step``: passed to :func:`find_regions` by ``step``;
      ``step`` also drops components smaller than ``min_area_fraction`` of the frame (0.1%: 922 px at 720p).
    """

    def __init__(
        self,
        *,
        max_lost_s: float = 1.0,
        max_held_s: float = 5.0,
        iou_threshold: float = 0.1,
        max_centroid_distance: float = 100.0,
        gate_ratio: float = 1.0,
        merge_cover: float = 0.5,
        appearance_weight: float = 0.5,
        join_gap: float = DEFAULT_JOIN_GAP,
        relative_gap: float = DEFAULT_RELATIVE_GAP,
        fragment_ratio: float = DEFAULT_FRAGMENT_RATIO,
        trail_length: int = 20,
        smooth_outline: float = 0.0,
        min_hits: int = 2,
        min_area: int = DEFAULT_MIN_AREA,
        min_area_fraction: float = 0.001,
        simplify_tolerance: float = DEFAULT_SIMPLIFY_TOLERANCE,
        footprint_step: int = DEFAULT_FOOTPRINT_STEP,
    ) -> None:
        for name, v in (("max_lost_s", max_lost_s), ("max_held_s", max_held_s), ("gate_ratio", gate_ratio)):
            if not (v >= 0 and math.isfinite(v)):
                raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
        if not (0.0 < iou_threshold <= 1.0):
            raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold!r}")
        if not (max_centroid_distance >= 0 and math.isfinite(max_centroid_distance)):
            raise ValueError(f"max_centroid_distance must be a finite number >= 0, got {max_centroid_distance!r}")
        if not (0.0 < merge_cover <= 1.0):
            raise ValueError(f"merge_cover must be in (0, 1], got {merge_cover!r}")
        if not (appearance_weight >= 0 and math.isfinite(appearance_weight)):
            raise ValueError(f"appearance_weight must be a finite number >= 0, got {appearance_weight!r}")
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
        group_regions([], join_gap=join_gap, relative_gap=relative_gap, fragment_ratio=fragment_ratio)  # checks
        self.max_lost_s = float(max_lost_s)
        self.max_held_s = float(max_held_s)
        self.iou_threshold = float(iou_threshold)
        self.max_centroid_distance = float(max_centroid_distance)
        self.gate_ratio = float(gate_ratio)
        self.merge_cover = float(merge_cover)
        self.appearance_weight = float(appearance_weight)
        self.join_gap = float(join_gap)
        self.relative_gap = float(relative_gap)
        self.fragment_ratio = float(fragment_ratio)
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
        self._distinct: dict[str, int] = {}
        self._counts: dict[str, int] = {}

    @property
    def stats(self) -> TrackerStats:
        return TrackerStats(self._frame, self._next_id - 1, self._max_simultaneous, self._counts, self._distinct)

    @property
    def live_tracks(self) -> int:
        """Tracks alive now: seen this frame, held, lost but within ``max_lost_s``, or still tentative."""
        return len(self._tracks)

    def held(self) -> list[HeldRegion]:
        """The tracks held now (merged into another's region), with their predicted place."""
        out = []
        for tr in self._tracks:
            if tr.host is not None and tr.id is not None:
                dx, dy = tr.kf.x - tr.anchor[0], tr.kf.y - tr.anchor[1]
                x, y = tr.centroid[0] + dx, tr.centroid[1] + dy
                bx, by, bw, bh = union_bbox(tr.parts)
                box = (round(bx + dx), round(by + dy), bw, bh)
                out.append(HeldRegion(tr.id, tr.class_name, tr.host.id, (x, y), box))
        return out

    def step(self, mask: MaskFrame | np.ndarray, t: float, frame: np.ndarray | None = None) -> list[TrackedRegion]:
        """``update(find_regions(mask), t, frame)``; every mask of a stream must have the first one's size.

        ``frame`` (BGR uint8, the mask's size), when given, adds the colour histograms to the matching.
        """
        h, w = mask.alpha.shape[:2] if isinstance(mask, MaskFrame) else np.shape(mask)[:2]
        regions = find_regions(
            mask,
            min_area=max(self.min_area, int(self.min_area_fraction * h * w)),
            simplify_tolerance=self.simplify_tolerance,
            footprint_step=self.footprint_step,
            expected_shape=self._shape,
        )
        if self._shape is None:
            self._shape = (h, w)
        return self.update(regions, t, frame)

    def update(self, regions: list[Region], t: float, frame: np.ndarray | None = None) -> list[TrackedRegion]:
        """Advance one frame at time ``t`` (seconds) with this frame's components; returns the objects seen."""
        for r in regions:
            if not isinstance(r, Region):
                raise InputError(f"update() takes a list of Region, got a {type(r).__name__}")
            if r.footprint_step != self.footprint_step:
                raise InputError(
                    f"region footprints use step {r.footprint_step}, this tracker expects {self.footprint_step}"
                )
        if frame is not None and (
            not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8
        ):
            raise InputError(
                f"frame must be BGR uint8 of shape (H, W, 3), got {getattr(frame, 'dtype', type(frame))} "
                f"{getattr(frame, 'shape', '')}"
            )
        t = float(t)
        if not math.isfinite(t):
            raise ValueError(f"t must be a finite number of seconds, got {t}")

        objs = [self._obj(g, frame) for g in group_regions(
            regions, join_gap=self.join_gap, relative_gap=self.relative_gap, fragment_ratio=self.fragment_ratio
        )]  # fmt: skip
        preds = {id(tr): self._predicted_centroid(tr, t) for tr in self._tracks}
        m = self._matcher()

        # confirmed tracks (seen, held or lost) first, then tentative ones on what is left (ByteTrack's order)
        owner: dict[int, _Track] = {}  # object index -> the track that takes it
        for confirmed in (True, False):
            for cls in {o.group.class_id for o in objs}:
                ti = [tr for tr in self._tracks if tr.class_id == cls and (tr.id is not None) == confirmed]
                oi = [j for j, o in enumerate(objs) if o.group.class_id == cls and j not in owner]
                if not ti or not oi:
                    continue
                cost = m.costs(ti, [objs[j] for j in oi], t, preds)
                for a, b in _assign(cost):
                    owner[oi[b]] = ti[a]

        # merges: an unmatched track mostly inside a matched object; the older track takes the object
        taken = {id(tr) for tr in owner.values()}
        held_now: dict[int, _Track] = {}  # id(track) -> host
        dropped: set[int] = set()
        free = [u for u in self._tracks if id(u) not in taken and u.id is not None]
        for j, tr in list(owner.items()):
            o = objs[j]
            merged = [
                u
                for u in free
                if id(u) not in taken
                and u.class_id == o.group.class_id
                and u.id is not None
                and (u.host is tr or m.cover(u, o, preds[id(u)]) >= self.merge_cover)
            ]
            if not merged:
                continue
            oldest = min([tr, *merged], key=_Track.rank)
            if oldest is not tr:
                owner[j] = oldest
                taken.discard(id(tr))
                taken.add(id(oldest))
                merged = [tr if u is oldest else u for u in merged]
                if tr.id is None:  # a tentative track that lost the object is dropped, not held
                    merged.remove(tr)
                    taken.add(id(tr))
            for u in merged:
                taken.add(id(u))
                young = t - u.t_born < FRAGMENT_LIFE
                small = u.size * u.size < SMALL_PIECE * oldest.size * oldest.size
                if young and ((u.born_near is not None and u.born_near in (oldest, tr)) or small):
                    dropped.add(id(u))  # a piece of this object that split off for a while and came back: it ends
                else:
                    held_now[id(u)] = oldest

        # fragments: an unmatched object that is small next to a matched one of its class and near it
        owned_obj = {id(tr): j for j, tr in owner.items()}
        new_objs: list[_Obj] = []
        for j, o in enumerate(objs):
            if j in owner:
                continue
            host_j = m.fragment_of(o, objs, owner, preds)
            if host_j is None:
                new_objs.append(o)
            else:
                objs[host_j].extra.extend(o.group.parts)

        survivors: list[_Track] = []
        for tr in self._tracks:
            oj = owned_obj.get(id(tr))
            if oj is not None and owner.get(oj) is tr:
                self._advance(tr, objs[oj], t, merged=any(h is tr for h in held_now.values()))
                survivors.append(tr)
            elif id(tr) in dropped:
                continue
            elif id(tr) in held_now:
                host = held_now[id(tr)]
                if tr.host is None:
                    tr.held_since = t
                tr.host, tr.lost_since = host, None
                hj = owned_obj.get(id(host))
                box = objs[hj].bbox if hj is not None else union_bbox(host.parts)
                prev_box = tr.host_box if tr.host_box is not None else union_bbox(tr.parts)
                self._follow(
                    tr, t, prev_box, box, None, True, held=True
                )  # the edge of the merged region that is its own
                tr.host_box = box
                tr.missed += 1
                if t - tr.held_since <= self.max_held_s:
                    survivors.append(tr)
            elif tr.id is not None:  # lost (or no longer held): coasts until max_lost_s
                tr.kf.predict(t)
                if tr.lost_since is None:
                    tr.lost_since = t  # the first frame it is missing
                tr.host = None
                tr.missed += 1
                if t - tr.lost_since <= self.max_lost_s and not self._left_frame(tr, preds[id(tr)]):
                    survivors.append(tr)
            # else: a tentative track missed a frame: dropped
        for o in new_objs:
            tr = self._new_track(o, t)
            tr.born_near = m.neighbour(o, objs, owner)
            survivors.append(tr)
        self._tracks = survivors
        self._frame += 1

        out = [self._report(tr) for tr in self._tracks if tr.missed == 0 and tr.id is not None]
        out.sort(key=lambda x: x.id)
        self._max_simultaneous = max(self._max_simultaneous, len(out))
        counts: dict[str, int] = dict.fromkeys(self._distinct, 0)
        for tr in self._tracks:
            if tr.id is not None and (tr.missed == 0 or tr.host is not None):
                counts[tr.class_name] = counts.get(tr.class_name, 0) + 1
        self._counts = counts
        return out

    # -- internals -----------------------------------------------------------------------------------

    def _obj(self, g: RegionGroup, frame: np.ndarray | None) -> _Obj:
        fp, origin = g.footprint()
        return _Obj(g, fp, origin, int(np.count_nonzero(fp)), g.area, g.centroid, g.bbox, frame, self.footprint_step)

    def _matcher(self) -> Matcher:
        return Matcher(
            self.iou_threshold,
            self.max_centroid_distance,
            self.gate_ratio,
            self.max_lost_s,
            self.appearance_weight,
            self.join_gap,
            self.relative_gap,
            self.fragment_ratio,
            self.footprint_step,
        )

    def _left_frame(self, tr: _Track, pred: tuple[float, float]) -> bool:
        """Whether a lost track is predicted outside the frame (it walked out: its id is not kept)."""
        if self._shape is None:
            return False
        h, w = self._shape
        return not (0 <= pred[0] < w and 0 <= pred[1] < h)

    @staticmethod
    def _predicted_centroid(tr: _Track, t: float) -> tuple[float, float]:
        px, py = tr.kf.predicted(t)
        return (tr.centroid[0] + px - tr.anchor[0], tr.centroid[1] + py - tr.anchor[1])

    def _follow(
        self,
        tr: _Track,
        t: float,
        old_box: tuple[int, int, int, int],
        new_box: tuple[int, int, int, int],
        centroid: tuple[float, float] | None,
        edges: bool,
        held: bool = False,
    ) -> None:
        """Move the track's anchor by this frame's displacement and update the filter with it.

        The displacement is the centroid's when ``centroid`` is given (the object is whole and unchanged),
        else that of the box edge nearer the prediction (``edges``: when the box still says something about
        the object: partly hidden, or merged with another, whose region's far edge is the other's), else
        the prediction's (parts came or went: no news on the motion).
        """
        px, py = tr.kf.predicted(t)
        d = (px - tr.pos[0], py - tr.pos[1])
        if centroid is not None:
            d = (centroid[0] - tr.centroid[0], centroid[1] - tr.centroid[1])
        elif edges:
            wh = (self._shape[1], self._shape[0]) if self._shape is not None else None
            e = _edge_displacement(old_box, new_box, d if tr.hits >= 5 or held else None, held, wh)
            if tr.hits < 5 or math.hypot(e[0] - d[0], e[1] - d[1]) <= MAX_EDGE_SURPRISE * tr.size + 2:
                d = e
        tr.pos = (tr.pos[0] + d[0], tr.pos[1] + d[1])
        tr.kf.update(tr.pos, t)
        if not held:  # the footprint and centroid are measured now, at this point
            tr.anchor = tr.pos

    def _advance(self, tr: _Track, o: _Obj, t: float, merged: bool) -> None:
        parts = o.group.parts if not o.extra else tuple(sorted((*o.group.parts, *o.extra), key=lambda r: -r.area))
        area = o.area + sum(r.area for r in o.extra)
        centroid = o.centroid if not o.extra else group_centroid(parts)
        fp, origin = union_footprint(parts) if o.extra else (o.footprint, o.origin)
        # The filter follows an anchor point moved by the object's displacement each frame. When the object
        # is whole and unchanged, that is the centroid's displacement. When part of it is hidden (behind
        # something, at the frame edge) or a part drops out, the centroid moves for other reasons: then
        # the displacement of the bounding box edge that moves more is used (a hiding edge stands still,
        # the free edge moves with the object). After a merge, a dropout or a hold the anchor restarts at
        # the centroid and the velocity is kept.
        ratio = area / max(tr.area, 1)
        whole = area >= PARTIAL_AREA * tr.size * tr.size
        clean = tr.host is None and tr.lost_since is None and len(parts) == len(tr.parts)
        clean = clean and whole and 0.75 <= ratio <= 1 / 0.75
        if tr.host is not None or tr.lost_since is not None:
            tr.kf.jump(centroid, t)
            tr.anchor = tr.pos = centroid
        else:
            clean = clean and not merged
            edges_only = merged or (len(parts) == len(tr.parts) and 0.75 <= ratio <= 1 / 0.75)
            prev_box = tr.host_box if tr.host_box is not None else union_bbox(tr.parts)
            self._follow(tr, t, prev_box, union_bbox(parts), centroid if clean else None, edges_only)
        tr.host_box = None
        # the appearance changes slowly: refresh it every few frames (and never from a merged region)
        if not merged and (tr.hist is None or tr.hits % HIST_EVERY == 0):
            h = o.hist()
            if h is not None:
                tr.hist = h if tr.hist is None else _normalized(0.7 * tr.hist + 0.3 * h)
        tr.parts, tr.footprint, tr.origin, tr.area, tr.centroid = parts, fp, origin, area, centroid
        tr.cells = o.cells if not o.extra else int(np.count_nonzero(fp))
        tr.size = max(math.sqrt(area), SIZE_DECAY * tr.size)
        tr.t_seen = t
        tr.hits += 1
        tr.missed = 0
        tr.lost_since = None
        tr.host = None
        tr.trail.append(centroid)
        if tr.smoother is not None:
            if clean:
                tr.smoother.update(parts[0].contour, parts[0].centroid)
            else:
                tr.smoother.restart(parts[0].contour, parts[0].centroid)
        self._confirm(tr)

    def _new_track(self, o: _Obj, t: float) -> _Track:
        parts = o.group.parts
        tr = _Track(
            parts=parts,
            kf=ConstantVelocity(o.centroid, t),
            t_seen=t,
            t_born=t,
            first_frame=self._frame,
            footprint=o.footprint,
            cells=o.cells,
            origin=o.origin,
            area=o.area,
            centroid=o.centroid,
            anchor=o.centroid,
            pos=o.centroid,
            size=math.sqrt(o.area),
            hist=o.hist(),
        )
        tr.trail = deque([o.centroid], maxlen=max(self.trail_length, 1))
        if self.smooth_outline > 0:
            tr.smoother = OutlineSmoother(self.smooth_outline, self.simplify_tolerance)
            tr.smoother.restart(parts[0].contour, parts[0].centroid)
        self._confirm(tr)
        return tr

    def _confirm(self, tr: _Track) -> None:
        if tr.id is None and tr.hits >= self.min_hits:
            tr.id = self._next_id
            self._next_id += 1
            self._distinct[tr.class_name] = self._distinct.get(tr.class_name, 0) + 1

    def _report(self, tr: _Track) -> TrackedRegion:
        assert tr.id is not None
        region = tr.parts[0]
        contour = tr.smoother.contour() if tr.smoother is not None else region.contour
        trail = tuple(tr.trail) if self.trail_length > 0 else ()
        return TrackedRegion(
            tr.id, region, self._frame - 1 - tr.first_frame, tr.hits, tr.missed, trail, contour, tr.parts
        )
