"""Recurrent models: the segmenter owns the state per stream, resets it, and ``--every N`` keeps it consistent.

The model is a real ONNX graph run by ONNX Runtime (``tests.tiny_models.counter_matting_model``):
its alpha is the number of runs its state has seen / 100, so each test reads the state's history.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from realtime_seg.effects.basic import NoEffect
from realtime_seg.errors import InputError, SpecError
from realtime_seg.models.registry import load_user_model
from realtime_seg.pipeline.processor import FrameProcessor
from realtime_seg.postprocess.refine import RefineConfig, Refiner
from realtime_seg.segmenter import open_segmenter, working_size
from tests.tiny_models import write_counter_model


def _frame(w: int = 128, h: int = 72, value: int = 100) -> np.ndarray:
    frame = np.full((h, w, 3), value, np.uint8)
    frame[:, :, 2] = 200  # red channel: BGR order
    return frame


def _runs(result_probs: np.ndarray) -> int:
    """How many runs the state had seen before this one (the counter model's alpha * 100)."""
    return int(round(float(result_probs.mean()) * 100))


@pytest.fixture
def counter(tmp_path: Path) -> Path:
    return write_counter_model(tmp_path)


def test_state_carries_over_and_reset_starts_again(counter: Path) -> None:
    with open_segmenter(counter, "onnxruntime", threads=1, downsample=0.5) as seg:
        seen = [_runs(seg.segment(_frame(), i).probs) for i in range(4)]
        assert seen == [0, 1, 2, 3]
        seg.reset()
        assert _runs(seg.segment(_frame(), 4).probs) == 0
        assert _runs(seg.segment(_frame(), 5).probs) == 1
        assert seg.state_resets == 2


def test_resolution_change_resets_the_state(counter: Path) -> None:
    with open_segmenter(counter, "onnxruntime", threads=1, downsample=0.5) as seg:
        for i in range(3):
            seg.segment(_frame(128, 72), i)
        result = seg.segment(_frame(160, 90), 3)  # another source size: another working resolution
        assert _runs(result.probs) == 0 and result.probs.shape == (45, 80)
        assert seg.state_resets == 2
        assert _runs(seg.segment(_frame(160, 90), 4).probs) == 1


def test_working_resolution_and_foreground(counter: Path) -> None:
    with open_segmenter(counter, "onnxruntime", threads=1, downsample=0.25) as seg:
        result = seg.segment(_frame(128, 72), 0)
    assert result.probs.shape == (18, 32)
    assert result.foreground is not None and result.foreground.shape == (18, 32, 3)
    # the model passes its input through as the foreground: RGB in [0, 1], red first
    assert np.allclose(result.foreground[0, 0], [200 / 255, 100 / 255, 100 / 255], atol=1e-6)
    assert not result.foreground.flags.writeable


def test_working_size_follows_the_authors_advice() -> None:
    assert working_size((1280, 720)) == (480, 270)  # 0.375 of 720p
    assert working_size((1920, 1080)) == (480, 270)  # 0.25 of 1080p
    assert working_size((3840, 2160)) == (480, 270)  # 0.125 of 4K
    assert working_size((512, 384)) == (480, 360)
    assert working_size((320, 240)) == (320, 240)  # small frames: 1
    assert working_size((1280, 720), 0.25) == (320, 180)
    with pytest.raises(InputError, match=r"downsample ratio must be in \(0, 1\], got 1.5"):
        working_size((1280, 720), 1.5)


def test_every_n_advances_the_state_only_on_model_frames(counter: Path) -> None:
    """With ``every=3`` the model runs on frames 0, 3, 6, 9: the state has seen exactly those."""
    with open_segmenter(counter, "onnxruntime", threads=1, downsample=0.5) as seg:
        proc = FrameProcessor(seg, Refiner(RefineConfig(smoothing=0.0, edge_refine=False)), NoEffect(), every=3)
        runs = []
        for i in range(10):
            out = proc.process(_frame(), i, i / 30)
            runs.append((out.reused_mask, int(round(float(out.mask.alpha.mean()) * 100))))
    assert runs == [(i % 3 != 0, i // 3) for i in range(10)]


def test_matting_alpha_is_not_sharpened_or_smoothed(counter: Path) -> None:
    """A matte keeps its values: the refiner's edge gain and temporal smoothing are for segmentation models."""
    with open_segmenter(counter, "onnxruntime", threads=1, downsample=0.5) as seg:
        refiner = Refiner(RefineConfig(edge_refine=False))  # default edge_gain 4, smoothing 0.7
        levels = [float(refiner.refine(_frame(), seg.segment(_frame(), i)).alpha.mean()) for i in range(3)]
    assert levels == pytest.approx([0.0, 0.01, 0.02], abs=1e-6)


def test_state_channel_mismatch_in_a_user_toml(tmp_path: Path) -> None:
    path = write_counter_model(tmp_path, spec_channels=5)
    with pytest.raises(
        SpecError,
        match=r"field 'state.channels' of 'r1i' says 5, but the graph's input 'r1i' has shape "
        r"\[1, 2, '\?', '\?'\] \(2 channels\)",
    ):
        load_user_model(path)


def test_state_naming_an_absent_input(tmp_path: Path) -> None:
    path = write_counter_model(tmp_path)
    toml = path.with_suffix(".toml")
    toml.write_text(toml.read_text().replace('input = "r1i"', 'input = "state_in"'))
    with pytest.raises(
        SpecError, match=r"field 'state.input' names input 'state_in', but the graph's inputs are src, r1i"
    ):
        load_user_model(path)


def test_spec_state_validation() -> None:
    from realtime_seg.models.spec import StateSpec

    with pytest.raises(SpecError, match=r"'state.channels' of 'a': expected an integer > 0, got 0"):
        StateSpec("a", "b", 0)
    with pytest.raises(SpecError, match=r"expected distinct input and output names"):
        StateSpec("a", "a", 4)
    assert StateSpec("r", "s", 16, 2).shape((321, 181)) == (1, 16, 91, 161)


def test_processor_reset_restarts_the_models_state(counter: Path) -> None:
    """A new source or a seek (``FrameProcessor.reset``, what the app calls) starts the state from zeros."""
    with open_segmenter(counter, "onnxruntime", threads=1, downsample=0.5) as seg:
        proc = FrameProcessor(seg, Refiner(RefineConfig(smoothing=0.0, edge_refine=False)), NoEffect())
        for i in range(3):
            proc.process(_frame(), i, i / 30)
        proc.reset()
        assert float(proc.process(_frame(), 3, 0.1).mask.alpha.mean()) == pytest.approx(0.0, abs=1e-6)


def test_settings_carry_downsample_to_the_segmenter(counter: Path) -> None:
    from realtime_seg.errors import SettingsError
    from realtime_seg.pipeline.assemble import open_processor, reconfigure
    from realtime_seg.pipeline.settings import ProcessingSettings

    with pytest.raises(SettingsError, match=r"downsample must be in \(0, 1\] \(a fraction of the frame\), got 0"):
        ProcessingSettings(downsample=0.0)
    old = ProcessingSettings(model=str(counter), backend="onnxruntime", effect="mask", downsample=0.5)
    with open_processor(old) as proc:
        assert proc.process(_frame(128, 72), 0, 0.0).mask.alpha.shape == (72, 128)
        assert proc.segmenter.model_size((128, 72)) == (64, 36)
        new = ProcessingSettings(model=str(counter), backend="onnxruntime", effect="mask", downsample=0.25)
        reconfigure(proc, old, new)
        proc.process(_frame(128, 72), 1, 0.1)
        assert proc.segmenter.model_size((128, 72)) == (32, 18) and proc.segmenter.state_resets == 2


def test_auto_model_on_the_cpu_is_the_selfie_model() -> None:
    from realtime_seg.segmenter import choose_auto_model

    assert choose_auto_model("onnxruntime") == "selfie"


def test_a_scene_cut_restarts_the_state(counter: Path) -> None:
    """A jump in the whole picture (mean change >= 40 grey levels) starts the state again; gentle change does not."""
    with open_segmenter(counter, "onnxruntime", threads=1, downsample=0.5) as seg:
        seen = [_runs(seg.segment(_frame(value=v), i).probs) for i, v in enumerate([100, 110, 120, 250, 240])]
    assert seen == [0, 1, 2, 0, 1]  # 100 -> 120: 10 levels a frame; 120 -> 250 on two of three channels: a cut
    assert seg.state_resets == 2
