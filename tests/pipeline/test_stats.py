"""Stage timer and run statistics."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from realtime_seg.pipeline.stats import RunStats, StageStats, StageTimer


def test_percentiles_per_stage_in_first_seen_order() -> None:
    timer = StageTimer()
    for v in range(1, 101):
        timer.add("decode", float(v))
        timer.add_all({"infer": 2.0 * v})
    s = timer.summary()
    assert [x.stage for x in s] == ["decode", "infer"]
    d = s[0]
    assert d.count == 100
    assert d.median_ms == pytest.approx(np.percentile(np.arange(1, 101), 50))
    assert d.p90_ms == pytest.approx(np.percentile(np.arange(1, 101), 90))
    assert d.p99_ms == pytest.approx(np.percentile(np.arange(1, 101), 99))
    assert s[1].median_ms == pytest.approx(2 * d.median_ms)
    assert d.total_ms == pytest.approx(5050)


def test_timer_context_and_threads() -> None:
    timer = StageTimer()

    def work() -> None:
        for _ in range(200):
            timer.add("x", 1.0)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with timer.time("sleep"):
        time.sleep(0.02)
    s = {x.stage: x for x in timer.summary()}
    assert s["x"].count == 800
    assert s["sleep"].median_ms >= 15


def test_run_stats() -> None:
    st = StageStats("infer", 10, 5.0, 6.0, 7.0, 50.0)
    r = RunStats(100, 2.0, (st,), True)
    assert r.fps == 50.0
    assert r.stage("infer") is st and r.stage("nope") is None
    assert "infer" in r.table()
    with pytest.raises(ValueError, match="frames and wall_s must be >= 0"):
        RunStats(-1, 1.0, (), True)
