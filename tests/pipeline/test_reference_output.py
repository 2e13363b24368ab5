"""The output stays what it was: alpha and blurred frames against a stored reference (issue 12).

Speed work changes how the pipeline computes (buffers, fused steps, fewer conversions), never what it
outputs. The reference in ``tests/fixtures/reference/blur_astronaut.npz`` was rendered by the pipeline as it
was before that work (commit 4f3f487): a short clip made here from the registry-shipped astronaut photo (no
video is committed), through the real model (ONNX Runtime), the refiner (temporal smoothing + guided
filter) and the blur effect, frame after frame.

- alpha: mean |alpha - reference| <= 2/255 on every frame (the issue's bound);
- the blurred output: mean difference <= 1.5 grey levels (on 1/4 thumbnails), and in the ring just outside
  the person (where a halo would show) no systematic brightening or darkening (mean signed difference
  <= 2 grey levels).

``REALTIME_SEG_WRITE_REFERENCE=1 pytest tests/pipeline/test_reference_output.py`` rewrites the reference:
only for a deliberate change of the output, said so in the commit.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime_seg.effects.blur import BlurEffect
from realtime_seg.pipeline.processor import FrameProcessor
from realtime_seg.postprocess.refine import Refiner
from realtime_seg.segmenter import open_segmenter

REFERENCE = Path(__file__).resolve().parents[1] / "fixtures" / "reference" / "blur_astronaut.npz"
SIZE = (480, 270)
FRAMES = 6
#: the frames whose blurred output is stored (alpha is stored for all)
OUTPUT_FRAMES = (0, FRAMES - 1)

pytestmark = pytest.mark.network  # the model and the photo come from pinned PyPI wheels (cached after once)


def render() -> tuple[np.ndarray, np.ndarray]:
    """(alpha uint8 (FRAMES, H, W), blurred outputs (len(OUTPUT_FRAMES), H, W, 3)) of today's pipeline."""
    from realtime_seg.io.samples import load_sample
    from realtime_seg.io.synth import ken_burns_frames

    frames = list(ken_burns_frames(load_sample("astronaut"), size_wh=SIZE, n_frames=FRAMES))
    alphas, outputs = [], []
    with open_segmenter("selfie", "onnxruntime", threads=1) as seg:
        processor = FrameProcessor(seg, Refiner(), BlurEffect())
        for i, frame in enumerate(frames):
            result = processor.process(frame, i, i / 30.0)
            alphas.append(np.round(np.clip(result.mask.alpha, 0.0, 1.0) * 255.0).astype(np.uint8))
            if i in OUTPUT_FRAMES:
                outputs.append(np.array(result.output, copy=True))
    return np.stack(alphas), np.stack(outputs)


def ring(alpha_u8: np.ndarray) -> np.ndarray:
    """Pixels just outside the person (alpha < 0.1, within 12 pixels of alpha >= 0.5): where a halo shows."""
    person = (alpha_u8 >= 128).astype(np.uint8)
    return (cv2.dilate(person, np.ones((25, 25), np.uint8)) > 0) & (alpha_u8 < 26)


def thumb(image: np.ndarray) -> np.ndarray:
    return cv2.resize(image, (SIZE[0] // 4, SIZE[1] // 4), interpolation=cv2.INTER_AREA)


def write_reference(alpha: np.ndarray, out: np.ndarray) -> None:
    """Alpha of every frame; of the output, the ring pixels at full resolution and a 1/4 thumbnail (small)."""
    rings = {f"ring{i}": out[k][ring(alpha[i])] for k, i in enumerate(OUTPUT_FRAMES)}
    thumbs = np.stack([thumb(o) for o in out])
    REFERENCE.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(REFERENCE, alpha=alpha, thumbs=thumbs, **rings)


def test_alpha_and_blur_output_match_the_stored_reference() -> None:
    alpha, out = render()
    if os.environ.get("REALTIME_SEG_WRITE_REFERENCE") == "1":
        write_reference(alpha, out)
        pytest.skip(f"wrote {REFERENCE}")
    ref = np.load(REFERENCE)
    ref_alpha = ref["alpha"]
    assert alpha.shape == ref_alpha.shape

    diff_a = np.abs(alpha.astype(np.int16) - ref_alpha.astype(np.int16))
    for i in range(FRAMES):
        assert diff_a[i].mean() <= 2.0, f"frame {i}: mean alpha difference {diff_a[i].mean():.2f}/255 > 2/255"

    for k, i in enumerate(OUTPUT_FRAMES):
        d = np.abs(thumb(out[k]).astype(np.int16) - ref["thumbs"][k].astype(np.int16))
        assert d.mean() <= 1.5, f"frame {i}: mean output difference {d.mean():.2f} > 1.5 grey levels"
        where = ring(ref_alpha[i])
        assert where.sum() > 500, "the reference frame has no person edge to check"
        signed = float((out[k][where].astype(np.int16) - ref[f"ring{i}"].astype(np.int16)).mean())
        assert abs(signed) <= 2.0, f"frame {i}: the ring around the person moved by {signed:+.2f} grey levels"


def test_the_check_catches_a_halo() -> None:
    """The ring check is not vacuous: the naive (halo-making) blur fails it against the reference."""
    from realtime_seg.io.samples import load_sample
    from realtime_seg.io.synth import ken_burns_frames
    from realtime_seg.postprocess.types import MaskFrame

    ref = np.load(REFERENCE)
    i = OUTPUT_FRAMES[0]
    frame = next(iter(ken_burns_frames(load_sample("astronaut"), size_wh=SIZE, n_frames=FRAMES)))
    mask = MaskFrame(index=i, alpha=ref["alpha"][i].astype(np.float32) / 255.0)
    naive = BlurEffect(mask_aware=False).apply(frame, mask)
    moved = (naive[ring(ref["alpha"][i])].astype(np.int16) - ref[f"ring{i}"].astype(np.int16)).mean()
    assert abs(moved) > 2.0, f"the naive blur moves the ring by only {moved:+.2f} grey levels"
