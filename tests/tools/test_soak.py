"""tools/soak.py: its verdict fails on growth (and only on growth), and a short real run passes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.clips import make_clip
from tests.tiny_models import write_user_model

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))

import soak  # noqa: E402


def _samples(rss: list[float], threads: list[int] | None = None, py: int = 4) -> list[soak.Sample]:
    threads = threads or [14] * len(rss)
    return [soak.Sample(float(i * 5), r, t, py) for i, (r, t) in enumerate(zip(rss, threads, strict=True))]


def test_flat_memory_and_threads_pass() -> None:
    v = soak.judge(_samples([200, 300, 301, 303, 299, 302, 300]), warmup_s=5, tolerance=0.05)
    assert v.ok and v.reference_rss_mb == 300 and v.max_rss_mb == 303 and v.problems == []


def test_a_steady_leak_fails() -> None:
    v = soak.judge(_samples([300 + 4 * i for i in range(10)]), warmup_s=0, tolerance=0.05)
    assert not v.ok and "RSS moved" in v.problems[0] and v.rss_slope_mb_per_min > 0


def test_threads_dipping_pass_but_growing_fails() -> None:
    dips = _samples([300] * 8, [14, 14, 12, 14, 14, 12, 14, 14])
    assert soak.judge(dips, warmup_s=0, tolerance=0.05).ok
    grows = _samples([300] * 8, [14, 14, 14, 14, 15, 15, 16, 16])
    v = soak.judge(grows, warmup_s=0, tolerance=0.05)
    assert not v.ok and "OS thread count grew" in v.problems[0]
    assert not soak.judge(_samples([300] * 4) + [soak.Sample(20.0, 300, 14, 5)], warmup_s=0, tolerance=0.05).ok


@pytest.mark.slow
def test_short_real_run(tmp_path: Path) -> None:
    model = write_user_model(tmp_path, "brightness")
    clip = make_clip(tmp_path / "in.mp4", (160, 120), 30)
    out = tmp_path / "soak.json"
    cmd = [sys.executable, str(REPO / "tools" / "soak.py"), "--minutes", "0.2", "--warmup-s", "3", "--sample-s", "1"]
    cmd += ["--model", str(model), "--effect", "blur", "--input", str(clip), "--json", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.read_text())
    assert report["verdict"]["ok"] and len(report["samples"]) >= 8
    assert report["live"]["frames_processed"] > 100
    assert "soak: PASS" in proc.stdout
