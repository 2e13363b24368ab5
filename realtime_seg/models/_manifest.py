"""The JSON files of a converted-model cache (``manifest.json``, ``source.json``), shared by the built-in models
(:mod:`realtime_seg.models.fetch`) and RVM (:mod:`realtime_seg.models.rvm`): reading them leniently, writing them
atomically, and checking a cached ONNX file against its manifest. Imports no converter (no ``onnx``)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from realtime_seg._pypi import atomic_write, sha256_file

log = logging.getLogger(__name__)

MANIFEST_FORMAT = 1


def read_json(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; ``{}`` when it is absent, unreadable (logged) or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError):  # absent (the cache folder's problems are reported when writing)
        return {}
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable %s (%s)", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8"))


def load_manifest(path: Path, converter_version: str) -> dict[str, Any]:
    """The manifest in ``path``, or an empty one when it is absent or from another format or converter version."""
    data = read_json(path)
    if data.get("format") != MANIFEST_FORMAT or data.get("converter") != converter_version:
        return {"format": MANIFEST_FORMAT, "converter": converter_version, "files": {}}
    data.setdefault("files", {})
    return data


def check_cached(path: Path, manifest: dict[str, Any]) -> tuple[bool, str]:
    """(valid, reason): whether the cached file ``path`` exists and matches its sha256 in ``manifest``."""
    if not path.is_file():
        return False, "absent"
    expected = manifest["files"].get(path.name, {}).get("sha256")
    if expected is None:
        return False, f"{path} is not in the manifest"
    actual = sha256_file(path)
    if actual != expected:
        return False, f"{path} has sha256 {actual}, the manifest says {expected}"
    return True, "ok"
