"""OutlinesWriter / read_outlines: JSON Lines round trip, atomic output, early failure, schema errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from realtime_seg.errors import InputError, OutputError
from realtime_seg.io.outlines import CountsWriter, OutlinesSummary, OutlinesWriter, read_outlines, summarize
from realtime_seg.tracking import RegionTracker, TrackedRegion
from tests.tracking.synth import disc_mask


def _sequence() -> list[tuple[int, float, list[TrackedRegion]]]:
    tracker = RegionTracker(min_hits=1, max_lost_s=1.5 / 30)
    frames = []
    for i in range(6):
        discs = [(40 + 10 * i, 100, 25)]
        if i < 3:
            discs.append((250, 60, 15))  # leaves after frame 2
        if i >= 4:
            discs.append((200, 200, 20))  # a newcomer
        frames.append((i, i / 25, tracker.step(disc_mask(discs), i / 25)))
    return frames


def test_round_trip_and_summary(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    seq = _sequence()
    with OutlinesWriter(path) as w:
        for i, t, regions in seq:
            w.write(i, t, regions)
    assert w.summary == OutlinesSummary(frames=6, distinct_ids=3, max_simultaneous=2)
    frames = list(read_outlines(path))
    assert [f.frame for f in frames] == [0, 1, 2, 3, 4, 5]
    assert [f.t for f in frames] == pytest.approx([i / 25 for i in range(6)])
    for f, (_, _, regions) in zip(frames, seq, strict=True):
        assert [r.id for r in f.regions] == [tr.id for tr in regions]
        for r, tr in zip(f.regions, regions, strict=True):
            assert r.class_name == "person"
            assert r.area == tr.area
            assert r.bbox == tr.bbox
            assert r.centroid == pytest.approx(tr.centroid, abs=0.01)
            np.testing.assert_array_equal(r.polygon, tr.region.contour)
    assert summarize(frames) == w.summary


def test_line_format_matches_the_documented_schema(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    _, _, regions = _sequence()[0]
    with OutlinesWriter(path) as w:
        w.write(0, 0.0, regions)
        w.write(1, 0.04, [])
    lines = path.read_text().splitlines()
    assert len(lines) == 2
    obj = json.loads(lines[0])
    assert list(obj) == ["schema", "frame", "t", "regions"]
    assert obj["schema"] == 2
    assert list(obj["regions"][0]) == ["id", "class", "area", "centroid", "bbox", "polygon", "parts"]
    assert obj["regions"][0]["parts"][0] == obj["regions"][0]["polygon"]
    assert json.loads(lines[1]) == {"schema": 2, "frame": 1, "t": 0.04, "regions": []}


@pytest.mark.parametrize(
    "make_path", [lambda d: d / "missing" / "x.jsonl", lambda d: d, lambda d: d / "f.txt" / "x.jsonl"]
)
def test_unwritable_path_fails_at_construction(tmp_path: Path, make_path: object) -> None:
    (tmp_path / "f.txt").write_text("a file, not a folder")
    path = make_path(tmp_path)  # type: ignore[operator]
    with pytest.raises(OutputError, match="folder"):
        OutlinesWriter(path)


def test_error_inside_the_block_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    with pytest.raises(RuntimeError, match="boom"), OutlinesWriter(path) as w:
        w.write(0, 0.0, [])
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_nothing_under_the_final_name_until_closed(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    w = OutlinesWriter(path)
    w.write(0, 0.0, [])
    assert not path.exists()
    assert w.close() == path and path.exists()
    w.close()  # idempotent
    with pytest.raises(OutputError, match="closed"):
        w.write(1, 0.1, [])


def test_frame_indices_must_increase(tmp_path: Path) -> None:
    with OutlinesWriter(tmp_path / "o.jsonl") as w:
        w.write(3, 0.1, [])
        with pytest.raises(ValueError, match="must increase: got 3 after 3"):
            w.write(3, 0.2, [])


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("not json", r"bad\.jsonl:2: not JSON"),
        ('{"frame": 0, "t": 0}', r"bad\.jsonl:2: lacks 'regions'"),
        ('{"frame": "0", "t": 0, "regions": []}', r"frame must be an integer"),
        ('{"frame": 0, "t": 0, "regions": [{"id": 1}]}', r"regions\[0\] lacks 'class', 'area'"),
        (
            '{"frame": 0, "t": 0, "regions": [{"id": 1, "class": "p", "area": 5, "centroid": [1, 2], '
            '"bbox": [0, 0, 3], "polygon": [[0, 0]]}]}',
            r"regions\[0\]\.bbox must be \[x, y, w, h\]",
        ),
        (
            '{"frame": 0, "t": 0, "regions": [{"id": 1, "class": "p", "area": 5, "centroid": [1, 2], '
            '"bbox": [0, 0, 3, 3], "polygon": [[0, 0], [1.5, 2]]}]}',
            r"regions\[0\]\.polygon\[1\]\[0\] must be an integer",
        ),
    ],
)
def test_reader_names_the_bad_line_and_field(tmp_path: Path, line: str, match: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"frame": 0, "t": 0.0, "regions": []}\n' + line + "\n")
    frames = read_outlines(path)
    assert next(frames).frame == 0
    with pytest.raises(InputError, match=match):
        next(frames)


def test_reader_missing_file_fails_on_the_call(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        read_outlines(tmp_path / "nope.jsonl")


def test_parts_round_trip_and_polygon_is_the_largest_part(tmp_path: Path) -> None:
    """An object in two parts: ``parts`` has both outlines, ``polygon`` the larger one."""
    tracker = RegionTracker(min_hits=1)
    (tr,) = tracker.step(disc_mask([(100, 100, 30), (100, 150, 12)]), 0.0)  # a head 8 px off the body
    assert len(tr.parts) == 2
    path = tmp_path / "o.jsonl"
    with OutlinesWriter(path) as w:
        w.write(0, 0.0, [tr])
    (frame,) = read_outlines(path)
    (r,) = frame.regions
    assert frame.schema == 2
    assert len(r.parts) == 2
    np.testing.assert_array_equal(r.polygon, tr.region.contour)
    np.testing.assert_array_equal(r.parts[0], r.polygon)
    np.testing.assert_array_equal(r.parts[1], tr.parts[1].contour)
    assert r.area == tr.parts[0].area + tr.parts[1].area


def test_reads_schema_1_files(tmp_path: Path) -> None:
    """Files written before ``parts`` (no ``schema`` field) read back with ``parts`` = ``(polygon,)``."""
    path = tmp_path / "old.jsonl"
    path.write_text(
        '{"frame":0,"t":0.0,"regions":[{"id":3,"class":"person","area":12,"centroid":[1.5,2.0],'
        '"bbox":[0,0,4,4],"polygon":[[0,0],[3,0],[3,3]]}]}\n'
    )
    (frame,) = read_outlines(path)
    (r,) = frame.regions
    assert frame.schema == 1 and r.id == 3
    assert len(r.parts) == 1
    np.testing.assert_array_equal(r.parts[0], r.polygon)


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ('{"schema": 3, "frame": 0, "t": 0, "regions": []}', r"schema must be 1 or 2, got 3"),
        (
            '{"schema": 2, "frame": 0, "t": 0, "regions": [{"id": 1, "class": "p", "area": 5, "centroid": [1, 2], '
            '"bbox": [0, 0, 3, 3], "polygon": [[0, 0]]}]}',
            r"regions\[0\] lacks 'parts'",
        ),
        (
            '{"schema": 2, "frame": 0, "t": 0, "regions": [{"id": 1, "class": "p", "area": 5, "centroid": [1, 2], '
            '"bbox": [0, 0, 3, 3], "polygon": [[0, 0]], "parts": [[[0, 0]], [[1, "a"]]]}]}',
            r"regions\[0\]\.parts\[1\]\[0\]\[1\] must be an integer",
        ),
    ],
)
def test_schema_2_errors_name_the_field(tmp_path: Path, line: str, match: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(InputError, match=match):
        list(read_outlines(path))


def test_counts_csv_over_time(tmp_path: Path) -> None:
    """Two people, one leaves, a third comes: count now and distinct so far, per frame, atomically written."""
    path = tmp_path / "counts.csv"
    tracker = RegionTracker(min_hits=1, max_lost_s=0.05)
    seq = [[(60, 100, 20), (200, 100, 20)]] * 3 + [[(60, 100, 20)]] * 3 + [[(60, 100, 20), (250, 200, 20)]] * 2
    with CountsWriter(path) as w:
        for i, discs in enumerate(seq):
            tracker.step(disc_mask(discs), i / 25)
            w.write(i, i / 25, tracker.stats.counts, tracker.stats.distinct)
            assert not path.exists()
    assert w.rows == len(seq)
    rows = list(csv.DictReader(path.read_text().splitlines()))
    assert list(rows[0]) == ["frame", "t", "class", "count", "distinct_so_far"]
    assert [(int(r["frame"]), r["class"]) for r in rows] == [(i, "person") for i in range(len(seq))]
    assert [int(r["count"]) for r in rows] == [2, 2, 2, 1, 1, 1, 2, 2]
    assert [int(r["distinct_so_far"]) for r in rows] == [2, 2, 2, 2, 2, 2, 3, 3]
    assert float(rows[-1]["t"]) == pytest.approx(7 / 25)


def test_counts_writer_checks_its_input(tmp_path: Path) -> None:
    with CountsWriter(tmp_path / "c.csv") as w:
        with pytest.raises(ValueError, match="without a distinct count: hand"):
            w.write(0, 0.0, {"hand": 1}, {"person": 1})
        with pytest.raises(ValueError, match="0 <= count <= distinct"):
            w.write(0, 0.0, {"person": 3}, {"person": 1})
        w.write(0, 0.0, {}, {"person": 1})
        with pytest.raises(ValueError, match="must increase"):
            w.write(0, 0.1, {}, {"person": 1})
    with pytest.raises(OutputError, match="folder"):
        CountsWriter(tmp_path)
    with pytest.raises(RuntimeError, match="boom"), CountsWriter(tmp_path / "x.csv") as w2:
        w2.write(0, 0.0, {"person": 1}, {"person": 1})
        raise RuntimeError("boom")
    assert not (tmp_path / "x.csv").exists()
