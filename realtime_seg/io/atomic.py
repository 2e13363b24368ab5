"""Outputs appear complete or not at all: a temporary file in the destination folder, then a rename.

- Every temporary name is unique per run (``tempfile.mkstemp`` in the destination folder: ``.NAME.XXXXXXXX.part``),
  so two runs writing the same output never share a file; each finishes its own and renames it.
- :func:`move_into_place` is the only way a finished file reaches its final name: ``os.replace`` (atomic: a
  reader sees the old file or the new one, never half of one), or, with ``overwrite=False``, a hard link that
  fails when the name was taken meanwhile (another run finished first), which ends in a clear error.
- Write errors (a full disk, a read-only file system) end in :class:`OutputError` naming the file and the reason,
  and the temporary file is removed.

``tempfile.mkstemp`` creates files readable by their owner only; the finished file gets the permissions a
plain ``open()`` would have given it (0666 less the umask).
"""

from __future__ import annotations

import contextlib
import errno
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


def os_reason(exc: BaseException) -> str:
    """An OS error as a user reads it: ``No space left on device``, never ``[Errno 28] ...``."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def move_into_place(tmp: Path, path: Path, *, overwrite: bool = True) -> Path:
    """Give the finished temporary file ``tmp`` its final name ``path`` (same folder).

    ``overwrite=True``: ``os.replace``, atomic. ``overwrite=False``: a hard link, which fails if ``path``
    exists by now (another run got there first): then ``tmp`` is removed and :class:`OutputError` says so.
    On any failure ``tmp`` is removed and nothing changes under ``path``.
    """
    try:
        if overwrite:
            os.replace(tmp, path)
            return path
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise OutputError(
                f"{path} was created by another process while this run was writing it; it was left as it is "
                "(give --overwrite to replace it)"
            ) from None
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                raise
            # a file system without hard links: check, then replace (a small window, but never a partial file)
            if path.exists():
                raise OutputError(
                    f"{path} was created by another process while this run was writing it; it was left as it is "
                    "(give --overwrite to replace it)"
                ) from None
            os.replace(tmp, path)
            return path
        tmp.unlink()
        return path
    except OutputError:
        tmp.unlink(missing_ok=True)
        raise
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {os_reason(exc)}") from exc


def write_bytes_atomic(
    path: Path, data: bytes | bytearray | memoryview, *, mkdir: bool = False, overwrite: bool = True
) -> Path:
    """Write ``data`` under ``path`` only when complete (fsynced, then renamed over ``path``).

    A write error (disk full, ...) raises :class:`OutputError`; the temporary file is removed and ``path``
    keeps whatever it held before.
    """
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
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write {path}: {os_reason(exc)}") from exc
        raise
    return move_into_place(tmp, path, overwrite=overwrite)


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
