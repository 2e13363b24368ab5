"""RegionTracker: lifecycle (after norfair's tests) and synthetic sequences with known truth."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from realtime_seg.errors import InputError
from realtime_seg.postprocess.types import MaskFrame
from realtime_seg.tracking import RegionTracker, TrackedRegion, find_regions

from .synth import disc_mask, label_mask, nearest_id

FPS = 30.0


def run(tracker: RegionTracker, frames: list[MaskFrame]) -> list[list[TrackedRegion]]:
    return [tracker.step(m, i / FPS) for i, m in enumerate(frames)]


# -- lifecycle --------------------------------------------------------------------------------------------


def test_initialization_first_frame() -> None:
    tracker = RegionTracker(min_hits=1)
    (tr,) = tracker.step(disc_mask([(100, 100, 20)]), 0.0)
    assert (tr.id, tr.age, tr.hits, tr.missed) == (1, 0, 1, 0)
    assert tr.trail == (tr.centroid,)
    assert tr.contour is tr.region.contour  # no smoothing by default


def test_initialization_delay_min_hits() -> None:
    """With min_hits=3 a region is reported (and given an id) on its 3rd frame; flicker uses up no ids."""
    tracker = RegionTracker(min_hits=3)
    assert tracker.step(disc_mask([(100, 100, 20)]), 0.0) == []
    assert tracker.step(disc_mask([]), 1 / FPS) == []  # missed while initialising: dropped
    assert tracker.step(disc_mask([(100, 100, 20)]), 2 / FPS) == []
    assert tracker.step(disc_mask([(100, 100, 20)]), 3 / FPS) == []
    (tr,) = tracker.step(disc_mask([(100, 100, 20)]), 4 / FPS)
    assert (tr.id, tr.hits, tr.age) == (1, 3, 2)
    assert tracker.stats.distinct_ids == 1


def test_hit_counter_and_age_count_frames() -> None:
    tracker = RegionTracker(min_hits=1)
    frames = [disc_mask([(100 + 3 * i, 100, 20)]) for i in range(5)]
    out = run(tracker, frames)
    assert [o[0].hits for o in out] == [1, 2, 3, 4, 5]
    assert [o[0].age for o in out] == [0, 1, 2, 3, 4]
    assert {o[0].id for o in out} == {1}


def test_missed_frames_keep_the_id_up_to_max_lost_s_then_retire() -> None:
    tracker = RegionTracker(min_hits=1, max_lost_s=2.5 / FPS)
    disc = disc_mask([(100, 100, 20)])
    empty = disc_mask([])
    seq = [disc, empty, empty, disc, empty, empty, empty, disc]
    out = run(tracker, seq)
    assert [[t.id for t in o] for o in out] == [[1], [], [], [1], [], [], [], [2]]
    assert out[3][0].hits == 2 and out[3][0].age == 3
    assert tracker.stats.distinct_ids == 2


def test_trail_is_bounded_and_ends_at_the_current_centroid() -> None:
    tracker = RegionTracker(min_hits=1, trail_length=4)
    out = run(tracker, [disc_mask([(50 + 5 * i, 100, 15)]) for i in range(8)])
    last = out[-1][0]
    assert len(last.trail) == 4
    assert last.trail[-1] == last.centroid
    assert [round(x) for x, _ in last.trail] == [70, 75, 80, 85]
    assert RegionTracker(min_hits=1, trail_length=0).step(disc_mask([(50, 50, 10)]), 0.0)[0].trail == ()


def test_stats_and_reset() -> None:
    tracker = RegionTracker(min_hits=1)
    run(tracker, [disc_mask([(50, 50, 20), (150, 50, 20), (250, 50, 20)]), disc_mask([(50, 50, 20)])])
    assert tracker.stats.frames == 2
    assert tracker.stats.distinct_ids == 3
    assert tracker.stats.max_simultaneous == 3
    tracker.reset()
    assert tracker.stats.distinct_ids == 0 and tracker.live_tracks == 0
    assert tracker.step(disc_mask([(50, 50, 20)], size_wh=(100, 80)), 0.0)[0].id == 1  # new size after reset: fine


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_lost_s": -1}, "max_lost_s"),
        ({"merge_cover": 0.0}, "merge_cover"),
        ({"fragment_ratio": 2.0}, "fragment_ratio"),
        ({"iou_threshold": 0.0}, "iou_threshold"),
        ({"max_centroid_distance": float("inf")}, "max_centroid_distance"),
        ({"trail_length": -2}, "trail_length"),
        ({"smooth_outline": 1.0}, "smooth_outline"),
        ({"min_hits": 0}, "min_hits"),
    ],
)
def test_bad_settings_fail_early(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        RegionTracker(**kwargs)  # type: ignore[arg-type]


# -- bad input ---------------------------------------------------------------------------------------------


def test_empty_mask_is_not_an_error() -> None:
    assert RegionTracker(min_hits=1).step(disc_mask([]), 0.0) == []


def test_mask_size_change_names_expected_and_received_shape() -> None:
    tracker = RegionTracker(min_hits=1)
    tracker.step(disc_mask([(50, 50, 20)]), 0.0)
    with pytest.raises(InputError, match=r"\(120, 160\), expected \(240, 320\)"):
        tracker.step(disc_mask([(50, 50, 20)], size_wh=(160, 120)), 1 / FPS)


def test_update_rejects_non_regions() -> None:
    with pytest.raises(InputError, match="list of Region, got a ndarray"):
        RegionTracker(min_hits=1).update([np.zeros((4, 4))], 0.0)  # type: ignore[list-item]


# -- sequences with known truth ---------------------------------------------------------------------------


@pytest.mark.parametrize("dy", [0, 12, 30])
def test_two_discs_crossing_keep_their_ids(dy: int) -> None:
    """Same class, moving towards each other: they merge into one blob for several frames and come apart.

    dy=30: they only touch; dy=12 and 0: they overlap and merge completely. After the crossing each id
    must be on the disc that had it before.
    """
    tracker = RegionTracker(min_hits=1)
    truth_a = [(40 + 8 * i, 120) for i in range(32)]
    truth_b = [(280 - 8 * i, 120 + dy) for i in range(32)]
    out = run(tracker, [disc_mask([(*a, 25), (*b, 25)]) for a, b in zip(truth_a, truth_b, strict=True)])
    id_a, id_b = nearest_id(out[0], *truth_a[0]), nearest_id(out[0], *truth_b[0])
    assert id_a != id_b
    separate = [i for i, o in enumerate(out) if len(o) == 2]
    assert separate[0] == 0 and separate[-1] == 31 and len(separate) < 32  # they did merge in between
    for i in separate:
        assert nearest_id(out[i], *truth_a[i]) == id_a, f"frame {i}"
        assert nearest_id(out[i], *truth_b[i]) == id_b, f"frame {i}"
    assert tracker.stats.distinct_ids == 2


def test_two_classes_crossing_one_occluding_the_other() -> None:
    """A hand (class 2) passes in front of a person (class 1): ids are per class and survive the occlusion."""
    tracker = RegionTracker(min_hits=1)
    out = []
    for i in range(30):
        mask = label_mask([(1, 160, 120, 50), (2, 40 + 8 * i, 130, 18)])
        out.append(tracker.step(mask, i / FPS))
    persons = {t.id for o in out for t in o if t.class_name == "person"}
    hands = {t.id for o in out for t in o if t.class_name == "hand"}
    assert len(persons) == 1 and len(hands) == 1 and persons != hands
    assert all(len(o) == 2 for o in out)


def test_disappears_for_three_frames_and_comes_back_with_the_same_id() -> None:
    tracker = RegionTracker(min_hits=1)
    frames = []
    for i in range(12):
        discs = [(200, 60, 20)]  # a second, still disc that is always there
        if not 4 <= i < 7:
            discs.append((60 + 6 * i, 150, 22))
        frames.append(disc_mask(discs))
    out = run(tracker, frames)
    mover = nearest_id(out[0], 60, 150)
    still = nearest_id(out[0], 200, 60)
    for i, o in enumerate(out):
        if 4 <= i < 7:
            assert [t.id for t in o] == [still]
        else:
            assert sorted(t.id for t in o) == sorted([mover, still])
            assert nearest_id(o, 60 + 6 * i, 150) == mover
    back = next(t for t in out[7] if t.id == mover)
    assert back.hits == 5 and back.age == 7
    assert tracker.stats.distinct_ids == 2


def test_a_piece_that_moves_away_gets_a_new_id_and_the_larger_keeps_its_own() -> None:
    """A blob (two discs joined by a bridge) pinches off; the small piece drifts away from the large one.

    While it is near, it is a part of the same object (a fragment); once it is far, it is an object of its own.
    """
    tracker = RegionTracker(min_hits=1)
    frames = []
    for i in range(14):
        big, small = (110 - 2 * i, 120, 40), (170 + 8 * i, 120, 25)
        frames.append(disc_mask([big, small]) if i >= 3 else disc_mask([big, small, (140, 120, 20)]))
    out = run(tracker, frames)
    whole = out[0][0].id
    assert [len(o) for o in out[:3]] == [1, 1, 1]
    assert len(out[-1]) == 2
    for o in out:
        assert nearest_id(o, 100, 120) == whole
    first_apart = next(i for i, o in enumerate(out) if len(o) == 2)
    assert first_apart > 3  # it was a part of the object for a while before it got away
    assert len(out[first_apart - 1][0].parts) == 2
    assert len({nearest_id(o, 250, 120) for o in out[first_apart:]}) == 1
    assert tracker.stats.distinct_ids == 2


def test_merge_then_split_returns_the_ids() -> None:
    """Two discs side by side get joined by a bridge for 3 frames, then the bridge goes away."""
    tracker = RegionTracker(min_hits=1)
    a, b = (110, 120, 35), (210, 120, 30)
    frames = [disc_mask([a, b])] * 3 + [disc_mask([a, b, (160, 120, 22)])] * 3 + [disc_mask([a, b])] * 3
    out = run(tracker, frames)
    id_a, id_b = nearest_id(out[0], 110, 120), nearest_id(out[0], 210, 120)
    assert [len(o) for o in out] == [2, 2, 2, 1, 1, 1, 2, 2, 2]
    assert [t.id for t in out[3]] == [id_a]  # the larger overlap keeps its id
    for o in out[6:]:
        assert (nearest_id(o, 110, 120), nearest_id(o, 210, 120)) == (id_a, id_b)


def test_leaving_the_frame_retires_at_once_and_hiding_inside_it_after_max_lost_s() -> None:
    frames = [disc_mask([(250 + 25 * i, 120, 20)]) for i in range(12)]  # gone from frame 4 on (x >= 340)
    tracker = RegionTracker(min_hits=1, max_lost_s=2.5 / FPS)
    lives = []
    for i, m in enumerate(frames):
        tracker.step(m, i / FPS)
        lives.append(tracker.live_tracks)
    # predicted outside the frame: it walked out, so its id is not kept for a newcomer at the edge
    assert lives == [1, 1, 1, 1] + [0] * 8
    (tr,) = tracker.step(disc_mask([(300, 120, 20)]), 12 / FPS)
    assert tr.id == 2
    # vanishing inside the frame: it coasts for max_lost_s, then is retired
    still = [disc_mask([(150, 120, 20)])] * 3 + [disc_mask([])] * 6
    tracker2 = RegionTracker(min_hits=1, max_lost_s=2.5 / FPS)
    lives = []
    for i, m in enumerate(still):
        tracker2.step(m, i / FPS)
        lives.append(tracker2.live_tracks)
    assert lives == [1, 1, 1, 1, 1, 1, 0, 0, 0]


def test_assignment_is_optimal_not_greedy() -> None:
    """Two discs moving right in step, faster than the gap between them.

    The best single overlap is the leading disc's old footprint with the trailing disc's new position
    (30 px apart); a greedy matcher takes it and leaves the other pair unmatched. The optimal assignment
    pairs each disc with its own new position (35 px apart each). A greedy loop fails this test. (The
    discs are 6 px apart: ``join_gap=4`` keeps them two objects.)
    """
    tracker = RegionTracker(min_hits=1, join_gap=4)
    out = run(tracker, [disc_mask([(100 + 35 * i, 120, 30), (166 + 35 * i, 120, 30)]) for i in range(4)])
    id_a, id_b = nearest_id(out[0], 100, 120), nearest_id(out[0], 166, 120)
    for i, o in enumerate(out):
        assert (nearest_id(o, 100 + 35 * i, 120), nearest_id(o, 166 + 35 * i, 120)) == (id_a, id_b)
    assert tracker.stats.distinct_ids == 2


def test_small_fast_region_matches_by_centroid_distance() -> None:
    """A 6-px speck jumping 30 px a frame never overlaps itself: only the centroid fallback keeps its id."""
    frames = [disc_mask([(20 + 30 * i, 100 + 3 * i, 6)]) for i in range(9)]
    out = run(RegionTracker(min_hits=1, min_area=10), frames)
    assert {t.id for o in out for t in o} == {1}
    out = run(RegionTracker(min_hits=1, min_area=10, max_centroid_distance=0), frames)
    assert [t.id for o in out for t in o] == list(range(1, 10))


def test_regions_of_other_classes_never_match() -> None:
    tracker = RegionTracker(min_hits=1)
    (a,) = tracker.step(label_mask([(1, 100, 100, 30)]), 0.0)
    (b,) = tracker.step(label_mask([(2, 100, 100, 30)]), 1 / FPS)
    assert a.id != b.id


def test_update_takes_regions_directly() -> None:
    tracker = RegionTracker(min_hits=1)
    r0 = find_regions(disc_mask([(100, 100, 30)]))
    r1 = [r0[0].translated(5, 2)]
    assert [t.id for t in tracker.update(r0, 0.0)] == [1]
    (tr,) = tracker.update(r1, 1 / FPS)
    assert tr.id == 1 and tr.centroid == pytest.approx((105, 102), abs=0.5)


# -- outline smoothing ------------------------------------------------------------------------------------


def _jittery_frames(n: int, dx: float) -> list[MaskFrame]:
    """A disc whose edge jitters by a few pixels every frame (noise in the radius per angle)."""
    rng = np.random.default_rng(3)
    frames = []
    for i in range(n):
        angles = np.linspace(0, 2 * np.pi, 90, endpoint=False)
        radius = 50 + rng.uniform(-4, 4, size=angles.shape)
        cx = 100 + dx * i
        pts = np.column_stack([cx + radius * np.cos(angles), 120 + radius * np.sin(angles)]).round().astype(np.int32)
        alpha = np.zeros((240, 320), np.float32)
        cv2.fillPoly(alpha, [pts], 1.0)
        frames.append(MaskFrame(index=i, alpha=alpha))
    return frames


def _radial_profile(contour: np.ndarray, center: tuple[float, float]) -> np.ndarray:
    """The outline's distance from the centre in 36 angular bins."""
    d = contour - np.asarray(center)
    ang = np.arctan2(d[:, 1], d[:, 0])
    rad = np.hypot(d[:, 0], d[:, 1])
    bins = ((ang + np.pi) / (2 * np.pi) * 36).astype(int) % 36
    return np.array([rad[bins == k].mean() if np.any(bins == k) else np.nan for k in range(36)])


def test_smoothing_reduces_outline_jitter_without_lagging() -> None:
    frames = _jittery_frames(20, dx=6.0)
    raw = run(RegionTracker(min_hits=1), frames)
    smooth = run(RegionTracker(min_hits=1, smooth_outline=0.7), frames)

    def jitter(out: list[list[TrackedRegion]]) -> float:
        profiles = [_radial_profile(o[0].contour, o[0].centroid) for o in out[5:]]
        return float(np.nanmean(np.abs(np.diff(profiles, axis=0))))

    assert jitter(smooth) < 0.6 * jitter(raw)
    for o in smooth[5:]:  # the smoothed outline moves with the region: its centre is the region's centroid
        m = cv2.moments(o[0].contour)
        assert (m["m10"] / m["m00"], m["m01"] / m["m00"]) == pytest.approx(o[0].centroid, abs=1.5)
        assert o[0].contour is not o[0].region.contour
