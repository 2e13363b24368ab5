"""Tracked region outlines as JSON Lines: one object per frame, written atomically, read back with validation.

Schema (one line per frame, in frame order)::

    {"frame": 0, "t": 0.0, "regions": [
        {"id": 1, "class": "person", "area": 20512, "centroid": [640.5, 360.25],
         "bbox": [560, 200, 161, 321], "polygon": [[600, 200], [598, 201], ...]}]}

- ``frame``: the frame index (int, from 0); ``t``: seconds since the start of the stream.
- ``id``: the tracker's id, stable across frames; ``class``: the class name.
- ``area``: pixels; ``centroid``: ``[x, y]``; ``bbox``: ``[x, y, w, h]`` in pixels.
- ``polygon``: the outer outline as ``[x, y]`` points (simplified; not smoothed over time).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from realtime_seg.errors import InputError, OutputError
from realtime_seg.io.atomic import AtomicOutput, move_into_place, open_text_beside, os_reason
from realtime_seg.tracking.tracker import TrackedRegion

SCHEMA_KEYS = ("frame", "t", "regions")
REGION_KEYS = ("id", "class", "area", "centroid", "bbox", "polygon")


@dataclass(frozen=True)
class OutlinesSummary:
    """Frames written, distinct region ids seen, and the most regions in any one frame."""

    frames: int = 0
    distinct_ids: int = 0
    max_simultaneous: int = 0

    def __str__(self) -> str:
        return f"{self.frames} frames, {self.distinct_ids} distinct regions, at most {self.max_simultaneous} at once"


@dataclass(frozen=True, eq=False)
class OutlineRegion:
    """One region of one frame as read back from a file; ``polygon`` is int32 ``(N, 2)``."""

    id: int
    class_name: str
    area: int
    centroid: tuple[float, float]
    bbox: tuple[int, int, int, int]
    polygon: np.ndarray


@dataclass(frozen=True)
class OutlineFrame:
    """One line of an outlines file."""

    frame: int
    t: float
    regions: tuple[OutlineRegion, ...]


def region_record(tr: TrackedRegion) -> dict[str, Any]:
    """The JSON object for one tracked region."""
    r = tr.region
    return {
        "id": tr.id,
        "class": r.class_name,
        "area": int(r.area),
        "centroid": [round(float(r.centroid[0]), 2), round(float(r.centroid[1]), 2)],
        "bbox": [int(v) for v in r.bbox],
        "polygon": r.contour.tolist(),
    }


class OutlinesWriter(AtomicOutput):
    """Writes ``path`` as JSON Lines, one frame per line; the file appears complete on ``close()`` or not at all.

    The constructor checks the destination and opens a temporary file next to it, so an unwritable
    path fails with :class:`OutputError` before any processing starts. Use it as a context manager:
    leaving the block with an exception removes the temporary file and leaves nothing under ``path``.
    ``overwrite=False``: a file that exists under ``path`` by the time this one is complete is left alone
    (:class:`OutputError`).
    """

    def __init__(self, path: str | os.PathLike[str], *, overwrite: bool = True) -> None:
        self.path = Path(path)
        self.overwrite = overwrite
        if self.path.is_dir():
            raise OutputError(f"outlines output is a folder, not a file: {self.path}")
        fh, self._tmp = open_text_beside(self.path)
        self._fh: IO[str] | None = fh
        self._ids: set[int] = set()
        self._frames = 0
        self._max = 0
        self._last_frame = -1
        self._aborted = False

    @property
    def summary(self) -> OutlinesSummary:
        return OutlinesSummary(self._frames, len(self._ids), self._max)

    def write(self, frame_index: int, t: float, regions: Sequence[TrackedRegion]) -> None:
        """Append one frame. Frame indices must increase; ``t`` is in seconds."""
        if self._fh is None:
            raise OutputError(f"outlines writer for {self.path} is closed")
        if isinstance(frame_index, bool) or not isinstance(frame_index, (int, np.integer)) or frame_index < 0:
            raise ValueError(f"frame_index must be an int >= 0, got {frame_index!r}")
        if frame_index <= self._last_frame:
            raise ValueError(f"frame_index must increase: got {frame_index} after {self._last_frame}")
        t = float(t)
        if not math.isfinite(t):
            raise ValueError(f"t must be a finite number of seconds, got {t}")
        records = []
        for tr in regions:
            if not isinstance(tr, TrackedRegion):
                raise TypeError(f"write() takes TrackedRegion objects (from RegionTracker), got {type(tr).__name__}")
            records.append(region_record(tr))
            self._ids.add(tr.id)
        line = json.dumps({"frame": int(frame_index), "t": round(t, 6), "regions": records}, separators=(",", ":"))
        try:
            self._fh.write(line + "\n")
        except OSError as exc:
            self.abort()
            raise OutputError(f"cannot write {self.path}: {os_reason(exc)}") from exc
        self._last_frame = int(frame_index)
        self._frames += 1
        self._max = max(self._max, len(records))

    def close(self) -> Path:
        """Flush, then move the complete file to ``path``. Idempotent; after :meth:`abort` it raises OutputError."""
        if self._aborted:
            raise OutputError(f"{self.path} was not written: its lines were discarded after an error")
        if self._fh is not None:
            fh, self._fh = self._fh, None
            try:
                fh.flush()
                os.fsync(fh.fileno())
                fh.close()
            except OSError as exc:
                with contextlib.suppress(OSError):  # closing flushes again, and fails again on a full disk
                    fh.close()
                self._tmp.unlink(missing_ok=True)
                self._aborted = True
                raise OutputError(f"cannot write {self.path}: {os_reason(exc)}") from exc
            move_into_place(self._tmp, self.path, overwrite=self.overwrite)
        return self.path

    def abort(self) -> None:
        """Drop what was written; nothing appears under ``path``. Idempotent."""
        if self._fh is not None:
            fh, self._fh = self._fh, None
            self._aborted = True
            with contextlib.suppress(OSError):  # a full disk fails the final flush too; the file goes anyway
                fh.close()
        self._tmp.unlink(missing_ok=True)


# -- reading ---------------------------------------------------------------------------------------------


class _Bad(Exception):
    pass


def _int(v: Any, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise _Bad(f"{what} must be an integer, got {json.dumps(v)[:40]}")
    return v


def _num(v: Any, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise _Bad(f"{what} must be a number, got {json.dumps(v)[:40]}")
    return float(v)


def _parse_region(r: Any, where: str) -> OutlineRegion:
    if not isinstance(r, dict):
        raise _Bad(f"{where} must be an object, got {json.dumps(r)[:40]}")
    missing = [k for k in REGION_KEYS if k not in r]
    if missing:
        raise _Bad(f"{where} lacks {', '.join(repr(k) for k in missing)} (needs {', '.join(REGION_KEYS)})")
    rid = _int(r["id"], f"{where}.id")
    if not isinstance(r["class"], str):
        raise _Bad(f"{where}.class must be a string, got {json.dumps(r['class'])[:40]}")
    area = _int(r["area"], f"{where}.area")
    c = r["centroid"]
    if not isinstance(c, list) or len(c) != 2:
        raise _Bad(f"{where}.centroid must be [x, y], got {json.dumps(c)[:40]}")
    b = r["bbox"]
    if not isinstance(b, list) or len(b) != 4:
        raise _Bad(f"{where}.bbox must be [x, y, w, h], got {json.dumps(b)[:40]}")
    p = r["polygon"]
    if not isinstance(p, list) or not p or not all(isinstance(q, list) and len(q) == 2 for q in p):
        raise _Bad(f"{where}.polygon must be a non-empty list of [x, y] points")
    for i, q in enumerate(p):
        _int(q[0], f"{where}.polygon[{i}][0]")
        _int(q[1], f"{where}.polygon[{i}][1]")
    poly = np.array(p, dtype=np.int32).reshape(-1, 2)
    poly.setflags(write=False)
    return OutlineRegion(
        rid,
        r["class"],
        area,
        (_num(c[0], f"{where}.centroid[0]"), _num(c[1], f"{where}.centroid[1]")),
        (
            _int(b[0], f"{where}.bbox[0]"),
            _int(b[1], f"{where}.bbox[1]"),
            _int(b[2], f"{where}.bbox[2]"),
            _int(b[3], f"{where}.bbox[3]"),
        ),
        poly,
    )


def parse_outline_line(line: str) -> OutlineFrame:
    """One line of an outlines file; raises ``ValueError`` naming the bad field."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg} at column {exc.colno})") from None
    try:
        if not isinstance(obj, dict):
            raise _Bad(f"expected a JSON object with {', '.join(SCHEMA_KEYS)}, got {type(obj).__name__}")
        missing = [k for k in SCHEMA_KEYS if k not in obj]
        if missing:
            raise _Bad(f"lacks {', '.join(repr(k) for k in missing)} (needs {', '.join(SCHEMA_KEYS)})")
        frame = _int(obj["frame"], "frame")
        t = _num(obj["t"], "t")
        regs = obj["regions"]
        if not isinstance(regs, list):
            raise _Bad(f"regions must be a list, got {json.dumps(regs)[:40]}")
        return OutlineFrame(frame, t, tuple(_parse_region(r, f"regions[{i}]") for i, r in enumerate(regs)))
    except _Bad as exc:
        raise ValueError(str(exc)) from None


def read_outlines(path: str | os.PathLike[str]) -> Iterator[OutlineFrame]:
    """Yield the frames of an outlines file in order; a bad line raises :class:`InputError` naming it."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"outlines file not found: {path}")
    return _read_lines(path)


def _read_lines(path: Path) -> Iterator[OutlineFrame]:
    with path.open("r", encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                yield parse_outline_line(line)
            except ValueError as exc:
                raise InputError(f"{path}:{n}: {exc}") from None


def summarize(frames: Iterable[OutlineFrame]) -> OutlinesSummary:
    """The summary of frames read back (what ``OutlinesWriter.summary`` said when writing them)."""
    ids: set[int] = set()
    count = most = 0
    for f in frames:
        count += 1
        most = max(most, len(f.regions))
        ids.update(r.id for r in f.regions)
    return OutlinesSummary(count, len(ids), most)
