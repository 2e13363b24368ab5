"""Fetching, verification and the cache: error paths with fake wheels, then the real thing."""

from __future__ import annotations

import json
import logging
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from realtime_seg._pypi import sha256_file
from realtime_seg.errors import ModelFetchError, UnknownNameError
from realtime_seg.models import fetch
from realtime_seg.models.fetch import BUILTIN_MODELS, builtin_onnx_path, cache_dir, fetch_all, is_fetched


@pytest.fixture
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("REALTIME_SEG_CACHE", str(cache))
    return cache


def make_wheel(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_cache_dir_honours_env(empty_cache: Path) -> None:
    assert cache_dir() == empty_cache


def test_cache_dir_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REALTIME_SEG_CACHE", raising=False)
    assert cache_dir().name == "realtime-seg"


def test_bad_sha256_is_refused(empty_cache: Path, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "fake.whl", {m.member: b"not the model" for m in BUILTIN_MODELS.values()})
    with pytest.raises(
        ModelFetchError,
        match=r"sha256 mismatch for .*selfie_segmentation\.tflite in fake\.whl: "
        r"expected 9ee168ec.*, got [0-9a-f]{64}",
    ):
        builtin_onnx_path("selfie", wheel=wheel)
    assert not (empty_cache / "models" / "selfie.onnx").exists()
    assert not is_fetched("selfie")


def test_wheel_missing_files(empty_cache: Path, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "other.whl", {"something/else.txt": b"x"})
    with pytest.raises(ModelFetchError, match=r"does not contain .*selfie_segmentation\.tflite.*mediapipe==0\.10\.21"):
        fetch_all(wheel=wheel)


def test_wheel_not_a_zip(empty_cache: Path, tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.whl"
    bogus.write_bytes(b"hello")
    with pytest.raises(ModelFetchError, match="cannot read .* as a wheel"):
        builtin_onnx_path("selfie", wheel=bogus)
    with pytest.raises(ModelFetchError, match="wheel file not found"):
        builtin_onnx_path("selfie", wheel=tmp_path / "absent.whl")


def test_fetch_false_when_absent(empty_cache: Path) -> None:
    with pytest.raises(ModelFetchError, match=r"not in the cache .* fetching is disabled.*models fetch --wheel PATH"):
        builtin_onnx_path("selfie-landscape", fetch=False)


def test_unknown_names() -> None:
    with pytest.raises(UnknownNameError, match="valid names: selfie, selfie-landscape"):
        builtin_onnx_path("nope")
    with pytest.raises(UnknownNameError, match="valid names: fp32, fp16"):
        is_fetched("selfie", "int8")


def test_pip_failure_explains_how_to_retry(empty_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # an isolated pip with no index and an empty find-links folder cannot find the wheel (no network used)
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "empty"))
    with pytest.raises(
        ModelFetchError,
        match=r"could not download mediapipe==0\.10\.21 from PyPI .*retry.*"
        r"realtime-seg models fetch --wheel PATH",
    ):
        builtin_onnx_path("selfie")


# -- with the real sources ----------------------------------------------------------------------


@pytest.mark.network
def test_fetch_all_writes_everything(fetched: dict[tuple[str, str], Path], session_cache: Path) -> None:
    models = session_cache / "models"
    manifest = json.loads((models / "manifest.json").read_text())
    assert set(manifest["files"]) == {p.name for p in fetched.values()}
    for (name, precision), path in fetched.items():
        assert path.parent == models and is_fetched(name, precision)
        assert manifest["files"][path.name]["sha256"] == sha256_file(path)
    notice = (models / "NOTICE").read_text()
    assert "Apache License, Version 2.0" in notice and "MediaPipe" in notice
    assert "mediapipe==0.10.21" in notice and BUILTIN_MODELS["selfie"].sha256 in notice


@pytest.fixture
def seeded_cache(empty_cache: Path, session_cache: Path, fetched: dict) -> Path:
    """A fresh cache that holds only the verified .tflite sources (no network needed to build)."""
    shutil.copytree(session_cache / "models" / "tflite", empty_cache / "models" / "tflite")
    return empty_cache


@pytest.mark.network
def test_corrupt_cache_file_is_rebuilt(seeded_cache: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = builtin_onnx_path("selfie", "fp16", fetch=False)  # builds from the cached sources
    good = sha256_file(path)
    path.write_bytes(b"garbage")
    assert not is_fetched("selfie", "fp16")
    with caplog.at_level(logging.WARNING, logger=fetch.__name__):
        again = builtin_onnx_path("selfie", "fp16", fetch=False)
    assert again == path and sha256_file(path) == good
    assert "corrupt" in caplog.text and "rebuilding" in caplog.text


@pytest.mark.network
def test_corrupt_tflite_source_without_network(seeded_cache: Path) -> None:
    src = seeded_cache / "models" / "tflite" / BUILTIN_MODELS["selfie"].tflite_name
    src.write_bytes(b"garbage")
    with pytest.raises(ModelFetchError, match="fetching is disabled"):
        builtin_onnx_path("selfie", fetch=False)


@pytest.mark.network
def test_local_wheel_and_force(empty_cache: Path, tmp_path: Path, tflite_sources: dict[str, bytes]) -> None:
    wheel = make_wheel(
        tmp_path / "mediapipe-0.10.21-local.whl",
        {m.member: tflite_sources[n] for n, m in BUILTIN_MODELS.items()},
    )
    paths = fetch_all(wheel=wheel)
    assert len(paths) == 4 and all(is_fetched(m, p) for m in BUILTIN_MODELS for p in ("fp32", "fp16"))
    assert "mediapipe-0.10.21-local.whl" in (empty_cache / "models" / "NOTICE").read_text()
    before = {p: p.stat().st_mtime_ns for p in paths}
    assert fetch_all() == paths  # cached: nothing rebuilt, no network
    assert {p: p.stat().st_mtime_ns for p in paths} == before
    assert fetch_all(wheel=wheel, force=True) == paths
