"""Writing video files with PyAV, atomically: :class:`VideoWriter`, the output checks, mask PNGs.

See :mod:`realtime_seg.io.video` for the reader and what both promise.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from realtime_seg.errors import InputError, OutputError, UnknownNameError
from realtime_seg.io.atomic import AtomicOutput, move_into_place, temp_file_beside
from realtime_seg.io.video import error_reason, normalize_rotation, rotate_coded
from realtime_seg.threads import thread_budget

logger = logging.getLogger(__name__)

#: encoders that take a ``crf`` quality option (lower is better)
_CRF_CODECS = {"libx264": (0, 51), "libx265": (0, 51), "libvpx-vp9": (0, 63), "libvpx": (4, 63), "libaom-av1": (0, 63)}
#: encoders that take a ``preset`` speed option, and the presets they know
_PRESET_CODECS = {"libx264", "libx265"}
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")


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
        self.rotation = normalize_rotation(rotation)
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
            raise OutputError(f"cannot create {self.tmp_path}: {error_reason(exc)}") from exc
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
                        f"cannot copy the {a_in.codec_context.name} audio into {self.path.suffix}: {error_reason(exc)} "
                        "(try an .mkv output)"
                    ) from exc
                self._audio_packets = iter(src.demux(a_in))
            else:
                src.close()
        try:  # writes the header now, so an unsupported combination fails before the first frame
            self._container.start_encoding()
        except (av.FFmpegError, ValueError, OSError) as exc:
            raise OutputError(f"cannot start writing {self.path.name}: {error_reason(exc)}") from exc

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
            raise OutputError(f"cannot write {self.path} (frame {self.frames_written}): {error_reason(exc)}") from exc
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
            raise OutputError(f"cannot finish {self.path}: {error_reason(exc)}") from exc
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
