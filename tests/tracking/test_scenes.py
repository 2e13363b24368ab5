"""Quality gate (like norfair's mot_metrics test): identity metrics on the synthetic scenes of real cutouts.

Runs ``tools/bench_tracking.py`` (py-motmetrics) on the scenes that hold under the issue's goals, and
fails if IDF1 falls below 0.95, an id switches, or more ids are given than people appeared. The scenes
need the selfie model and the scikit-image wheel (PyPI once, then the test cache).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / "tools" / "bench_tracking.py"


@pytest.mark.network
@pytest.mark.slow
def test_identity_metrics_on_the_synthetic_scenes(tmp_path: Path) -> None:
    out = tmp_path / "metrics.json"
    env = {**os.environ, "REALTIME_SEG_CACHE": os.environ.get("REALTIME_SEG_CACHE") or str(REPO / ".cache-test")}
    proc = subprocess.run(
        [sys.executable, str(TOOL), "--scenes", "fragments,crossing,occluder,enter_leave", "--baseline-rev", "none",
         "--json", str(out)],
        capture_output=True, text=True, timeout=280, cwd=REPO, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "idf1" in proc.stdout  # the table is printed
    results = json.loads(out.read_text())["results"]
    assert set(results) == {"fragments", "crossing", "occluder", "enter_leave"}
    for name, by in results.items():
        r = by["after"]
        assert r["idf1"] >= 0.95, (name, r)
        assert r["id_switches"] == 0, (name, r)
        assert r["distinct_ids"] <= r["people"], (name, r)
