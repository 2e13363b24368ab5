"""Two writers racing for one output name (issue 16, case 2): each ends complete or with a clear error.

Real encoders (x264 through PyAV) write real files; the interleaving is made deterministic by writing
from one thread, and a second test runs two writers in two threads at full speed.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from realtime_seg.errors import OutputError
from realtime_seg.io.atomic import write_bytes_atomic
from realtime_seg.io.video_writer import VideoWriter, partial_files
from tests.clips import probe


def _frame(v: int) -> np.ndarray:
    return np.full((24, 32, 3), v, np.uint8)


def test_each_writer_has_its_own_temporary_file(tmp_path: Path) -> None:
    out = tmp_path / "o.mp4"
    a = VideoWriter(out, fps=30, size_wh=(32, 24))
    b = VideoWriter(out, fps=30, size_wh=(32, 24))
    assert a.tmp_path != b.tmp_path
    assert sorted(partial_files(out)) == sorted([a.tmp_path, b.tmp_path])
    for i in range(10):  # interleaved, as two processes would
        a.write(_frame(40))
        if i < 6:
            b.write(_frame(200))
    a.close()
    got = probe(out)
    assert got["frames"] == 10  # A's file, complete; B's frames went to B's own file
    b.close()
    assert probe(out)["frames"] == 6  # the last to finish wins, and it is complete too
    assert not partial_files(out)


def test_an_interrupted_racer_leaves_the_finished_file_alone(tmp_path: Path) -> None:
    out = tmp_path / "o.mp4"
    a = VideoWriter(out, fps=30, size_wh=(32, 24))
    b = VideoWriter(out, fps=30, size_wh=(32, 24))
    for _ in range(8):
        a.write(_frame(40))
        b.write(_frame(200))
    a.close()
    assert b.abort() is None  # B stopped (Ctrl-C) without --keep-partial
    assert probe(out)["frames"] == 8
    assert not partial_files(out)


def test_without_overwrite_the_second_to_finish_gets_a_clear_error(tmp_path: Path) -> None:
    out = tmp_path / "o.mp4"
    a = VideoWriter(out, fps=30, size_wh=(32, 24), overwrite=False)
    b = VideoWriter(out, fps=30, size_wh=(32, 24), overwrite=False)
    for _ in range(5):
        a.write(_frame(40))
        b.write(_frame(200))
    b.write(_frame(200))
    b.close()
    with pytest.raises(OutputError, match=r"o\.mp4 was created by another process while this run was writing it"):
        a.close()
    assert probe(out)["frames"] == 6  # B's complete file, untouched
    assert not partial_files(out)


def test_two_threads_writing_one_name_at_full_speed(tmp_path: Path) -> None:
    out = tmp_path / "o.mp4"
    counts = {"a": 40, "b": 25}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run(n: int, value: int) -> None:
        try:
            w = VideoWriter(out, fps=30, size_wh=(32, 24), preset="ultrafast")
            start.wait(5)
            for _ in range(n):
                w.write(_frame(value))
            w.close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n, 60 + 100 * i)) for i, n in enumerate(counts.values())]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert probe(out)["frames"] in counts.values()  # one of the two, complete
    assert not partial_files(out)


def test_small_atomic_files_race_without_sharing_a_temporary_name(tmp_path: Path) -> None:
    target = tmp_path / "mask.png"
    payloads = [bytes([i]) * 200_000 for i in range(8)]
    errors: list[BaseException] = []

    def run(data: bytes) -> None:
        try:
            for _ in range(5):
                write_bytes_atomic(target, data)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(d,)) for d in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert target.read_bytes() in payloads  # whole, from one writer
    assert [p.name for p in tmp_path.iterdir()] == ["mask.png"]
