"""Person-centred crops: the model sees the people, not the whole room.

The selfie models were trained on faces close to the camera. In a wide shot the whole frame is squeezed into
their 256x256 (or 256x144) input and a person is a few dozen pixels tall. :class:`PersonCrop` runs the model on a
window around the people found in the previous frame instead, and maps its output back into the frame:

- the window is the box around every foreground component (specks under ``min_area`` of the frame ignored),
  widened to the model's aspect, times ``margin``, moved inside the frame where it fits (pixels outside
  the frame are edge-replicated where it does not);
- it follows the people smoothly: a constant-velocity prediction of its centre, blended with each new box;
  it grows at once (nobody is cut off) and shrinks slowly (no jitter, hence no flicker);
- never lose anyone: every ``full_every`` frames, and whenever the mask touches the window's border inside the
  frame or its area shrinks sharply, the whole frame runs too (as a second model run). Outside the window the
  whole-frame result is used, so a person entering is found within ``full_every`` frames; inside, the crop's;
- the whole frame alone runs when nobody was found, or when the people fill most of the frame (``max_cover``).

The output is a :class:`~realtime_seg.segmenter.SegResult` whose probabilities cover the whole frame at a fixed
working size (long side ``map_long_side``), so the refiner (temporal smoothing, guided filter) sees one
stable, frame-aligned map whatever the window does. Pixels outside the window are background.
State resets on :meth:`reset` (a new source, a seek) and on a change of frame size; a scene cut resets it too
(the next frame runs whole).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np

from realtime_seg.segmenter import Segmenter, SegResult

logger = logging.getLogger(__name__)

CROP_MODES = ("auto", "off")


@dataclass(frozen=True)
class CropConfig:
    """- ``margin``: the window is the people's box times this (1.15 measured best, see docs/crop.md);
    - ``full_every``: frames between whole-frame checks (about 1 s at 30 fps);
    - ``max_cover``: above this fraction of the frame's area, the whole frame is used;
    - ``min_area``: components smaller than this fraction of the frame are specks, not people;
    - ``shrink``: how fast the window shrinks towards a smaller box (0..1 per frame); it grows at once;
    - ``map_long_side``: the long side of the frame-aligned probability map handed to the refiner;
    - ``scene_cut``: mean grey-level change of a thumbnail that counts as a new scene (the whole frame runs).
    """

    margin: float = 1.15
    full_every: int = 30
    max_cover: float = 0.6
    min_area: float = 0.002
    shrink: float = 0.15
    map_long_side: int = 512
    scene_cut: float = 10.0

    def __post_init__(self) -> None:
        if not 1.0 <= self.margin <= 3.0:
            raise ValueError(f"margin must be in [1, 3], got {self.margin}")
        if self.full_every < 1:
            raise ValueError(f"full_every must be >= 1, got {self.full_every}")
        if not 0.0 < self.max_cover <= 1.0:
            raise ValueError(f"max_cover must be in (0, 1], got {self.max_cover}")
        if not 0.0 < self.shrink <= 1.0:
            raise ValueError(f"shrink must be in (0, 1], got {self.shrink}")
        if self.map_long_side < 64:
            raise ValueError(f"map_long_side must be >= 64, got {self.map_long_side}")


@dataclass(frozen=True)
class Window:
    """A crop window in frame pixels: centre and size (may extend past the frame's edges)."""

    cx: float
    cy: float
    w: float
    h: float

    def box(self) -> tuple[int, int, int, int]:
        """Integer ``x0, y0, x1, y1`` (exclusive end). The width is rounded up to a multiple of 32 pixels and the
        height follows it: few distinct sizes, so the model's resampling tables are reused from a cache."""
        w = max(32, -(-round(self.w) // 32) * 32)
        h = max(1, round(w * self.h / self.w))
        x0, y0 = round(self.cx - w / 2), round(self.cy - h / 2)
        return x0, y0, x0 + w, y0 + h


def crop_replicated(frame: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """``frame[y0:y1, x0:x1]`` with the frame's edge pixels repeated where the box leaves the frame."""
    h, w = frame.shape[:2]
    x0, y0, x1, y1 = box
    inside = frame[max(0, y0) : min(h, y1), max(0, x0) : min(w, x1)]
    pads = (max(0, -y0), max(0, y1 - h), max(0, -x0), max(0, x1 - w))
    if not any(pads):
        return inside
    return cv2.copyMakeBorder(inside, *pads, cv2.BORDER_REPLICATE)


def fit_inside(box: tuple[int, int, int, int], size_wh: tuple[int, int]) -> tuple[int, int, int, int]:
    """``box`` moved (not resized) to lie inside the frame where it fits: more real picture around the people
    than repeated edge pixels, and no copy of the crop. A box larger than the frame is centred on that side."""
    x0, y0, x1, y1 = box
    w, h = size_wh

    def shift(a0: int, a1: int, limit: int) -> int:
        if a1 - a0 > limit:
            return 0
        return -a0 if a0 < 0 else (limit - a1 if a1 > limit else 0)

    dx, dy = shift(x0, x1, w), shift(y0, y1, h)
    return x0 + dx, y0 + dy, x1 + dx, y1 + dy


def paste(dst: np.ndarray, src: np.ndarray, x0: int, y0: int) -> None:
    """Copy ``src`` into ``dst`` with its top-left corner at ``(x0, y0)``, clipped to ``dst``."""
    h, w = dst.shape[:2]
    sh, sw = src.shape[:2]
    dx0, dy0, dx1, dy1 = max(0, x0), max(0, y0), min(w, x0 + sw), min(h, y0 + sh)
    if dx1 > dx0 and dy1 > dy0:
        dst[dy0:dy1, dx0:dx1] = src[dy0 - y0 : dy1 - y0, dx0 - x0 : dx1 - x0]


def _with_crop_ms(model_ms: dict[str, float], t0: float) -> dict[str, float]:
    """The model's timings plus ``crop``: the stage's own time, the model's excluded."""
    return {**model_ms, "crop": (time.perf_counter() - t0) * 1e3 - sum(model_ms.values())}


def _add(total: dict[str, float], timings: Mapping[str, float]) -> None:
    for k, v in timings.items():
        total[k] = total.get(k, 0.0) + v


class PersonCrop:
    """Per stream: one instance per video or camera, used from one thread. See the module's docstring."""

    def __init__(self, config: CropConfig | None = None) -> None:
        self.config = config or CropConfig()
        self.frames = self.cropped = self.full_runs = 0
        self.last_cropped = False  #: whether the last frame ran through a window
        self._reset_state()

    def _reset_state(self) -> None:
        self._size_wh: tuple[int, int] | None = None
        self._window: Window | None = None
        self._velocity = (0.0, 0.0)
        self._area = 0.0
        self._since_full = 0
        self._force_full = True
        self._thumb: np.ndarray | None = None
        self._wide = False

    def reset(self) -> None:
        """Start again from the whole frame (a new source, a seek, a scene cut)."""
        self._reset_state()

    @property
    def summary(self) -> str:
        """e.g. ``crop on 270 of 300 frames; whole frame 40 times``."""
        return f"crop on {self.cropped} of {self.frames} frames; whole frame {self.full_runs} times"

    # -- geometry ------------------------------------------------------------------------------------
    def _map_size(self, size_wh: tuple[int, int]) -> tuple[int, int]:
        w, h = size_wh
        s = self.config.map_long_side / max(w, h)
        return (max(1, round(w * s)), max(1, round(h * s)))

    def _target(self, box: tuple[float, float, float, float], model_wh: tuple[int, int]) -> Window:
        """The window for the people's ``box`` (frame pixels): the model's aspect, times the margin."""
        x0, y0, x1, y1 = box
        bw, bh = max(1.0, x1 - x0), max(1.0, y1 - y0)
        aspect = model_wh[0] / model_wh[1]
        w, h = (bw, bw / aspect) if bw / bh > aspect else (bh * aspect, bh)
        m = self.config.margin
        return Window((x0 + x1) / 2, (y0 + y1) / 2, w * m, h * m)

    def _follow(self, target: Window) -> Window:
        """Blend the predicted window with ``target``: centre by constant velocity, size grows at once."""
        old = self._window
        if old is None:
            self._velocity = (0.0, 0.0)
            return target
        vx, vy = self._velocity
        px, py = old.cx + vx, old.cy + vy
        cx, cy = px + 0.5 * (target.cx - px), py + 0.5 * (target.cy - py)
        self._velocity = (0.7 * vx + 0.3 * (cx - old.cx), 0.7 * vy + 0.3 * (cy - old.cy))
        k = self.config.shrink
        w = target.w if target.w > old.w else old.w + k * (target.w - old.w)
        h = target.h if target.h > old.h else old.h + k * (target.h - old.h)
        return Window(cx, cy, w, h)

    def _people(self, probs_map: np.ndarray) -> tuple[tuple[float, float, float, float] | None, float, bool]:
        """The box (map pixels) around every foreground component that is no speck, their area (map pixels),
        and whether there is any. Found at a quarter of the map's size (cheap), scaled back."""
        mh, mw = probs_map.shape
        small = cv2.resize(probs_map, (max(1, mw // 4), max(1, mh // 4)), interpolation=cv2.INTER_AREA)
        fg = (small >= 0.5).astype(np.uint8)
        n, _, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
        min_px = self.config.min_area * fg.size
        kx, ky = mw / fg.shape[1], mh / fg.shape[0]
        keep = [i for i in range(1, n) if stats[i, cv2.CC_STAT_AREA] >= min_px]
        if not keep:
            return None, 0.0, False
        x0 = min(stats[i, cv2.CC_STAT_LEFT] for i in keep) * kx
        y0 = min(stats[i, cv2.CC_STAT_TOP] for i in keep) * ky
        x1 = max(stats[i, cv2.CC_STAT_LEFT] + stats[i, cv2.CC_STAT_WIDTH] for i in keep) * kx
        y1 = max(stats[i, cv2.CC_STAT_TOP] + stats[i, cv2.CC_STAT_HEIGHT] for i in keep) * ky
        area = float(sum(stats[i, cv2.CC_STAT_AREA] for i in keep)) * kx * ky
        return (float(x0), float(y0), float(x1), float(y1)), area, True

    # -- the stage -----------------------------------------------------------------------------------
    def segment(self, segmenter: Segmenter, frame: np.ndarray, index: int = 0) -> SegResult:
        """Segment ``frame`` (BGR uint8) through the crop; returns a frame-aligned :class:`SegResult`."""
        t0 = time.perf_counter()
        h, w = frame.shape[:2]
        if self._size_wh != (w, h):
            self._reset_state()
            self._size_wh = (w, h)
        sparse = np.ascontiguousarray(frame[::8, ::8])  # a cheap look at the whole frame, then averaged
        thumb = cv2.resize(sparse, (48, 27), interpolation=cv2.INTER_AREA).astype(np.int16)
        if self._thumb is not None and float(np.abs(thumb - self._thumb).mean()) > self.config.scene_cut:
            self._window, self._force_full = None, True  # a new scene: look at the whole frame again
        self._thumb = thumb
        mw, mh = self._map_size((w, h))
        sx, sy = mw / w, mh / h  # frame pixels -> map pixels
        spec = segmenter.spec
        window = self._window
        self.frames += 1
        self._since_full += 1
        run_full = window is None or self._force_full or self._since_full >= self.config.full_every
        model_ms: dict[str, float] = {}
        self.last_cropped = window is not None
        if window is None:  # the whole frame as the model gives it (the path of --crop off); people found on it
            whole = segmenter.segment(frame, index)
            _add(model_ms, whole.timings_ms)
            self.full_runs += 1
            self._since_full, self._force_full = 0, False
            ph, pw = whole.probs.shape[-2:]
            self._update(whole.alpha((pw, ph)), None, (w, h), (pw / w, ph / h), spec.input_size_wh)
            return SegResult(index, whole.probs, (w, h), spec, _with_crop_ms(model_ms, t0))
        probs = np.zeros((mh, mw), np.float32)
        if run_full:  # a check of the whole frame: its result outside the window, the crop's inside
            whole = segmenter.segment(frame, index)
            _add(model_ms, whole.timings_ms)
            self.full_runs += 1
            self._since_full, self._force_full = 0, False
            probs[:] = whole.alpha((mw, mh))
        box = fit_inside(window.box(), (w, h))
        x0, y0, x1, y1 = box
        seg = segmenter.segment(crop_replicated(frame, box), index)
        _add(model_ms, seg.timings_ms)
        mx0, my0 = round(x0 * sx), round(y0 * sy)
        mx1, my1 = max(mx0 + 1, round(x1 * sx)), max(my0 + 1, round(y1 * sy))
        paste(probs, seg.alpha((mx1 - mx0, my1 - my0)), mx0, my0)  # outside: whole frame, or background
        self.cropped += 1
        self._update(probs, box, (w, h), (sx, sy), spec.input_size_wh)
        return SegResult(index, probs, (w, h), spec, _with_crop_ms(model_ms, t0))

    def _update(
        self,
        probs: np.ndarray,
        used: tuple[int, int, int, int] | None,
        size_wh: tuple[int, int],
        scale: tuple[float, float],
        model_wh: tuple[int, int],
    ) -> None:
        """Choose the next frame's window from this frame's map (``used``: the box this frame's crop ran on)."""
        w, h = size_wh
        sx, sy = scale
        box, area, found = self._people(probs)
        if not found or box is None:
            self._window, self._force_full = None, True
            return
        fx0, fy0, fx1, fy1 = box[0] / sx, box[1] / sy, box[2] / sx, box[3] / sy
        target = self._target((fx0, fy0, fx1, fy1), model_wh)
        cover = target.w * target.h / (w * h)
        # the people fill the frame: no crop. Hysteresis: back to cropping only well below the limit, so the
        # mask does not alternate between the two ways of running the model
        self._wide = cover >= self.config.max_cover * (0.8 if self._wide else 1.0)
        if self._wide:
            self._window, self._force_full, self._area = None, True, area
            return
        touches = False
        if used is not None:  # the mask reaches the used window's border inside the frame: someone is cut off
            x0, y0, x1, y1 = used
            px, py = 1.5 / sx, 1.5 / sy  # one map pixel, in frame pixels
            touches = (fx0 <= x0 + px and x0 > 0) or (fy0 <= y0 + py and y0 > 0)
            touches = touches or (fx1 >= x1 - px and x1 < w) or (fy1 >= y1 - py and y1 < h)
        shrank = self._area > 0 and area < 0.5 * self._area
        self._force_full = touches or shrank
        self._window, self._area = self._follow(target), area
