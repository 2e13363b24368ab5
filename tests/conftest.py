"""Suite-wide fixtures.

``no_tensorrt``-marked tests check the CPU-only fallback (TensorRT absent). They run on CI and on
development machines, and are skipped where TensorRT actually works, so the whole suite can also run on
a GPU machine.
"""

from __future__ import annotations

import functools

import pytest


@functools.cache
def _tensorrt_usable() -> tuple[bool, str]:
    from realtime_seg.backends.select import tensorrt_status

    return tensorrt_status()


@pytest.fixture(autouse=True)
def _skip_cpu_only_checks_where_tensorrt_works(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("no_tensorrt") is None:
        return
    ok, why = _tensorrt_usable()
    if ok:
        pytest.skip(f"checks the CPU-only fallback, but TensorRT is usable here ({why})")
