import time
from pathlib import Path

import numpy as np
import pytest

from realtime_seg.capture.sources import CameraSource, FileSource, SyntheticSource, list_cameras
from realtime_seg.errors import CameraLost, CaptureError
from tests.capture.clips import write_clip


def test_file_source_plays_at_its_own_rate_and_loops(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "clip.mp4", frames=6, fps=30)
    with FileSource(clip, loop=True, paced=True) as src:
        assert src.size_wh == (96, 64)
        assert src.fps == pytest.approx(30.0)
        t0 = time.monotonic()
        frames = [src.read() for _ in range(15)]
        elapsed = time.monotonic() - t0
    levels = [int(f.mean()) for f in frames if f is not None]
    assert len(levels) == 15
    # frame k is grey 20*k: the 7th frame is the first one again
    assert levels[6] == pytest.approx(levels[0], abs=3) and levels[5] > levels[0] + 80
    assert elapsed >= 14 / 30 * 0.9  # paced at 30 fps, not as fast as it decodes


def test_file_source_without_loop_ends(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "clip.mp4", frames=4)
    src = FileSource(clip, loop=False, paced=False)
    src.open()
    got = [src.read() for _ in range(5)]
    src.close()
    assert [g is None for g in got] == [False] * 4 + [True]


def test_file_source_errors_are_friendly(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="input file not found"):
        FileSource(tmp_path / "missing.mp4").open()
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all" * 10)
    with pytest.raises(CaptureError, match="cannot play"):
        FileSource(bad).open()
    with pytest.raises(CameraLost):
        FileSource(bad).read()  # never opened


def test_synthetic_source_is_paced_and_deterministic() -> None:
    photo = np.random.default_rng(0).integers(0, 255, (100, 150, 3), np.uint8)
    src = SyntheticSource((64, 48), fps=50, image=photo, frames=10)
    src.open()
    t0 = time.monotonic()
    frames = [src.read() for _ in range(11)]
    elapsed = time.monotonic() - t0
    assert frames[-1] is None
    assert all(f is not None and f.shape == (48, 64, 3) for f in frames[:-1])
    assert elapsed >= 9 / 50 * 0.9
    assert np.array_equal(src.render(3), src.render(3))
    assert not np.array_equal(src.render(0), src.render(10))  # it pans


def test_missing_camera_is_a_friendly_capture_error() -> None:
    with pytest.raises(CaptureError, match="no camera at index 63.*--input FILE"):
        CameraSource(63).open()


def test_list_cameras_reads_names_and_skips_metadata_nodes(tmp_path: Path) -> None:
    for node, name, index in [
        ("video0", "Integrated Camera", "0"),
        ("video1", "Integrated Camera", "1"),
        ("video2", "Logitech C920", "0"),
    ]:
        (tmp_path / node).mkdir()
        (tmp_path / node / "name").write_text(name + "\n")
        (tmp_path / node / "index").write_text(index + "\n")
    cams = list_cameras(sysfs=tmp_path)
    assert [(c.index, c.name) for c in cams] == [(0, "Integrated Camera"), (2, "Logitech C920")]
    assert cams[1].label == "2: Logitech C920"
    assert list_cameras(sysfs=tmp_path / "absent") == []
