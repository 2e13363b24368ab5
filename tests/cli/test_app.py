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
