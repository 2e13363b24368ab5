"""The TensorRT engine cache: where engines live, what makes one reusable, and atomic writes.

An engine (a TensorRT "plan") only runs on the TensorRT version and the GPU architecture it was built for,
and it bakes in the precision and the input shapes. So every engine is stored under a key that covers all
of that (:class:`EngineKey`). The file name carries a short hash of the key; a JSON sidecar next to it holds
the full key, so a stale or foreign engine is recognised and rebuilt with a message, never loaded blindly.

Nothing in this module imports TensorRT or CUDA: it is pure bookkeeping, tested on the CPU.
Engine files are executable artifacts: only load engines this program built on this machine.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from realtime_seg import __version__
from realtime_seg.errors import EngineCacheError
from realtime_seg.io.atomic import write_bytes_atomic

logger = logging.getLogger(__name__)

ENGINE_DIR_ENV = "REALTIME_SEG_ENGINE_DIR"
ENGINE_SUFFIX = ".engine"
SIDECAR_SUFFIX = ".json"
#: bump when the meaning of a key field changes, so old engines are rebuilt
KEY_SCHEMA = 1

Shape = tuple[int, ...]


# -- where ---------------------------------------------------------------------------------------


def checkout_engine_dir() -> Path | None:
    """The repository's ``engines/`` folder when running from a source checkout, else None."""
    root = Path(__file__).resolve().parents[3]  # realtime_seg/backends/tensorrt/engine_cache.py -> repository root
    if (root / "pyproject.toml").is_file() and (root / "engines").is_dir():
        return root / "engines"
    return None


def default_engine_dir(explicit: Path | str | None = None) -> Path:
    """Where engines go: ``explicit`` (``--engine-dir``), else ``$REALTIME_SEG_ENGINE_DIR``, else the checkout's
    ``engines/``, else ``engines/`` in the user cache (``$REALTIME_SEG_CACHE`` or the platform cache dir)."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get(ENGINE_DIR_ENV)
    if env:
        return Path(env).expanduser()
    checkout = checkout_engine_dir()
    if checkout is not None:
        return checkout
    cache = os.environ.get("REALTIME_SEG_CACHE")
    if cache:
        return Path(cache).expanduser() / "engines"
    import platformdirs

    return Path(platformdirs.user_cache_dir("realtime-seg")) / "engines"


# -- what ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProfileShapes:
    """One optimization profile for the image input: the (min, opt, max) shapes TensorRT tunes for."""

    input_name: str
    min: Shape
    opt: Shape
    max: Shape
    #: the other dynamic inputs' (name, min, opt, max): a recurrent model's state tensors
    more: tuple[tuple[str, Shape, Shape, Shape], ...] = ()

    def __post_init__(self) -> None:
        ranks = {len(self.min), len(self.opt), len(self.max)}
        if len(ranks) != 1:
            raise ValueError(f"profile shapes must have one rank, got min={self.min} opt={self.opt} max={self.max}")
        for lo, mid, hi in zip(self.min, self.opt, self.max, strict=True):
            if not (1 <= lo <= mid <= hi):
                raise ValueError(
                    f"profile shapes must satisfy 1 <= min <= opt <= max per axis, "
                    f"got min={self.min} opt={self.opt} max={self.max}"
                )

    @property
    def max_batch(self) -> int:
        return self.max[0]

    @property
    def key(self) -> tuple[Shape, ...]:
        """What the engine key records: the image input's (min, opt, max), then every other input's."""
        return (self.min, self.opt, self.max, *(s for _, lo, mid, hi in self.more for s in (lo, mid, hi)))


def profile_shapes(
    input_name: str, graph_shape: tuple[int | None, ...], model_shape: Shape, max_batch: int = 1
) -> ProfileShapes | None:
    """The optimization profile for the model input, or None when the graph's input is fully static.

    ``graph_shape`` is the ONNX input shape (None for a dynamic axis); ``model_shape`` is the spec's batch-1
    shape that fills the dynamic non-batch axes. A dynamic batch axis gets min 1, opt 1, max ``max_batch``
    (batch 1 is the live case; larger batches serve offline processing).
    """
    if max_batch < 1:
        raise ValueError(f"max batch: expected >= 1, got {max_batch}")
    if len(graph_shape) != len(model_shape):
        raise ValueError(f"input rank: the model spec has {len(model_shape)} axes, the graph has {len(graph_shape)}")
    fixed_batch = graph_shape[0]
    if fixed_batch is not None and max_batch > fixed_batch:
        raise ValueError(
            f"the ONNX graph's input {input_name!r} has a fixed batch of {fixed_batch}, so max batch {max_batch} "
            "cannot be built: re-export the model with a dynamic batch axis, or use max batch "
            f"{fixed_batch}"
        )
    if all(d is not None for d in graph_shape):
        return None
    rest = tuple(int(g) if g is not None else int(m) for g, m in zip(graph_shape[1:], model_shape[1:], strict=True))
    if fixed_batch is not None:
        shape = (int(fixed_batch), *rest)
        return ProfileShapes(input_name, shape, shape, shape)
    return ProfileShapes(input_name, (1, *rest), (1, *rest), (max_batch, *rest))


@dataclass(frozen=True)
class EngineKey:
    """Everything an engine depends on. Two builds with equal keys make interchangeable engines."""

    model: str  # a readable name for the file (the ONNX stem); not what decides reuse: onnx_sha256 does
    onnx_sha256: str
    trt_version: str  # the full trt.__version__, e.g. "10.8.0.43"
    trt_flavour: str  # the CUDA major the wheels were built for: "cu12", "cu13" or "unknown"
    gpu_name: str
    compute_capability: str  # e.g. "8.9"
    precision: str  # "fp32" or "fp16"
    build_mode: str  # "strongly-typed" or "fp16-flag" (TensorRT 10 only)
    profile: tuple[tuple[int, ...], ...]  # (min, opt, max) of the input, () for a static input
    opt_level: int
    workspace_bytes: int  # 0 = TensorRT's default (all device memory)
    version_compatible: bool = False
    hardware_compatibility: str = "none"
    schema: int = KEY_SCHEMA

    def __post_init__(self) -> None:
        if self.precision not in ("fp32", "fp16"):
            raise ValueError(f"precision: expected 'fp32' or 'fp16', got {self.precision!r}")
        if not re.fullmatch(r"[0-9a-f]{64}", self.onnx_sha256):
            raise ValueError(f"onnx_sha256: expected 64 hex digits, got {self.onnx_sha256!r}")
        if not 0 <= self.opt_level <= 5:
            raise ValueError(f"opt_level: expected 0..5, got {self.opt_level}")
        object.__setattr__(self, "profile", tuple(tuple(int(d) for d in s) for s in self.profile))

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["profile"] = [list(s) for s in self.profile]
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EngineKey:
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        missing = sorted(n for n in names - set(data) if n not in ("version_compatible", "hardware_compatibility"))
        if unknown or missing:
            raise ValueError(f"engine key fields: unknown {unknown}, missing {missing}")
        data = dict(data)
        data["profile"] = tuple(tuple(s) for s in data["profile"])
        return cls(**data)

    def canonical(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"))

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.canonical().encode()).hexdigest()

    @property
    def short_hash(self) -> str:
        return self.digest[:12]

    @property
    def file_stem(self) -> str:
        """``<model>-<precision>-trt<major.minor>-sm<cc>-<hash12>``: readable, unique per key."""
        model = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.model) or "model"
        trt = ".".join(self.trt_version.split(".")[:2])
        sm = self.compute_capability.replace(".", "")
        return f"{model}-{self.precision}-trt{trt}-sm{sm}-{self.short_hash}"

    def differences(self, other: EngineKey) -> list[str]:
        """Human lines naming each field that differs: ``trt_version: cached 10.7.0, wanted 10.8.0``."""
        mine, theirs = self.as_dict(), other.as_dict()
        return [f"{k}: cached {theirs[k]!r}, wanted {mine[k]!r}" for k in mine if mine[k] != theirs[k]]


def timing_cache_name(trt_version: str, trt_flavour: str, gpu_name: str, compute_capability: str) -> str:
    """Timing caches are exact to the TensorRT version and the GPU, like engines."""
    gpu = re.sub(r"[^A-Za-z0-9]+", "_", gpu_name).strip("_") or "gpu"
    return f"timing-trt{trt_version}-{trt_flavour}-{gpu}-sm{compute_capability.replace('.', '')}.cache"


# -- files ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CachedEngine:
    path: Path
    sidecar: Path
    key: EngineKey


class EngineCache:
    """Engines in one folder: ``<stem>.engine`` plus ``<stem>.json`` (the full key and the engine's sha256)."""

    def __init__(self, directory: Path | str | None = None) -> None:
        self.directory = default_engine_dir(directory)

    def engine_path(self, key: EngineKey) -> Path:
        return self.directory / f"{key.file_stem}{ENGINE_SUFFIX}"

    def sidecar_path(self, key: EngineKey) -> Path:
        return self.directory / f"{key.file_stem}{SIDECAR_SUFFIX}"

    def timing_cache_path(self, key: EngineKey) -> Path:
        return self.directory / timing_cache_name(
            key.trt_version, key.trt_flavour, key.gpu_name, key.compute_capability
        )

    def load(self, key: EngineKey) -> bytes | None:
        """The cached engine's bytes for ``key``; None when there is none.

        Raises :class:`EngineCacheError` when a file exists but cannot be trusted: its sidecar is missing or
        unreadable, holds another key, or the engine's sha256 differs from the one recorded at build time.
        """
        path, sidecar = self.engine_path(key), self.sidecar_path(key)
        if not path.exists():
            return None
        try:
            meta = json.loads(sidecar.read_text(encoding="utf-8"))
            stored = EngineKey.from_dict(meta["key"])
            recorded_sha = str(meta["engine_sha256"])
        except FileNotFoundError as exc:
            raise EngineCacheError(f"cached engine {path.name} has no sidecar {sidecar.name}") from exc
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise EngineCacheError(f"cached engine {path.name}: unreadable sidecar {sidecar.name} ({exc})") from exc
        if stored != key:
            diff = "; ".join(key.differences(stored)) or "(equal fields, different schema)"
            raise EngineCacheError(f"cached engine {path.name} was built for another configuration: {diff}")
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != recorded_sha:
            raise EngineCacheError(f"cached engine {path.name} is corrupt: its sha256 differs from the sidecar's")
        return data

    def store(self, key: EngineKey, plan: bytes | bytearray | memoryview, build_seconds: float = 0.0) -> Path:
        """Write the engine, then its sidecar (each atomically). A reader never sees half a file."""
        data = bytes(plan)
        path = write_bytes_atomic(self.engine_path(key), data, mkdir=True)
        meta = {
            "key": key.as_dict(),
            "engine_sha256": hashlib.sha256(data).hexdigest(),
            "engine_bytes": len(data),
            "built_by": f"realtime-seg {__version__}",
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "build_seconds": round(build_seconds, 2),
        }
        write_bytes_atomic(
            self.sidecar_path(key), (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode(), mkdir=True
        )
        logger.info("stored engine %s (%d bytes)", path, len(data))
        return path

    def invalidate(self, key: EngineKey) -> None:
        """Remove an engine (and its sidecar) that failed to load, so the next run rebuilds it."""
        for p in (self.engine_path(key), self.sidecar_path(key)):
            p.unlink(missing_ok=True)

    def entries(self) -> list[CachedEngine]:
        """Every engine with a readable sidecar in the folder."""
        found: list[CachedEngine] = []
        if not self.directory.is_dir():
            return found
        for sidecar in sorted(self.directory.glob(f"*{SIDECAR_SUFFIX}")):
            try:
                key = EngineKey.from_dict(json.loads(sidecar.read_text(encoding="utf-8"))["key"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
            engine = sidecar.with_suffix(ENGINE_SUFFIX)
            if engine.exists():
                found.append(CachedEngine(engine, sidecar, key))
        return found

    def explain_miss(self, key: EngineKey) -> list[str]:
        """Why no engine fits: for engines of the same model and precision, which key fields differ."""
        lines = []
        for entry in self.entries():
            if entry.key.model == key.model and entry.key.precision == key.precision and entry.key != key:
                lines.append(f"{entry.path.name}: " + "; ".join(key.differences(entry.key)))
        return lines
