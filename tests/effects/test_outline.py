"""The outline effect: per-id colours, labels, trails, fill; never modifies its input; composes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from realtime_seg.effects import create_effect
from realtime_seg.effects.basic import MaskEffect
from realtime_seg.effects.outline import OutlineEffect, id_color_bgr
from realtime_seg.pipeline.settings import ProcessingSettings
from realtime_seg.postprocess.types import MaskFrame
from realtime_seg.tracking import RegionTracker, find_regions
from tests.tracking.synth import disc_mask, nearest_id

DISCS = [(80, 120, 40), (230, 120, 40)]


def _tracked_mask() -> tuple[np.ndarray, MaskFrame]:
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 60, size=(240, 320, 3), dtype=np.uint8)  # dark noise: the outlines stand out
    mask = disc_mask(DISCS)
    tracked = RegionTracker(min_hits=1).step(mask, 0.0)
    return frame, replace(mask, regions=tuple(tracked))


def _pixels_of(img: np.ndarray, color: tuple[int, int, int]) -> np.ndarray:
    return np.all(img == np.array(color, np.uint8), axis=2)


def test_registered_by_name() -> None:
    assert isinstance(create_effect("outline", thickness=3), OutlineEffect)


def test_each_id_drawn_in_its_own_colour_on_a_copy() -> None:
    frame, mask = _tracked_mask()
    before = frame.copy()
    out = OutlineEffect(show_ids=False, show_labels=False).apply(frame, mask)
    np.testing.assert_array_equal(frame, before)  # input untouched
    assert out is not frame and out.shape == frame.shape and out.dtype == np.uint8
    ids = {tr.id: tr for tr in mask.regions}
    assert set(ids) == {1, 2} and id_color_bgr(1) != id_color_bgr(2)
    for cx, cy, r in DISCS:
        rid = nearest_id(mask.regions, cx, cy)
        hit = _pixels_of(out, id_color_bgr(rid))
        ys, xs = np.nonzero(hit)
        assert len(xs) > 2 * np.pi * r  # a whole ring of pixels in this id's colour...
        dist = np.hypot(xs - cx, ys - cy)
        assert np.all(np.abs(dist - r) <= 3)  # ...on this disc's outline only
    # away from the outlines the frame is unchanged
    far = np.ones(frame.shape[:2], bool)
    far[60:180, 30:280] = False
    np.testing.assert_array_equal(out[far], frame[far])


def test_colours_are_fixed_per_id() -> None:
    assert id_color_bgr(7) == id_color_bgr(7)
    colours = {id_color_bgr(i) for i in range(1, 21)}
    assert len(colours) == 20


def test_labels_and_trails_are_drawn() -> None:
    tracker = RegionTracker(min_hits=1)
    for i in range(6):
        mask = disc_mask([(60 + 15 * i, 140, 30)])
        tracked = tracker.step(mask, i / 30)
    frame = np.zeros((240, 320, 3), np.uint8)
    mask = replace(mask, regions=tuple(tracked))
    plain = OutlineEffect(show_ids=False, show_labels=False, trail=False).apply(frame, mask)
    with_label = OutlineEffect(show_ids=True, show_labels=True, trail=False).apply(frame, mask)
    with_trail = OutlineEffect(show_ids=False, show_labels=False, trail=True).apply(frame, mask)
    label_area = np.any(with_label != plain, axis=2)
    ys, xs = np.nonzero(label_area)
    assert ys.max() < 140 - 30 + 2  # the label sits above the region's top
    trail_area = np.any(with_trail != plain, axis=2)
    ys, xs = np.nonzero(trail_area)
    assert set(np.unique(ys)) <= {139, 140, 141} and xs.min() <= 62  # along the centroids since frame 0


def test_fill_alpha_tints_the_inside() -> None:
    frame, mask = _tracked_mask()
    frame[:] = 0
    out = OutlineEffect(fill_alpha=0.5, show_ids=False, show_labels=False).apply(frame, mask)
    for cx, cy, _ in DISCS:
        inside = out[cy, cx].astype(int)
        rid = nearest_id(mask.regions, cx, cy)
        assert inside.tolist() == pytest.approx([c * 0.5 for c in id_color_bgr(rid)], abs=1)
    assert out[10, 10].tolist() == [0, 0, 0]


def test_no_regions_gives_an_unchanged_copy() -> None:
    frame = np.full((48, 64, 3), 77, np.uint8)
    out = OutlineEffect().apply(frame, MaskFrame(index=0, alpha=np.zeros((48, 64), np.float32)))
    assert out is not frame
    np.testing.assert_array_equal(out, frame)


def test_composes_on_top_of_another_effect() -> None:
    frame, mask = _tracked_mask()
    base = MaskEffect().apply(frame, mask)
    out = OutlineEffect(show_labels=False, show_ids=False).apply(base, mask)
    changed = np.any(out != base, axis=2)
    assert changed.sum() > 0
    # only outline pixels changed: the rest is the other effect's output
    ys, xs = np.nonzero(changed)
    d = np.minimum(np.hypot(xs - 80, ys - 120), np.hypot(xs - 230, ys - 120))
    assert np.all(np.abs(d - 40) <= 3)


def test_untracked_regions_are_drawn_in_their_class_colour() -> None:
    mask = disc_mask([(80, 120, 40)])
    mask = replace(mask, regions=tuple(find_regions(mask)))
    out = OutlineEffect(show_labels=False).apply(np.zeros((240, 320, 3), np.uint8), mask)
    r, g, b = mask.class_colors_rgb[1]
    assert _pixels_of(out, (b, g, r)).sum() > 100


def test_bad_settings_and_bad_frames() -> None:
    with pytest.raises(ValueError, match="thickness"):
        OutlineEffect(thickness=0)
    with pytest.raises(ValueError, match="fill_alpha"):
        OutlineEffect(fill_alpha=1.5)
    _, mask = _tracked_mask()
    with pytest.raises(ValueError, match="frame is 64x48 but the mask is 320x240"):
        OutlineEffect().apply(np.zeros((48, 64, 3), np.uint8), mask)


def test_blur_plus_outline_draws_outlines_on_the_blur() -> None:
    frame, mask = _tracked_mask()
    stacked = create_effect("blur+outline", show_labels=False, show_ids=False)
    assert ProcessingSettings(effect="blur+outline").tracks and not ProcessingSettings(effect="blur").tracks
    blurred = create_effect("blur").apply(frame, mask)
    out = stacked.apply(frame, mask)
    changed = np.any(out != blurred, axis=2)
    ys, xs = np.nonzero(changed)
    assert len(xs) > 100
    d = np.minimum(np.hypot(xs - 80, ys - 120), np.hypot(xs - 230, ys - 120))
    assert np.all(np.abs(d - 40) <= 3)  # only the outlines differ from the blur
    for cx, cy, r in DISCS:
        assert _pixels_of(out, id_color_bgr(nearest_id(mask.regions, cx, cy))).sum() > 2 * np.pi * r
