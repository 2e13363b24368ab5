"""Outputs appear complete or not at all: a temporary file in the destination folder, then ``os.replace``.

``tempfile.mkstemp`` creates files readable by their owner only; the finished file gets the permissions a
plain ``open()`` would have given it (0666 less the umask).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import IO, TypeVar

from realtime_seg.errors import OutputError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def temp_file_beside(path: Path, suffix: str = ".part") -> tuple[int, Path]:
    """Create a hidden temporary file in ``path``'s folder; returns ``(fd, temp_path)``.

    Raises :class:`OutputError` when the folder is missing or not writable.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise OutputError(f"output folder does not exist: {path.parent}")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    except OSError as exc:
        raise OutputError(f"cannot write to {path.parent}: {exc.strerror or exc}") from exc
    with contextlib.suppress(OSError):
        os.fchmod(fd, 0o666 & ~_umask())
    return fd, Path(tmp)


def write_bytes_atomic(path: Path, data: bytes | bytearray | memoryview, *, mkdir: bool = False) -> Path:
    """Write ``data`` under ``path`` only when complete (fsynced, then renamed over ``path``)."""
    path = Path(path)
    if mkdir:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create folder {path.parent}: {exc.strerror or exc}") from exc
    fd, tmp = temp_file_beside(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:  # a full disk, a quota: one line, like every other output error
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def open_text_beside(path: Path) -> tuple[IO[str], Path]:
    """A text file open for writing at a temporary name beside ``path``; rename it when done."""
    fd, tmp = temp_file_beside(path)
    return os.fdopen(fd, "w", encoding="utf-8", newline="\n"), tmp


_W = TypeVar("_W", bound="AtomicOutput")


class AtomicOutput:
    """A writer whose output appears on ``close()`` and is discarded by ``abort()``.

    As a context manager it closes on success and aborts when the block raises.
    """

    def close(self) -> Path:
        raise NotImplementedError

    def abort(self) -> Path | None:
        raise NotImplementedError

    def __enter__(self: _W) -> _W:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
