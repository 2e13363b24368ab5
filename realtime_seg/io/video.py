"""Video files with PyAV: a reader that yields BGR frames; the writer that encodes them atomically is in
:mod:`realtime_seg.io.video_writer`.

- :class:`VideoReader` decodes anything FFmpeg reads (mp4, mkv, avi, webm, mov, gif, an image sequence
  such as ``frames/%06d.png``) into :class:`Frame` objects: BGR uint8, upright (the rotation metadata of
  phone videos is applied), with the frame index and the pts in seconds.
- :class:`VideoWriter` encodes H.264 (yuv420p) by default with the input's frame rate and time base,
  remuxes the input's audio stream unchanged, restores the input's rotation metadata, and writes to
  a temporary name unique to the run (``.<name>.XXXXXXXX.partial<suffix>``, made by ``mkstemp`` in the output
  folder), renamed to the final name only on success.
  H.264 in yuv420p needs even sizes: an odd width or height is **padded** by one pixel (the last column
  or row repeated), never cropped.

Everything a user can get wrong ends in :class:`~realtime_seg.errors.VideoError` (input) or
:class:`~realtime_seg.errors.OutputError` (output) with a one-line message.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import av
import cv2
import numpy as np

from realtime_seg.errors import VideoError
from realtime_seg.frame import Frame
from realtime_seg.threads import thread_budget

logger = logging.getLogger(__name__)

_PATTERN = re.compile(r"%0?\d*d")


def error_reason(exc: BaseException) -> str:
    """FFmpeg's error text without PyAV's errno prefix and file name."""
    strerror = getattr(exc, "strerror", None)
    return str(strerror or exc)


def normalize_rotation(degrees: float) -> int:
    r = int(round(degrees / 90.0)) * 90 % 360
    return r


def rotate_upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """Apply a display rotation (FFmpeg's convention: degrees counter-clockwise) to a coded frame."""
    if rotation == 90:
        return cv2.rotate(image, cv2.ROTATE_90_COUNTERCLOCKWISE)
    if rotation == 180:
        return cv2.rotate(image, cv2.ROTATE_180)
    if rotation == 270:
        return cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE)
    return image


def rotate_coded(image: np.ndarray, rotation: int) -> np.ndarray:
    """The inverse of :func:`rotate_upright`: an upright frame back to the coded orientation."""
    return rotate_upright(image, (360 - rotation) % 360)


@dataclass(frozen=True)
class VideoInfo:
    """What the reader knows about a video before decoding it all."""

    path: Path
    size_wh: tuple[int, int]  #: upright (display) size
    fps: Fraction
    time_base: Fraction
    frame_count: int | None  #: from the container index, or estimated from the duration; None if unknown
    duration_s: float | None
    rotation: int  #: display rotation in degrees counter-clockwise (0, 90, 180, 270)
    codec: str
    audio_codec: str | None

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None


def is_sequence_pattern(path: Path) -> bool:
    """``frames/%06d.png``-style paths are image sequences (FFmpeg's image2 demuxer)."""
    return bool(_PATTERN.search(Path(path).name))


@dataclass(frozen=True)
class SequenceGap:
    """The first file missing from an image sequence: FFmpeg's image2 demuxer stops there without an error."""

    missing: Path
    frame: int  #: the index the missing file would have had (frames 0 .. frame-1 exist)
    after: tuple[Path, ...]  #: the files after the gap, which would not be read


def sequence_gap(pattern: str | Path) -> SequenceGap | None:
    """The first gap in the numbered files of ``frames/%06d.png``, counting from the first file; None if none."""
    pattern = Path(pattern)
    m = _PATTERN.search(pattern.name)
    if m is None or not pattern.parent.is_dir():
        return None
    width = m.group(0)[1:-1].lstrip("0")
    digits = rf"\d{{{width},}}" if width else r"\d+"
    head, tail = pattern.name[: m.start()], pattern.name[m.end() :]
    rx = re.compile(re.escape(head) + f"({digits})" + re.escape(tail))
    numbered: dict[int, Path] = {}
    for entry in pattern.parent.iterdir():
        hit = rx.fullmatch(entry.name)
        if hit is not None:
            numbered.setdefault(int(hit.group(1)), entry)
    if not numbered:
        return None
    first, last = min(numbered), max(numbered)
    for k in range(last - first + 1):
        if first + k not in numbered:
            name = pattern.name[: m.start()] + (m.group(0) % (first + k)) + tail
            after = tuple(numbered[n] for n in sorted(numbered) if n > first + k)
            return SequenceGap(pattern.parent / name, k, after)
    return None


class VideoReader:
    """Decode a video file into upright BGR frames. Use as a context manager or call :meth:`close`.

    ``decoder_threads``: FFmpeg's frame/slice threads; 0 sizes them from the available cores
    (:mod:`realtime_seg.threads`).

    Opening decodes the first frame, so a file with zero frames fails here, not half-way. Iterating
    yields :class:`Frame` objects once; a decoding error raises :class:`VideoError` naming the frame
    index, and a stream that ends well before its container's stated length (a truncated file) does too.
    """

    def __init__(self, path: str | Path, *, decoder_threads: int = 0) -> None:
        self.path = Path(path)
        pattern = is_sequence_pattern(self.path)
        if pattern:
            if not self.path.parent.is_dir():
                raise VideoError(f"image sequence folder not found: {self.path.parent}")
        elif not self.path.exists():
            raise VideoError(f"video not found: {self.path}")
        elif not self.path.is_file():
            raise VideoError(f"not a file: {self.path}")
        elif self.path.stat().st_size == 0:
            raise VideoError(f"not a video (empty file): {self.path}")
        try:
            self._container: Any = av.open(str(self.path), "r", format="image2" if pattern else None)
        except av.error.EOFError as exc:
            raise VideoError(f"zero frames: {self.path} ends before any video data") from exc
        except (av.FFmpegError, ValueError, OSError) as exc:
            raise VideoError(f"not a video, or unreadable: {self.path} ({error_reason(exc)})") from exc
        try:
            self._init_streams(decoder_threads)
        except BaseException:
            self._container.close()
            raise

    def _init_streams(self, decoder_threads: int) -> None:
        c = self._container
        if not c.streams.video:
            raise VideoError(f"no video stream in {self.path}")
        self._stream: Any = c.streams.video[0]
        st = self._stream
        st.thread_type = "AUTO"
        st.thread_count = decoder_threads or thread_budget().decoder  # 0: sized from the available cores
        self._next_index = 0
        self._gap = sequence_gap(self.path) if is_sequence_pattern(self.path) else None
        self._last_t: float | None = None
        self._start_t: float | None = None
        #: frames at the start of the stream that could not be decoded and were skipped (a corrupt first GOP)
        self.skipped_leading = 0
        self._lead_start_t = 0.0
        self._lead_error: BaseException | None = None
        self._decoded = self._decode_packets()
        try:
            first = next(self._decoded)
        except StopIteration:
            if self._lead_error is not None:
                raise VideoError(
                    f"cannot decode any frame of {self.path}: {error_reason(self._lead_error)}"
                ) from self._lead_error
            raise VideoError(f"zero frames: {self.path} has a video stream but no decodable frame") from None
        except (av.FFmpegError, ValueError) as exc:
            raise VideoError(f"cannot decode frame 0 of {self.path}: {error_reason(exc)}") from exc
        self._first: Any = first
        rotation = normalize_rotation(float(getattr(first, "rotation", 0) or 0))
        tb = st.time_base or Fraction(1, 25)
        fps = st.average_rate or st.guessed_rate or st.base_rate or Fraction(25)
        duration_s = self._stated_duration_s()
        if st.frames:
            count: int | None = int(st.frames)
        elif duration_s is not None:
            count = max(1, round(duration_s * float(fps)))
        else:
            count = None
        if count is not None and self.skipped_leading:
            count = max(1, count - self.skipped_leading)
        w, h = first.width, first.height
        if rotation in (90, 270):
            w, h = h, w
        audio = c.streams.audio[0].codec_context.name if c.streams.audio else None
        if self.skipped_leading:
            logger.warning(
                "%s: skipped %d undecodable frame(s) at the start; processing begins at %.2f s "
                "(the decoded frames keep their timestamps)",
                self.path,
                self.skipped_leading,
                float(first.pts * tb) if first.pts is not None else 0.0,
            )
        self.info = VideoInfo(
            path=self.path,
            size_wh=(w, h),
            fps=Fraction(fps),
            time_base=Fraction(tb),
            frame_count=count,
            duration_s=duration_s,
            rotation=rotation,
            codec=st.codec_context.name,
            audio_codec=audio,
        )

    def _decode_packets(self) -> Iterator[Any]:
        """Decoded frames, packet by packet. Packets that fail to decode *before the first good frame* (a
        corrupt first group of pictures) are skipped and counted in :attr:`skipped_leading`; after that, a
        decoding error ends the stream with the error (the caller reports it at its frame)."""
        st = self._stream
        leading = True
        lead_pts: list[int] = []  # pts of the packets seen before the first decoded frame
        packets = self._container.demux(st)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                return
            except (av.FFmpegError, ValueError, OSError):
                yield from self._drain()  # the frames before the break, still inside the decoder's threads
                raise
            if leading and packet.size and packet.pts is not None:
                lead_pts.append(packet.pts)
            try:
                frames = packet.decode()
            except (av.FFmpegError, ValueError) as exc:
                if not leading:  # (no drain here: with frame threads, frames after the bad one are in flight)
                    raise
                self._lead_error = exc
                continue
            for frame in frames:
                if leading:
                    leading = False
                    if self._lead_error is not None:
                        first = frame.pts if frame.pts is not None else min(lead_pts, default=0)
                        self.skipped_leading = sum(1 for p in lead_pts if p < first)
                        self._lead_start_t = float(min(lead_pts, default=first) * (st.time_base or 0))
                    lead_pts = []
                yield frame

    def _drain(self) -> list[Any]:
        """Frames the decoder still holds (frame threading delays output by a few frames)."""
        try:
            return list(self._stream.codec_context.decode(None))
        except (av.FFmpegError, ValueError):
            return []

    def _stated_duration_s(self) -> float | None:
        """The video stream's duration as the container states it (None when it does not)."""
        st = self._stream
        if st.duration and st.time_base:
            return float(st.duration * st.time_base)
        tag = (st.metadata or {}).get("DURATION")  # Matroska writes a per-track tag
        if tag:
            m = re.fullmatch(r"(\d+):(\d+):(\d+(?:\.\d*)?)", tag.strip())
            if m:
                return int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])
        if self._container.duration and len(self._container.streams) == 1:
            return float(self._container.duration) / av.time_base
        return None

    # -- iteration ----------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Frame]:
        return self

    def __next__(self) -> Frame:
        if self._first is not None:
            raw, self._first = self._first, None
        else:
            try:
                raw = next(self._decoded)
            except StopIteration:
                self._check_complete()
                raise
            except (av.FFmpegError, ValueError) as exc:
                raise VideoError(
                    f"{self.path} is corrupt or truncated: decoding failed at frame {self._next_index}"
                    f"{self._at()}: {error_reason(exc)}"
                ) from exc
        return self._convert(raw)

    def _at(self) -> str:
        return f" (after {self._last_t:.2f} s)" if self._last_t is not None else ""

    def _check_complete(self) -> None:
        """A stream that stops well short of its stated length is a truncated file; an image sequence that
        stops at a missing file (FFmpeg ends it there quietly) names the file."""
        if self._gap is not None and self._next_index <= self._gap.frame:
            gap = self._gap
            more = ""
            if gap.after:
                more = f"; the {len(gap.after)} file(s) after it ({gap.after[0].name} on) were not read"
            where = f"frame {gap.frame}{self._at()}"
            raise VideoError(f"image sequence {self.path} is missing {gap.missing}, {where}{more}")
        n, info = self._next_index + self.skipped_leading, self.info
        if self._stream.frames and n < self._stream.frames - 2:
            raise VideoError(
                f"{self.path} is truncated or corrupt: the stream ended at frame {n}{self._at()}, "
                f"but the container lists {self._stream.frames} frames"
            )
        start_t = self._lead_start_t if self.skipped_leading else self._start_t
        if info.duration_s is not None and self._last_t is not None and start_t is not None:
            slack = 3.0 / float(info.fps) + 0.05
            if self._last_t - start_t + slack < info.duration_s * 0.98:
                raise VideoError(
                    f"{self.path} is truncated or corrupt: the stream ended at frame {n}{self._at()}, "
                    f"but the container says it lasts {info.duration_s:.2f} s"
                )

    def _convert(self, raw: Any) -> Frame:
        index = self._next_index
        pts = raw.pts
        if pts is not None:
            t = float(pts * self.info.time_base)
        else:
            t = index / float(self.info.fps)
        if self._start_t is None:
            self._start_t = t
        image = raw.to_ndarray(format="bgr24")
        if self.info.rotation:
            image = rotate_upright(image, self.info.rotation)
        self._next_index += 1
        self._last_t = t
        return Frame(index, t, image, pts)

    # -- lifecycle ----------------------------------------------------------------------------------
    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
