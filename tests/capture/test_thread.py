import threading
import time

from realtime_seg.capture.slot import LatestFrameSlot
from realtime_seg.capture.sources import SyntheticSource
from realtime_seg.capture.thread import CaptureEvent, CaptureState, CaptureThread
from tests.capture.fakes import UnpluggedSource


def test_capture_stamps_frames_and_measures_fps() -> None:
    slot = LatestFrameSlot()
    src = SyntheticSource((64, 48), fps=60)
    src.open()
    cap = CaptureThread(src, slot)
    cap.start()
    try:
        got = [slot.get(timeout=2.0) for _ in range(30)]
    finally:
        assert cap.stop(timeout=1.0)
    assert all(g is not None for g in got)
    frames = [g for g in got if g is not None]
    assert [f.index for f in frames] == sorted({f.index for f in frames})
    assert all(b.t > a.t for a, b in zip(frames, frames[1:], strict=False))
    assert cap.state is CaptureState.STOPPED


def test_capture_fps_is_the_source_rate() -> None:
    slot = LatestFrameSlot()
    src = SyntheticSource((64, 48), fps=50)
    src.open()
    cap = CaptureThread(src, slot)
    cap.start()
    try:
        time.sleep(0.8)
        fps = cap.fps
    finally:
        assert cap.stop()
    assert 40 < fps < 60, fps


def test_unplugged_camera_is_reported_and_reopened_in_the_background() -> None:
    events: list[CaptureEvent] = []
    back = threading.Event()
    src = UnpluggedSource(fail_after=5, reopen_fails=2)
    src.open()
    slot = LatestFrameSlot()

    def on_event(e: CaptureEvent) -> None:
        events.append(e)
        if e.state is CaptureState.RUNNING and e.message:
            back.set()

    cap = CaptureThread(src, slot, on_event=on_event, retry_initial_s=0.02, retry_max_s=0.05)
    cap.start()
    try:
        assert back.wait(3.0), [e.message for e in events]
        assert cap.alive
        after = slot.get(timeout=2.0)
        assert after is not None
    finally:
        assert cap.stop()
    lost = [e for e in events if e.state is CaptureState.LOST]
    assert lost and "unplugged" in lost[0].message and "retrying" in lost[0].message
    assert any("no camera at index 0" in e.message for e in lost[1:])  # the failed reopens are reported too
    assert cap.losses == 1 and src.opens == 4


def test_a_camera_that_never_returns_keeps_retrying_and_stops_fast() -> None:
    events: list[CaptureEvent] = []
    src = UnpluggedSource(fail_after=2, reopen_fails=None)
    src.open()
    cap = CaptureThread(src, LatestFrameSlot(), on_event=events.append, retry_initial_s=0.01, retry_max_s=5.0)
    cap.start()
    time.sleep(0.3)
    assert cap.state is CaptureState.LOST and cap.alive
    t0 = time.monotonic()
    assert cap.stop(timeout=1.0)  # even in a 5 s backoff wait
    assert time.monotonic() - t0 < 1.0
    delays = [e.retry_in_s for e in events if e.state is CaptureState.LOST]
    assert delays == sorted(delays) and delays[0] == 0.01  # exponential backoff


def test_end_of_a_non_looping_source() -> None:
    events: list[CaptureEvent] = []
    src = SyntheticSource((16, 16), fps=200, frames=3)
    src.open()
    cap = CaptureThread(src, LatestFrameSlot(), on_event=events.append)
    cap.start()
    deadline = time.monotonic() + 2
    while cap.alive and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cap.stop()
    assert cap.state is CaptureState.ENDED and cap.frames == 3
