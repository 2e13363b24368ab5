"""A recurrent model on the TensorRT backend, against the stand-ins of ``tests/backends/fakes.py``.

No GPU exists here. The stand-in engine for a model with several inputs runs the real ONNX graph with ONNX
Runtime on the host, reading and writing the fake device memory at the addresses our backend binds, so
what these tests check is OUR bookkeeping: one optimization profile over the working resolutions and the
state shapes (and the engine key covering it), the state kept on the "device" and swapped between two
buffers each frame (only the image goes up, only alpha and foreground come down), zeros on a start.
The model is ``tests.tiny_models.counter_matting_model``: its alpha counts the runs its state has seen.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from realtime_seg.backends.tensorrt import TensorRTBackend
from realtime_seg.backends.tensorrt.runtime import RecurrentIO, recurrent_io
from realtime_seg.errors import BackendError
from realtime_seg.models.registry import load_user_model
from realtime_seg.models.spec import ModelSpec
from realtime_seg.segmenter import Segmenter
from tests.backends.conftest import FakeGpu
from tests.tiny_models import write_counter_model


@pytest.fixture
def spec(tmp_path: Path) -> ModelSpec:
    return load_user_model(write_counter_model(tmp_path))


def _frame(w: int = 128, h: int = 72) -> np.ndarray:
    return np.full((h, w, 3), 90, np.uint8)


def _runs(probs: np.ndarray) -> int:
    return int(round(float(probs.mean()) * 100))


def test_state_stays_on_the_device_and_swaps(fake_gpu: FakeGpu, engine_dir: Path, spec: ModelSpec) -> None:
    backend = TensorRTBackend(spec.onnx_path, spec.input_shape, recurrent=recurrent_io(spec))
    with Segmenter(spec, backend, downsample=0.5) as seg:
        j = fake_gpu.journal
        seen = []
        for i in range(4):
            start = len(j)
            seen.append(_runs(seg.segment(_frame(), i).probs))
            copies = [e for e in j[start:] if e[0] in ("htod", "dtoh")]
            # frame 0: zeros for the state, then the image; afterwards the image only. Down: alpha, foreground.
            ups = [e for e in copies if e[0] == "htod"]
            assert len(ups) == (2 if i == 0 else 1), copies
            assert [e for e in copies if e[0] == "dtoh"] and len([e for e in copies if e[0] == "dtoh"]) == 2
        assert seen == [0, 1, 2, 3]
        seg.reset()
        assert _runs(seg.segment(_frame(), 4).probs) == 0
        assert _runs(seg.segment(_frame(), 5).probs) == 1
        # another working resolution: new input shapes for the image and the state, the state starts again
        start = len(j)
        result = seg.segment(_frame(160, 90), 6)
        assert _runs(result.probs) == 0 and result.probs.shape == (45, 80)
        assert ("set_input_shape", (1, 2, 23, 40)) in j[start:] and ("set_input_shape", (1, 3, 45, 80)) in j[start:]
        assert result.foreground is not None and result.foreground.shape == (45, 80, 3)
        assert np.allclose(result.foreground, 90 / 255, atol=1e-6)


def test_one_profile_covers_the_working_sizes_and_the_states(
    fake_gpu: FakeGpu, engine_dir: Path, spec: ModelSpec
) -> None:
    rec = recurrent_io(spec)
    assert rec is not None and rec.outputs == ("pha", "fgr") and rec.opt_wh == (64, 36)
    with TensorRTBackend(spec.onnx_path, spec.input_shape, recurrent=rec) as backend:
        assert backend.engine is not None
        key = backend.engine.key.profile
        # image (min, opt, max), then r1i's: the engine key changes with the profile
        assert key == (
            (1, 3, 32, 32), (1, 3, 36, 64), (1, 3, 1920, 1920),
            (1, 2, 16, 16), (1, 2, 18, 32), (1, 2, 960, 960),
        )  # fmt: skip
        with pytest.raises(
            BackendError, match=r"working resolution 2560x1440 is outside the TensorRT engine's profile"
        ):
            backend.run_recurrent(
                {"src": np.zeros((1, 3, 1440, 2560), np.float32)}, ["pha"], spec.states, (2560, 1440), start=True
            )
        with pytest.raises(BackendError, match=r"runs through run_recurrent\(\), not infer\(\)"):
            backend.infer(np.zeros(spec.input_shape, np.float32))


def test_recurrent_close_releases_everything_while_the_context_is_current(
    fake_gpu: FakeGpu, engine_dir: Path, spec: ModelSpec
) -> None:
    """As for a frame-by-frame engine (test_tensorrt.py): the state buffers add nothing that outlives the context."""
    j = fake_gpu.journal
    backend = TensorRTBackend(spec.onnx_path, spec.input_shape, recurrent=recurrent_io(spec))
    with Segmenter(spec, backend, downsample=0.5) as seg:
        seg.segment(_frame(), 0)
    pop = j.last("pop")
    assert fake_gpu.device.context_stack == []
    for released in ("context_del", "engine_del", "mem_free", "host_free", "stream_destroy"):
        events = [e for e in j if e[0] == released]
        assert events, released
        assert all(e[1] for e in events), f"{released} ran without a current context"
        assert j.last(released) < pop, released
    assert fake_gpu.device.mem == {}  # every device buffer freed, both of each state's pair included


def test_recurrent_interface_checks() -> None:
    with pytest.raises(ValueError, match="min <= opt <= max"):
        RecurrentIO("src", (), ("pha",), opt_wh=(16, 16))


def test_auto_picks_rvm_when_tensorrt_is_in_use(fake_gpu: FakeGpu, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--model auto``: rvm where TensorRT runs (the stand-ins here) and rvm is fetched; else by the frame's shape."""
    from realtime_seg.models import rvm
    from realtime_seg.models.registry import auto_model, resolve_auto

    monkeypatch.setattr(rvm, "is_fetched", lambda precision="fp32": False)
    assert auto_model((1280, 720), "auto") == "selfie-landscape"
    monkeypatch.setattr(rvm, "is_fetched", lambda precision="fp32": True)
    assert auto_model((1280, 720), "auto") == "rvm" and resolve_auto("auto", (720, 1280), "tensorrt") == "rvm"
    assert auto_model((1280, 720), "onnxruntime") == "selfie-landscape"
    assert auto_model((720, 1280)) == "selfie"  # no backend given: the shape rule alone
