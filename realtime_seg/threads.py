"""The thread budget: every pool sized from the cores this process may run on (``os.sched_getaffinity``).

``os.cpu_count()`` counts the machine's cores, not the ones a container, ``taskset`` or a CPU quota leaves
to the process; pools sized from it oversubscribe. The budget, per pool:

- **OpenCV** (``cv2.setNumThreads``): all available cores. OpenCV already reads the affinity mask; it is set
  explicitly so the number is the same one reported.
- **ONNX Runtime intra-op threads**: 1 up to 4 cores, 2 up to 8, then 4. The selfie models are tiny
  (2.7 ms on one thread on the 2-core development machine, docs/benchmarks.md); more threads only spin.
  ONNX Runtime's own default counts physical cores and ignores the affinity mask.
- **PyAV decoder** (FFmpeg frame + slice threads): the available cores + 1, at most 16 (what FFmpeg's
  automatic count gives, which also reads the affinity mask; explicit here so it is reported). On 2 cores
  the CPU per frame is the same for 1, 2 or 3 threads (4.6-4.9 ms at 720p, camera-encoded H.264): threads
  only move the work off the pipeline's critical path.
- **x264 encoder threads**: all available cores, at most 16 (x264's own default is 1.5 x the machine's
  cores, affinity ignored).

``realtime-seg -v`` logs the budget once; ``tools/benchmark.py`` prints it in its environment header.
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass

logger = logging.getLogger(__name__)


def available_cores() -> int:
    """Cores this process may run on (the affinity mask where the OS has one), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class ThreadBudget:
    """Threads per pool for ``cores`` available cores (see the module docstring for the rules)."""

    cores: int
    opencv: int
    onnxruntime: int
    decoder: int
    encoder: int

    def __post_init__(self) -> None:
        for name in ("cores", "opencv", "onnxruntime", "decoder", "encoder"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")

    @classmethod
    def for_cores(cls, cores: int) -> ThreadBudget:
        if not isinstance(cores, int) or cores < 1:
            raise ValueError(f"cores must be an integer >= 1, got {cores!r}")
        ort = 1 if cores <= 4 else 2 if cores <= 8 else 4
        return cls(cores=cores, opencv=cores, onnxruntime=ort, decoder=min(cores + 1, 16), encoder=min(cores, 16))

    def describe(self) -> str:
        return (
            f"{self.cores} core(s) available: OpenCV {self.opencv}, ONNX Runtime {self.onnxruntime} intra-op, "
            f"decoder {self.decoder}, x264 {self.encoder} thread(s)"
        )


@functools.cache
def thread_budget() -> ThreadBudget:
    """The budget for this process's cores; computed, applied to OpenCV and logged once."""
    budget = ThreadBudget.for_cores(available_cores())
    import cv2

    cv2.setNumThreads(budget.opencv)
    logger.info("thread budget: %s", budget.describe())
    return budget
