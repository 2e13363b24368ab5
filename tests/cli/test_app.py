from pathlib import Path

import pytest

from realtime_seg.cli import main
from tests.capture.clips import write_clip
from tests.tiny_models import write_user_model


def test_measure_prints_the_speed_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = write_user_model(tmp_path, "brightness")
    clip = write_clip(tmp_path / "clip.mp4", frames=15, size_wh=(128, 96), fps=30)
    rc = main(["app", "--input", str(clip), "--model", str(model), "--effect", "mask", "--measure", "1s"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "clip.mp4 (128x96 @ 30.0 fps)" in out
    for figure in ("capture FPS:", "processing FPS:", "median", "p90", "max queued:       1 frame(s)", "dropped:"):
        assert figure in out


def test_app_rejects_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["app", "--input", str(tmp_path / "missing.mp4"), "--measure", "1"]) == 2
    assert "input file not found" in capsys.readouterr().err
    assert main(["app", "--effect", "sparkles", "--measure", "1"]) == 2
    assert "unknown effect 'sparkles'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["app", "--camera", "0", "--input", "x.mp4"])
    with pytest.raises(SystemExit):
        main(["app", "--measure", "0"])


def test_measure_without_a_camera_is_a_friendly_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["app", "--camera", "63", "--measure", "1"]) == 1
    err = capsys.readouterr().err
    assert "no camera at index 63" in err and "Traceback" not in err


def test_a_missing_input_opens_the_window_rather_than_exiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A desktop launcher shows no terminal: the window (stood in for by run_app) says what is wrong."""
    import realtime_seg.ui.app
    import realtime_seg.ui.qtlibs
    from realtime_seg.ui.window import AppOptions

    started: list[AppOptions] = []
    monkeypatch.setattr(realtime_seg.ui.app, "run_app", lambda o: started.append(o) or 0)
    monkeypatch.setattr(realtime_seg.ui.qtlibs, "xcb_problem", lambda: None)
    assert main(["app", "--input", str(tmp_path / "missing.mp4")]) == 0
    assert [o.input for o in started] == [tmp_path / "missing.mp4"]
    assert started[0].model is None  # as last time, else auto
    assert capsys.readouterr().err == ""


def test_missing_x11_libraries_are_named_with_the_apt_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """ldd's answer is stood in for (whether this machine has the libraries varies); the real ldd is read in
    tests/ui/test_qtlibs.py."""
    import realtime_seg.ui.app
    import realtime_seg.ui.qtlibs

    monkeypatch.setattr(realtime_seg.ui.app, "run_app", lambda o: pytest.fail("Qt must not start"))
    monkeypatch.setattr(realtime_seg.ui.qtlibs, "missing_libraries", lambda plugin: ["libxcb-icccm.so.4"])
    monkeypatch.setattr(realtime_seg.ui.qtlibs, "uses_xcb", lambda env=None: True)
    assert main(["app"]) == 1
    err = capsys.readouterr().err
    assert "libxcb-icccm.so.4" in err and realtime_seg.ui.qtlibs.APT_INSTALL_LINE in err
