"""Tracked object outlines as JSON Lines, and object counts over time as CSV; both written atomically.

Outlines schema 2 (one line per frame, in frame order)::

    {"schema": 2, "frame": 0, "t": 0.0, "regions": [
        {"id": 1, "class": "person", "area": 20512, "centroid": [640.5, 360.25],
         "bbox": [560, 200, 161, 321], "polygon": [[600, 200], [598, 201], ...],
         "parts": [[[600, 200], [598, 201], ...], [[700, 410], ...]]}]}

- ``schema``: 2 (files without it are schema 1: no ``parts``); ``frame``: the frame index (int, from 0);
  ``t``: seconds since the start of the stream.
- ``id``: the tracker's id, stable across frames; ``class``: the class name.
- ``area``: pixels; ``centroid``: ``[x, y]``; ``bbox``: ``[x, y, w, h]`` in pixels, of the whole object.
- ``polygon``: the outer outline of the object's largest part as ``[x, y]`` points (simplified; not smoothed
  over time), so readers of schema 1 keep working; ``parts``: the outlines of every part, largest first.

:func:`read_outlines` reads both schemas (a schema-1 region's ``parts`` is its ``polygon``).

Counts CSV (:class:`CountsWriter`), one row per frame and class seen so far::

    frame,t,class,count,distinct_so_far
    0,0.000000,person,2,2
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from realtime_seg.errors import InputError, OutputError
from realtime_seg.io.atomic import AtomicOutput, move_into_place, open_text_beside, os_reason
from realtime_seg.tracking.tracker import TrackedRegion

SCHEMA = 2
SCHEMA_KEYS = ("frame", "t", "regions")
REGION_KEYS = ("id", "class", "area", "centroid", "bbox", "polygon")
COUNTS_HEADER = ("frame", "t", "class", "count", "distinct_so_far")


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
    """One object of one frame as read back from a file; ``polygon`` and each of ``parts`` are int32 ``(N, 2)``."""

    id: int
    class_name: str
    area: int
    centroid: tuple[float, float]
    bbox: tuple[int, int, int, int]
    polygon: np.ndarray
    parts: tuple[np.ndarray, ...] = ()

    def __post_init__(self) -> None:
        if not self.parts:
            object.__setattr__(self, "parts", (self.polygon,))


@dataclass(frozen=True)
class OutlineFrame:
    """One line of an outlines file (``schema``: 1 or 2)."""

    frame: int
    t: float
    regions: tuple[OutlineRegion, ...]
    schema: int = SCHEMA


def region_record(tr: TrackedRegion) -> dict[str, Any]:
    """The JSON object for one tracked object."""
    r, c = tr.region, tr.centroid
    return {
        "id": tr.id,
        "class": r.class_name,
        "area": int(tr.area),
        "centroid": [round(float(c[0]), 2), round(float(c[1]), 2)],
        "bbox": [int(v) for v in tr.bbox],
        "polygon": r.contour.tolist(),
        "parts": [p.contour.tolist() for p in tr.parts],
    }


class _LineWriter(AtomicOutput):
    """A text file written line by line under a temporary name, moved to ``path`` on ``close()``.

    ``overwrite=False``: a file that exists under ``path`` by the time this one is complete is left alone
    (:class:`OutputError`).
    """

    what = "output"

    def __init__(self, path: str | os.PathLike[str], *, overwrite: bool = True) -> None:
        self.path = Path(path)
        self.overwrite = overwrite
        if self.path.is_dir():
            raise OutputError(f"{self.what} is a folder, not a file: {self.path}")
        fh, self._tmp = open_text_beside(self.path)
        self._fh: IO[str] | None = fh
        self._last_frame = -1
        self._aborted = False

    def _check_frame(self, frame_index: int, t: float) -> float:
        if self._fh is None:
            raise OutputError(f"{self.what} writer for {self.path} is closed")
        if isinstance(frame_index, bool) or not isinstance(frame_index, (int, np.integer)) or frame_index < 0:
            raise ValueError(f"frame_index must be an int >= 0, got {frame_index!r}")
        if frame_index <= self._last_frame:
            raise ValueError(f"frame_index must increase: got {frame_index} after {self._last_frame}")
        t = float(t)
        if not math.isfinite(t):
            raise ValueError(f"t must be a finite number of seconds, got {t}")
        return t

    def _write(self, text: str) -> None:
        assert self._fh is not None
        try:
            self._fh.write(text)
        except OSError as exc:
            self.abort()
            raise OutputError(f"cannot write {self.path}: {os_reason(exc)}") from exc

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


class OutlinesWriter(_LineWriter):
    """Writes ``path`` as JSON Lines, one frame per line; the file appears complete on ``close()`` or not at all.

    The constructor checks the destination and opens a temporary file next to it, so an unwritable
    path fails with :class:`OutputError` before any processing starts. Use it as a context manager:
    leaving the block with an exception removes the temporary file and leaves nothing under ``path``.
    ``overwrite=False``: a file that exists under ``path`` by the time this one is complete is left alone
    (:class:`OutputError`).
    """

    what = "outlines output"

    def __init__(self, path: str | os.PathLike[str], *, overwrite: bool = True) -> None:
        super().__init__(path, overwrite=overwrite)
        self._ids: set[int] = set()
        self._frames = 0
        self._max = 0

    @property
    def summary(self) -> OutlinesSummary:
        return OutlinesSummary(self._frames, len(self._ids), self._max)

    def write(self, frame_index: int, t: float, regions: Sequence[TrackedRegion]) -> None:
        """Append one frame. Frame indices must increase; ``t`` is in seconds."""
        t = self._check_frame(frame_index, t)
        records = []
        for tr in regions:
            if not isinstance(tr, TrackedRegion):
                raise TypeError(f"write() takes TrackedRegion objects (from RegionTracker), got {type(tr).__name__}")
            records.append(region_record(tr))
        line = json.dumps(
            {"schema": SCHEMA, "frame": int(frame_index), "t": round(t, 6), "regions": records}, separators=(",", ":")
        )
        self._write(line + "\n")
        self._ids.update(tr.id for tr in regions)
        self._last_frame = int(frame_index)
        self._frames += 1
        self._max = max(self._max, len(records))


class CountsWriter(_LineWriter):
    """Writes ``path`` as CSV: per frame, per class seen so far, the objects present and the distinct ids so far.

    Columns: ``frame,t,class,count,distinct_so_far``. ``count`` is what the tracker counts now (objects seen,
    or held inside another's region); ``distinct_so_far`` the ids it has given that class. The file appears
    complete on ``close()`` or not at all, like :class:`OutlinesWriter`.
    """

    what = "counts output"

    def __init__(self, path: str | os.PathLike[str], *, overwrite: bool = True) -> None:
        super().__init__(path, overwrite=overwrite)
        self._write(",".join(COUNTS_HEADER) + "\n")
        self._rows = 0

    @property
    def rows(self) -> int:
        return self._rows

    def write(self, frame_index: int, t: float, counts: Mapping[str, int], distinct: Mapping[str, int]) -> None:
        """Append one frame: a row per class in ``distinct`` (``counts`` missing a class means 0).

        Pass ``RegionTracker.stats.counts`` and ``.distinct``.
        """
        t = self._check_frame(frame_index, t)
        unknown = sorted(set(counts) - set(distinct))
        if unknown:
            raise ValueError(f"counts has classes without a distinct count: {', '.join(unknown)}")
        rows = []
        for cls in sorted(distinct):
            n, d = counts.get(cls, 0), distinct[cls]
            if isinstance(n, bool) or isinstance(d, bool) or not (0 <= int(n) <= int(d)):
                raise ValueError(f"need 0 <= count <= distinct for {cls!r}, got {n!r} and {d!r}")
            name = cls if not any(ch in cls for ch in ',"\n') else '"' + cls.replace('"', '""') + '"'
            rows.append(f"{int(frame_index)},{t:.6f},{name},{int(n)},{int(d)}\n")
        self._write("".join(rows))
        self._last_frame = int(frame_index)
        self._rows += len(rows)


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


def _parse_region(r: Any, where: str, schema: int) -> OutlineRegion:
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
    poly = _polygon(r["polygon"], f"{where}.polygon")
    parts: tuple[np.ndarray, ...] = ()
    if schema >= 2:
        if "parts" not in r:
            raise _Bad(f"{where} lacks 'parts' (schema 2 needs {', '.join(REGION_KEYS)}, parts)")
        ps = r["parts"]
        if not isinstance(ps, list) or not ps:
            raise _Bad(f"{where}.parts must be a non-empty list of polygons")
        parts = tuple(_polygon(q, f"{where}.parts[{i}]") for i, q in enumerate(ps))
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
        parts,
    )


def _polygon(p: Any, where: str) -> np.ndarray:
    if not isinstance(p, list) or not p or not all(isinstance(q, list) and len(q) == 2 for q in p):
        raise _Bad(f"{where} must be a non-empty list of [x, y] points")
    for i, q in enumerate(p):
        _int(q[0], f"{where}[{i}][0]")
        _int(q[1], f"{where}[{i}][1]")
    poly = np.array(p, dtype=np.int32).reshape(-1, 2)
    poly.setflags(write=False)
    return poly


def parse_outline_line(line: str) -> OutlineFrame:
    """One line of an outlines file (schema 1 or 2); raises ``ValueError`` naming the bad field."""
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
        schema = _int(obj.get("schema", 1), "schema")
        if schema not in (1, SCHEMA):
            raise _Bad(f"schema must be 1 or {SCHEMA}, got {schema} (a newer realtime-seg wrote this file?)")
        frame = _int(obj["frame"], "frame")
        t = _num(obj["t"], "t")
        regs = obj["regions"]
        if not isinstance(regs, list):
            raise _Bad(f"regions must be a list, got {json.dumps(regs)[:40]}")
        regions = tuple(_parse_region(r, f"regions[{i}]", schema) for i, r in enumerate(regs))
        return OutlineFrame(frame, t, regions, schema)
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
