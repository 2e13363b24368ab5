from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime_seg.cli import main
from tests.tiny_models import write_user_model


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    image = np.zeros((90, 120, 3), np.uint8)
    image[20:70, 30:80] = 255
    path = tmp_path / "photo.png"
    cv2.imwrite(str(path), image)
    return path


def test_segment_writes_mask_and_preview(tmp_path: Path, photo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = write_user_model(tmp_path, "brightness")
    out = tmp_path / "out"
    assert main(["segment", str(photo), "--out-dir", str(out), "--model", str(model), "--threads", "1"]) == 0
    mask = cv2.imread(str(out / "photo_mask.png"), cv2.IMREAD_UNCHANGED)
    preview = cv2.imread(str(out / "photo_preview.png"))
    assert mask.shape == (90, 120) and mask.dtype == np.uint8
    assert mask[45, 55] > 250 and mask[5, 5] < 5
    assert preview.shape == (90, 240, 3)
    assert "wrote" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["photo_mask.png", "photo_preview.png"]  # no temp files left


def _broken_png(path: Path, damage: Callable[[bytes], bytes]) -> Path:
    """A real PNG of noise (so its data is long), damaged: cut short, or bytes inside its pixel data zeroed."""
    ok, buf = cv2.imencode(".png", np.random.default_rng(0).integers(0, 255, (90, 120, 3), np.uint8))
    assert ok
    path.write_bytes(damage(buf.tobytes()))
    return path


@pytest.mark.parametrize(
    ("make", "message", "code"),
    [
        (lambda d: d / "missing.png", "image not found: ", 2),
        (lambda d: (d / "notes.png").write_text("hello") and d / "notes.png", "not an image", 2),
        (lambda d: _broken_png(d / "cut.png", lambda b: b[: len(b) // 2]), "not an image", 2),
        (lambda d: _broken_png(d / "crc.png", lambda b: b[:200] + bytes(60) + b[260:]), "not an image", 2),
    ],
    ids=["missing", "text", "truncated-png", "corrupt-png"],
)
def test_bad_images_give_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: object, message: str, code: int
) -> None:
    model = write_user_model(tmp_path, "brightness")
    image = make(tmp_path)  # type: ignore[operator]
    rc = main(["segment", str(image), "--out-dir", str(tmp_path / "out"), "--model", str(model)])
    err = capsys.readouterr().err
    assert rc == code
    assert err.startswith("realtime-seg: error: ") and message in err
    assert err.count("\n") == 1
    assert not (tmp_path / "out").exists()  # nothing is written when an input is bad


def test_a_model_that_is_not_onnx(tmp_path: Path, photo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bogus = tmp_path / "model.onnx"
    bogus.write_bytes(b"GIF89a...")
    rc = main(["segment", str(photo), "--out-dir", str(tmp_path / "o"), "--model", str(bogus)])
    assert rc == 1
    assert "is not an ONNX model" in capsys.readouterr().err


def test_console_entry_point_runs_without_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "realtime_seg.cli", "segment", str(tmp_path / "none.jpg")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "image not found" in proc.stderr


@pytest.mark.no_tensorrt
def test_info_reports_backends(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info"]) == 0
    text = capsys.readouterr().out
    assert "onnxruntime" in text and "CPUExecutionProvider" in text
    assert "backend auto" in text and "onnxruntime" in text


def test_one_bad_image_among_good_ones_writes_nothing(
    tmp_path: Path, photo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = write_user_model(tmp_path, "brightness")
    bad = _broken_png(tmp_path / "cut.png", lambda b: b[: len(b) // 2])
    rc = main(["segment", str(photo), str(bad), "--out-dir", str(tmp_path / "out"), "--model", str(model)])
    assert rc == 2 and f"not an image (or an unsupported format): {bad}" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # every input is read before the first output


def test_colliding_stems_are_refused_before_any_work(
    tmp_path: Path, photo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = write_user_model(tmp_path, "brightness")
    jpg = tmp_path / "photo.jpg"
    cv2.imwrite(str(jpg), cv2.imread(str(photo)))
    out = tmp_path / "out"
    rc = main(["segment", str(jpg), str(photo), "--out-dir", str(out), "--model", str(model), "--threads", "1"])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{jpg} and {photo} would both be written as {out / 'photo_mask.png'}" in err
    assert not out.exists()  # nothing was written, not even the folder


def test_existing_outputs_are_refused_unless_overwrite(
    tmp_path: Path, photo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = write_user_model(tmp_path)
    out = tmp_path / "out"
    argv = ["segment", str(photo), "--out-dir", str(out), "--model", str(model)]
    assert main(argv) == 0
    mask = out / f"{photo.stem}_mask.png"
    mask.write_bytes(b"an older result")  # stands for a mask the user wants to keep
    capsys.readouterr()
    assert main(argv) == 3
    err = capsys.readouterr().err.strip()
    assert err == f"realtime-seg: error: {mask} exists already (and 1 more); -y/--overwrite replaces it"
    assert mask.read_bytes() == b"an older result"  # nothing was touched
    assert main([*argv, "-y"]) == 0
    assert mask.read_bytes().startswith(b"\x89PNG")
