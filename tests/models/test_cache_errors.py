"""A model cache that cannot be written (issue 16, case 6): one clear line, nothing written; an intact
read-only cache keeps working. The read-only file system is a real tmpfs remounted ``ro`` (skipped with the
reason where mount is not permitted)."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime_seg.cli import main
from tests.smallfs import remount_read_only, small_filesystem


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    image = np.zeros((90, 120, 3), np.uint8)
    image[20:70, 30:80] = 255
    path = tmp_path / "photo.png"
    cv2.imwrite(str(path), image)
    return path


def _segment(photo: Path, out: Path) -> int:
    return main(["segment", str(photo), "--out-dir", str(out), "--model", "selfie", "--backend", "onnxruntime"])


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err and "Errno" not in err, err
    return lines[0]


def test_cache_env_pointing_at_a_file(
    tmp_path: Path, photo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    not_a_folder = tmp_path / "cache.txt"
    not_a_folder.write_text("oops")
    monkeypatch.setenv("REALTIME_SEG_CACHE", str(not_a_folder))
    assert _segment(photo, tmp_path / "out") == 1
    line = _one_line(capsys.readouterr().err)
    models = not_a_folder / "models"
    assert f"the model cache {models} cannot be written: {not_a_folder} is a file, not a folder" in line
    assert f"Set REALTIME_SEG_CACHE to a writable folder (it is {not_a_folder})" in line
    assert not (tmp_path / "out").exists()  # nothing written, not even the output folder
    assert not_a_folder.read_text() == "oops"


def test_read_only_empty_cache(
    tmp_path: Path, photo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with small_filesystem(tmp_path / "ro", 256) as ro:
        remount_read_only(ro)
        monkeypatch.setenv("REALTIME_SEG_CACHE", str(ro / "cache"))
        assert _segment(photo, tmp_path / "out") == 1
        line = _one_line(capsys.readouterr().err)
        assert f"cannot be written: {ro} is on a read-only file system. Set REALTIME_SEG_CACHE" in line
    assert not (tmp_path / "out").exists()


@pytest.mark.network
def test_intact_read_only_cache_keeps_working(
    tmp_path: Path,
    photo: Path,
    monkeypatch: pytest.MonkeyPatch,
    fetched: dict[tuple[str, str], Path],
    session_cache: Path,
) -> None:
    with small_filesystem(tmp_path / "ro", 8192) as ro:
        models = session_cache / "models"
        shutil.copytree(models, ro / "models", ignore=shutil.ignore_patterns("tflite", "rvm", ".lock"))
        remount_read_only(ro)
        monkeypatch.setenv("REALTIME_SEG_CACHE", str(ro))
        assert _segment(photo, tmp_path / "out") == 0
        assert cv2.imread(str(tmp_path / "out" / "photo_mask.png"), cv2.IMREAD_UNCHANGED).shape == (90, 120)
