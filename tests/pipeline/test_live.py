import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from realtime_seg.capture.slot import LatestFrameSlot
from realtime_seg.capture.sources import SyntheticSource
from realtime_seg.capture.thread import CaptureThread
from realtime_seg.effects import create_effect
from realtime_seg.errors import UnknownNameError
from realtime_seg.pipeline.live import LivePipeline, LiveResult, LiveStatus
from realtime_seg.pipeline.settings import ProcessingSettings
from realtime_seg.postprocess.refine import RefineConfig
from tests.tiny_models import write_user_model


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(write_user_model(tmp_path_factory.mktemp("models"), "brightness"))


class Run:
    """A capture thread + live pipeline on a synthetic camera, collecting results and statuses."""

    def __init__(self, settings: ProcessingSettings, fps: float = 60, size: tuple[int, int] = (96, 72)) -> None:
        self.results: list[LiveResult] = []
        self.statuses: list[LiveStatus] = []
        self.got = threading.Condition()
        self.slot = LatestFrameSlot()
        src = SyntheticSource(size, fps=fps)
        src.open()
        self.capture = CaptureThread(src, self.slot)
        self.live = LivePipeline(
            self.slot,
            settings,
            on_result=self._on_result,
            on_status=self.statuses.append,
            capture_fps=lambda: self.capture.fps,
        )

    def _on_result(self, r: LiveResult) -> None:
        with self.got:
            self.results.append(r)
            self.got.notify_all()

    def wait(self, pred: Callable[[list[LiveResult]], bool], timeout: float = 5.0) -> None:
        with self.got:
            assert self.got.wait_for(lambda: pred(self.results), timeout), f"timed out; statuses: {self.statuses}"

    def __enter__(self) -> "Run":
        self.capture.start()
        self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        t0 = time.monotonic()
        assert self.live.stop(timeout=1.0)
        assert self.capture.stop(timeout=1.0)
        assert time.monotonic() - t0 < 1.5


@pytest.fixture
def run(tiny_model: str) -> Iterator[Run]:
    with Run(ProcessingSettings(model=tiny_model, backend="onnxruntime", effect="mask")) as r:
        yield r


def test_results_arrive_processed_immutable_and_measured(run: Run) -> None:
    run.wait(lambda rs: len(rs) >= 10)
    r = run.results[-1]
    assert r.output.shape == (72, 96, 3) and not r.output.flags.writeable
    assert r.mask is not None and r.mask.alpha.shape == (72, 96)
    expected = create_effect("mask").apply(np.zeros((72, 96, 3), np.uint8), r.mask)
    assert np.array_equal(r.output, expected)  # the mask effect ran on this frame's mask
    assert 0 < r.latency_ms < 1000
    assert r.timings_ms["infer"] > 0
    assert r.capture_fps > 0 and r.processing_fps > 0
    assert [x.index for x in run.results] == sorted({x.index for x in run.results})
    assert run.slot.max_pending == 1
    assert any(s.level == "info" and "model brightness" in s.message for s in run.statuses)
    assert "ONNX Runtime CPU" in run.live.backend_text


def test_a_slow_stage_drops_frames_instead_of_queueing(tiny_model: str) -> None:
    class Slow:
        name = "slow"

        def apply(self, frame: np.ndarray, mask: object) -> np.ndarray:
            time.sleep(0.05)
            return frame.copy()

    with Run(ProcessingSettings(model=tiny_model, backend="onnxruntime", effect="none"), fps=100) as r:
        r.wait(lambda rs: len(rs) >= 1)
        assert r.live._proc is not None
        r.live._proc.effect = Slow()  # type: ignore[assignment]
        n = len(r.results)
        r.wait(lambda rs: len(rs) >= n + 6)
    new = r.results[n + 1 :]
    gaps = [b.index - a.index for a, b in zip(new, new[1:], strict=False)]
    assert min(gaps) >= 2  # frames captured during a 50 ms step were replaced, not queued
    assert r.slot.dropped > 0 and r.slot.max_pending == 1
    assert all(x.latency_ms < 50 + 60 for x in new)  # a result is never older than one step plus one frame


def test_settings_change_between_frames(run: Run) -> None:
    run.wait(lambda rs: len(rs) >= 2)
    run.live.update(effect="none", refine=RefineConfig(threshold=0.5))
    run.wait(lambda rs: rs[-1].effect == "none")
    n = len(run.results)
    run.wait(lambda rs: len(rs) >= n + 2)
    r = run.results[-1]
    assert r.mask is not None
    assert set(np.unique(r.mask.alpha)) <= {0.0, 1.0}  # the threshold took effect
    assert r.output.mean() != pytest.approx(create_effect("mask").apply(r.output, r.mask).mean())


def test_unknown_effect_is_refused_and_the_old_one_kept(run: Run) -> None:
    run.wait(lambda rs: len(rs) >= 1)
    with pytest.raises(UnknownNameError, match="unknown effect 'sparkles'; valid names: none, blur"):
        run.live.update(effect="sparkles")
    n = len(run.results)
    run.wait(lambda rs: len(rs) >= n + 3)
    assert run.results[-1].effect == "mask"


def test_an_effect_that_fails_to_build_is_reported_and_the_old_one_kept(run: Run, tmp_path: Path) -> None:
    run.wait(lambda rs: len(rs) >= 1)
    run.live.update(effect="replace", effect_options={"image": tmp_path / "missing.png"})
    n = len(run.results)
    run.wait(lambda rs: len(rs) >= n + 3)
    assert any(s.level == "error" and "effect 'replace' failed" in s.message for s in run.statuses)
    assert run.results[-1].effect == "mask"


@pytest.mark.no_tensorrt
def test_unavailable_backend_falls_back_to_onnxruntime_cpu(tiny_model: str) -> None:
    """TensorRT is absent on this machine (no GPU), so asking for it must fall back."""
    with Run(ProcessingSettings(model=tiny_model, backend="tensorrt", effect="mask")) as r:
        r.wait(lambda rs: len(rs) >= 3)
    warn = [s for s in r.statuses if s.level == "warning"]
    assert (
        warn
        and "TensorRT backend unavailable" in warn[0].message
        and "fell back to ONNX Runtime CPU" in warn[0].message
    )
    assert r.results[-1].mask is not None
    assert r.live.active is not None and r.live.active.backend == "cpu"


def test_a_model_that_fails_to_load_keeps_the_app_running(tmp_path: Path, tiny_model: str) -> None:
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"garbage")
    bad.with_suffix(".toml").write_text(Path(tiny_model).with_suffix(".toml").read_text())
    with Run(ProcessingSettings(model=str(bad), backend="onnxruntime", effect="mask")) as r:
        r.wait(lambda rs: len(rs) >= 2)
        assert r.results[-1].mask is None  # unprocessed camera frames, not a crash
        r.live.update(model=tiny_model)
        r.wait(lambda rs: rs[-1].mask is not None)
    assert any(s.level == "error" and "broken" in s.message for s in r.statuses)


def test_pause_stops_results_and_resume_takes_the_newest_frame(run: Run) -> None:
    run.wait(lambda rs: len(rs) >= 2)
    run.live.pause(True)
    time.sleep(0.1)
    n = len(run.results)
    time.sleep(0.2)
    assert len(run.results) == n
    run.live.pause(False)
    run.wait(lambda rs: len(rs) > n)
    assert run.results[n].index - run.results[n - 1].index > 5  # it skipped to the newest frame


def test_effect_options_map_the_app_controls_to_each_effect() -> None:
    from realtime_seg.pipeline.settings import effect_options

    controls = {"blur_strength": 30, "background": None, "color_bgr": (10, 20, 30), "overlay_alpha": 0.4}
    assert effect_options("blur", **controls) == {"strength": 30.0}
    assert effect_options("replace", **controls) == {"color": (10, 20, 30)}
    assert effect_options("overlay", **controls) == {"alpha": 0.4, "color": (10, 20, 30)}
    assert effect_options("mask", **controls) == {}
    assert effect_options("blur+overlay", **controls) == {"strength": 30.0, "alpha": 0.4, "color": (10, 20, 30)}
    for name in ("blur", "replace", "overlay", "mask", "none", "outline", "blur+overlay"):
        create_effect(name, **effect_options(name, **controls))  # every effect accepts its options


def test_background_files_go_to_replace_by_their_suffix(tmp_path: Path) -> None:
    from realtime_seg.pipeline.settings import effect_options

    img, vid = tmp_path / "beach.JPG", tmp_path / "waves.mp4"
    img.write_bytes(b"x")
    vid.write_bytes(b"x")
    assert effect_options("replace", background=str(img)) == {"image": img}
    assert effect_options("replace", background=str(vid)) == {"video": vid}


def test_outlines_run_the_tracker_and_count_regions(tiny_model: str) -> None:
    with Run(ProcessingSettings(model=tiny_model, backend="onnxruntime", effect="blur", outlines=True)) as r:
        r.wait(lambda rs: len(rs) >= 3)
        assert all(x.region_count is not None for x in r.results)
        assert r.results[-1].region_count == 2  # the synthetic frame's bright disc and bright rectangle
        r.live.update(outlines=False)
        r.wait(lambda rs: rs[-1].region_count is None)
    assert not any(s.level == "error" for s in r.statuses)


def test_short_error_drops_internals_and_paths() -> None:
    from realtime_seg.pipeline.live import short_error

    exc = ValueError(
        "/home/u/models/broken.onnx is not an ONNX model (DecodeError: Error parsing message with type "
        "'onnx.ModelProto': Wire format was corrupt)\nsecond line"
    )
    assert short_error(exc) == "broken.onnx is not an ONNX model"
    assert short_error(RuntimeError("x " * 100), limit=20).endswith("...")
    assert len(short_error(RuntimeError("x " * 100), limit=20)) <= 20


def test_an_effect_that_fails_at_start_runs_none_and_says_so(tiny_model: str, tmp_path: Path) -> None:
    bad = ProcessingSettings(
        model=tiny_model, backend="onnxruntime", effect="replace", effect_options={"image": tmp_path / "missing.png"}
    )
    with Run(bad) as r:
        r.wait(lambda rs: len(rs) >= 3)
    assert any(s.level == "error" and "effect 'replace' failed" in s.message for s in r.statuses)
    assert r.results[-1].mask is not None and r.results[-1].effect == "none"  # what runs, not what failed
    assert r.live.active is not None and r.live.active.effect == "none"
