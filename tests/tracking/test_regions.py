"""find_regions: components per class, holes, areas, footprints, bad input."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from realtime_seg.errors import InputError
from realtime_seg.postprocess.types import MaskFrame
from realtime_seg.tracking import find_regions, footprint_iou

from .synth import disc_mask, label_mask


def test_empty_mask_gives_no_regions() -> None:
    assert find_regions(disc_mask([])) == []
    assert find_regions(np.zeros((10, 10), np.float32)) == []


def test_two_discs_give_two_regions_with_area_centroid_bbox() -> None:
    regions = find_regions(disc_mask([(80, 100, 30), (220, 120, 20)]))
    assert len(regions) == 2
    big, small = regions  # largest first
    assert big.class_id == 1 and big.class_name == "person"
    assert big.area == pytest.approx(np.pi * 30**2, rel=0.03)
    assert small.area == pytest.approx(np.pi * 20**2, rel=0.04)
    assert big.centroid == pytest.approx((80, 100), abs=0.5)
    assert small.centroid == pytest.approx((220, 120), abs=0.5)
    assert big.bbox == (50, 70, 61, 61)
    assert big.contour.dtype == np.int32 and big.contour.ndim == 2 and big.contour.shape[1] == 2
    assert not big.contour.flags.writeable


def test_areas_are_exact_pixel_counts() -> None:
    """Areas from the outline (Pick's theorem) equal OpenCV's connected-component pixel counts."""
    rng = np.random.default_rng(7)
    alpha = np.zeros((200, 300), np.float32)
    for _ in range(8):
        center = (int(rng.integers(20, 280)), int(rng.integers(20, 180)))
        axes = (int(rng.integers(4, 40)), int(rng.integers(4, 40)))
        cv2.ellipse(alpha, center, axes, float(rng.integers(0, 180)), 0, 360, 1.0, -1)
    _, _, stats, _ = cv2.connectedComponentsWithStats((alpha >= 0.5).astype(np.uint8), connectivity=8)
    regions = find_regions(alpha, min_area=0)
    assert sorted(r.area for r in regions) == sorted(stats[1:, cv2.CC_STAT_AREA].tolist())


def test_a_region_with_a_hole_is_one_region() -> None:
    """A body with an arm that loops back to it (the arm-to-body gap) is one region, not two."""
    alpha = np.zeros((240, 320), np.float32)
    cv2.rectangle(alpha, (100, 40), (160, 220), 1.0, -1)  # body
    cv2.rectangle(alpha, (160, 80), (230, 100), 1.0, -1)  # upper arm
    cv2.rectangle(alpha, (210, 100), (230, 160), 1.0, -1)  # forearm
    cv2.rectangle(alpha, (160, 140), (210, 160), 1.0, -1)  # hand back on the hip
    regions = find_regions(alpha)
    assert len(regions) == 1
    (r,) = regions
    assert len(r.holes) == 1
    filled = int((alpha >= 0.5).sum())
    assert r.area == filled  # the gap is not counted
    hx, hy, hw, hh = cv2.boundingRect(r.holes[0])
    assert (hx, hy) == pytest.approx((160, 100), abs=1) and (hw, hh) == pytest.approx((50, 40), abs=2)


def test_min_area_drops_small_specks() -> None:
    mask = disc_mask([(80, 100, 30), (200, 50, 2)])
    assert len(find_regions(mask, min_area=0)) == 2
    assert len(find_regions(mask, min_area=64)) == 1


def test_label_map_gives_regions_per_class_with_names() -> None:
    mask = label_mask([(1, 80, 100, 30), (2, 220, 120, 20), (2, 250, 40, 15)])
    regions = find_regions(mask)
    assert [(r.class_id, r.class_name) for r in regions] == [(1, "person"), (2, "hand"), (2, "hand")]


def test_simplify_tolerance_trades_points_for_accuracy() -> None:
    mask = disc_mask([(160, 120, 80)])
    (fine,) = find_regions(mask, simplify_tolerance=0.0)
    (coarse,) = find_regions(mask, simplify_tolerance=2.0)
    assert len(coarse.contour) < len(fine.contour) / 4
    radii = np.hypot(*(coarse.contour - [160, 120]).T)
    assert np.all(np.abs(radii - 80) <= 2.5)


def test_footprint_iou() -> None:
    (a,) = find_regions(disc_mask([(100, 100, 40)]))
    (b,) = find_regions(disc_mask([(140, 100, 40)]))
    (c,) = find_regions(disc_mask([(260, 100, 20)]))
    assert footprint_iou(a, a) == 1.0
    assert footprint_iou(a, c) == 0.0
    # two discs of radius r at distance r overlap with IoU ~0.243
    assert footprint_iou(a, b) == pytest.approx(0.243, abs=0.04)
    assert footprint_iou(a, b, shift_a=(10, 0)) == pytest.approx(1.0, abs=0.01)  # 10 cells of 4 px


@pytest.mark.parametrize(
    ("array", "match"),
    [
        (np.zeros((10, 10), np.uint8), "got uint8"),
        (np.zeros((10, 10, 3), np.float32), r"shape \(H, W\), got shape \(10, 10, 3\)"),
    ],
)
def test_wrong_array_gives_a_clear_error(array: np.ndarray, match: str) -> None:
    with pytest.raises(InputError, match=match):
        find_regions(array)


def test_wrong_size_against_expected_shape_names_both() -> None:
    mask = MaskFrame(index=0, alpha=np.zeros((48, 64), np.float32))
    with pytest.raises(InputError, match=r"\(48, 64\), expected \(240, 320\)"):
        find_regions(mask, expected_shape=(240, 320))
