"""Objects: the connected components of one class that belong to one thing (a person and a detached arm).

A soft mask often breaks one person into pieces: a thin arm, legs apart, a hand at the frame edge. Each
piece is a connected component (:class:`~realtime_seg.tracking.regions.Region`); :func:`group_regions`
joins the pieces of one object into a :class:`RegionGroup`. Two components of the same class are joined
when the gap between their outlines is

- at most ``join_gap`` pixels, whatever their sizes: they would touch in the mask at a coarser scale
  (8 px is one pixel of the mask at 1/8 resolution), or
- at most ``relative_gap x sqrt(area of the smaller)`` pixels, and the smaller has at most
  ``fragment_ratio`` of the larger's area: a fragment close to its body, relative to the fragment's size.

So an arm of 6000 px (about 77 px across) joins a body 38 px away, but two people of about the same size
are never joined by the second rule: they stay two objects unless they (nearly) touch, which is the
tracker's merge case. Joining is transitive (union-find). The gap is measured between the outlines.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from realtime_seg.tracking.regions import Region

DEFAULT_JOIN_GAP = 8.0
DEFAULT_RELATIVE_GAP = 0.5
DEFAULT_FRAGMENT_RATIO = 0.5


@dataclass(frozen=True, eq=False)
class RegionGroup:
    """The parts of one object, largest first, all of one class.

    ``area`` (sum), ``centroid`` (area-weighted) and ``bbox`` (union) describe the whole object; the
    footprint is the union of the parts' footprints on their common grid.
    """

    parts: tuple[Region, ...]

    def __post_init__(self) -> None:
        if not self.parts:
            raise ValueError("a RegionGroup needs at least one part, got none")
        if len({(p.class_id, p.footprint_step) for p in self.parts}) != 1:
            raise ValueError("the parts of a RegionGroup must share one class and one footprint step")

    @property
    def largest(self) -> Region:
        return self.parts[0]

    @property
    def class_id(self) -> int:
        return self.parts[0].class_id

    @property
    def class_name(self) -> str:
        return self.parts[0].class_name

    @property
    def area(self) -> int:
        return sum(p.area for p in self.parts)

    @property
    def centroid(self) -> tuple[float, float]:
        return group_centroid(self.parts)

    @property
    def bbox(self) -> tuple[int, int, int, int]:
        return union_bbox(self.parts)

    def footprint(self) -> tuple[np.ndarray, tuple[int, int]]:
        """The union footprint and its origin cell ``(gx, gy)`` (cached)."""
        try:
            return self.__dict__["_fp"]
        except KeyError:
            fp = union_footprint(self.parts)
            object.__setattr__(self, "_fp", fp)
            return fp


def group_centroid(parts: tuple[Region, ...] | list[Region]) -> tuple[float, float]:
    if len(parts) == 1:
        return parts[0].centroid
    total = sum(p.area for p in parts) or 1
    return (
        sum(p.centroid[0] * p.area for p in parts) / total,
        sum(p.centroid[1] * p.area for p in parts) / total,
    )


def union_bbox(parts: tuple[Region, ...] | list[Region]) -> tuple[int, int, int, int]:
    if len(parts) == 1:
        return parts[0].bbox
    x0 = min(p.bbox[0] for p in parts)
    y0 = min(p.bbox[1] for p in parts)
    x1 = max(p.bbox[0] + p.bbox[2] for p in parts)
    y1 = max(p.bbox[1] + p.bbox[3] for p in parts)
    return (x0, y0, x1 - x0, y1 - y0)


def union_footprint(parts: tuple[Region, ...] | list[Region]) -> tuple[np.ndarray, tuple[int, int]]:
    if len(parts) == 1:
        return parts[0].footprint, parts[0].footprint_origin
    gx0 = min(p.footprint_origin[0] for p in parts)
    gy0 = min(p.footprint_origin[1] for p in parts)
    gx1 = max(p.footprint_origin[0] + p.footprint.shape[1] for p in parts)
    gy1 = max(p.footprint_origin[1] + p.footprint.shape[0] for p in parts)
    out = np.zeros((gy1 - gy0, gx1 - gx0), np.bool_)
    for p in parts:
        ox, oy = p.footprint_origin[0] - gx0, p.footprint_origin[1] - gy0
        h, w = p.footprint.shape
        out[oy : oy + h, ox : ox + w] |= p.footprint
    out.setflags(write=False)
    return out, (gx0, gy0)


def bbox_gap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Distance between two ``(x, y, w, h)`` boxes (0 when they touch or overlap)."""
    dx = max(a[0] - (b[0] + b[2]), b[0] - (a[0] + a[2]), 0)
    dy = max(a[1] - (b[1] + b[3]), b[1] - (a[1] + a[3]), 0)
    return math.hypot(dx, dy)


def _points_to_polygon(p: np.ndarray, poly: np.ndarray, within: float = math.inf) -> float:
    """Smallest distance from any of the points ``p`` (N, 2) to the closed polyline ``poly`` (M, 2).

    Only the edges within ``within`` of the points' box are looked at (``inf`` when none is).
    """
    s0 = poly
    s1 = np.roll(poly, -1, axis=0)
    if math.isfinite(within):
        lo, hi = p.min(axis=0) - within, p.max(axis=0) + within
        keep = (
            (np.minimum(s0[:, 0], s1[:, 0]) <= hi[0])
            & (np.maximum(s0[:, 0], s1[:, 0]) >= lo[0])
            & (np.minimum(s0[:, 1], s1[:, 1]) <= hi[1])
            & (np.maximum(s0[:, 1], s1[:, 1]) >= lo[1])
        )
        if not keep.any():
            return math.inf
        s0, s1 = s0[keep], s1[keep]
    seg = s1 - s0  # (M, 2)
    rel = p[:, None, :] - s0[None, :, :]  # (N, M, 2)
    den = (seg * seg).sum(axis=1)
    den[den == 0] = 1.0
    t = np.clip((rel * seg[None]).sum(axis=2) / den[None], 0.0, 1.0)
    d = rel - t[:, :, None] * seg[None]
    return float(np.sqrt((d * d).sum(axis=2).min()))


def outline_gap(a: Region, b: Region, within: float = math.inf) -> float:
    """Smallest distance between the outlines of two regions (the gap between them, in px).

    Measured from each outline's points to the other's edges, so long straight edges facing each other
    count, not just their corners. Only points within ``within`` px of the other's box are looked at
    (a larger gap is reported as ``inf``).
    """
    pa = a.contour.astype(np.float64)
    pb = b.contour.astype(np.float64)
    if math.isfinite(within):
        pa, pb = _near_box(pa, b.bbox, within), _near_box(pb, a.bbox, within)
        if len(pa) == 0 and len(pb) == 0:
            return math.inf
    d = math.inf
    if len(pa):
        d = _points_to_polygon(pa, b.contour.astype(np.float64), within)
    if len(pb):
        d = min(d, _points_to_polygon(pb, a.contour.astype(np.float64), within))
    return d


def outlines_within(a: Region, b: Region, limit: float) -> bool:
    """Whether the gap between two regions' outlines is at most ``limit`` px (:func:`outline_gap`, sooner:
    two outline points that close settle it without looking at the edges)."""
    pa = _near_box(a.contour.astype(np.float64), b.bbox, limit + 1)
    pb = _near_box(b.contour.astype(np.float64), a.bbox, limit + 1)
    if len(pa) == 0 and len(pb) == 0:
        return False
    if len(pa) and len(pb):
        d2 = ((pa[:, None, :] - pb[None, :, :]) ** 2).sum(axis=2)
        if float(d2.min()) <= limit * limit:
            return True
    return outline_gap(a, b, within=limit + 1) <= limit


def _near_box(p: np.ndarray, box: tuple[int, int, int, int], margin: float) -> np.ndarray:
    x, y, w, h = box
    keep = (p[:, 0] >= x - margin) & (p[:, 0] <= x + w + margin) & (p[:, 1] >= y - margin) & (p[:, 1] <= y + h + margin)
    return p[keep]


def group_regions(
    regions: list[Region],
    *,
    join_gap: float = DEFAULT_JOIN_GAP,
    relative_gap: float = DEFAULT_RELATIVE_GAP,
    fragment_ratio: float = DEFAULT_FRAGMENT_RATIO,
) -> list[RegionGroup]:
    """Join the components of one class that belong to one object; groups sorted by class, then area."""
    if not (join_gap >= 0 and math.isfinite(join_gap)):
        raise ValueError(f"join_gap must be a finite number >= 0, got {join_gap!r}")
    if not (relative_gap >= 0 and math.isfinite(relative_gap)):
        raise ValueError(f"relative_gap must be a finite number >= 0, got {relative_gap!r}")
    if not (0.0 <= fragment_ratio <= 1.0):
        raise ValueError(f"fragment_ratio must be in [0, 1], got {fragment_ratio!r}")
    by_class: dict[int, list[Region]] = {}
    for r in regions:
        by_class.setdefault(r.class_id, []).append(r)
    groups: list[RegionGroup] = []
    for cls in sorted(by_class):
        rs = sorted(by_class[cls], key=lambda r: -r.area)
        parent = list(range(len(rs)))
        find = _finder(parent)
        if len(rs) > 1:
            # all pairs at once: box gaps against each pair's threshold; outlines only for the close ones
            box = np.array([r.bbox for r in rs], dtype=np.float64)
            x0, y0, x1, y1 = box[:, 0], box[:, 1], box[:, 0] + box[:, 2], box[:, 1] + box[:, 3]
            dx = np.maximum(np.maximum(x0[:, None] - x1[None, :], x0[None, :] - x1[:, None]), 0)
            dy = np.maximum(np.maximum(y0[:, None] - y1[None, :], y0[None, :] - y1[:, None]), 0)
            gap = np.hypot(dx, dy)
            area = np.array([r.area for r in rs], dtype=np.float64)  # largest first: j > i is the smaller
            small = area[None, :] <= fragment_ratio * area[:, None]
            thr = np.where(small, np.maximum(join_gap, relative_gap * np.sqrt(area)[None, :]), join_gap)
            ii, jj = np.nonzero(np.triu(gap <= thr, k=1))
            for i, j in zip(ii.tolist(), jj.tolist(), strict=True):
                ri, rj = find(i), find(j)
                if ri != rj and outlines_within(rs[i], rs[j], float(thr[i, j])):
                    parent[max(ri, rj)] = min(ri, rj)
        members: dict[int, list[Region]] = {}
        for i, r in enumerate(rs):
            members.setdefault(find(i), []).append(r)
        found = [RegionGroup(tuple(m)) for m in members.values()]  # members keep the area order
        found.sort(key=lambda g: -g.area)
        groups.extend(found)
    return groups


def _finder(parent: list[int]) -> Callable[[int], int]:
    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    return find


def color_histogram(
    frame: np.ndarray, footprint: np.ndarray, origin: tuple[int, int], step: int, samples: int = 400
) -> np.ndarray | None:
    """A 64-bin (4x4x4 BGR) colour histogram of the frame's pixels under a footprint, normalised to sum 1.

    It samples one pixel per footprint cell, thinned to about ``samples`` cells on a regular grid, so it
    costs the same for a large object as for a small one. ``None`` when no cell falls inside the frame.
    """
    stride = max(1, int(math.sqrt(footprint.size / samples)))
    fp = footprint[::stride, ::stride] if stride > 1 else footprint
    ys, xs = np.nonzero(fp)
    ys = (ys * stride + origin[1]) * step
    xs = (xs * stride + origin[0]) * step
    h, w = frame.shape[:2]
    keep = (ys < h) & (xs < w) & (ys >= 0) & (xs >= 0)
    if not keep.all():
        ys, xs = ys[keep], xs[keep]
    if len(ys) == 0:
        return None
    px = frame[ys, xs] >> 6
    idx = (px[:, 0].astype(np.intp) << 4) | (px[:, 1].astype(np.intp) << 2) | px[:, 2]
    hist = np.bincount(idx, minlength=64).astype(np.float64)
    return hist / hist.sum()


def histogram_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Hellinger (Bhattacharyya) distance of two normalised histograms, in [0, 1]."""
    bc = float(np.sqrt(a * b).sum())
    return math.sqrt(max(0.0, 1.0 - bc))
