"""The built-in models: MediaPipe's selfie segmentation, fetched from PyPI and converted to ONNX.

The two ``.tflite`` files are read out of the pinned ``mediapipe`` wheel (downloaded with
``pip download --no-deps``, never installed), checked against pinned sha256 values, converted with
:mod:`realtime_seg.models.tflite2onnx` and cached::

    <cache>/models/selfie.onnx                  fp32, NCHW float32 I/O
    <cache>/models/selfie.fp16.onnx             fp16 inside, float32 I/O
    <cache>/models/selfie-landscape.onnx
    <cache>/models/selfie-landscape.fp16.onnx
    <cache>/models/manifest.json                sha256 of every ONNX file
    <cache>/models/NOTICE                       Apache-2.0 attribution
    <cache>/models/tflite/*.tflite              the verified sources (rebuilds need no network)

All writes are atomic and a file lock serialises concurrent fetches. An intact cache is only read, so it may
be read-only; a cache that must be written but cannot be (read-only, ``REALTIME_SEG_CACHE`` pointing at a
file, a full disk) fails with one :class:`ModelFetchError` that says what is wrong and how to fix it.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from realtime_seg._pypi import CACHE_ENV, atomic_write, cache_dir, fetch_members, file_lock, sha256_bytes
from realtime_seg.errors import ModelFetchError, OutputError, UnknownNameError
from realtime_seg.io.atomic import os_reason
from realtime_seg.models import _versions
from realtime_seg.models._manifest import check_cached, load_manifest, read_json, write_json

__all__ = [
    "BUILTIN_MODELS",
    "MEDIAPIPE_REQUIREMENT",
    "PRECISIONS",
    "BuiltinModel",
    "builtin_onnx_path",
    "cache_dir",
    "fetch_all",
    "is_fetched",
    "models_dir",
]

log = logging.getLogger(__name__)

MEDIAPIPE_VERSION = "0.10.21"
MEDIAPIPE_REQUIREMENT = f"mediapipe=={MEDIAPIPE_VERSION}"
PRECISIONS = ("fp32", "fp16")


@dataclass(frozen=True)
class BuiltinModel:
    name: str
    member: str  # path inside the mediapipe wheel
    sha256: str  # of the .tflite member
    input_hw: tuple[int, int]
    description: str

    @property
    def tflite_name(self) -> str:
        return self.member.rsplit("/", 1)[-1]

    def onnx_name(self, precision: str) -> str:
        return f"{self.name}.onnx" if precision == "fp32" else f"{self.name}.{precision}.onnx"


_MP_DIR = "mediapipe/modules/selfie_segmentation"
BUILTIN_MODELS: dict[str, BuiltinModel] = {
    m.name: m
    for m in (
        BuiltinModel(
            "selfie",
            f"{_MP_DIR}/selfie_segmentation.tflite",
            "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c",
            (256, 256),
            "MediaPipe Selfie Segmentation, general model (256x256)",
        ),
        BuiltinModel(
            "selfie-landscape",
            f"{_MP_DIR}/selfie_segmentation_landscape.tflite",
            "a77d03f4659b9f6b6c1f5106947bf40e99d7655094b6527f214ea7d451106edd",
            (144, 256),
            "MediaPipe Selfie Segmentation, landscape model (144x256)",
        ),
    )
}

_RETRY_HINT = (
    "Check the network connection (or proxy / pip configuration) and retry, or download the wheel "
    f"on another machine with `pip download {MEDIAPIPE_REQUIREMENT} --no-deps --only-binary=:all: "
    "--platform manylinux_2_28_x86_64 --python-version 3.11` and run "
    "`realtime-seg models fetch --wheel PATH`."
)

_NOTICE = """\
The ONNX models in this folder were converted by realtime-seg from MediaPipe Selfie Segmentation.

MediaPipe Selfie Segmentation models
Copyright 2021 The MediaPipe Authors (Google LLC).
Licensed under the Apache License, Version 2.0 (the "License"); you may not use these files except
in compliance with the License. You may obtain a copy of the License at
    http://www.apache.org/licenses/LICENSE-2.0
Unless required by applicable law or agreed to in writing, software distributed under the License
is distributed on an "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or
implied. See the License for the specific language governing permissions and limitations.

Modifications: converted from TFLite to ONNX (opset {opset}, NCHW layout), float16 weights folded
to float32; the *.fp16.onnx files compute in float16 with float32 inputs and outputs.
Source: {requirement} from PyPI (https://pypi.org/project/mediapipe/{version}/),
wheel {wheel} (sha256 {wheel_sha256}).
{members}
"""


def models_dir() -> Path:
    return cache_dir() / "models"


def _tflite_dir() -> Path:
    return models_dir() / "tflite"


def _lock_path() -> Path:
    return models_dir() / ".lock"


def _cache_error(reason: str) -> ModelFetchError:
    env = os.environ.get(CACHE_ENV)
    now = f"it is {env}" if env else "it is not set"
    return ModelFetchError(
        f"the model cache {models_dir()} cannot be written: {reason}. Set {CACHE_ENV} to a writable folder "
        f"({now}) or fix the folder's permissions, then run `realtime-seg models fetch`"
    )


def _check_cache_writable() -> None:
    """Fail with a clear message when the models folder cannot be created or written."""
    folder = models_dir()
    for anc in (folder, *folder.parents):
        if not (anc.exists() or anc.is_symlink()):
            continue
        if not anc.is_dir():
            raise _cache_error(f"{anc} is a file, not a folder")
        read_only = hasattr(os, "statvfs") and bool(os.statvfs(anc).f_flag & getattr(os, "ST_RDONLY", 1))
        if read_only:
            raise _cache_error(f"{anc} is on a read-only file system")
        if not os.access(anc, os.W_OK | os.X_OK):
            raise _cache_error(f"{anc} is not writable by this user")
        return


def _model(name: str, precision: str) -> BuiltinModel:
    if name not in BUILTIN_MODELS:
        raise UnknownNameError("built-in model", name, list(BUILTIN_MODELS))
    if precision not in PRECISIONS:
        raise UnknownNameError("precision", precision, PRECISIONS)
    return BUILTIN_MODELS[name]


# -- manifest ----------------------------------------------------------------------------------


def _manifest() -> dict[str, Any]:
    return load_manifest(models_dir() / "manifest.json", _versions.CONVERTER_VERSION)


def _is_valid(model: BuiltinModel, precision: str, manifest: dict[str, Any]) -> tuple[bool, str]:
    """(valid, reason): whether the cached ONNX file exists and matches the manifest."""
    return check_cached(models_dir() / model.onnx_name(precision), manifest)


# -- sources -----------------------------------------------------------------------------------


def _cached_tflite(model: BuiltinModel) -> bytes | None:
    path = _tflite_dir() / model.tflite_name
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    if sha256_bytes(data) != model.sha256:
        log.warning("cached %s is corrupt (sha256 differs from the pinned value); fetching it again", path)
        return None
    return data


def _fetch_sources(wheel: Path | None) -> None:
    """Extract and cache both .tflite files (from ``wheel`` or a fresh PyPI download)."""
    members = {m.member: m.sha256 for m in BUILTIN_MODELS.values()}
    t0 = time.perf_counter()
    data, wheel_name, wheel_sha = fetch_members(
        MEDIAPIPE_REQUIREMENT, members, wheel=wheel, error=ModelFetchError, hint=_RETRY_HINT
    )
    for model in BUILTIN_MODELS.values():
        atomic_write(_tflite_dir() / model.tflite_name, data[model.member])
    source = {"requirement": MEDIAPIPE_REQUIREMENT, "wheel": wheel_name, "wheel_sha256": wheel_sha}
    write_json(_tflite_dir() / "source.json", source)
    log.info("extracted %d models from %s in %.1f s", len(members), wheel_name, time.perf_counter() - t0)


def _tflite_bytes(model: BuiltinModel, *, fetch: bool, wheel: Path | None) -> bytes:
    data = _cached_tflite(model)
    if data is None:
        if not fetch and wheel is None:
            raise ModelFetchError(
                f"built-in model {model.name!r} is not in the cache ({models_dir()}) and fetching is "
                "disabled; run `realtime-seg models fetch` (needs PyPI) or "
                "`realtime-seg models fetch --wheel PATH`"
            )
        _fetch_sources(wheel)
        data = _cached_tflite(model)
        if data is None:  # pragma: no cover - only if the cache folder is unwritable mid-way
            raise ModelFetchError(f"could not cache {model.tflite_name} under {_tflite_dir()}")
    return data


def _write_notice() -> None:
    source = read_json(_tflite_dir() / "source.json")
    members = "\n".join(f"  {m.member} (sha256 {m.sha256})" for m in BUILTIN_MODELS.values())
    text = _NOTICE.format(
        opset=_versions.OPSET,
        requirement=MEDIAPIPE_REQUIREMENT,
        version=MEDIAPIPE_VERSION,
        wheel=source.get("wheel", "unknown"),
        wheel_sha256=source.get("wheel_sha256", "unknown"),
        members=members,
    )
    path = models_dir() / "NOTICE"
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        atomic_write(path, text.encode("utf-8"))


# -- build -------------------------------------------------------------------------------------


def _build(model: BuiltinModel, precisions: tuple[str, ...], tflite_data: bytes) -> None:
    """Convert, validate and write the requested precisions; record their sha256 (lock held)."""
    import onnx  # only when converting: 0.7 s to import

    from realtime_seg.models import tflite2onnx
    from realtime_seg.models.fp16 import to_fp16

    t0 = time.perf_counter()
    fp32 = tflite2onnx.convert_tflite(tflite_data, name=model.name)
    del fp32.graph.value_info[:]
    manifest = _manifest()
    for precision in precisions:
        proto = fp32 if precision == "fp32" else to_fp16(fp32)
        data = proto.SerializeToString()
        onnx.checker.check_model(data, full_check=True)
        fname = model.onnx_name(precision)
        atomic_write(models_dir() / fname, data)
        manifest["files"][fname] = {
            "sha256": sha256_bytes(data),
            "model": model.name,
            "precision": precision,
            "source_sha256": model.sha256,
            "input_hw": list(model.input_hw),
        }
    manifest["source"] = read_json(_tflite_dir() / "source.json")
    write_json(models_dir() / "manifest.json", manifest)
    _write_notice()
    log.info("built %s (%s) in %.2f s", model.name, ", ".join(precisions), time.perf_counter() - t0)


def _ensure(model: BuiltinModel, precision: str, *, fetch: bool, wheel: Path | None, force: bool) -> Path:
    path = models_dir() / model.onnx_name(precision)
    if not force:
        ok, reason = _is_valid(model, precision, _manifest())
        if ok:
            return path
    _check_cache_writable()
    try:
        with file_lock(_lock_path()):
            manifest = _manifest()
            if not force:
                ok, reason = _is_valid(model, precision, manifest)  # another process may have built it
                if ok:
                    return path
                if reason != "absent":
                    log.warning("cached model is corrupt or stale (%s); rebuilding it", reason)
            _build(model, (precision,), _tflite_bytes(model, fetch=fetch, wheel=wheel))
    except (OSError, OutputError) as exc:  # the cache broke while writing (disk full, ...)
        raise _cache_error(os_reason(exc)) from exc
    return path


# -- public API --------------------------------------------------------------------------------


def builtin_onnx_path(name: str, precision: str = "fp32", *, fetch: bool = True, wheel: Path | None = None) -> Path:
    """The cached ONNX file of a built-in model, fetching and converting it when needed.

    A cached file whose sha256 disagrees with the manifest is rebuilt (with a warning). Rebuilding
    uses the cached ``.tflite`` sources; only when those are absent is the wheel read (``wheel``)
    or downloaded from PyPI. With ``fetch=False`` nothing is downloaded: a model that cannot be
    built from the cache raises :class:`ModelFetchError`.
    """
    return _ensure(_model(name, precision), precision, fetch=fetch, wheel=wheel, force=False)


def is_fetched(name: str, precision: str = "fp32") -> bool:
    """Whether the built-in model's ONNX file is cached and matches the manifest."""
    return _is_valid(_model(name, precision), precision, _manifest())[0]


def fetch_all(*, wheel: Path | None = None, force: bool = False) -> list[Path]:
    """Fetch and convert every built-in model in every precision; return the ONNX paths.

    ``force`` re-extracts the sources (from ``wheel`` or PyPI) and rebuilds everything.
    """
    if force:
        _check_cache_writable()
        try:
            with file_lock(_lock_path()):
                _fetch_sources(wheel)
                for model in BUILTIN_MODELS.values():
                    _build(model, PRECISIONS, _tflite_bytes(model, fetch=False, wheel=None))
        except (OSError, OutputError) as exc:
            raise _cache_error(os_reason(exc)) from exc
    paths = []
    for model in BUILTIN_MODELS.values():
        for precision in PRECISIONS:
            paths.append(_ensure(model, precision, fetch=True, wheel=wheel, force=False))
    return paths
