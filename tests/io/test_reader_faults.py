"""The reader on damaged inputs (issue 16, cases 8 and 9): a corrupt first GOP is skipped with a warning
that counts it and the decoded frames keep their timestamps; a gap in an image sequence is named at its frame."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import av
import pytest

from realtime_seg.errors import VideoError
from realtime_seg.io.video import VideoReader, sequence_gap
from tests.broken_media import corrupt_first_gop, sequence_with_gap


def _decodable_pts(path: Path) -> list[int]:
    """What FFmpeg itself decodes, packet by packet (errors skipped), as a reference."""
    out = []
    with av.open(str(path)) as c:
        for packet in c.demux(c.streams.video[0]):
            with contextlib.suppress(av.FFmpegError):
                out += [f.pts for f in packet.decode()]
    return out


def test_corrupt_first_gop_is_skipped_with_a_counting_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    clip = corrupt_first_gop(tmp_path / "bad.mp4")
    ref = _decodable_pts(clip)
    assert len(ref) == 75  # FFmpeg's own count
    with caplog.at_level(logging.WARNING, logger="realtime_seg.io.video"), VideoReader(clip) as r:
        frames = list(r)
        tb = r.info.time_base
        assert r.skipped_leading == 15
    assert [f.index for f in frames] == list(range(75))
    assert [f.pts for f in frames] == sorted(ref)  # the timestamps of the frames that decode, kept
    assert frames[0].t == pytest.approx(float(sorted(ref)[0] * tb)) and frames[0].t == pytest.approx(0.5)
    assert "skipped 15 undecodable frame(s) at the start; processing begins at 0.50 s" in caplog.text


def test_nothing_decodable_is_still_an_error(tmp_path: Path) -> None:
    clip = corrupt_first_gop(tmp_path / "bad.mp4", n=15, gop=15)
    with pytest.raises(VideoError, match=r"cannot decode any frame of .*bad\.mp4"):
        VideoReader(clip)


def test_sequence_gap_is_named_at_its_frame(tmp_path: Path) -> None:
    pattern = sequence_with_gap(tmp_path / "seq")
    gap = sequence_gap(pattern)
    assert gap is not None and gap.missing == tmp_path / "seq" / "000009.png" and gap.frame == 9
    got = []
    with pytest.raises(VideoError) as info, VideoReader(pattern) as r:
        for f in r:
            got.append(f.index)
    assert got == list(range(9))  # every frame before the gap
    assert str(info.value) == (
        f"image sequence {pattern} is missing {tmp_path / 'seq' / '000009.png'}, frame 9 (after 0.32 s); "
        "the 2 file(s) after it (000010.png on) were not read"
    )


def test_a_complete_sequence_has_no_gap(tmp_path: Path) -> None:
    pattern = sequence_with_gap(tmp_path / "seq", n=5, missing=99)
    assert sequence_gap(pattern) is None
    with VideoReader(pattern) as r:
        assert len(list(r)) == 5
