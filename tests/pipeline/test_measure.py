"""``measure_live`` (``app --measure``, the benchmark's live mode, tools/soak.py) keeps scalars, never frames."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

from realtime_seg.capture.sources import SyntheticSource
from realtime_seg.pipeline.measure import measure_live
from realtime_seg.pipeline.settings import ProcessingSettings
from tests.tiny_models import write_user_model


def test_memory_does_not_grow_with_the_frames_measured(tmp_path: Path) -> None:
    model = write_user_model(tmp_path, "brightness")
    settings = ProcessingSettings(model=str(model), backend="onnxruntime", threads=1, effect="none")
    source = SyntheticSource((640, 360), 30.0)
    tracemalloc.start()  # numpy registers its buffers with tracemalloc: every kept frame would show
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        stats = measure_live(source, settings, 2.0, warmup_s=0.3)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    per_frame = 640 * 360 * 3 + 640 * 360 * 4  # the output image and the float32 alpha of one result
    assert stats.frames_processed >= 20, stats
    # keeping every result (the old behaviour) would hold frames_processed * per_frame bytes at the end
    assert peak < 8 * per_frame < stats.frames_processed * per_frame, (peak, stats.frames_processed)
    assert stats.latency_median_ms > 0 and {"infer", "effect"} <= set(stats.stage_ms)
