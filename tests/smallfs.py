"""A real, small file system for full-disk tests: a tmpfs of a few hundred KiB mounted inside the test's folder.

Mounting needs root (or CAP_SYS_ADMIN); where ``mount`` is not permitted the test is skipped with the reason,
and the same cases are also covered by fault injection (``OSError(ENOSPC)`` from ``os.fsync`` / the encoder).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def small_filesystem(folder: Path, size_kib: int) -> Iterator[Path]:
    """Mount a ``size_kib`` tmpfs on ``folder`` (created) for the duration of the block; skip where not allowed."""
    folder.mkdir(parents=True, exist_ok=True)
    mount, umount = shutil.which("mount"), shutil.which("umount")
    if mount is None or umount is None:
        pytest.skip("no mount/umount command on this machine: the real small file system cannot be made")
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root; running as an ordinary user (fault injection covers this)")
    proc = subprocess.run(
        [mount, "-t", "tmpfs", "-o", f"size={size_kib}k,mode=0777", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        pytest.skip(f"mount -t tmpfs is not permitted here: {proc.stderr.strip() or proc.returncode}")
    try:
        yield folder
    finally:
        subprocess.run([umount, "-l", str(folder)], capture_output=True, check=False)


def remount_read_only(folder: Path) -> None:
    """Make a file system mounted by :func:`small_filesystem` read-only (its files stay as they are)."""
    proc = subprocess.run(["mount", "-o", "remount,ro", str(folder)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.skip(f"remounting read-only is not permitted here: {proc.stderr.strip() or proc.returncode}")
