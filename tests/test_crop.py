"""Person-centred crops (realtime_seg.crop) with real ONNX Runtime: the tiny brightness model (bright = person)
for the geometry, and the real selfie model on a real photo for what the crop is for."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime_seg.crop import CropConfig, PersonCrop, crop_replicated, fit_inside
from realtime_seg.pipeline.assemble import open_processor
from realtime_seg.pipeline.settings import ProcessingSettings
from realtime_seg.segmenter import Segmenter, open_segmenter
from tests.tiny_models import SPEC_TOML_BRIGHTNESS, brightness_model

W, H = 640, 360


@pytest.fixture(scope="module")
def bright_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("crop-model")
    onnx_path = brightness_model(d / "bright.onnx")
    onnx_path.with_suffix(".toml").write_text(SPEC_TOML_BRIGHTNESS + "crop = true\n")
    return onnx_path


@pytest.fixture(scope="module")
def seg(bright_model: Path) -> Iterator[Segmenter]:
    with open_segmenter(bright_model, "onnxruntime") as s:
        yield s


def scene(*boxes: tuple[int, int, int, int], size: tuple[int, int] = (W, H)) -> np.ndarray:
    img = np.full((size[1], size[0], 3), 30, np.uint8)
    for x0, y0, x1, y1 in boxes:
        img[y0:y1, x0:x1] = 240
    return img


def fg(seg_result: object, size: tuple[int, int] = (W, H)) -> np.ndarray:
    return seg_result.alpha(size) >= 0.5  # type: ignore[attr-defined, no-any-return]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def test_crop_replicates_the_edges_outside_the_frame() -> None:
    img = np.arange(5 * 4 * 3, dtype=np.uint8).reshape(5, 4, 3)
    out = crop_replicated(img, (-2, 3, 3, 7))
    assert out.shape == (4, 5, 3)
    assert np.array_equal(out[0, 2], img[3, 0]) and np.array_equal(out[0, 0], img[3, 0])  # left: column 0 repeated
    assert np.array_equal(out[3, 4], img[4, 2])  # below: the last row repeated


def test_a_window_that_fits_is_moved_inside_the_frame() -> None:
    assert fit_inside((-30, 10, 70, 110), (640, 360)) == (0, 10, 100, 110)  # left edge: moved right
    assert fit_inside((600, 300, 700, 400), (640, 360)) == (540, 260, 640, 360)  # bottom right: moved in
    assert fit_inside((-10, -50, 90, 410), (640, 360)) == (0, -50, 100, 410)  # taller than the frame: as it is


def test_the_window_follows_the_person_and_maps_back_in_place(seg: Segmenter) -> None:
    crop = PersonCrop()
    person = (300, 120, 340, 250)
    truth = scene(person)[..., 0] > 128
    first = crop.segment(seg, scene(person))
    assert crop.full_runs == 1 and crop.cropped == 0  # nothing known yet: the whole frame
    second = crop.segment(seg, scene(person))
    assert crop.cropped == 1
    x0, y0, x1, y1 = crop._window.box()  # type: ignore[union-attr]
    assert x0 < 300 and x1 > 340 and y0 < 120 and y1 > 250  # the window holds the person with a margin
    assert (x1 - x0) < W / 2  # and is much smaller than the frame
    assert iou(fg(second), truth) > 0.9 and iou(fg(first), truth) > 0.8
    out = fg(second)
    assert not out[:, :200].any() and not out[:, 450:].any()  # outside the window: background


def test_mapping_back_matches_the_model_on_the_window_itself(seg: Segmenter) -> None:
    crop = PersonCrop()
    img = scene((300, 120, 340, 250))
    crop.segment(seg, img)
    window = crop._window
    assert window is not None
    result = crop.segment(seg, img)
    x0, y0, x1, y1 = window.box()
    direct = seg.segment(crop_replicated(img, (x0, y0, x1, y1))).alpha((x1 - x0, y1 - y0)) >= 0.5
    mapped = fg(result)[max(0, y0) : y1, max(0, x0) : x1]
    direct = direct[max(0, -y0) : max(0, -y0) + mapped.shape[0], max(0, -x0) : max(0, -x0) + mapped.shape[1]]
    assert iou(mapped, direct) > 0.95


def test_a_person_entering_at_the_edge_is_found_within_full_every_frames(seg: Segmenter) -> None:
    crop = PersonCrop(CropConfig(full_every=10))
    a, b = (300, 120, 340, 250), (0, 140, 30, 260)
    for _ in range(3):
        crop.segment(seg, scene(a))
    found_at = None
    for i in range(12):
        if fg(crop.segment(seg, scene(a, b)))[200, 10]:
            found_at = i
            break
    assert found_at is not None and found_at <= 10
    assert fg(crop.segment(seg, scene(a, b)))[200, 10]  # and kept: the window now holds both


def test_two_people_far_apart_are_both_covered(seg: Segmenter) -> None:
    crop = PersonCrop()
    a, b = (100, 150, 130, 250), (500, 150, 530, 250)
    for _ in range(3):
        out = fg(crop.segment(seg, scene(a, b)))
    assert out[200, 115] and out[200, 515]


def test_a_resolution_change_starts_from_the_whole_frame(seg: Segmenter) -> None:
    crop = PersonCrop()
    for _ in range(3):
        crop.segment(seg, scene((300, 120, 340, 250)))
    runs = crop.full_runs
    crop.segment(seg, scene((150, 60, 170, 120), size=(320, 180)))
    assert crop.full_runs == runs + 1 and crop._size_wh == (320, 180)


def test_a_scene_cut_starts_from_the_whole_frame(seg: Segmenter) -> None:
    crop = PersonCrop()
    for _ in range(3):
        crop.segment(seg, scene((300, 120, 340, 250)))
    runs = crop.full_runs
    cut = scene((50, 50, 90, 200))
    cut[:] = 200 - cut  # a different picture
    crop.segment(seg, cut)
    assert crop.full_runs == runs + 1


def test_crop_off_is_the_plain_whole_frame_path(bright_model: Path) -> None:
    img = scene((300, 120, 340, 250))
    off = ProcessingSettings(model=str(bright_model), backend="onnxruntime", effect="mask", crop="off")
    auto = ProcessingSettings(model=str(bright_model), backend="onnxruntime", effect="mask")
    with open_processor(off) as p_off, open_processor(auto) as p_auto:
        assert p_off.crop is None and p_auto.crop is not None
        plain = p_off.segmenter.segment(img, 0)
        assert np.array_equal(p_off.segment_step(img, 0).seg.probs, plain.probs)  # bit-identical


@pytest.mark.network
def test_a_small_person_in_a_wide_frame_gets_the_mask_of_its_own_photo() -> None:
    """The real selfie model: the astronaut alone, then pasted small into a wide frame."""
    from realtime_seg.io.samples import load_sample

    photo = load_sample("astronaut")
    with open_segmenter("selfie", "onnxruntime") as selfie:
        own = selfie.segment(photo).alpha((200, 200)) >= 0.5
        rng = np.random.default_rng(0)
        wide = cv2.GaussianBlur(rng.integers(0, 255, (720, 1280, 3), dtype=np.uint8), (31, 31), 0)
        wide[300:500, 700:900] = cv2.resize(photo, (200, 200), interpolation=cv2.INTER_AREA)
        whole = selfie.segment(wide).alpha((1280, 720))[300:500, 700:900] >= 0.5
        crop = PersonCrop()
        for _ in range(3):
            res = crop.segment(selfie, wide)
        cropped = res.alpha((1280, 720))[300:500, 700:900] >= 0.5
    assert crop.cropped >= 2
    assert iou(cropped, own) > iou(whole, own) + 0.05
    assert iou(cropped, own) > 0.85
