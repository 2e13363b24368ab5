"""``realtime-seg models list|fetch`` through the real CLI, on an empty cache (no network used)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from realtime_seg.cli import main
from realtime_seg.models.fetch import BUILTIN_MODELS
from tests.tiny_models import write_user_model


@pytest.fixture
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("REALTIME_SEG_CACHE", str(cache))
    return cache


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_fetch_from_a_wheel_with_a_wrong_file_is_refused(
    empty_cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The wheel has the right member names but the wrong bytes: one clear line, nothing cached."""
    wheel = tmp_path / "mediapipe-0.10.21-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for m in BUILTIN_MODELS.values():
            zf.writestr(m.member, b"TFL3 but not the pinned model")
    assert main(["models", "fetch", "--wheel", str(wheel)]) == 1
    captured = capsys.readouterr()
    assert captured.err.startswith("realtime-seg: error: sha256 mismatch for ") and captured.err.count("\n") == 1
    assert wheel.name in captured.err and "ready:" not in captured.out
    assert not [f for f in _files(empty_cache) if f.endswith((".onnx", ".tflite", "manifest.json"))]


def test_fetch_from_a_wheel_without_the_models(
    empty_cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheel = tmp_path / "numpy-2.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("numpy/__init__.py", b"")
    assert main(["models", "fetch", "--wheel", str(wheel)]) == 1
    err = capsys.readouterr().err
    assert "does not contain" in err and "mediapipe==0.10.21" in err and err.count("\n") == 1
    assert not [f for f in _files(empty_cache) if f.endswith((".onnx", ".tflite"))]


def test_list_shows_builtins_unfetched_and_a_user_model(
    empty_cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    user = write_user_model(tmp_path, "logits")
    assert main(["models", "list", str(user)]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert rows["selfie"][1:3] == ["no", "256x256"] and rows["selfie-landscape"][1:3] == ["no", "256x144"]
    assert rows["rvm"][1:4] == ["no", "480x270", "GPL-3.0"] and rows["selfie"][3] == "Apache-2.0"
    assert rows["rgb-classes"][1:5] == ["yes", "64x48", "-", "background,red,green"]
    assert rows["rgb-classes"][5] == str(user)
    assert rows["cache:"][1] == str(empty_cache)
