"""The offline pipeline's threads: order, end marker, exceptions from every stage, stop, no thread left."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from realtime_seg.errors import VideoError
from realtime_seg.io.video import Frame, VideoReader
from realtime_seg.io.video_writer import VideoWriter, partial_files
from realtime_seg.pipeline.offline import OfflinePipeline
from realtime_seg.pipeline.processor import FrameProcessor, Processed, Segmented
from realtime_seg.pipeline.sinks import FrameSink, MaskPngSink, VideoSink
from realtime_seg.postprocess.refine import Refiner
from realtime_seg.segmenter import Segmenter, open_segmenter
from tests.clips import make_clip, probe
from tests.signals import sigint_as_in_a_terminal
from tests.tiny_models import write_user_model

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def segmenter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Segmenter]:
    model = write_user_model(tmp_path_factory.mktemp("model"), "brightness")
    with open_segmenter(model, "onnxruntime", threads=1) as seg:
        yield seg


def _processor(segmenter: Segmenter, effect_name: str = "mask") -> FrameProcessor:
    from realtime_seg.effects import create_effect

    return FrameProcessor(segmenter, Refiner(), create_effect(effect_name))


def _frames(n: int, size_wh: tuple[int, int] = (64, 48)) -> list[Frame]:
    from realtime_seg.io.synth import pattern_frames

    return [Frame(i, i / 30, img) for i, img in enumerate(pattern_frames(size_wh, n))]


class ListSink(FrameSink):
    stage = "list"

    def __init__(self, fail_at: int | None = None, delay_s: float = 0.0) -> None:
        self.items: list[tuple[int, np.ndarray]] = []
        self.fail_at, self.delay_s = fail_at, delay_s
        self.closed = self.aborted = False

    def write(self, frame: Frame, result: Processed) -> None:
        if frame.index == self.fail_at:
            raise RuntimeError(f"sink failed at {frame.index}")
        time.sleep(self.delay_s)
        self.items.append((frame.index, result.mask.alpha))

    def close(self) -> Path:
        self.closed = True
        return Path("list")

    def abort(self) -> Path | None:
        self.aborted = True
        return None


def _our_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("realtime-seg-")]


@pytest.mark.parametrize("threaded", [True, False])
def test_all_frames_in_order_and_same_result(segmenter: Segmenter, threaded: bool) -> None:
    sink = ListSink()
    stats = OfflinePipeline(_frames(15), _processor(segmenter), [sink], threaded=threaded, queue_size=2).run()
    assert [i for i, _ in sink.items] == list(range(15))
    assert sink.closed and not sink.aborted
    assert stats.frames == 15 and stats.threaded is threaded
    names = [s.stage for s in stats.stages]
    # threaded: the model and refine+effect run on two threads of their own
    split = ("segment", "composite") if threaded else ("process",)
    for stage in ("decode", *split, "infer", "refine", "effect", "list"):
        assert stage in names
    # the square is segmented: alpha high inside it, low outside
    a = sink.items[7][1]
    assert a.max() > 0.9 and a.min() < 0.1
    assert not _our_threads()


def test_threaded_equals_sequential(segmenter: Segmenter) -> None:
    a, b, c = ListSink(), ListSink(), ListSink()
    OfflinePipeline(_frames(10), _processor(segmenter), [a], threaded=True).run()
    OfflinePipeline(_frames(10), _processor(segmenter), [b], threaded=False).run()
    OfflinePipeline(_frames(10), _processor(segmenter), [c], threaded=True, split=False).run()
    for (ia, ma), (ib, mb), (ic, mc) in zip(a.items, b.items, c.items, strict=True):
        assert ia == ib == ic and np.array_equal(ma, mb) and np.array_equal(ma, mc)


class Boom(Exception):
    pass


class FailingProcessor:
    def __init__(self, inner: FrameProcessor, at: int) -> None:
        self.inner, self.at = inner, at

    def process(self, frame: np.ndarray, index: int, t: float) -> Processed:
        return self.finish_step(frame, index, t, self.segment_step(frame, index))

    def segment_step(self, frame: np.ndarray, index: int) -> Segmented:
        if index == self.at:
            raise Boom(f"processing failed at {index}")
        return self.inner.segment_step(frame, index)

    def finish_step(self, frame: np.ndarray, index: int, t: float, segmented: Segmented) -> Processed:
        return self.inner.finish_step(frame, index, t, segmented)


def _broken_stream(n_ok: int) -> Iterator[Frame]:
    yield from _frames(n_ok)
    raise VideoError(f"decoding failed at frame {n_ok}")


@pytest.mark.parametrize("threaded", [True, False])
def test_processing_exception_reaches_caller(segmenter: Segmenter, threaded: bool) -> None:
    sink = ListSink()
    p = OfflinePipeline(_frames(30), FailingProcessor(_processor(segmenter), 5), [sink], threaded=threaded)
    with pytest.raises(Boom, match="processing failed at 5"):
        p.run()
    assert sink.aborted and not sink.closed
    assert all(not t.is_alive() for t in p.threads)
    assert not _our_threads()


class FailingEffect:
    name = "failing"

    def apply(self, frame: np.ndarray, mask: object) -> np.ndarray:
        if getattr(mask, "index", 0) == 6:
            raise Boom("effect failed at 6")
        return frame.copy()


@pytest.mark.parametrize("threaded", [True, False])
def test_effect_exception_reaches_caller(segmenter: Segmenter, threaded: bool) -> None:
    sink = ListSink()
    proc = FrameProcessor(segmenter, Refiner(), FailingEffect())  # type: ignore[arg-type]
    p = OfflinePipeline(_frames(30), proc, [sink], threaded=threaded)
    with pytest.raises(Boom, match="effect failed at 6"):
        p.run()
    assert sink.aborted and len(sink.items) <= 6
    assert not _our_threads()


@pytest.mark.parametrize("threaded", [True, False])
def test_writer_exception_reaches_caller(segmenter: Segmenter, threaded: bool) -> None:
    sink = ListSink(fail_at=4)
    p = OfflinePipeline(_frames(30), _processor(segmenter), [sink], threaded=threaded)
    with pytest.raises(RuntimeError, match="sink failed at 4"):
        p.run()
    assert sink.aborted
    assert not _our_threads()


@pytest.mark.parametrize("threaded", [True, False])
def test_decoder_exception_arrives_after_the_frames_before_it(segmenter: Segmenter, threaded: bool) -> None:
    sink = ListSink()
    p = OfflinePipeline(_broken_stream(9), _processor(segmenter), [sink], threaded=threaded, queue_size=2)
    with pytest.raises(VideoError, match="decoding failed at frame 9"):
        p.run()
    assert [i for i, _ in sink.items] == list(range(9))  # all decoded frames were written first
    assert sink.aborted
    assert not _our_threads()


def test_stop_event_stops_quickly(segmenter: Segmenter) -> None:
    stop = threading.Event()
    sink = ListSink(delay_s=0.05)  # a slow writer: 1000 frames would take 50 s
    p = OfflinePipeline(_frames(1000, (32, 24)), _processor(segmenter), [sink], stop=stop)
    threading.Timer(0.3, stop.set).start()
    t0 = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        p.run()
    assert time.perf_counter() - t0 < 1.5
    assert sink.aborted and 0 < len(sink.items) < 100
    assert not _our_threads()


def test_keep_partial_after_broken_stream(segmenter: Segmenter, tmp_path: Path) -> None:
    out = tmp_path / "o.mp4"
    sink = VideoSink(VideoWriter(out, fps=30, size_wh=(64, 48), keep_partial=True))
    masks = MaskPngSink(tmp_path)
    with pytest.raises(VideoError):
        OfflinePipeline(_broken_stream(7), _processor(segmenter), [sink, masks]).run()
    assert sink.kept_partial == out
    assert probe(out)["frames"] == 7
    assert not partial_files(out)
    assert sorted(p.name for p in tmp_path.glob("0*.png")) == [f"{i:06d}.png" for i in range(7)]


def test_real_video_through_the_pipeline(segmenter: Segmenter, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "in.mp4", (64, 48), 12, audio="aac")
    with VideoReader(clip) as r:
        i = r.info
        w = VideoWriter(tmp_path / "o.mp4", fps=i.fps, time_base=i.time_base, size_wh=i.size_wh, audio_from=clip)
        stats = OfflinePipeline(r, _processor(segmenter, "none"), [VideoSink(w)]).run()
    assert stats.frames == 12
    got = probe(tmp_path / "o.mp4")
    assert got["frames"] == 12 and got["audio"]["codec"] == "aac"


class GuardedSink(ListSink):
    """Records any write that starts or is still running after abort() (a use-after-close in a real writer)."""

    def __init__(self) -> None:
        super().__init__(delay_s=0.02)
        self.violations = 0
        self.writing = False

    def write(self, frame: Frame, result: Processed) -> None:
        self.violations += self.aborted
        self.writing = True
        try:
            super().write(frame, result)
        finally:
            self.writing = False
        self.violations += self.aborted

    def abort(self) -> Path | None:
        self.violations += self.writing
        return super().abort()


def test_ctrl_c_in_the_caller_never_overlaps_a_running_write(segmenter: Segmenter) -> None:
    """A real SIGINT lands in the caller's thread while it waits; sinks are aborted only after the writer
    thread has really finished. (Thread.join interrupted by Ctrl-C can mark a live thread dead, CPython
    #90882, so the pipeline waits on its own events. That race is narrow: it showed in 3 of 40 Ctrl-C'd
    subprocess runs and rarely here; this test guards the invariant, the subprocess test the symptom.)"""
    import os
    import signal

    for delay in (0.05, 0.11, 0.17, 0.23, 0.31, 0.37, 0.43, 0.51):
        sink = GuardedSink()
        p = OfflinePipeline(_frames(400, (32, 24)), _processor(segmenter), [sink])
        threading.Timer(delay, os.kill, (os.getpid(), signal.SIGINT)).start()  # a real signal, as Ctrl-C
        with sigint_as_in_a_terminal(), pytest.raises(KeyboardInterrupt):
            p.run()
        assert sink.aborted and sink.violations == 0
        assert not _our_threads()
