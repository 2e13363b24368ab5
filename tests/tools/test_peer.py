"""The benchmark's peer comparison (tools/_peer.py) without the peer itself.

The MediaPipe recipe (tools/peer_mediapipe.py) needs ``mediapipe==0.10.21`` in a throw-away venv (a
43 MB wheel plus jax and opencv-contrib): too heavy for the test suite, so it is run by the benchmark
only. What is tested here is ours as a whole process (the summary the benchmark parses), the camera-like
default clip, and the contact sheet, with the input clip standing in for the peer's output.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

TOOLS = Path(__file__).resolve().parents[2] / "tools"
sys.path.insert(0, str(TOOLS))

import _peer  # noqa: E402


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(TOOLS / "benchmark.py"), *args], capture_output=True, text=True)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mode", "infer", "--peer", "mediapipe"], "--peer mediapipe runs with the offline mode"),
        (["--mode", "offline", "--peer", "mediapipe", "--peer-rounds", "0"], "--peer-rounds must be >= 1, got 0"),
        (["--peer", "tflite"], "invalid choice: 'tflite'"),
        (["--clip", "nope"], "invalid choice: 'nope'"),
    ],
)
def test_bad_peer_options_give_one_line_errors(args: list[str], message: str) -> None:
    proc = _run(*args)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr


@pytest.fixture(scope="module")
def clip() -> Path:
    return _peer.camera_clip((320, 180), 24, "astronaut")


@pytest.mark.network  # the sample photo and the model come from PyPI wheels
@pytest.mark.slow
def test_default_clip_is_encoded_as_cameras_encode(clip: Path) -> None:
    info = _peer.describe_clip(clip)
    assert info["codec"] == "h264" and info["profile"] == "High"
    assert info["b_frames"] and info["frame_types_first_60"].get("B", 0) > 0
    assert info["cabac"] == "1"
    assert info["frames"] == 24 and info["size"] == "320x180"


@pytest.mark.network  # the sample photo and the model come from PyPI wheels
@pytest.mark.slow
def test_ours_runs_as_a_whole_process_and_its_summary_is_read(clip: Path, tmp_path: Path) -> None:
    args = argparse.Namespace(effect="blur", preset="ultrafast", threads=None)
    run = _peer._ours(args, clip, tmp_path / "ours.mp4", "selfie", "onnxruntime")
    assert run["frames"] == 24
    assert 0 < run["loop_s"] < run["wall_s"] and run["startup_s"] > 0 and run["cpu_s"] > 0
    assert {"decode", "infer", "refine", "effect", "encode"} <= set(run["stages"])
    assert (tmp_path / "ours.mp4").is_file()


@pytest.mark.network  # the sample photo and the model come from PyPI wheels
@pytest.mark.slow
def test_contact_sheet_shows_input_ours_and_peer(clip: Path, tmp_path: Path) -> None:
    args = argparse.Namespace(effect="blur", preset="ultrafast", threads=None)
    _peer._ours(args, clip, tmp_path / "ours.mp4", "selfie", "onnxruntime")
    sheet = _peer.contact_sheet(clip, tmp_path / "ours.mp4", clip, tmp_path / "sheet.png", rows=3, width=200)
    image = cv2.imread(str(sheet))
    assert image is not None
    tile_h = round(180 * 200 / 320)
    assert image.shape[0] == 3 * (tile_h + 4)
    assert image.shape[1] == 3 * (200 + 4)
    assert image[tile_h // 2 :, :].std() > 10  # real pictures, not black tiles
