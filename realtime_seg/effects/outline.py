"""The ``outline`` effect: tracked object outlines in a colour fixed per id, with "#id class" labels and trails.

An object in several parts (a person whose arm the mask cut off) is drawn part by part in its one colour,
with one label.

It draws ``mask.regions`` (the tracker's :class:`~realtime_seg.tracking.TrackedRegion` list, which the
pipeline fills when a tracker runs: ``ProcessingSettings.tracks``) on a copy of the frame. Because it only
draws on top, it combines with any other effect: apply it to that effect's output (blur, then outlines).
Plain :class:`~realtime_seg.tracking.Region` objects (no id) are drawn in their class colour, unlabelled
by id.
"""

from __future__ import annotations

import colorsys
from functools import lru_cache
from typing import TYPE_CHECKING

import cv2
import numpy as np

from realtime_seg.effects.base import Effect
from realtime_seg.postprocess.types import MaskFrame

if TYPE_CHECKING:  # imported when drawing: the tracking package is not needed by effects that do not draw it
    from realtime_seg.tracking.regions import Region
    from realtime_seg.tracking.tracker import TrackedRegion

_GOLDEN = 0.618033988749895
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_FONT_SCALE = 0.5


@lru_cache(maxsize=1024)
def id_color_bgr(region_id: int) -> tuple[int, int, int]:
    """A bright colour fixed per id: hues spread by the golden ratio, so neighbouring ids differ clearly."""
    h = (0.11 + region_id * _GOLDEN) % 1.0
    r, g, b = colorsys.hsv_to_rgb(h, 0.85, 1.0)
    return (round(b * 255), round(g * 255), round(r * 255))


class OutlineEffect(Effect):
    """Outlines of tracked regions.

    - ``thickness``: outline width in pixels (at least 1).
    - ``show_ids`` / ``show_labels``: the "#id" and the class name beside each region.
    - ``trail``: the track's recent centroids as a line.
    - ``fill_alpha``: in [0, 1]; fills each region with its colour at this opacity (0: outlines only).
    - ``antialias``: smooth lines (a little slower than jagged ones: docs/benchmarks.md).
    """

    name = "outline"

    def __init__(
        self,
        *,
        thickness: int = 2,
        show_ids: bool = True,
        show_labels: bool = True,
        trail: bool = False,
        fill_alpha: float = 0.0,
        antialias: bool = True,
    ) -> None:
        if not isinstance(thickness, int) or thickness < 1:
            raise ValueError(f"thickness must be an int >= 1, got {thickness!r}")
        if not (0.0 <= fill_alpha <= 1.0):
            raise ValueError(f"fill_alpha must be in [0, 1], got {fill_alpha!r}")
        self.thickness = thickness
        self.show_ids = show_ids
        self.show_labels = show_labels
        self.trail = trail
        self.fill_alpha = float(fill_alpha)
        self.antialias = antialias
        self._line = cv2.LINE_AA if antialias else cv2.LINE_8

    def apply(self, frame: np.ndarray, mask: MaskFrame) -> np.ndarray:
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"frame must be BGR uint8 of shape (H, W, 3), got {frame.dtype} {frame.shape}")
        if (frame.shape[1], frame.shape[0]) != mask.size_wh:
            fw, fh = frame.shape[1], frame.shape[0]
            raise ValueError(f"frame is {fw}x{fh} but the mask is {mask.size_wh[0]}x{mask.size_wh[1]}")
        from realtime_seg.tracking.regions import Region
        from realtime_seg.tracking.tracker import TrackedRegion

        out = frame.copy()
        items: list[tuple[int | None, Region, np.ndarray, tuple[tuple[float, float], ...], tuple[int, int, int]]] = []
        extra: list[tuple[Region, tuple[int, int, int]]] = []  # the other parts of objects in several parts
        for item in mask.regions:
            if isinstance(item, TrackedRegion):
                color = id_color_bgr(item.id)
                items.append((item.id, item.region, item.contour, item.trail, color))
                extra.extend((p, color) for p in item.parts[1:])
            elif isinstance(item, Region):
                rgb = mask.class_colors_rgb[item.class_id] if item.class_id < len(mask.class_colors_rgb) else (255,) * 3
                items.append((None, item, item.contour, (), (rgb[2], rgb[1], rgb[0])))
            else:
                raise TypeError(f"mask.regions must hold TrackedRegion or Region objects, got {type(item).__name__}")
        if self.fill_alpha > 0:
            for _, region, contour, _, color in items:
                self._fill(out, region, contour, color)
            for part, color in extra:
                self._fill(out, part, part.contour, color)
        for _, region, contour, trail, color in items:
            if self.trail and len(trail) > 1:
                pts = np.round(np.asarray(trail, dtype=np.float64)).astype(np.int32)
                cv2.polylines(out, [pts], False, color, max(1, self.thickness - 1), self._line)
            cv2.polylines(out, [contour], True, color, self.thickness, self._line)
            if region.holes:
                cv2.polylines(out, list(region.holes), True, color, max(1, self.thickness - 1), self._line)
        for part, color in extra:
            cv2.polylines(out, [part.contour, *part.holes], True, color, self.thickness, self._line)
        tops = {id(item): _top_part(item) for item in mask.regions if isinstance(item, TrackedRegion)}
        for (rid, region, contour, _, color), item in zip(items, mask.regions, strict=True):
            top = tops.get(id(item))
            if top is not None:
                contour = top
            parts = []
            if self.show_ids and rid is not None:
                parts.append(f"#{rid}")
            if self.show_labels:
                parts.append(region.class_name)
            if parts:
                self._label(out, " ".join(parts), contour, color)
        return out

    def _fill(self, out: np.ndarray, region: Region, contour: np.ndarray, color: tuple[int, int, int]) -> None:
        h, w = out.shape[:2]
        x0, y0 = max(int(contour[:, 0].min()), 0), max(int(contour[:, 1].min()), 0)
        x1, y1 = min(int(contour[:, 0].max()) + 1, w), min(int(contour[:, 1].max()) + 1, h)
        if x1 <= x0 or y1 <= y0:
            return
        roi = out[y0:y1, x0:x1]
        sel = np.zeros(roi.shape[:2], np.uint8)
        offset = np.array([x0, y0], np.int32)
        cv2.fillPoly(sel, [contour - offset], 1)
        if region.holes:
            cv2.fillPoly(sel, [hl - offset for hl in region.holes], 0)
        tint = np.empty_like(roi)
        tint[:] = color
        blended = cv2.addWeighted(roi, 1.0 - self.fill_alpha, tint, self.fill_alpha, 0.0)
        cv2.copyTo(blended, sel, roi)

    def _label(self, out: np.ndarray, text: str, contour: np.ndarray, color: tuple[int, int, int]) -> None:
        h, w = out.shape[:2]
        (tw, th), base = _text_size(text)
        top = int(np.argmin(contour[:, 1]))
        tx, ty = int(contour[top, 0]), int(contour[top, 1])
        x = min(max(tx - tw // 2, 0), max(w - tw - 4, 0))
        y = ty - 6
        if y - th - base < 0:  # no room above the region: put the label just inside it
            y = ty + th + base + 4
        y = min(max(y, th + 2), h - base - 1)
        cv2.rectangle(out, (x, y - th - 3), (x + tw + 4, y + base - 1), color, cv2.FILLED)
        dark = (0, 0, 0) if sum(color) > 380 else (255, 255, 255)
        cv2.putText(out, text, (x + 2, y - 1), _FONT, _FONT_SCALE, dark, 1, self._line)


def _top_part(tr: TrackedRegion) -> np.ndarray | None:
    """The outline of the part that reaches highest (the label goes above the object, not mid-body)."""
    if len(tr.parts) == 1:
        return None
    return min(tr.parts, key=lambda p: p.bbox[1]).contour


@lru_cache(maxsize=4096)
def _text_size(text: str) -> tuple[tuple[int, int], int]:
    (tw, th), base = cv2.getTextSize(text, _FONT, _FONT_SCALE, 1)
    return (int(tw), int(th)), int(base)
