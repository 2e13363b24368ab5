"""The engine cache: key, file naming, sidecar checks, atomic writes, default folder. Pure Python, real files."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest

from realtime_seg._pypi import sha256_file
from realtime_seg.backends.tensorrt import engine_cache
from realtime_seg.backends.tensorrt.engine_cache import (
    EngineCache,
    EngineKey,
    default_engine_dir,
    profile_shapes,
)
from realtime_seg.errors import EngineCacheError


def _key(onnx_path: Path, **kw: object) -> EngineKey:
    base = EngineKey(
        model=onnx_path.stem,
        onnx_sha256=sha256_file(onnx_path),
        trt_version="10.8.0.43",
        trt_flavour="cu12",
        gpu_name="NVIDIA GeForce RTX 4090",
        compute_capability="8.9",
        precision="fp16",
        build_mode="strongly-typed",
        profile=(),
        opt_level=3,
        workspace_bytes=0,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def test_key_uses_the_real_onnx_sha256(tiny_onnx: Path) -> None:
    key = _key(tiny_onnx)
    assert key.onnx_sha256 == hashlib.sha256(tiny_onnx.read_bytes()).hexdigest()


def test_file_name_is_readable_and_carries_a_short_hash(tiny_onnx: Path, tmp_path: Path) -> None:
    key = _key(tiny_onnx)
    assert key.file_stem == f"tiny-fp16-trt10.8-sm89-{key.short_hash}"
    assert len(key.short_hash) == 12 and key.digest.startswith(key.short_hash)
    assert EngineCache(tmp_path).engine_path(key).name == key.file_stem + ".engine"


@pytest.mark.parametrize(
    "change",
    [
        {"trt_version": "10.8.0.44"},
        {"trt_flavour": "cu13"},
        {"gpu_name": "NVIDIA RTX A2000"},
        {"compute_capability": "8.6"},
        {"precision": "fp32"},
        {"profile": ((1, 3, 48, 64), (1, 3, 48, 64), (4, 3, 48, 64))},
        {"opt_level": 0},
        {"workspace_bytes": 1 << 30},
        {"version_compatible": True},
        {"hardware_compatibility": "ampere+"},
    ],
)
def test_every_key_field_changes_the_file(tiny_onnx: Path, change: dict) -> None:
    assert _key(tiny_onnx, **change).file_stem != _key(tiny_onnx).file_stem


def test_other_onnx_bytes_change_the_key(tiny_onnx: Path, tmp_path: Path) -> None:
    from tests.tiny_models import brightness_model

    other = brightness_model(tmp_path / "tiny2.onnx", gain=5.0)
    assert _key(other, model="tiny").short_hash != _key(tiny_onnx).short_hash


def test_store_then_load_round_trip_with_sidecar(tiny_onnx: Path, tmp_path: Path) -> None:
    cache = EngineCache(tmp_path / "engines")
    key = _key(tiny_onnx)
    assert cache.load(key) is None
    path = cache.store(key, b"\x00plan-bytes", build_seconds=1.5)
    assert cache.load(key) == b"\x00plan-bytes"
    meta = json.loads(cache.sidecar_path(key).read_text())
    assert EngineKey.from_dict(meta["key"]) == key and meta["engine_bytes"] == 11
    assert sorted(p.name for p in path.parent.iterdir()) == sorted([path.name, cache.sidecar_path(key).name])


def test_key_mismatch_names_the_fields(tiny_onnx: Path, tmp_path: Path) -> None:
    cache = EngineCache(tmp_path)
    key = _key(tiny_onnx)
    cache.store(key, b"plan")
    foreign = _key(tiny_onnx, trt_version="10.7.0.23", gpu_name="Tesla T4")
    meta = json.loads(cache.sidecar_path(key).read_text())
    meta["key"] = foreign.as_dict()  # an engine file whose sidecar says it was built elsewhere
    cache.sidecar_path(key).write_text(json.dumps(meta))
    with pytest.raises(EngineCacheError, match=r"trt_version: cached '10.7.0.23', wanted '10.8.0.43'.*gpu_name"):
        cache.load(key)


def test_corrupt_engine_missing_or_broken_sidecar(tiny_onnx: Path, tmp_path: Path) -> None:
    cache = EngineCache(tmp_path)
    key = _key(tiny_onnx)
    cache.store(key, b"plan-bytes")
    cache.engine_path(key).write_bytes(b"plan-byt")
    with pytest.raises(EngineCacheError, match="is corrupt"):
        cache.load(key)
    cache.sidecar_path(key).write_text("{not json")
    with pytest.raises(EngineCacheError, match="unreadable sidecar"):
        cache.load(key)
    cache.sidecar_path(key).unlink()
    with pytest.raises(EngineCacheError, match="has no sidecar"):
        cache.load(key)
    cache.invalidate(key)
    assert cache.load(key) is None


def test_explain_miss_lists_engines_for_other_setups(tiny_onnx: Path, tmp_path: Path) -> None:
    cache = EngineCache(tmp_path)
    cache.store(_key(tiny_onnx, trt_version="10.7.0.23"), b"old")
    cache.store(_key(tiny_onnx, precision="fp32"), b"other precision: not mentioned")
    lines = cache.explain_miss(_key(tiny_onnx))
    assert len(lines) == 1 and "trt_version: cached '10.7.0.23', wanted '10.8.0.43'" in lines[0]


def test_default_dir_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REALTIME_SEG_ENGINE_DIR", raising=False)
    checkout = Path(engine_cache.__file__).resolve().parents[3]
    assert default_engine_dir() == checkout / "engines"  # tests run from a checkout with engines/
    monkeypatch.setenv("REALTIME_SEG_ENGINE_DIR", str(tmp_path / "env"))
    assert default_engine_dir() == tmp_path / "env"
    assert default_engine_dir(tmp_path / "flag") == tmp_path / "flag"
    monkeypatch.delenv("REALTIME_SEG_ENGINE_DIR")
    monkeypatch.setattr(engine_cache, "checkout_engine_dir", lambda: None)
    monkeypatch.setenv("REALTIME_SEG_CACHE", str(tmp_path / "cache"))
    assert default_engine_dir() == tmp_path / "cache" / "engines"


def test_profile_shapes() -> None:
    # fully static graph: no profile needed
    assert profile_shapes("input", (1, 3, 256, 256), (1, 3, 256, 256)) is None
    # dynamic batch: batch 1 by default, max batch for offline use
    p = profile_shapes("input", (None, 3, 256, 256), (1, 3, 256, 256), max_batch=8)
    assert p is not None and (p.min, p.opt, p.max) == ((1, 3, 256, 256), (1, 3, 256, 256), (8, 3, 256, 256))
    # dynamic spatial axes take the spec's size
    p = profile_shapes("input", (None, 3, None, None), (1, 3, 144, 256))
    assert p is not None and p.max == (1, 3, 144, 256)
    # fixed batch with dynamic spatial axes: the profile pins the batch
    p = profile_shapes("input", (1, 3, None, None), (1, 3, 144, 256))
    assert p is not None and p.min == p.max == (1, 3, 144, 256)
    with pytest.raises(ValueError, match="fixed batch of 1.*max batch 4"):
        profile_shapes("input", (1, 3, 256, 256), (1, 3, 256, 256), max_batch=4)
    with pytest.raises(ValueError, match="expected >= 1, got 0"):
        profile_shapes("input", (None, 3, 8, 8), (1, 3, 8, 8), max_batch=0)
    with pytest.raises(ValueError, match="rank"):
        profile_shapes("input", (None, 8, 8), (1, 3, 8, 8))
