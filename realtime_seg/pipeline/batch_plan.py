"""Planning a batch (no argparse, no Qt): which files, where their outputs go, what was done before.

- :func:`collect_inputs` turns files, folders (recursive, by video suffix), globs and list files into
  :class:`BatchInput` s, each with the relative path its outputs keep under the output folder.
- :class:`OutputTemplates` names each input's outputs (``{relpath}.mp4``, ``{relpath}_masks`` ...).
- :func:`settings_hash` covers what decides the outputs' content; :func:`settings_state` carries the
  settings to worker processes and Ray actors as plain data.
- :class:`Manifest` is ``DIR/batch.jsonl``: one JSON line per finished file (:class:`FileRecord`), appended
  with one ``write`` each, so it stays valid JSON Lines after a kill; :func:`plan` reads it to resume.

Running the plan: :mod:`realtime_seg.pipeline.batch`.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import logging
import os
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from realtime_seg.errors import InputError, OutputError, SettingsError
from realtime_seg.pipeline.settings import ProcessingSettings
from realtime_seg.pipeline.sinks import VideoOutputs
from realtime_seg.postprocess.refine import RefineConfig

logger = logging.getLogger(__name__)

#: file suffixes a folder scan picks up (case-insensitive)
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".mpg", ".mpeg", ".ts", ".mts", ".wmv", ".flv")
#: the manifest's file name in the output folder
MANIFEST_NAME = "batch.jsonl"

Status = Literal["done", "failed", "skipped"]


# -- inputs ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BatchInput:
    """One input file: ``path`` (absolute) and ``rel``, the relative path (POSIX, with suffix) its outputs
    keep under the output folder."""

    path: Path
    rel: PurePosixPath

    def __post_init__(self) -> None:
        if not Path(self.path).is_absolute():
            raise ValueError(f"path must be absolute, got {self.path}")
        if PurePosixPath(self.rel).is_absolute() or ".." in PurePosixPath(self.rel).parts:
            raise ValueError(f"rel must be a relative path inside the output folder, got {self.rel}")


def is_video_name(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES and not path.name.startswith(".")


def _scan(folder: Path, exclude: Path | None) -> list[Path]:
    found = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        r = Path(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (exclude is None or (r / d) != exclude))
        found += [r / f for f in sorted(files) if is_video_name(Path(f))]
    return found


def _glob_base(pattern: str) -> Path:
    """The folder part of a glob before its first wildcard: what relative paths are taken against."""
    parts = Path(pattern).parts
    base: list[str] = []
    for part in parts[:-1]:
        if glob.has_magic(part):
            break
        base.append(part)
    return Path(*base) if base else Path(".")


def read_list(list_file: Path) -> list[str]:
    """Paths from a list file: one per line; blank lines and ``#`` comments are skipped; relative paths are
    taken from the list file's folder."""
    try:
        text = Path(list_file).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read --from-list {list_file}: {exc.strerror or exc}") from exc
    items = []
    for line in text.splitlines():
        s = line.strip()
        if s and not s.startswith("#"):
            p = Path(s).expanduser()
            items.append(str(p if p.is_absolute() else Path(list_file).parent / p))
    return items


def collect_inputs(inputs: Sequence[str | Path], *, out_dir: Path | None = None) -> list[BatchInput]:
    """Files, folders (recursive, video suffixes, hidden names skipped) and globs -> inputs in a stable order.

    Relative paths: a folder's files keep their path below the folder, a glob's below its folder part,
    and files named one by one keep their path below the deepest folder they share. Files inside
    ``out_dir`` are never picked up by a folder scan (a re-run does not process its own outputs).
    """
    exclude = Path(out_dir).resolve() if out_dir is not None else None
    grouped: list[BatchInput] = []
    loose: list[Path] = []
    for item in inputs:
        s = str(item)
        p = Path(s).expanduser()
        if p.is_dir():
            grouped += [BatchInput(f.resolve(), PurePosixPath(f.relative_to(p).as_posix())) for f in _scan(p, exclude)]
        elif glob.has_magic(s) and not p.exists():
            base = _glob_base(s)
            matches = sorted(Path(m) for m in glob.glob(s, recursive=True))
            files = [m for m in matches if m.is_file()]
            files = [m for m in files if exclude is None or not m.resolve().is_relative_to(exclude)]
            if not files:
                raise InputError(f"no files match {s}")
            grouped += [BatchInput(f.resolve(), PurePosixPath(f.relative_to(base).as_posix())) for f in files]
        else:
            loose.append(p)  # a file, or one that vanished: it fails on its own (status failed)
    if loose:
        absolute = [Path(os.path.abspath(p)) for p in loose]
        common = Path(os.path.commonpath([str(a.parent) for a in absolute]))
        grouped += [BatchInput(a, PurePosixPath(a.relative_to(common).as_posix())) for a in absolute]
    seen: dict[Path, BatchInput] = {}
    for b in grouped:
        seen.setdefault(b.path, b)
    if not seen:
        named = ", ".join(map(str, inputs))
        raise InputError(f"no video files found in {named} (suffixes: {' '.join(VIDEO_SUFFIXES)})")
    return list(seen.values())


# -- output names ----------------------------------------------------------------------------------
#: the fields an output template may use, e.g. for ``talks/day1/intro.mov``
TEMPLATE_FIELDS = {
    "relpath": "the relative path without its suffix (talks/day1/intro)",
    "reldir": "the relative folder (talks/day1, or . at the top)",
    "stem": "the file name without its suffix (intro)",
    "name": "the file name (intro.mov)",
    "ext": "the suffix without the dot (mov)",
}


def check_template(template: str, option: str) -> str:
    """A template must name only known fields and at least one that differs between files."""
    try:
        names = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as exc:
        raise SettingsError(f"{option} {template!r} is not a valid template: {exc}") from exc
    unknown = sorted(n for n in names if n not in TEMPLATE_FIELDS)
    if unknown:
        raise SettingsError(
            f"{option} {template!r}: unknown field {{{unknown[0]}}}; valid fields: "
            + ", ".join(f"{{{n}}}" for n in TEMPLATE_FIELDS)
        )
    if not names & {"relpath", "stem", "name"}:
        raise SettingsError(f"{option} {template!r} names the same path for every file; use {{relpath}} or {{stem}}")
    return template


def fill_template(template: str, rel: PurePosixPath) -> PurePosixPath:
    values = {
        "relpath": str(rel.with_suffix("")),
        "reldir": str(rel.parent),
        "stem": rel.stem,
        "name": rel.name,
        "ext": rel.suffix.lstrip("."),
    }
    return PurePosixPath(template.format(**values))


@dataclass(frozen=True)
class OutputTemplates:
    """How each input's outputs are named, relative to the output folder (or absolute). ``None``: not
    written. ``codec``/``crf``/``preset`` as in :class:`~realtime_seg.pipeline.sinks.VideoOutputs`."""

    video: str | None = "{relpath}.mp4"
    alpha: str | None = None
    masks: str | None = None
    outlines: str | None = None
    counts: str | None = None
    codec: str = VideoOutputs.codec
    crf: int = VideoOutputs.crf
    preset: str = VideoOutputs.preset

    def __post_init__(self) -> None:
        for name, option in (("video", "--video-out"), ("alpha", "--alpha-out"), ("masks", "--masks-out")):
            value = getattr(self, name)
            if value is not None:
                check_template(value, option)
        for name, option in (("outlines", "--outlines-out"), ("counts", "--counts-out")):
            value = getattr(self, name)
            if value is not None:
                check_template(value, option)
        if all(t is None for t in (self.video, self.alpha, self.masks, self.outlines, self.counts)):
            raise SettingsError(
                "nothing to write: keep the video or give --masks-out, --alpha-out, --outlines-out or --counts-out"
            )

    def for_input(self, out_dir: Path, rel: PurePosixPath) -> VideoOutputs:
        def path(t: str | None) -> Path | None:
            return None if t is None else Path(out_dir) / fill_template(t, rel)

        return VideoOutputs(
            video=path(self.video),
            alpha=path(self.alpha),
            masks=path(self.masks),
            outlines=path(self.outlines),
            counts=path(self.counts),
            codec=self.codec,
            crf=self.crf,
            preset=self.preset,
            overwrite=True,  # the plan decided this file is to be (re)done; the manifest says what was done
        )


def output_paths(outputs: VideoOutputs) -> tuple[Path, ...]:
    named = (outputs.video, outputs.alpha, outputs.masks, outputs.outlines, outputs.counts)
    return tuple(p for p in named if p is not None)


# -- settings: hashed for resuming, and sent to worker processes ------------------------------------
def settings_state(settings: ProcessingSettings) -> dict[str, Any]:
    """Plain data for ``settings`` (picklable, JSON-able): :func:`settings_from_state` rebuilds them."""
    state = {f.name: getattr(settings, f.name) for f in fields(settings)}
    state["effect_options"] = dict(settings.effect_options)
    state["refine"] = asdict(settings.refine)
    return state


def settings_from_state(state: Mapping[str, Any]) -> ProcessingSettings:
    s = dict(state)
    s["refine"] = RefineConfig(**s["refine"])
    return ProcessingSettings(**s)


def _file_identity(value: Any) -> Any:
    """A path-like option names a file: hash by its size and modification time too, so a changed file redoes."""
    if isinstance(value, str) and len(value) < 4096:
        p = Path(value).expanduser()
        with contextlib.suppress(OSError):
            if p.is_file():
                st = p.stat()
                return [value, st.st_size, st.st_mtime_ns]
    return value


def settings_hash(settings: ProcessingSettings, templates: OutputTemplates) -> str:
    """What decides the outputs' content: the settings (less ``threads``, which only changes speed), the
    model file and a background file (by size and mtime), and the encoder options. 16 hex digits."""
    state = settings_state(settings)
    del state["threads"]
    state["model"] = _file_identity(state["model"])
    state["effect_options"] = {k: _file_identity(v) for k, v in state["effect_options"].items()}
    state["encode"] = [templates.codec, templates.crf, templates.preset]
    blob = json.dumps(state, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


# -- the manifest ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class FileRecord:
    """One manifest line: how one file ended."""

    input: str
    rel: str
    status: Status
    outputs: tuple[str, ...] = ()
    frames: int = 0
    seconds: float = 0.0
    fps: float = 0.0
    error: str | None = None
    host: str = ""
    worker: str = ""
    settings_hash: str = ""
    model: str = ""  #: the model and backend that ran (``auto`` picks per file)
    finished: str = ""  #: UTC time, ISO 8601
    attempts: int = 1

    def __post_init__(self) -> None:
        if self.status not in ("done", "failed", "skipped"):
            raise ValueError(f"status must be done, failed or skipped, got {self.status!r}")
        if self.frames < 0 or self.seconds < 0:
            raise ValueError(f"frames and seconds must be >= 0, got {self.frames}, {self.seconds}")
        object.__setattr__(self, "outputs", tuple(self.outputs))
        if not self.finished:
            object.__setattr__(self, "finished", datetime.now(timezone.utc).isoformat(timespec="seconds"))

    def to_json(self) -> str:
        d = asdict(self)
        d["outputs"] = list(self.outputs)
        d["seconds"] = round(self.seconds, 3)
        d["fps"] = round(self.fps, 2)
        return json.dumps(d, ensure_ascii=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FileRecord:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


class Manifest:
    """``DIR/batch.jsonl``: one line per finished file, appended with a single ``write`` (and fsync), so a
    kill leaves whole lines only. A torn last line (power loss) is cut off when the file is next opened."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def read(self) -> list[FileRecord]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise OutputError(f"cannot read the manifest {self.path}: {exc.strerror or exc}") from exc
        records = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                records.append(FileRecord.from_dict(json.loads(line)))
            except (ValueError, TypeError) as exc:
                logger.warning("%s line %d is not a record, ignored: %s", self.path, n, exc)
        return records

    def latest(self) -> dict[str, FileRecord]:
        """The last outcome (``done`` or ``failed``; ``skipped`` lines only repeat one) per input path."""
        state: dict[str, FileRecord] = {}
        for r in self.read():
            if r.status != "skipped":
                state[r.input] = r
        return state

    def repair(self) -> None:
        """Cut a torn last line (no newline at the end) so appends keep the file valid JSON Lines."""
        try:
            with open(self.path, "rb+") as fh:
                data = fh.read()
                if data and not data.endswith(b"\n"):
                    keep = data.rfind(b"\n") + 1
                    logger.warning("%s: cutting a torn last line (%d bytes)", self.path, len(data) - keep)
                    fh.truncate(keep)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise OutputError(f"cannot open the manifest {self.path}: {exc.strerror or exc}") from exc

    def append(self, record: FileRecord) -> None:
        data = (record.to_json() + "\n").encode("utf-8")
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise OutputError(f"cannot append to the manifest {self.path}: {exc.strerror or exc}") from exc


# -- the plan --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BatchJob:
    """One file to process: the input, where its outputs go, and its length (for the order and the ETA)."""

    index: int
    input: BatchInput
    outputs: VideoOutputs
    frames_hint: int | None = None
    attempts: int = 0

    @property
    def key(self) -> str:
        return str(self.input.path)


def probe_frames(path: Path) -> int | None:
    """The container's frame count (or duration x rate); ``None`` when unknown or unreadable. Header only."""
    import av

    try:
        with av.open(str(path)) as c:
            if not c.streams.video:
                return None
            v = c.streams.video[0]
            if v.frames:
                return int(v.frames)
            rate = v.average_rate or v.guessed_rate
            if c.duration and rate:
                return int(c.duration / 1_000_000 * float(rate))
    except (av.FFmpegError, OSError, ValueError):
        return None
    return None


@dataclass(frozen=True)
class Plan:
    """What a run does: ``todo`` (longest first) and ``skipped`` (records to append as ``skipped``)."""

    todo: tuple[BatchJob, ...]
    skipped: tuple[FileRecord, ...]
    failed_before: tuple[FileRecord, ...] = ()  #: failures from an earlier run that are not retried

    @property
    def frames_hint(self) -> int:
        return sum(j.frames_hint or 0 for j in self.todo)


def _skipped(prev: FileRecord, why: str) -> FileRecord:
    """A ``skipped`` line: the earlier outputs, no frames (so summing a manifest's frames counts work once)."""
    return replace(prev, status="skipped", error=why, frames=0, seconds=0.0, fps=0.0, finished="", attempts=0)


def plan(
    inputs: Sequence[BatchInput],
    out_dir: Path,
    templates: OutputTemplates,
    shash: str,
    previous: Mapping[str, FileRecord],
    *,
    force: bool = False,
    retry_failed: bool = False,
    probe: Callable[[Path], int | None] = probe_frames,
) -> Plan:
    """Decide per input: skip (done earlier with the same settings hash and every output present; or failed
    earlier and ``retry_failed`` is off) or do. ``force`` does everything. Clashing outputs are an error."""
    jobs: list[BatchJob] = []
    skipped: list[FileRecord] = []
    failed_before: list[FileRecord] = []
    owner: dict[Path, Path] = {}
    for b in inputs:
        outs = templates.for_input(out_dir, b.rel)
        for p in output_paths(outs):
            q = Path(os.path.abspath(p))
            if q in owner:
                raise SettingsError(
                    f"{owner[q]} and {b.path} would both write {q}; "
                    "use a template with {name} or {ext} (e.g. {relpath}_{ext}.mp4)"
                )
            if q == b.path:
                raise OutputError(f"{q} is the input file; choose another --out-dir or template")
            owner[q] = b.path
        prev = previous.get(str(b.path))
        if prev is not None and not force and prev.settings_hash == shash:
            if prev.status == "done" and all(Path(p).exists() for p in output_paths(outs)):
                skipped.append(_skipped(prev, "done earlier"))
                continue
            if prev.status == "failed" and not retry_failed:
                failed_before.append(prev)
                note = f"failed earlier (--retry-failed retries it): {prev.error}"
                skipped.append(_skipped(prev, note))
                continue
        jobs.append(BatchJob(len(jobs), b, outs))
    with_len = [replace(j, frames_hint=probe(j.input.path)) for j in jobs]
    order = sorted(with_len, key=lambda j: (-(j.frames_hint or 0), str(j.input.rel)))
    todo = tuple(replace(j, index=i) for i, j in enumerate(order))
    return Plan(todo, tuple(skipped), tuple(failed_before))
