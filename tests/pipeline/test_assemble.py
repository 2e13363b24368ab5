"""The library API: ``realtime_seg.process_video`` and ``open_processor`` on real files and real ONNX Runtime."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

import realtime_seg
from realtime_seg.errors import OutputError, SettingsError, VideoError
from realtime_seg.io.outlines import read_outlines
from realtime_seg.io.video import VideoReader
from realtime_seg.pipeline.assemble import open_processor, reconfigure
from realtime_seg.postprocess.refine import RefineConfig
from realtime_seg.segmenter import open_segmenter
from tests.clips import make_clip, probe


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> str:
    from tests.tiny_models import write_user_model

    return str(write_user_model(tmp_path_factory.mktemp("model"), "brightness"))


def test_process_video_writes_every_output_and_reports(model: str, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", n=10)
    outputs = realtime_seg.VideoOutputs(
        video=tmp_path / "out.mp4", masks=tmp_path / "masks", outlines=tmp_path / "o.jsonl"
    )
    settings = realtime_seg.ProcessingSettings(model=model, backend="onnxruntime", effect="mask")
    seen: list[tuple[int, int | None]] = []
    stats = realtime_seg.process_video(clip, outputs, settings, on_progress=lambda n, t: seen.append((n, t)))
    assert stats.frames == 10 and [n for n, _ in seen] == list(range(1, 11)) and seen[-1][1] == 10
    assert stats.outputs == (tmp_path / "out.mp4", tmp_path / "masks", tmp_path / "o.jsonl")
    assert "brightness" in stats.model and "ONNX Runtime" in stats.model
    assert probe(tmp_path / "out.mp4")["frames"] == 10
    assert len(list((tmp_path / "masks").glob("*.png"))) == 10
    frames = list(read_outlines(tmp_path / "o.jsonl"))
    assert len(frames) == 10 and all(
        f.regions for f in frames[1:]
    )  # an outlines file turns the tracker on (ids from the 2nd frame)
    with VideoReader(tmp_path / "out.mp4") as r:  # the mask effect: the bright square is white
        img = next(iter(r)).image
    assert img.max() > 200 and img.min() < 50


def test_process_video_checks_everything_before_the_first_frame(model: str, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", n=4)
    ok = realtime_seg.ProcessingSettings(model=model, backend="onnxruntime")
    with pytest.raises(VideoError, match="video not found"):
        realtime_seg.process_video(tmp_path / "nope.mp4", realtime_seg.VideoOutputs(video=tmp_path / "o.mp4"), ok)
    with pytest.raises(OutputError, match="is the input file"):
        realtime_seg.process_video(clip, realtime_seg.VideoOutputs(video=clip), ok)
    with pytest.raises(SettingsError, match="nothing to write"):
        realtime_seg.VideoOutputs()
    bad = realtime_seg.ProcessingSettings(model=model, effect="blur", effect_options={"strength": -3})
    with pytest.raises(SettingsError, match="strength must be"):
        realtime_seg.process_video(clip, realtime_seg.VideoOutputs(video=tmp_path / "o.mp4"), bad)
    assert not list(tmp_path.glob("o*"))  # nothing written, not even a temporary file


def test_an_open_segmenter_is_reused_and_left_open(model: str, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", n=4)
    settings = realtime_seg.ProcessingSettings(model=model, backend="onnxruntime", effect="none")
    with open_segmenter(model, "onnxruntime") as seg:
        for name in ("a", "b"):
            stats = realtime_seg.process_video(
                clip, realtime_seg.VideoOutputs(video=tmp_path / f"{name}.mp4"), settings, segmenter=seg
            )
            assert stats.frames == 4
        assert seg.backend.is_open


def test_stop_cancels_and_removes_the_output(model: str, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", n=60)
    stop = threading.Event()
    settings = realtime_seg.ProcessingSettings(model=model, backend="onnxruntime")

    def progress(n: int, total: int | None) -> None:
        if n == 5:
            stop.set()

    with pytest.raises(KeyboardInterrupt, match="stopped after"):
        realtime_seg.process_video(
            clip, realtime_seg.VideoOutputs(video=tmp_path / "o.mp4"), settings, on_progress=progress, stop=stop
        )
    assert not list(tmp_path.glob("*o.*mp4"))


def test_reconfigure_keeps_the_stream_state_it_does_not_touch(model: str) -> None:
    from realtime_seg.pipeline.settings import ProcessingSettings

    old = ProcessingSettings(model=model, backend="onnxruntime", effect="blur")
    with open_processor(old) as proc:
        assert proc.tracker is None
        refiner, effect = proc.refiner, proc.effect
        frame = np.zeros((48, 64, 3), np.uint8)
        proc.process(frame, 0, 0.0)
        new = ProcessingSettings(model=model, backend="onnxruntime", effect="blur+outline")
        reconfigure(proc, old, new)
        assert proc.refiner is refiner and proc.effect is not effect and proc.tracker is not None
        newer = ProcessingSettings(
            model=model, backend="onnxruntime", effect="blur+outline", refine=RefineConfig(threshold=0.5)
        )
        tracker = proc.tracker
        reconfigure(proc, new, newer)
        assert proc.refiner is not refiner and proc.tracker is tracker
        assert proc.process(frame, 1, 0.03).tracked
