"""``replace``: the background becomes a colour, an image, or a looping video."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from realtime_seg.effects._composite import Compositor
from realtime_seg.effects.base import Effect
from realtime_seg.effects.blur import pure_background
from realtime_seg.errors import InputError
from realtime_seg.io.images import cover_resize, read_image
from realtime_seg.postprocess.types import MaskFrame, full_res_foreground

logger = logging.getLogger(__name__)

#: colour names accepted by ``--background`` / ``color=``, as BGR
COLOR_NAMES: dict[str, tuple[int, int, int]] = {
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "grey": (128, 128, 128),
    "gray": (128, 128, 128),
    "red": (0, 0, 255),
    "green": (0, 255, 0),
    "blue": (255, 0, 0),
    "yellow": (0, 255, 255),
    "cyan": (255, 255, 0),
    "magenta": (255, 0, 255),
    "studio": (92, 74, 60),  # a calm dark slate blue, the default
}
DEFAULT_COLOR = COLOR_NAMES["studio"]

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"})


def parse_color(value: str | tuple[int, int, int] | list[int]) -> tuple[int, int, int]:
    """``"#rrggbb"``, ``"#rgb"``, a name from :data:`COLOR_NAMES`, or a ``(b, g, r)`` tuple -> BGR."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text in COLOR_NAMES:
            return COLOR_NAMES[text]
        hexdigits = text[1:] if text.startswith("#") else ""
        if len(hexdigits) == 3:
            hexdigits = "".join(ch * 2 for ch in hexdigits)
        if len(hexdigits) == 6:
            try:
                r, g, b = (int(hexdigits[i : i + 2], 16) for i in (0, 2, 4))
            except ValueError:
                pass
            else:
                return (b, g, r)
        raise InputError(f"not a colour: {value!r}; expected #rrggbb or one of {', '.join(COLOR_NAMES)}")
    bgr = tuple(value)
    if len(bgr) != 3 or not all(isinstance(v, (int, np.integer)) and 0 <= v <= 255 for v in bgr):
        raise InputError(f"colour must be (b, g, r) integers in 0..255, got {value!r}")
    return (int(bgr[0]), int(bgr[1]), int(bgr[2]))


def background_options(text: str) -> dict[str, Any]:
    """Turn a ``--background`` value into ``ReplaceEffect`` keywords: a file path (image or video by
    its suffix) or a colour. An existing file wins over a colour name."""
    path = Path(text).expanduser()
    if path.is_file():
        return {"image": path} if path.suffix.lower() in IMAGE_SUFFIXES else {"video": path}
    try:
        return {"color": parse_color(text)}
    except InputError:
        pass
    raise InputError(f"background not found: {text} (expected an image or video file, #rrggbb, or a colour name)")


class _LoopingVideo:
    """Decodes a video lazily, one frame per ``next_frame()``, rewinding at the end. Thread-safe."""

    def __init__(self, path: Path) -> None:
        import av  # the project's video library; imported here so colour/image backgrounds don't need it

        self._av = av
        self.path = path
        self._lock = threading.Lock()
        if not path.is_file():
            raise InputError(f"background video not found: {path}")
        self._container: Any = None
        self._frames: Iterator[Any] | None = None
        self._open()
        first = self._decode_next()
        if first is None:
            self.close()
            raise InputError(f"background video has no frames: {path}")
        self._pending: np.ndarray | None = first

    def _open(self) -> None:
        if self._container is not None:
            self._container.close()
        try:
            self._container = self._av.open(str(self.path))
            if self._container.format.name == "tty":  # FFmpeg renders any text file as ANSI art "video"
                self._container.close()
                self._container = None
                raise InputError(
                    f"cannot use {self.path} as a background: it is a text file, not an image or a video; "
                    "give an image (.png, .jpg, ...), a video, #rrggbb or a colour name"
                )
            if not self._container.streams.video:
                raise InputError(f"cannot use {self.path} as a background: it has no pictures (no video stream)")
            stream = self._container.streams.video[0]
            stream.thread_type = "AUTO"
            self._frames = self._container.decode(stream)
        except (self._av.FFmpegError, OSError) as exc:  # FFmpeg's reason, without its errno and file name
            reason = getattr(exc, "strerror", None) or str(exc)
            raise InputError(
                f"cannot use {self.path} as a background: it is neither an image nor a video that can be read "
                f"({reason}); give an image (.png, .jpg, ...), a video, #rrggbb or a colour name"
            ) from exc

    def _decode_next(self) -> np.ndarray | None:
        assert self._frames is not None
        try:
            frame = next(self._frames)
        except StopIteration:
            return None
        except self._av.FFmpegError as exc:
            logger.warning("background video %s: decode error (%s), rewinding", self.path, exc)
            return None
        return np.asarray(frame.to_ndarray(format="bgr24"))

    def next_frame(self) -> np.ndarray:
        with self._lock:
            if self._pending is not None:
                frame, self._pending = self._pending, None
                return frame
            frame_or_none = self._decode_next()
            if frame_or_none is None:  # end of file: loop
                self._open()
                frame_or_none = self._decode_next()
                if frame_or_none is None:
                    raise InputError(f"background video stopped decoding: {self.path}")
            return frame_or_none

    def close(self) -> None:
        with self._lock:
            if self._container is not None:
                self._container.close()
                self._container = None
                self._frames = None


class ReplaceEffect(Effect):
    """Replace the background by ``image=path``, ``video=path`` (looped), or ``color=`` (BGR tuple,
    ``"#rrggbb"`` or a name). With none of them: a calm dark colour. Files are checked here, so a
    missing or unreadable one fails before processing starts.

    ``decontaminate`` (default on) removes the old background's colour from the soft edge of the mask
    (estimated like the blur effect's mask-aware background), so no fringe of the old wall shows around
    the person; off, the frame is blended as it is. A matting model's predicted foreground colour
    (RVM's ``fgr``, carried by :class:`MaskFrame`) is used instead of that estimate when present."""

    name = "replace"

    def __init__(
        self,
        *,
        image: str | Path | None = None,
        video: str | Path | None = None,
        color: str | tuple[int, int, int] | None = None,
        decontaminate: bool = True,
    ) -> None:
        given = [k for k, v in (("image", image), ("video", video), ("color", color)) if v is not None]
        if len(given) > 1:
            raise InputError(f"give one background (image, video or color), got {', '.join(given)}")
        self._compositor = Compositor()
        self.decontaminate = decontaminate
        self._image: np.ndarray | None = None
        self._video: _LoopingVideo | None = None
        self._color: tuple[int, int, int] | None = None
        self._cache: dict[tuple[int, int], np.ndarray] = {}
        if image is not None:
            self._image = read_image(Path(image))
            self.source = str(image)
        elif video is not None:
            self._video = _LoopingVideo(Path(video))
            self.source = str(video)
        else:
            self._color = parse_color(color) if color is not None else DEFAULT_COLOR
            self.source = "#{2:02x}{1:02x}{0:02x}".format(*self._color)

    def background(self, size_wh: tuple[int, int]) -> np.ndarray:
        """The background at ``size_wh`` (uint8 BGR; cached for colours and images, do not modify)."""
        if self._video is not None:
            return cover_resize(self._video.next_frame(), size_wh)
        bg = self._cache.get(size_wh)
        if bg is None:
            w, h = size_wh
            if self._image is not None:
                bg = cover_resize(self._image, size_wh)
            else:
                bg = np.empty((h, w, 3), np.uint8)
                bg[:] = self._color
            bg.setflags(write=False)
            self._cache = {size_wh: bg}  # one size at a time: a stream does not change size often
        return bg

    def apply(self, frame: np.ndarray, mask: MaskFrame) -> np.ndarray:
        bg = self.background((frame.shape[1], frame.shape[0]))
        if self.decontaminate and mask.foreground is not None:
            # a matting model predicted the person's own colour at the edge: no old-background spill
            return self._compositor.blend(full_res_foreground(frame, mask.foreground), bg, mask.alpha)
        if not self.decontaminate:
            return self._compositor.blend(frame, bg, mask.alpha)
        return self._compositor.replace(frame, pure_background(frame, mask.alpha), bg, mask.alpha)

    def close(self) -> None:
        """Release the background video's decoder (nothing to do for colours and images)."""
        if self._video is not None:
            self._video.close()
