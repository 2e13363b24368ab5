"""The Refiner end to end: SegResult -> MaskFrame with each step on and off."""

from __future__ import annotations

import numpy as np
import pytest

from realtime_seg.models.spec import ModelSpec
from realtime_seg.postprocess.refine import RefineConfig, Refiner
from realtime_seg.segmenter import SegResult
from tests.synthetic import model_output, person_scene, seg_result


def test_defaults_give_a_soft_alpha_at_frame_size_closer_to_the_truth() -> None:
    frame, alpha = person_scene(320, 180)
    seg = seg_result(model_output(alpha, detail=48), frame)
    refined = Refiner().refine(frame, seg)
    plain = Refiner(RefineConfig(smoothing=0.0, edge_gain=1.0, edge_refine=False)).refine(frame, seg)
    assert refined.alpha.shape == (180, 320) and refined.alpha.dtype == np.float32
    assert refined.labels is None
    assert refined.alpha.min() >= 0.0 and refined.alpha.max() <= 1.0
    np.testing.assert_array_equal(plain.alpha, seg.alpha((320, 180)))  # all off: plain bilinear
    err_refined = np.abs(refined.alpha - alpha).mean()
    err_plain = np.abs(plain.alpha - alpha).mean()
    assert err_refined < 0.7 * err_plain, (err_refined, err_plain)


def test_threshold_gives_a_hard_mask() -> None:
    frame, alpha = person_scene(160, 90)
    mask = Refiner(RefineConfig(threshold=0.5)).refine(frame, seg_result(model_output(alpha), frame))
    assert set(np.unique(mask.alpha)) == {0.0, 1.0}


def test_smoothing_carries_history_until_reset() -> None:
    frame, alpha = person_scene(160, 90)
    r = Refiner(RefineConfig(smoothing=0.5, edge_refine=False, edge_gain=1.0))
    r.refine(frame, seg_result(np.ones((64, 64), np.float32), frame, 0))
    held = r.refine(frame, seg_result(np.zeros((64, 64), np.float32), frame, 1))
    np.testing.assert_allclose(held.alpha, 0.5, atol=1e-6)
    r.reset()
    fresh = r.refine(frame, seg_result(np.zeros((64, 64), np.float32), frame, 2))
    assert np.all(fresh.alpha == 0.0)


def test_multi_class_labels_pass_through_while_the_alpha_is_refined() -> None:
    spec = ModelSpec(name="three", input_size_wh=(32, 16), output_kind="logits", class_names=("background", "a", "b"))
    probs = np.zeros((3, 16, 32), np.float32)
    probs[0] = 1.0
    probs[:, :, 16:] = 0.0
    probs[1, :8, 16:] = 1.0
    probs[2, 8:, 16:] = 1.0
    frame = np.zeros((64, 128, 3), np.uint8)
    frame[:, 64:] = 200
    seg = SegResult(3, probs, (128, 64), spec)
    mask = Refiner().refine(frame, seg)
    assert mask.index == 3 and mask.class_names == ("background", "a", "b")
    np.testing.assert_array_equal(mask.labels, seg.labels((128, 64)))
    assert mask.alpha[:, :60].max() < 0.05 and mask.alpha[:, 68:].min() > 0.95


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"smoothing": 1.0}, r"smoothing must be in \[0, 1\) \(0 = off\), got 1.0"),
        ({"motion": 0.0}, "motion must be > 0 grey levels or None, got 0.0"),
        ({"scene_cut": 300.0}, r"scene_cut must be in \(0, 255\]"),
        ({"edge_gain": 0.5}, r"edge_gain must be in \[1, 100\]"),
        ({"guided_radius": 0}, "guided_radius must be an integer >= 1 pixel, got 0"),
        ({"guided_eps": 0.0}, "guided_eps must be > 0"),
        ({"guided_subsample": 32}, "guided_subsample must be an integer in 1..16, got 32"),
        ({"threshold": 1.5}, r"threshold must be in \(0, 1\) or None, got 1.5"),
    ],
)
def test_invalid_config_says_what_was_expected(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        RefineConfig(**kwargs)  # type: ignore[arg-type]


def test_one_refiner_follows_frame_size_changes_and_never_reuses_a_returned_alpha() -> None:
    """The Refiner keeps working arrays between frames; a new size (a new source, a rotated camera)
    must reallocate them, and a MaskFrame handed out earlier must stay as it was."""
    stream = Refiner()
    unsmoothed = Refiner(RefineConfig(smoothing=0.0))  # no history: each frame must match a new Refiner's
    masks = []
    for i, (w, h) in enumerate([(1280, 720), (854, 480), (854, 480), (1280, 720)]):
        frame, alpha = person_scene(w, h)
        seg = seg_result(model_output(alpha), frame, i)
        mask = stream.refine(frame, seg)
        assert mask.alpha.shape == (h, w) and mask.alpha.min() >= 0.0 and mask.alpha.max() <= 1.0
        single = unsmoothed.refine(frame, seg)
        np.testing.assert_array_equal(single.alpha, Refiner(RefineConfig(smoothing=0.0)).refine(frame, seg).alpha)
        masks += [(mask.alpha, mask.alpha.copy()), (single.alpha, single.alpha.copy())]
    for alpha, snapshot in masks:
        np.testing.assert_array_equal(alpha, snapshot)
