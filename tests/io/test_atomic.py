from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from realtime_seg.errors import OutputError
from realtime_seg.io import atomic
from realtime_seg.io.atomic import write_bytes_atomic


def test_a_failed_write_leaves_the_old_file_and_no_partial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "x.engine"
    target.write_bytes(b"old")

    def boom(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", boom)
    with pytest.raises(OutputError, match=f"cannot write {target}: disk full"):
        write_bytes_atomic(target, b"new")
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["x.engine"]


def test_finished_files_get_ordinary_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = write_bytes_atomic(tmp_path / "mask.png", b"data")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # mkstemp alone would leave 0600


def test_missing_folder_is_an_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="output folder does not exist"):
        write_bytes_atomic(tmp_path / "nope" / "a.bin", b"x")
    assert write_bytes_atomic(tmp_path / "made" / "a.bin", b"x", mkdir=True).read_bytes() == b"x"
