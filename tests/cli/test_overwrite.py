"""Existing outputs (issue 16, cases 2 and 3): refused before any work unless --overwrite / -y; with it the
old numbered masks go first, so a folder never mixes two runs; two runs racing for one name each end with a
complete file or a clear error."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime_seg.cli import main
from realtime_seg.io.video_writer import partial_files
from tests.clips import make_clip, probe

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> str:
    from tests.tiny_models import write_user_model

    return str(write_user_model(tmp_path_factory.mktemp("model"), "brightness"))


def _run(model: str, *args: object) -> int:
    return main(["process", *map(str, args), "--model", model, "--quiet"])


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.mark.parametrize("flag", ["-o", "--alpha-out", "--outlines-out"])
def test_an_existing_output_file_is_refused(
    model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str
) -> None:
    clip = make_clip(tmp_path / "in.mp4")
    old = tmp_path / ("old.jsonl" if flag == "--outlines-out" else "old.mp4")
    old.write_bytes(b"precious")
    assert _run(model, clip, flag, old, "--masks-out", tmp_path / "m") == 3
    kind = "output" if flag == "-o" else flag
    assert capsys.readouterr().err == (
        f"realtime-seg: error: {kind} {old} exists already; give --overwrite (-y) to replace it\n"
    )
    assert old.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4", old.name]  # no work: not even the masks folder


def test_a_non_empty_masks_folder_is_refused(model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clip = make_clip(tmp_path / "in.mp4", (64, 48), 6)
    masks = tmp_path / "m"
    assert _run(model, clip, "--masks-out", masks) == 0
    before = {p.name: _sha(p) for p in masks.iterdir()}
    assert _run(model, clip, "--masks-out", masks) == 3
    assert capsys.readouterr().err == (
        f"realtime-seg: error: --masks-out folder {masks} is not empty (6 files: 000000.png, 000001.png, "
        "000002.png, ...); give --overwrite (-y) to replace its numbered frames, or choose an empty folder\n"
    )
    assert {p.name: _sha(p) for p in masks.iterdir()} == before


@pytest.mark.parametrize("flag", ["--overwrite", "-y"])
def test_overwrite_replaces_outputs_and_removes_stale_frames(model: str, tmp_path: Path, flag: str) -> None:
    masks, out = tmp_path / "m", tmp_path / "o.mp4"
    masks.mkdir()
    stale = np.full((480, 854), 7, np.uint8)  # an earlier run: 180 frames at another size
    for i in range(180):
        cv2.imwrite(str(masks / f"{i:06d}.png"), stale)
    (masks / "notes.txt").write_text("not a frame: stays")
    out.write_bytes(b"an old video")
    clip = make_clip(tmp_path / "in.mp4", (176, 144), 12)
    assert _run(model, clip, "-o", out, "--masks-out", masks, flag) == 0
    names = sorted(p.name for p in masks.iterdir())
    assert names == [f"{i:06d}.png" for i in range(12)] + ["notes.txt"]  # only this run's frames
    assert all(cv2.imread(str(masks / n), cv2.IMREAD_UNCHANGED).shape == (144, 176) for n in names[:-1])
    assert probe(out)["frames"] == 12 and not partial_files(out)


def _process(model: str, clip: Path, out: Path, *extra: str) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "realtime_seg.cli", "process", str(clip), "-o", str(out), "--quiet"]
    cmd += ["--model", model, "--backend", "onnxruntime", *extra]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_two_runs_racing_for_one_name(model: str, tmp_path: Path) -> None:
    """Without --overwrite: one run writes the file, the other ends with a clear error (whichever way the
    race goes: refused at the start, or refused at the rename); never a broken file. With -y both succeed
    and the file is one of the two, complete."""
    short = make_clip(tmp_path / "short.mp4", (320, 240), 30)
    long = make_clip(tmp_path / "long.mp4", (320, 240), 90)
    out = tmp_path / "o.mp4"
    runs = [_process(model, short, out), _process(model, long, out)]
    results = [p.communicate(timeout=120) for p in runs]
    codes = sorted(p.returncode for p in runs)
    assert codes == [0, 3], results
    err = next(e for p, (_, e) in zip(runs, results, strict=True) if p.returncode == 3)
    assert ("exists already; give --overwrite (-y)" in err) or ("was created by another process" in err), err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert probe(out)["frames"] in (30, 90) and not partial_files(out)

    runs = [_process(model, short, out, "-y"), _process(model, long, out, "-y")]
    results = [p.communicate(timeout=120) for p in runs]
    assert [p.returncode for p in runs] == [0, 0], results
    assert probe(out)["frames"] in (30, 90) and not partial_files(out)
