"""The tracker and the outline effect inside the shared FrameProcessor, with real models and ONNX Runtime."""

from __future__ import annotations

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
