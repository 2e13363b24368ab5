import threading
import time

import numpy as np
import pytest

from realtime_seg.capture.slot import LatestFrameSlot
from realtime_seg.frame import Frame


def frame(i: int) -> Frame:
    return Frame(i, time.monotonic(), np.full((4, 6, 3), i, np.uint8))


def test_newest_wins_and_replaced_frames_count_as_dropped() -> None:
    slot = LatestFrameSlot()
    for i in range(5):
        slot.put(frame(i))
    assert slot.pending == 1
    got = slot.get(timeout=0)
    assert got is not None and got.index == 4
    assert slot.dropped == 4
    assert slot.max_pending == 1
    assert slot.pending == 0


def test_get_waits_for_a_newer_frame_than_the_last_taken() -> None:
    slot = LatestFrameSlot()
    slot.put(frame(0))
    assert slot.get(timeout=0) is not None
    t0 = time.monotonic()
    assert slot.get(timeout=0.1) is None  # the same frame is never handed out twice
    assert time.monotonic() - t0 >= 0.09
    threading.Timer(0.05, slot.put, args=(frame(1),)).start()
    got = slot.get(timeout=2.0)
    assert got is not None and got.index == 1
    assert slot.dropped == 0


def test_close_wakes_a_waiting_get() -> None:
    slot = LatestFrameSlot()
    threading.Timer(0.05, slot.close).start()
    t0 = time.monotonic()
    assert slot.get(timeout=5.0) is None
    assert time.monotonic() - t0 < 1.0
    slot.put(frame(0))
    assert slot.get(timeout=0) is None


def test_never_more_than_one_frame_pending_under_a_fast_producer() -> None:
    slot = LatestFrameSlot()
    stop = threading.Event()

    def produce() -> None:
        i = 0
        while not stop.is_set():
            slot.put(frame(i % 200))
            i += 1

    t = threading.Thread(target=produce)
    t.start()
    try:
        seen = [f.index for f in (slot.get(timeout=1.0) for _ in range(20)) if f is not None]
    finally:
        stop.set()
        t.join()
    assert len(seen) == 20
    assert slot.max_pending == 1
    assert slot.dropped > 0


def test_frame_is_read_only_and_validated() -> None:
    f = frame(3)
    with pytest.raises(ValueError, match="read-only"):
        f.image[0, 0, 0] = 1
    with pytest.raises(ValueError, match=r"BGR uint8 of shape \(H, W, 3\)"):
        Frame(0, 0.0, np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="index must be >= 0"):
        Frame(-1, 0.0, np.zeros((4, 4, 3), np.uint8))
