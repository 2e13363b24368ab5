"""OutlinesWriter / read_outlines: JSON Lines round trip, atomic output, early failure, schema errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from realtime_seg.errors import InputError, OutputError
from realtime_seg.io.outlines import OutlinesSummary, OutlinesWriter, read_outlines, summarize
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
