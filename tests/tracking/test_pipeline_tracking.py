"""The tracker and the outline effect inside the shared FrameProcessor, with real models and ONNX Runtime."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime_seg.effects import create_effect
from realtime_seg.effects.outline import OutlineEffect, id_color_bgr
from realtime_seg.io.samples import load_sample
from realtime_seg.pipeline.processor import FrameProcessor
from realtime_seg.postprocess.refine import RefineConfig, Refiner
from realtime_seg.segmenter import open_segmenter
from realtime_seg.tracking import RegionTracker
from tests.tiny_models import write_user_model

from .synth import nearest_id


def test_processor_tracks_bright_discs_with_a_tiny_model(tmp_path: Path) -> None:
    """Tiny real model (bright = foreground): two bright discs move; ids and outline colours follow them."""
    model = write_user_model(tmp_path, "brightness")
    with open_segmenter(model, "onnxruntime", threads=1) as seg:
        proc = FrameProcessor(
            seg, Refiner(RefineConfig(threshold=0.5)), OutlineEffect(), tracker=RegionTracker(min_hits=1)
        )
        outs = []
        for i in range(6):
            frame = np.full((240, 320, 3), 20, np.uint8)
            cv2.circle(frame, (70 + 10 * i, 120), 35, (240, 240, 240), -1)
            cv2.circle(frame, (250, 60 + 8 * i), 30, (240, 240, 240), -1)
            outs.append(proc.process(frame, i, i / 30))
    first = outs[0].mask.regions
    id_a, id_b = nearest_id(first, 70, 120), nearest_id(first, 250, 60)
    assert id_a != id_b
    for i, p in enumerate(outs):
        assert len(p.mask.regions) == 2
        assert nearest_id(p.mask.regions, 70 + 10 * i, 120) == id_a
        assert nearest_id(p.mask.regions, 250, 60 + 8 * i) == id_b
        assert "track" in p.timings_ms
        for rid in (id_a, id_b):
            assert np.all(p.output == np.array(id_color_bgr(rid), np.uint8), axis=2).sum() > 50


@pytest.mark.network
def test_shifted_photo_of_a_person_keeps_one_id() -> None:
    """The astronaut photo (scikit-image wheel) slides across a wider canvas; the real selfie model segments
    every frame; the person keeps one id throughout."""
    photo = load_sample("astronaut")
    h, w = photo.shape[:2]
    tracker = RegionTracker(min_hits=1, smooth_outline=0.5)
    with open_segmenter("selfie", "onnxruntime", threads=1) as seg:
        proc = FrameProcessor(seg, Refiner(RefineConfig(threshold=0.5)), create_effect("outline"), tracker=tracker)
        person_ids = []
        centroids = []
        for i in range(12):
            canvas = np.full((h, w + 120, 3), 128, np.uint8)
            canvas[:, 10 * i : 10 * i + w] = photo
            p = proc.process(canvas, i, i / 30)
            assert p.mask.regions, f"frame {i}: no region found"
            person = max(p.mask.regions, key=lambda tr: tr.area)
            assert person.area > 0.15 * h * w  # the astronaut is a large part of the picture
            person_ids.append(person.id)
            centroids.append(person.centroid[0])
    assert set(person_ids) == {person_ids[0]}
    steps = np.diff(centroids)
    assert np.median(steps) == pytest.approx(10, abs=2)


def test_process_counts_out_and_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``process --counts-out`` (tiny real model, real encode/decode): one row per frame, the summary counts."""
    import csv

    from realtime_seg.cli import main
    from realtime_seg.io.synth import write_clip

    model = write_user_model(tmp_path, "brightness")
    frames = []
    for i in range(12):
        f = np.full((120, 160, 3), 20, np.uint8)
        cv2.circle(f, (30 + 4 * i, 60), 18, (240, 240, 240), -1)  # always there
        if i >= 6:
            cv2.circle(f, (130, 40), 14, (240, 240, 240), -1)  # a second one from frame 6
        frames.append(f)
    clip = write_clip(tmp_path / "in.mkv", frames, codec="ffv1", pix_fmt="bgr0")
    counts, lines = tmp_path / "counts.csv", tmp_path / "o.jsonl"
    rc = main(
        ["process", str(clip), "--model", str(model), "--backend", "onnxruntime", "--crop", "off"]
        + ["--counts-out", str(counts), "--outlines-out", str(lines)]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "objects: bright: 2 now, 2 distinct" in text and f"wrote {counts}" in text
    rows = list(csv.DictReader(counts.read_text().splitlines()))
    assert [int(r["frame"]) for r in rows] == list(range(1, 12))  # frame 0: no id given yet (min_hits=2)
    assert {r["class"] for r in rows} == {"bright"}  # the tiny model's class name
    assert [int(r["count"]) for r in rows] == [1] * 6 + [2] * 5
    assert [int(r["distinct_so_far"]) for r in rows] == [1] * 6 + [2] * 5
    assert json.loads(lines.read_text().splitlines()[-1])["schema"] == 2


def test_process_counts_out_bad_folder_fails_before_any_frame(tmp_path: Path) -> None:
    from realtime_seg.cli import main
    from realtime_seg.io.synth import write_clip

    model = write_user_model(tmp_path, "brightness")
    clip = write_clip(tmp_path / "in.mkv", [np.zeros((48, 64, 3), np.uint8)] * 2, codec="ffv1", pix_fmt="bgr0")
    rc = main(["process", str(clip), "--model", str(model), "--counts-out", str(tmp_path / "no" / "c.csv")])
    assert rc != 0
    assert not (tmp_path / "no").exists()
