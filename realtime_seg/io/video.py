"""Video files with PyAV: a reader that yields BGR frames, a writer that encodes them atomically.

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
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import av
import cv2
import numpy as np

from realtime_seg.errors import InputError, OutputError, UnknownNameError, VideoError
from realtime_seg.frame import Frame
from realtime_seg.io.atomic import AtomicOutput, move_into_place, temp_file_beside
from realtime_seg.threads import thread_budget

logger = logging.getLogger(__name__)

#: encoders that take a ``crf`` quality option (lower is better)
_CRF_CODECS = {"libx264": (0, 51), "libx265": (0, 51), "libvpx-vp9": (0, 63), "libvpx": (4, 63), "libaom-av1": (0, 63)}
#: encoders that take a ``preset`` speed option, and the presets they know
_PRESET_CODECS = {"libx264", "libx265"}
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")
_PATTERN = re.compile(r"%0?\d*d")


def _reason(exc: BaseException) -> str:
    """FFmpeg's error text without PyAV's errno prefix and file name."""
    strerror = getattr(exc, "strerror", None)
    return str(strerror or exc)


def _normalize_rotation(degrees: float) -> int:
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
            raise VideoError(f"not a video, or unreadable: {self.path} ({_reason(exc)})") from exc
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
                    f"cannot decode any frame of {self.path}: {_reason(self._lead_error)}"
                ) from self._lead_error
            raise VideoError(f"zero frames: {self.path} has a video stream but no decodable frame") from None
        except (av.FFmpegError, ValueError) as exc:
            raise VideoError(f"cannot decode frame 0 of {self.path}: {_reason(exc)}") from exc
        self._first: Any = first
        rotation = _normalize_rotation(float(getattr(first, "rotation", 0) or 0))
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
                    f"{self._at()}: {_reason(exc)}"
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


def partial_files(path: str | Path) -> list[Path]:
    """The temporary files writers of ``path`` have beside it now (``.<name>.XXXXXXXX.partial<suffix>``)."""
    path = Path(path)
    return sorted(path.parent.glob(f".{glob_escape(path.name)}.*.partial{glob_escape(path.suffix)}"))


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def check_output_path(path: str | Path, *, inputs: Sequence[str | Path] = (), kind: str = "output") -> Path:
    """Fail before any work when ``path`` cannot be written: folder missing or read-only, a folder, an input."""
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise OutputError(f"{kind} folder does not exist: {folder}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"{kind} folder is not writable: {folder}")
    if path.is_dir():
        raise OutputError(f"{kind} is a folder, expected a file name: {path}")
    for inp in inputs:
        ip = Path(inp)
        same = path.resolve() == ip.resolve()
        if not same and path.exists() and ip.exists():
            same = os.path.samefile(path, ip)
        if same:
            raise OutputError(f"{kind} {path} is the input file; choose another name (the input is never overwritten)")
    try:
        av.format.ContainerFormat(_guess_format(path), "w")
    except (ValueError, av.FFmpegError) as exc:
        raise OutputError(f"unknown video container for {path} (use .mp4, .mkv, .mov, .webm or .avi)") from exc
    return path


def _guess_format(path: Path) -> str:
    ext = path.suffix.lower().lstrip(".")
    return {"mkv": "matroska", "webm": "webm", "mov": "mov", "mp4": "mp4", "m4v": "mp4", "avi": "avi"}.get(ext, ext)


class VideoWriter(AtomicOutput):
    """Encode upright BGR frames into ``path``; it appears under its final name only when complete.

    - ``fps``/``time_base``: the input's (pts passed to :meth:`write` are in ``time_base`` units).
    - ``codec`` (default ``libx264``, yuv420p), ``crf`` (quality, lower is better; codecs without crf
      ignore it), ``preset`` (x264/x265 speed), ``threads`` (encoder threads, 0 = the thread budget's, sized from the
      available cores: :mod:`realtime_seg.threads`).
    - ``audio_from``: a video whose first audio stream is copied packet by packet (no re-encode).
    - ``rotation``: the input's display rotation; frames are rotated back to the coded orientation and
      the same display matrix is written, so the output plays like the input.
    - ``keep_partial``: what :meth:`abort` does by default: finalize the frames written so far as a
      playable file under the final name (True) or delete the temporary file (False).
    - ``overwrite``: whether the finished file may replace a file that exists under ``path`` by then
      (False: such a file, e.g. from a run that finished first, is left alone and :class:`OutputError` says so).

    The temporary file has a name unique to this writer, so concurrent runs for one ``path`` never
    write into each other's file.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        fps: Fraction | float,
        size_wh: tuple[int, int],
        time_base: Fraction | None = None,
        codec: str = "libx264",
        crf: int | None = 23,
        preset: str | None = "veryfast",
        threads: int = 0,
        audio_from: str | Path | None = None,
        rotation: int = 0,
        pix_fmt: str = "yuv420p",
        keep_partial: bool = False,
        overwrite: bool = True,
    ) -> None:
        self.path = check_output_path(path, inputs=[audio_from] if audio_from else [])
        self.overwrite = overwrite
        w, h = size_wh
        if w < 1 or h < 1:
            raise ValueError(f"size_wh must be positive (width, height), got {size_wh}")
        try:
            av.Codec(codec, "w")
        except (ValueError, av.FFmpegError) as exc:
            raise InputError(f"unknown or unavailable video encoder {codec!r} (try libx264, libx265, mpeg4)") from exc
        if preset and codec in _PRESET_CODECS and preset not in PRESETS:
            raise UnknownNameError(f"{codec} preset", preset, PRESETS)
        if crf is not None and codec in _CRF_CODECS:
            lo, hi = _CRF_CODECS[codec]
            if not lo <= crf <= hi:
                raise InputError(f"crf for {codec} must be in [{lo}, {hi}], got {crf}")
        self.size_wh = (int(w), int(h))
        self.rotation = _normalize_rotation(rotation)
        cw, ch = (h, w) if self.rotation in (90, 270) else (w, h)
        self._even = pix_fmt in ("yuv420p", "yuvj420p", "nv12", "yuv422p")
        self.coded_wh = (cw + cw % 2, ch + ch % 2) if self._even else (cw, ch)
        if self.coded_wh != (cw, ch):
            logger.info("%s: padding %dx%d to %dx%d for %s", self.path, cw, ch, *self.coded_wh, pix_fmt)
        self.fps = Fraction(fps).limit_denominator(1_000_000)
        self.time_base = Fraction(time_base) if time_base else 1 / self.fps
        self.pix_fmt = pix_fmt
        self.keep_partial = keep_partial
        self.frames_written = 0
        self._last_pts: int | None = None
        self._last_t = 0.0
        self._audio_in: Any = None
        self._audio_packets: Iterator[Any] | None = None
        self._pending_audio: Any = None
        self._finished = False
        self.kept_partial = False
        #: why ``abort(keep_partial=True)`` could not keep the frames (a full disk, ...), else None
        self.keep_error: str | None = None
        fd, self.tmp_path = temp_file_beside(self.path, suffix=f".partial{self.path.suffix}")
        os.close(fd)
        try:
            self._container: Any = av.open(str(self.tmp_path), "w", format=_guess_format(self.path))
        except (av.FFmpegError, ValueError, OSError) as exc:
            self.tmp_path.unlink(missing_ok=True)
            raise OutputError(f"cannot create {self.tmp_path}: {_reason(exc)}") from exc
        try:
            self._setup(codec, crf, preset, threads, audio_from)
        except BaseException:
            self._discard()
            raise

    def _setup(self, codec: str, crf: int | None, preset: str | None, threads: int, audio_from: Any) -> None:
        st = self._container.add_stream(codec, rate=self.fps)
        st.width, st.height = self.coded_wh
        st.pix_fmt = self.pix_fmt
        st.codec_context.time_base = self.time_base
        st.time_base = self.time_base
        st.thread_count = threads or thread_budget().encoder  # 0: sized from the available cores
        options: dict[str, str] = {}
        if crf is not None and codec in _CRF_CODECS:
            options["crf"] = str(crf)
            if codec.startswith("libvpx"):
                options["b"] = "0"
        if preset and codec in _PRESET_CODECS:
            options["preset"] = preset
        st.options = options
        if self.rotation:
            st.set_display_rotation(self.rotation)
        self._video = st
        if audio_from is not None:
            src = av.open(str(audio_from), "r")
            if src.streams.audio:
                self._audio_in = src
                a_in = src.streams.audio[0]
                try:
                    self._audio = self._container.add_stream_from_template(a_in)
                except (av.FFmpegError, ValueError) as exc:
                    raise OutputError(
                        f"cannot copy the {a_in.codec_context.name} audio into {self.path.suffix}: {_reason(exc)} "
                        "(try an .mkv output)"
                    ) from exc
                self._audio_packets = iter(src.demux(a_in))
            else:
                src.close()
        try:  # writes the header now, so an unsupported combination fails before the first frame
            self._container.start_encoding()
        except (av.FFmpegError, ValueError, OSError) as exc:
            raise OutputError(f"cannot start writing {self.path.name}: {_reason(exc)}") from exc

    # -- writing ------------------------------------------------------------------------------------
    def write(self, image: np.ndarray, pts: int | None = None) -> None:
        """Encode one upright BGR (or single-channel grey) frame of ``size_wh``; ``pts`` in ``time_base``."""
        if self._finished:
            raise RuntimeError("write() after close()")
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        if image.shape[:2] != (self.size_wh[1], self.size_wh[0]) or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(
                f"frame must be BGR uint8 of size {self.size_wh[0]}x{self.size_wh[1]}, got {image.dtype} {image.shape}"
            )
        if self.rotation:
            image = rotate_coded(image, self.rotation)
        ch, cw = image.shape[:2]
        if (cw, ch) != self.coded_wh:
            image = cv2.copyMakeBorder(image, 0, self.coded_wh[1] - ch, 0, self.coded_wh[0] - cw, cv2.BORDER_REPLICATE)
        if pts is None:
            pts = round(self.frames_written / (self.fps * self.time_base))
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1  # encoders need strictly increasing pts
        if self.pix_fmt == "yuv420p":
            i420: Any = cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420)
            frame = av.VideoFrame.from_ndarray(i420, format="yuv420p")
        else:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
        frame.pts = pts
        frame.time_base = self.time_base
        try:
            self._container.mux(self._video.encode(frame))
            self._last_t = float(pts * self.time_base)
            self._mux_audio_until(self._last_t + 0.5)
        except (av.FFmpegError, OSError) as exc:
            raise OutputError(f"cannot write {self.path} (frame {self.frames_written}): {_reason(exc)}") from exc
        self._last_pts = pts
        self.frames_written += 1

    def _mux_audio_until(self, t: float | None) -> None:
        """Copy audio packets with a timestamp before ``t`` seconds (all of them for None)."""
        if self._audio_packets is None:
            return
        while True:
            pkt = self._pending_audio
            if pkt is None:
                pkt = next(self._audio_packets, None)
                if pkt is None:
                    self._audio_packets = None
                    return
            if pkt.dts is None or pkt.size == 0:  # the demuxer's flush packet
                self._pending_audio = None
                continue
            pt = float((pkt.pts if pkt.pts is not None else pkt.dts) * pkt.time_base)
            if t is not None and pt >= t:
                self._pending_audio = pkt
                return
            self._pending_audio = None
            pkt.stream = self._audio
            self._container.mux(pkt)

    # -- finishing ----------------------------------------------------------------------------------
    def _finalize(self, audio_until: float | None) -> None:
        try:
            self._container.mux(self._video.encode(None))
            self._mux_audio_until(audio_until)
            self._container.close()
        except (av.FFmpegError, OSError) as exc:
            raise OutputError(f"cannot finish {self.path}: {_reason(exc)}") from exc
        finally:
            self._close_audio()
        move_into_place(self.tmp_path, self.path, overwrite=self.overwrite)

    def close(self) -> Path:
        """Flush the encoder, copy the rest of the audio, and rename to the final name."""
        if self._finished:
            return self.path
        self._finished = True
        if self.frames_written == 0:
            self._discard()
            raise OutputError(f"no frame was written, so {self.path} was not created")
        try:
            self._finalize(None)
        except BaseException:
            self._discard()
            raise
        return self.path

    def abort(self, keep_partial: bool | None = None) -> Path | None:
        """Stop after a failure. Keep what was written as a playable file (returns its path) or delete it."""
        if self._finished:
            return self.path if self.kept_partial else None
        self._finished = True
        keep = self.keep_partial if keep_partial is None else keep_partial
        if keep and self.frames_written:
            try:
                self._finalize(self._last_t + 1.0 / float(self.fps))
                self.kept_partial = True
                return self.path
            except Exception as exc:  # no traceback: the original error is what matters; the caller reports this
                self.keep_error = str(exc)
                logger.info("could not keep the partial output %s: %s", self.path, exc)
        self._discard()
        return None

    def _discard(self) -> None:
        self._finished = True
        try:
            self._container.close()
        except Exception as exc:  # a half-written container may fail to close; the file goes anyway
            logger.debug("closing %s: %s", self.tmp_path, exc)
        self._close_audio()
        self.tmp_path.unlink(missing_ok=True)

    def _close_audio(self) -> None:
        if self._audio_in is not None:
            self._audio_in.close()
            self._audio_in = None
            self._audio_packets = None


def write_mask_png(folder: Path, index: int, alpha: np.ndarray) -> Path:
    """``folder/000123.png``: the alpha as 8-bit grey at frame size, written atomically."""
    from realtime_seg.io.images import alpha_u8, write_image_atomic

    return write_image_atomic(folder / f"{index:06d}.png", alpha_u8(alpha))
