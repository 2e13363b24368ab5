"""Synthetic tracking sequences with ground-truth ids, made from real photos of people.

The people are real cutouts: the astronaut and the cameraman photos of the pinned scikit-image wheel
(:mod:`realtime_seg.io.samples`), segmented by the built-in ``selfie`` model, and their mirror images.
They move over real backgrounds (other photos of the same wheel: a launch pad, a cafe table, a
motorbike) and behind occluders cut from a brick-wall photo. The mask the tracker sees is the true
visible mask, damaged the way a real segmenter damages it:

- ``cut``: a gap of a few pixels splits off the lower body or one side (an arm), for a few to tens of
  frames; during a cut the smaller piece may vanish for 1-3 frames (``drop_part``);
- ``drop``: the whole person vanishes from the mask for 1-3 frames (flicker);
- two people crossing touch and merge into one region; a person walks behind an occluder.

:func:`render` yields, per frame, the colour image, the damaged mask and the truth: ``(id, bbox)`` of
every person with at least ``min_visible`` visible pixels (whatever the damage). :data:`SCENES` names the
set that ``tools/bench_tracking.py`` measures.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from realtime_seg.postprocess.types import MaskFrame

log = logging.getLogger(__name__)

#: background photos in the scikit-image wheel: member -> sha256
BACKGROUNDS: dict[str, tuple[str, str]] = {
    "rocket": ("skimage/data/rocket.jpg", "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c"),
    "coffee": ("skimage/data/coffee.png", "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7"),
    "motorcycle": (
        "skimage/data/motorcycle_left.png",
        "db18e9c4157617403c3537a6ba355dfeafe9a7eabb6b9b94cb33f6525dd49179",
    ),
    "brick": ("skimage/data/brick.png", "7966caf324f6ba843118d98f7a07746d22f6a343430add0233eca5f6eaaa8fcf"),
}


@dataclass(frozen=True, eq=False)
class Person:
    """A cutout: BGR image and bool alpha of the same (h, w), cropped to the person."""

    name: str
    image: np.ndarray
    alpha: np.ndarray


@dataclass(frozen=True)
class Actor:
    """One person crossing the scene on a straight line from ``start`` to ``end`` (frame indices).

    ``p0`` / ``p1``: where the bottom centre of the cutout is at ``start`` / ``end`` (pixels; may be off
    screen). ``height``: the cutout's height in pixels. Actors listed later are in front.
    """

    person: int
    height: int
    start: int
    end: int
    p0: tuple[float, float]
    p1: tuple[float, float]

    def position(self, i: int) -> tuple[float, float] | None:
        if not self.start <= i <= self.end:
            return None
        u = (i - self.start) / max(self.end - self.start, 1)
        return (self.p0[0] + u * (self.p1[0] - self.p0[0]), self.p0[1] + u * (self.p1[1] - self.p0[1]))


@dataclass(frozen=True)
class Damage:
    """``kind`` in ``cut_low`` / ``cut_side`` (with ``gap`` px), ``drop_part``, ``drop`` for frames [first, last]."""

    actor: int
    first: int
    last: int
    kind: str
    gap: int = 0


@dataclass(frozen=True)
class SceneSpec:
    name: str
    description: str
    n_frames: int
    background: str
    actors: tuple[Actor, ...]
    occluders: tuple[tuple[int, int, int, int], ...] = ()
    damage: tuple[Damage, ...] = ()
    size_wh: tuple[int, int] = (640, 360)
    fps: float = 30.0


@dataclass(frozen=True, eq=False)
class SceneFrame:
    index: int
    t: float
    image: np.ndarray
    mask: MaskFrame
    truth: tuple[tuple[int, tuple[int, int, int, int]], ...] = field(default=())


def _fetch(names: list[str]) -> dict[str, np.ndarray]:
    """Background photos (BGR) from the pinned scikit-image wheel, cached next to the sample photos."""
    from realtime_seg._pypi import atomic_write, cache_dir, fetch_members, file_lock, sha256_file
    from realtime_seg.errors import InputError
    from realtime_seg.io.samples import SKIMAGE_REQUIREMENT

    folder = cache_dir() / "samples" / "scenes"
    out = {}
    missing = [
        n for n in names if not (folder / f"{n}.img").is_file() or sha256_file(folder / f"{n}.img") != BACKGROUNDS[n][1]
    ]
    if missing:
        with file_lock(cache_dir() / "samples" / ".lock"):
            members = {m: s for m, s in BACKGROUNDS.values()}
            data, _, _ = fetch_members(
                SKIMAGE_REQUIREMENT, members, wheel=None, error=InputError, hint="the scene backgrounds come from PyPI"
            )
            for n, (m, _) in BACKGROUNDS.items():
                atomic_write(folder / f"{n}.img", data[m])
    for n in names:
        img = cv2.imread(str(folder / f"{n}.img"), cv2.IMREAD_COLOR)
        if img is None:
            raise InputError(f"cannot decode scene background {folder / n}.img")
        out[n] = img
    return out


@functools.cache
def people() -> tuple[Person, ...]:
    """The real cutouts: astronaut and cameraman (segmented by the built-in selfie model), and mirrored."""
    from realtime_seg.io.samples import load_sample
    from realtime_seg.segmenter import open_segmenter

    found = []
    with open_segmenter("selfie", "onnxruntime", threads=1) as seg:
        for name in ("astronaut", "camera"):
            img = load_sample(name)
            alpha = seg.segment(img).alpha() >= 0.5
            ys, xs = np.nonzero(alpha)
            y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
            crop, a = np.ascontiguousarray(img[y0:y1, x0:x1]), np.ascontiguousarray(alpha[y0:y1, x0:x1])
            found.append(Person(name, crop, a))
            found.append(Person(name + "-mirrored", crop[:, ::-1].copy(), a[:, ::-1].copy()))
    return tuple(found)


@functools.lru_cache(maxsize=64)
def _scaled(person: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    p = people()[person]
    h, w = p.alpha.shape
    width = max(1, round(w * height / h))
    img = cv2.resize(p.image, (width, height), interpolation=cv2.INTER_AREA)
    a = cv2.resize(p.alpha.astype(np.float32), (width, height), interpolation=cv2.INTER_AREA) >= 0.5
    return img, a


def _damaged(alpha: np.ndarray, kinds: list[Damage]) -> np.ndarray:
    """The sprite's mask after the damage active in this frame (a copy)."""
    a = alpha.copy()
    h, w = a.shape
    cut = None
    for d in kinds:
        if d.kind == "drop":
            return np.zeros_like(a)
        if d.kind == "cut_low":
            y = int(0.62 * h)
            a[y : y + d.gap] = False
            cut = ("low", y + d.gap)
        elif d.kind == "cut_side":
            x = int(0.22 * w)
            a[int(0.35 * h) :, x : x + d.gap] = False
            a[int(0.35 * h) - d.gap : int(0.35 * h), :x] = False
            cut = ("side", x)
    if cut is not None and any(d.kind == "drop_part" for d in kinds):
        if cut[0] == "low":
            a[cut[1] :] = False
        else:
            a[:, : cut[1]] = False
    return a


def render(spec: SceneSpec, *, min_visible: int = 500) -> Iterator[SceneFrame]:
    """The frames of a scene: image, damaged mask, truth (id = actor index + 1, bbox of the visible person)."""
    w, h = spec.size_wh
    bgs = _fetch([spec.background, "brick"] if spec.occluders else [spec.background])
    bg = cv2.resize(bgs[spec.background], (w, h), interpolation=cv2.INTER_AREA)
    brick = cv2.resize(bgs["brick"], (w, h)) if spec.occluders else None
    occ = np.zeros((h, w), np.bool_)
    for x, y, ow, oh in spec.occluders:
        occ[y : y + oh, x : x + ow] = True
    for i in range(spec.n_frames):
        image = bg.copy()
        owner = np.zeros((h, w), np.int16)  # which actor (1-based) is visible at each pixel
        shown = np.zeros((h, w), np.bool_)  # the damaged mask
        per_actor: list[tuple[int, np.ndarray, tuple[int, int]]] = []
        for k, actor in enumerate(spec.actors):
            pos = actor.position(i)
            if pos is None:
                continue
            img, a = _scaled(actor.person, actor.height)
            sh, sw = a.shape
            x0, y0 = round(pos[0] - sw / 2), round(pos[1] - sh)
            xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + sw, w), min(y0 + sh, h)
            if xb <= xa or yb <= ya:
                continue
            sub = a[ya - y0 : yb - y0, xa - x0 : xb - x0]
            image[ya:yb, xa:xb][sub] = img[ya - y0 : yb - y0, xa - x0 : xb - x0][sub]
            owner[ya:yb, xa:xb][sub] = k + 1
            damage = [d for d in spec.damage if d.actor == k and d.first <= i <= d.last]
            da = _damaged(a, damage) if damage else a
            per_actor.append((k, da[ya - y0 : yb - y0, xa - x0 : xb - x0], (xa, ya)))
        for k, da, (xa, ya) in per_actor:
            dh, dw = da.shape
            # a damaged pixel shows only where this actor is the one in front
            shown[ya : ya + dh, xa : xa + dw] |= da & (owner[ya : ya + dh, xa : xa + dw] == k + 1)
        if brick is not None:
            image[occ] = brick[occ]
            owner[occ] = 0
            shown &= ~occ
        truth = []
        for k in range(len(spec.actors)):
            ys, xs = np.nonzero(owner == k + 1)
            if len(ys) >= min_visible:
                x0, y0 = int(xs.min()), int(ys.min())
                truth.append((k + 1, (x0, y0, int(xs.max()) - x0 + 1, int(ys.max()) - y0 + 1)))
        mask = MaskFrame(index=i, alpha=shown.astype(np.float32))
        yield SceneFrame(i, i / spec.fps, image, mask, tuple(truth))


def _random_damage(
    rng: np.random.Generator, actor: int, start: int, end: int, *, cuts: bool = True, drops: bool = True
) -> list[Damage]:
    """Cut episodes (with 1-3-frame part dropouts inside) and 1-3-frame whole dropouts along a life."""
    out = []
    i = start + int(rng.integers(5, 15))
    while i < end - 5:
        if cuts and rng.random() < 0.7:
            n = int(rng.integers(3, 25))
            kind = "cut_low" if rng.random() < 0.5 else "cut_side"
            out.append(Damage(actor, i, i + n, kind, int(rng.integers(4, 17))))
            if n > 6 and rng.random() < 0.6:
                j = i + int(rng.integers(1, n - 4))
                out.append(Damage(actor, j, j + int(rng.integers(0, 3)), "drop_part"))
            i += n
        elif drops:
            n = int(rng.integers(0, 3))
            out.append(Damage(actor, i, i + n, "drop"))
            i += n
        i += int(rng.integers(8, 30))
    return out


def _damage_all(rng: np.random.Generator, acts: tuple[Actor, ...], *, drops: bool = True) -> tuple[Damage, ...]:
    """:func:`_random_damage` along every actor's life, actor by actor (actor ``k`` is ``acts[k]``)."""
    return tuple(d for k, act in enumerate(acts) for d in _random_damage(rng, k, act.start, act.end, drops=drops))


def _specs() -> dict[str, SceneSpec]:
    rng = np.random.default_rng(13)
    specs: dict[str, SceneSpec] = {}

    # one person walking, the mask breaking into pieces and flickering all the time
    a: tuple[Actor, ...] = (Actor(0, 220, 0, 299, (120, 350), (520, 340)),)
    specs["fragments"] = SceneSpec(
        "fragments",
        "one person; the mask splits (lower body, side) and flickers for 1-3 frames",
        300,
        "rocket",
        a,
        damage=tuple(_random_damage(rng, 0, 0, 299)),
    )

    # two people crossing: they touch and merge into one region, then come apart
    acts: tuple[Actor, ...] = (
        Actor(0, 200, 0, 179, (60, 345), (600, 345)),
        Actor(3, 190, 0, 179, (590, 355), (40, 355)),
    )
    specs["crossing"] = SceneSpec(
        "crossing",
        "two people cross; their regions merge for about 20 frames and split again; light damage",
        180,
        "coffee",
        acts,
        damage=_damage_all(rng, acts, drops=False),
    )

    # a person walks behind a pillar (about 20 frames fully hidden)
    acts = (Actor(2, 200, 0, 179, (30, 350), (620, 350)),)
    specs["occluder"] = SceneSpec(
        "occluder",
        "one person walks behind a pillar and out again; light damage",
        180,
        "motorcycle",
        acts,
        occluders=((260, 0, 200, 360),),
        damage=tuple(_random_damage(rng, 0, 0, 179, drops=False)),
    )

    # six people cross the room one at a time, each entering at one side and leaving at the other
    acts_l = []
    for k in range(6):
        s = 10 + 120 * k  # the next one enters about 20 frames after the last one left
        left = k % 2 == 0
        y = 340 + 10 * (k % 3)
        p0, p1 = ((-80, y), (720, y)) if left else ((720, y), (-80, y))
        acts_l.append(Actor(k % 4, 180 + 10 * (k % 3), s, s + 100, p0, p1))
    acts = tuple(acts_l)
    specs["enter_leave"] = SceneSpec(
        "enter_leave",
        "six people cross one at a time (entering and leaving at the frame edges); damage throughout",
        730,
        "rocket",
        acts,
        damage=_damage_all(rng, acts),
    )

    # three people: two cross in the open, each walks behind a wall section (alone), a third one follows
    acts = (
        Actor(0, 210, 0, 299, (-60, 350), (700, 340)),
        Actor(3, 170, 0, 150, (700, 330), (-60, 330)),
        Actor(2, 190, 180, 299, (-60, 358), (400, 358)),
    )
    specs["group"] = SceneSpec(
        "group",
        "three people; two cross, each walks behind a wall section alone; the masks split and flicker",
        300,
        "coffee",
        acts,
        occluders=((350, 0, 230, 360),),
        damage=_damage_all(rng, acts),
    )

    # stress: three people bunched together, passing behind a post narrower than they are (it splits each
    # into two pieces further apart than grouping joins); not part of the goal set
    acts = (
        Actor(0, 210, 0, 239, (40, 350), (600, 340)),
        Actor(1, 170, 30, 239, (620, 330), (100, 330)),
        Actor(3, 190, 80, 239, (640, 358), (150, 358)),
    )
    specs["crowd"] = SceneSpec(
        "crowd",
        "stress: three people bunched together pass a thin post; the masks split and flicker",
        240,
        "coffee",
        acts,
        occluders=((430, 0, 60, 360),),
        damage=_damage_all(rng, acts),
    )
    return specs


#: the benchmark set, by name
SCENES: dict[str, SceneSpec] = _specs()
#: the scenes the goals are stated on (``crowd`` is a stress case beyond them)
GOAL_SCENES = ("fragments", "crossing", "occluder", "enter_leave", "group")
