"""The thread budget: pools sized from the cores the process may run on."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from realtime_seg.threads import ThreadBudget, available_cores, thread_budget


@pytest.mark.parametrize(
    ("cores", "ort", "decoder", "encoder"),
    [(1, 1, 2, 1), (2, 1, 3, 2), (4, 1, 5, 4), (8, 2, 9, 8), (16, 4, 16, 16), (64, 4, 16, 16)],
)
def test_budget_rules(cores: int, ort: int, decoder: int, encoder: int) -> None:
    b = ThreadBudget.for_cores(cores)
    assert (b.cores, b.opencv, b.onnxruntime, b.decoder, b.encoder) == (cores, cores, ort, decoder, encoder)
    assert f"{cores} core(s) available" in b.describe()


@pytest.mark.parametrize("bad", [0, -1, 2.5])
def test_bad_core_counts_are_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="cores must be an integer >= 1"):
        ThreadBudget.for_cores(bad)  # type: ignore[arg-type]


def test_available_cores_follow_the_affinity_mask() -> None:
    if hasattr(os, "sched_getaffinity"):
        assert available_cores() == len(os.sched_getaffinity(0))
    assert thread_budget().cores == available_cores()


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs an affinity mask (Linux)")
def test_a_process_pinned_to_one_core_gets_one_thread_everywhere() -> None:
    code = (
        "import os; os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]}); "
        "import cv2; from realtime_seg.threads import thread_budget; b = thread_budget(); "
        "print(b.cores, b.opencv, b.onnxruntime, b.decoder, b.encoder, cv2.getNumThreads())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["1", "1", "1", "2", "1", "1"]  # cores, OpenCV, ONNX Runtime, decoder (cores + 1), x264, cv2
