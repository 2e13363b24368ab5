"""A synthetic person-like scene for effect and refinement tests (no model needed).

``person_scene`` draws a textured room (coloured panels, stripes, noise) and a person (head, neck,
shoulders and torso, with a bright shirt), and returns the frame and the exact alpha.
``model_output`` imitates a segmentation model: the alpha at 256x256, softened like a network output.
"""

from __future__ import annotations

import cv2
import numpy as np

from realtime_seg.models.spec import ModelSpec
from realtime_seg.segmenter import SegResult

PORTRAIT_SPEC = ModelSpec(name="synthetic", input_size_wh=(256, 256), output_kind="probability")


def person_alpha(w: int, h: int, dx: float = 0.0) -> np.ndarray:
    """The person's exact alpha (float32 0/1, anti-aliased edge), shifted right by ``dx`` of the width."""
    s = 8  # draw at 8x sub-pixel precision via cv2's shift
    m = np.zeros((h, w), np.uint8)
    cx = w * (0.5 + dx)
    head = (round(cx * s), round(h * 0.36 * s))
    cv2.ellipse(m, head, (round(h * 0.13 * s), round(h * 0.17 * s)), 0, 0, 360, 255, -1, cv2.LINE_AA, 3)
    neck = np.array([[cx - h * 0.05, h * 0.45], [cx + h * 0.05, h * 0.45], [cx + h * 0.06, h * 0.62],
                     [cx - h * 0.06, h * 0.62]])  # fmt: skip
    cv2.fillPoly(m, [np.round(neck * s).astype(np.int32)], 255, cv2.LINE_AA, 3)
    body = np.array([[cx - h * 0.10, h * 0.58], [cx + h * 0.10, h * 0.58], [cx + h * 0.34, h * 0.72],
                     [cx + h * 0.40, h * 1.1], [cx - h * 0.40, h * 1.1], [cx - h * 0.34, h * 0.72]])  # fmt: skip
    cv2.fillPoly(m, [np.round(body * s).astype(np.int32)], 255, cv2.LINE_AA, 3)
    return m.astype(np.float32) / 255.0


def room(w: int, h: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    bg = np.zeros((h, w, 3), np.uint8)
    yy = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    bg[:] = (np.array([70, 90, 110], np.float32) + 60 * yy[:, :, None] * np.array([0.3, 0.6, 1.0])).astype(np.uint8)
    for _ in range(14):  # shelves, pictures, a window
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        x1, y1 = x0 + int(rng.integers(w // 20, w // 4)), y0 + int(rng.integers(h // 20, h // 3))
        colour = tuple(int(c) for c in rng.integers(20, 235, 3))
        cv2.rectangle(bg, (x0, y0), (x1, y1), colour, -1)
    for x in range(0, w, max(4, w // 40)):  # stripes: fine detail that a blur must remove
        cv2.line(bg, (x, int(h * 0.8)), (x, h), (40, 40, 40), 1)
    noise = rng.normal(0, 6, (h, w, 3))
    return np.clip(bg + noise, 0, 255).astype(np.uint8)


def person_scene(w: int = 640, h: int = 360, seed: int = 0, dx: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A BGR uint8 frame and its exact float32 alpha."""
    rng = np.random.default_rng(seed + 1000)
    alpha = person_alpha(w, h, dx)
    person = np.zeros((h, w, 3), np.float32)
    person[:] = (60, 170, 235)  # a bright orange shirt
    yy = np.arange(h)[:, None]
    person[yy[:, 0] < h * 0.58] = (120, 160, 215)  # skin
    person[yy[:, 0] < h * 0.27] = (40, 50, 70)  # hair
    person += rng.normal(0, 4, (h, w, 3))
    frame = alpha[:, :, None] * person + (1 - alpha[:, :, None]) * room(w, h, seed)
    return np.clip(frame + 0.5, 0, 255).astype(np.uint8), alpha


def model_output(
    alpha: np.ndarray, size_wh: tuple[int, int] = (256, 256), blur: float = 1.2, detail: int = 64
) -> np.ndarray:
    """The alpha as a model would give it: at model resolution, with a soft edge that misses details
    finer than ``detail`` pixels across the frame (corners rounded, the neck too wide)."""
    coarse = cv2.resize(alpha, (detail, detail), interpolation=cv2.INTER_AREA)
    small = cv2.resize(coarse, size_wh, interpolation=cv2.INTER_LINEAR)
    return np.clip(cv2.GaussianBlur(small, (0, 0), blur), 0, 1).astype(np.float32)


def seg_result(probs: np.ndarray, frame: np.ndarray, index: int = 0, spec: ModelSpec = PORTRAIT_SPEC) -> SegResult:
    return SegResult(index, probs.astype(np.float32), (frame.shape[1], frame.shape[0]), spec)
