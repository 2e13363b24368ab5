"""A full disk under any output (issue 16, case 5): one line, exit 3, no partial or temporary file.

First on a real small file system (a tmpfs mounted in the test folder; skipped with the reason where mount
is not permitted), then by fault injection (``ENOSPC`` from ``os.fsync``), which runs everywhere.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime_seg.cli import main
from realtime_seg.io.synth import write_clip
from tests.clips import probe
from tests.smallfs import small_filesystem


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> str:
    from tests.tiny_models import write_user_model

    return str(write_user_model(tmp_path_factory.mktemp("model"), "brightness"))


@pytest.fixture(scope="module")
def noise(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Noise compresses badly, so a few frames of masks or video fill a small disk."""
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (120, 160, 3), dtype=np.uint8) for _ in range(60)]
    return write_clip(tmp_path_factory.mktemp("clip") / "noise.mp4", frames)


OUTPUTS = {
    "masks": lambda d: ["--masks-out", str(d / "m")],
    "outlines": lambda d: ["--outlines-out", str(d / "o.jsonl")],
    "video": lambda d: ["-o", str(d / "o.mp4")],
}


def _check_one_line(err: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("realtime-seg: error: cannot write ") and "No space left on device" in lines[0], err
    assert "Traceback" not in err and "Errno" not in err


def _check_nothing_partial(folder: Path) -> None:
    hidden = [p for p in folder.rglob(".*")]
    assert not hidden, hidden  # no temporary file left behind
    assert not (folder / "o.jsonl").exists() and not (folder / "o.mp4").exists()
    for png in (folder / "m").glob("*.png") if (folder / "m").is_dir() else []:
        image = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)  # every mask that is there is whole
        assert image is not None and image.shape == (120, 160), png


@pytest.mark.parametrize("keep", [False, True], ids=["plain", "keep-partial"])
@pytest.mark.parametrize("kind", list(OUTPUTS))
def test_full_small_filesystem(
    model: str, noise: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, keep: bool
) -> None:
    with small_filesystem(tmp_path / "small", 160) as small:
        args = ["process", str(noise), *OUTPUTS[kind](small), "--model", model, "--quiet"]
        args += ["--effect", "outline"] if kind == "outlines" else []
        args += ["--keep-partial"] if keep else []
        assert main(args) == 3
        _check_one_line(capsys.readouterr().err)
        _check_nothing_partial(small)


def _enospc_after(monkeypatch: pytest.MonkeyPatch, n_ok: int) -> None:
    """``os.fsync`` succeeds ``n_ok`` times, then fails as on a full disk (atomic files fsync before the rename)."""
    real = os.fsync
    calls = {"n": 0}

    def fsync(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] > n_ok:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


@pytest.mark.parametrize("keep", [False, True], ids=["plain", "keep-partial"])
@pytest.mark.parametrize("kind", ["masks", "outlines"])
def test_enospc_by_fault_injection(
    model: str,
    noise: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
    keep: bool,
) -> None:
    _enospc_after(monkeypatch, 7 if kind == "masks" else 0)  # the outlines file fsyncs once, at the end
    args = ["process", str(noise), *OUTPUTS[kind](tmp_path), "--model", model, "--quiet"]
    args += ["--effect", "outline"] if kind == "outlines" else []
    args += ["--keep-partial"] if keep else []
    assert main(args) == 3
    _check_one_line(capsys.readouterr().err)
    _check_nothing_partial(tmp_path)
    if kind == "masks":
        assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [f"{i:06d}.png" for i in range(7)]


def test_masks_fill_the_disk_while_the_video_goes_elsewhere(
    model: str, noise: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--keep-partial keeps the video (on a disk with room) as a playable file when the masks' disk fills."""
    out = tmp_path / "o.mp4"
    with small_filesystem(tmp_path / "small", 160) as small:
        args = ["process", str(noise), "--masks-out", str(small / "m"), "-o", str(out), "--keep-partial"]
        assert main([*args, "--model", model, "--quiet"]) == 3
        err = capsys.readouterr().err
        _check_nothing_partial(small)
    assert "No space left on device" in err and len(err.strip().splitlines()) == 1
    assert 0 < probe(out)["frames"] < 60
    assert f"kept the frames written so far as a playable file: {out}" in err
