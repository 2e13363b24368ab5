"""The model ``auto`` in the live pipeline and in process_video: the built-in models come from PyPI (cached)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from realtime_seg.capture.slot import LatestFrameSlot
from realtime_seg.frame import Frame
from realtime_seg.pipeline.assemble import process_video
from realtime_seg.pipeline.live import LivePipeline, LiveResult
from realtime_seg.pipeline.settings import ProcessingSettings
from realtime_seg.pipeline.sinks import VideoOutputs
from tests.capture.clips import write_clip

pytestmark = pytest.mark.network


def test_live_auto_follows_the_source_shape() -> None:
    slot = LatestFrameSlot()
    results: list[LiveResult] = []
    got = threading.Condition()

    def on_result(r: LiveResult) -> None:
        with got:
            results.append(r)
            got.notify_all()

    live = LivePipeline(slot, ProcessingSettings(model="auto", backend="cpu", effect="mask"), on_result=on_result)
    live.start()
    try:
        for i, (w, h) in enumerate([(160, 90), (90, 160)]):
            slot.put(Frame(i, 0.0, np.full((h, w, 3), 128, np.uint8)))
            with got:
                assert got.wait_for(lambda n=i: len(results) > n, timeout=60)
            assert results[-1].processed is not None and results[-1].mask is not None
            assert live.active is not None
            assert live.active.model == ("selfie-landscape" if w > h else "selfie")
            assert live.settings.model == "auto"  # still asked for: the next source decides again
    finally:
        assert live.stop(timeout=2.0)


@pytest.mark.parametrize(("size_wh", "expected"), [((128, 72), "selfie-landscape"), ((72, 128), "selfie")])
def test_process_video_resolves_auto_from_the_input(tmp_path: Path, size_wh: tuple[int, int], expected: str) -> None:
    clip = write_clip(tmp_path / "in.mp4", frames=3, size_wh=size_wh)
    stats = process_video(
        clip, VideoOutputs(video=tmp_path / "out.mp4"), ProcessingSettings(model="auto", backend="cpu")
    )
    assert stats.model.startswith(f"{expected} on ")
