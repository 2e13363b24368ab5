"""Where processed frames go: the composited video, the alpha as a video or PNGs, region outlines, counts.

Each sink writes under a temporary name and appears under its final name only in :meth:`FrameSink.close`;
:meth:`FrameSink.abort` cleans up after a failure (or keeps a playable partial file when asked to).
:func:`open_sinks` builds the sinks a :class:`VideoOutputs` asks for.
"""

from __future__ import annotations

import functools
import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from realtime_seg.errors import OutputError, SettingsError
from realtime_seg.io.images import alpha_u8
from realtime_seg.io.video import Frame, VideoInfo
from realtime_seg.io.video_writer import VideoWriter, check_output_path, write_mask_png
from realtime_seg.pipeline.processor import Processed

logger = logging.getLogger(__name__)

#: x264 preset: the fastest; ``preset="veryfast"`` gives ~3x smaller files for less speed (docs/benchmarks.md)
DEFAULT_PRESET = "ultrafast"
DEFAULT_CODEC = "libx264"
DEFAULT_CRF = 23


@dataclass(frozen=True)
class VideoOutputs:
    """What a video run writes; at least one of ``video`` (the composited frames), ``alpha`` (a grey alpha
    video), ``masks`` (a folder of ``000000.png`` alpha frames), ``outlines`` (JSON Lines) or ``counts`` (CSV of
    the objects per class over time) is needed. ``codec``, ``crf`` and ``preset`` apply to the two videos.

    ``overwrite``: an output file that exists already, or a ``masks`` folder that holds files, is an error
    (:class:`OutputError`, before any work) unless this is true; then existing files are replaced when the
    new ones are complete, and the numbered frames (``000123.png``) already in ``masks`` are removed before
    the first frame, so the folder never mixes two runs."""

    video: Path | None = None
    alpha: Path | None = None
    masks: Path | None = None
    outlines: Path | None = None
    counts: Path | None = None
    codec: str = DEFAULT_CODEC
    crf: int = DEFAULT_CRF
    preset: str = DEFAULT_PRESET
    overwrite: bool = False

    def __post_init__(self) -> None:
        for name in ("video", "alpha", "masks", "outlines", "counts"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, Path(value))
        if all(p is None for p in (self.video, self.alpha, self.masks, self.outlines, self.counts)):
            raise SettingsError(
                "nothing to write: give -o OUT.mp4, --masks-out DIR, --alpha-out FILE, --outlines-out FILE "
                "or --counts-out FILE"
            )

    @property
    def files(self) -> tuple[tuple[Path, str], ...]:
        named = (
            (self.video, "output"),
            (self.alpha, "--alpha-out"),
            (self.outlines, "--outlines-out"),
            (self.counts, "--counts-out"),
        )
        return tuple((p, kind) for p, kind in named if p is not None)

    def check(self, input_path: Path) -> None:
        """Fail before any work when an output cannot be written, or would overwrite the input or another output."""
        for path, kind in self.files:
            if kind in ("--outlines-out", "--counts-out"):
                if not path.parent.is_dir():
                    raise OutputError(f"{kind} folder does not exist: {path.parent}")
                if path.resolve() == Path(input_path).resolve():
                    raise OutputError(f"{kind} {path} is the input file; choose another name")
            else:
                check_output_path(path, inputs=[input_path], kind=kind)
        resolved = [p.resolve() for p, _ in self.files]
        if len(set(resolved)) != len(resolved):
            raise OutputError(f"two outputs are the same file: {', '.join(str(p) for p, _ in self.files)}")
        if self.masks is not None:
            if not self.masks.parent.is_dir():
                raise OutputError(f"--masks-out folder's parent does not exist: {self.masks.parent}")
            if self.masks.exists() and not self.masks.is_dir():
                raise OutputError(f"--masks-out is a file, expected a folder: {self.masks}")
        if not self.overwrite:
            self._refuse_existing()

    def _refuse_existing(self) -> None:
        for path, kind in self.files:
            if path.exists():
                raise OutputError(f"{kind} {path} exists already; give --overwrite (-y) to replace it")
        if self.masks is not None and self.masks.is_dir():
            entries = sorted(p.name for p in self.masks.iterdir())
            if entries:
                shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
                raise OutputError(
                    f"--masks-out folder {self.masks} is not empty ({len(entries)} files: {shown}); give --overwrite "
                    "(-y) to replace its numbered frames, or choose an empty folder"
                )


class FrameSink(ABC):
    """Where processed frames go. ``close`` finalizes; ``abort`` cleans up after a failure."""

    #: the stage name its timings are recorded under
    stage: ClassVar[str]
    #: set by :meth:`abort` when a playable partial output was kept
    kept_partial: Path | None = None

    @abstractmethod
    def write(self, frame: Frame, result: Processed) -> None: ...

    @abstractmethod
    def close(self) -> Path: ...

    @abstractmethod
    def abort(self) -> Path | None: ...


class VideoSink(FrameSink):
    """The composited frames, into a :class:`VideoWriter` (input pts kept)."""

    stage = "encode"

    def __init__(self, writer: VideoWriter) -> None:
        self.writer = writer

    def write(self, frame: Frame, result: Processed) -> None:
        self.writer.write(result.output, frame.pts)

    def close(self) -> Path:
        return self.writer.close()

    def abort(self) -> Path | None:
        self.kept_partial = self.writer.abort()
        return self.kept_partial


class AlphaVideoSink(VideoSink):
    """The refined alpha as a grey video."""

    stage = "alpha"

    def write(self, frame: Frame, result: Processed) -> None:
        self.writer.write(alpha_u8(result.mask.alpha), frame.pts)


class MaskPngSink(FrameSink):
    """``DIR/000000.png`` ...: the alpha as 8-bit grey at frame size, one atomic file per frame."""

    stage = "masks"

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.written = 0

    def write(self, frame: Frame, result: Processed) -> None:
        write_mask_png(self.folder, frame.index, result.mask.alpha)
        self.written += 1

    def close(self) -> Path:
        return self.folder

    def abort(self) -> Path | None:
        # every PNG already written is complete (atomic per file); they stay
        return self.folder if self.written else None


class OutlinesSink(FrameSink):
    """Tracked region outlines, one JSON line per frame (``realtime_seg.io.outlines.OutlinesWriter``).

    Needs a processor with a region tracker (``mask.regions`` filled). ``keep_partial``: on a failure,
    keep the lines written so far as a complete file under the final name.
    """

    stage = "outlines"

    def __init__(self, writer: Any, *, keep_partial: bool = False) -> None:
        self.writer, self.keep_partial = writer, keep_partial
        self.written = 0

    def write(self, frame: Frame, result: Processed) -> None:
        self.writer.write(frame.index, frame.t, result.mask.regions)
        self.written += 1

    def close(self) -> Path:
        return Path(self.writer.close())

    def abort(self) -> Path | None:
        if self.keep_partial and self.written:
            try:
                self.kept_partial = Path(self.writer.close())
                return self.kept_partial
            except OutputError as exc:  # the error itself (a full disk, ...) is what the user is told about
                logger.info("could not keep the partial outlines: %s", exc)
        self.writer.abort()
        return None


class CountsSink(OutlinesSink):
    """Objects per class over time, one CSV row per frame and class (``realtime_seg.io.outlines.CountsWriter``).

    Needs a processor with a region tracker (``Processed.tracking`` filled).
    """

    stage = "counts"

    def write(self, frame: Frame, result: Processed) -> None:
        stats = result.tracking
        self.writer.write(frame.index, frame.t, stats.counts, stats.distinct)
        self.written += 1


_NUMBERED_FRAME = re.compile(r"\d{6,}\.png")


def remove_numbered_frames(folder: Path) -> int:
    """Remove ``folder/000000.png``-style frames (a previous run's masks); other files stay. Returns the count."""
    n = 0
    for entry in folder.iterdir():
        if _NUMBERED_FRAME.fullmatch(entry.name) and entry.is_file():
            try:
                entry.unlink()
            except OSError as exc:
                raise OutputError(f"cannot remove the old mask {entry}: {exc.strerror or exc}") from exc
            n += 1
    return n


def open_sinks(
    outputs: VideoOutputs, input_path: Path, info: VideoInfo, *, threads: int = 0, keep_partial: bool = False
) -> list[FrameSink]:
    """The sinks ``outputs`` asks for, each already open; on a failure the ones opened are aborted."""
    writer = functools.partial(
        VideoWriter,
        fps=info.fps,
        time_base=info.time_base,
        size_wh=info.size_wh,
        rotation=info.rotation,
        threads=threads,
        codec=outputs.codec,
        crf=outputs.crf,
        preset=outputs.preset,
        keep_partial=keep_partial,
        overwrite=outputs.overwrite,
    )
    sinks: list[FrameSink] = []
    try:
        if outputs.video is not None:
            sinks.append(VideoSink(writer(outputs.video, audio_from=input_path if info.has_audio else None)))
        if outputs.alpha is not None:
            sinks.append(AlphaVideoSink(writer(outputs.alpha)))
        if outputs.masks is not None:
            try:
                outputs.masks.mkdir(exist_ok=True)
            except OSError as exc:
                raise OutputError(f"cannot create --masks-out folder {outputs.masks}: {exc.strerror}") from exc
            if outputs.overwrite:
                stale = remove_numbered_frames(outputs.masks)
                if stale:
                    logger.info("removed %d mask frames of an earlier run from %s", stale, outputs.masks)
            sinks.append(MaskPngSink(outputs.masks))
        if outputs.outlines is not None:
            from realtime_seg.io.outlines import OutlinesWriter

            lines = OutlinesWriter(outputs.outlines, overwrite=outputs.overwrite)
            sinks.append(OutlinesSink(lines, keep_partial=keep_partial))
        if outputs.counts is not None:
            from realtime_seg.io.outlines import CountsWriter

            counts = CountsWriter(outputs.counts, overwrite=outputs.overwrite)
            sinks.append(CountsSink(counts, keep_partial=keep_partial))
    except BaseException:
        for s in sinks:
            s.abort()
        raise
    return sinks


def partial_note(sinks: Sequence[FrameSink], written: int | None) -> str:
    """What was kept of the outputs after a failure, for the error message (one line)."""
    videos = [s for s in sinks if isinstance(s, VideoSink)]
    kept = [str(s.kept_partial) for s in videos if s.kept_partial]
    lost = [f"{s.writer.path} ({s.writer.keep_error})" for s in videos if s.writer.keep_error]
    notes = []
    if kept:
        notes.append(f"kept the frames written so far as a playable file: {', '.join(kept)}")
    if lost:
        notes.append(f"could not keep the partial {', '.join(lost)}")
    lines = [str(s.kept_partial) for s in sinks if isinstance(s, OutlinesSink) and s.kept_partial]
    if lines:
        notes.append(f"kept the outlines of those frames: {', '.join(lines)}")
    if notes:
        return "; ".join(notes)
    if not videos:
        return "mask PNGs written so far are kept"
    hint = f" (--keep-partial keeps the {written} frames before the error)" if written else ""
    return f"no output video was written{hint}"
