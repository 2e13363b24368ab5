"""``realtime-seg batch`` end to end: real worker processes, real ONNX Runtime (the tiny brightness model), real
encoding; kills and Ctrl-C through real signals; Ray on a local instance started by the test."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from realtime_seg.cli import main
from realtime_seg.io.video import VideoReader
from realtime_seg.pipeline.batch import EXIT_SOME_FAILED
from tests.clips import make_clip, probe
from tests.signals import sigint_as_in_a_terminal

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> str:
    from tests.tiny_models import write_user_model

    return str(write_user_model(tmp_path_factory.mktemp("model"), "brightness"))


def _args(model: str, *args: object) -> list[str]:
    return ["batch", *map(str, args), "--model", model, "--backend", "onnxruntime"]


def _manifest(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "batch.jsonl").read_text().splitlines()]


def _leftovers(folder: Path) -> list[str]:
    """Temporary names anywhere below ``folder``: what an aborted file must not leave."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*"))


def _videos(folder: Path) -> Path:
    folder.mkdir()
    make_clip(folder / "a.mp4", (96, 64), 12)
    (folder / "day2").mkdir()
    make_clip(folder / "day2" / "b.mov", (96, 64), 20)
    make_clip(folder / "day2" / "c.mkv", (80, 48), 8)
    (folder / "broken.mp4").write_bytes(b"\x00\x01 not a video" * 40)
    (folder / "notes.txt").write_text("not an input")
    return folder


def test_folder_with_a_corrupt_file_templates_manifest_resume_and_exit_codes(
    model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    videos = _videos(tmp_path / "videos")
    out = tmp_path / "out"
    extra = ["--masks-out", "masks/{relpath}", "--outlines-out", "{reldir}/{stem}.{ext}.jsonl", "--workers", "2"]
    rc = main(_args(model, videos, "-d", out, *extra))
    text = capsys.readouterr().out
    assert rc == EXIT_SOME_FAILED
    with pytest.raises(Exception) as process_error:
        VideoReader(videos / "broken.mp4")
    message = str(process_error.value)  # the one line `process` prints for this file
    assert f"FAILED  broken.mp4: {message}" in text
    assert "3 done, 1 failed, 0 skipped" in text and f"1 failed:\n  broken.mp4: {message}" in text
    assert "done    day2/b.mov: 20 frames" in text
    # outputs keep the relative paths; templates filled per input
    assert probe(out / "a.mp4")["frames"] == 12 and probe(out / "day2" / "b.mp4")["frames"] == 20
    assert probe(out / "day2" / "c.mp4")["size_wh"] == (80, 48)
    assert len(list((out / "masks" / "day2" / "b").iterdir())) == 20
    lines = (out / "day2" / "c.mkv.jsonl").read_text().splitlines()
    assert [json.loads(line)["frame"] for line in lines] == list(range(8))
    assert not (out / "broken.mp4").exists() and _leftovers(out) == []
    # the manifest: one line per file, whole JSON
    recs = {r["rel"]: r for r in _manifest(out)}
    assert sorted(recs) == ["a.mp4", "broken.mp4", "day2/b.mov", "day2/c.mkv"]
    b = recs["day2/b.mov"]
    assert b["status"] == "done" and b["frames"] == 20 and b["seconds"] > 0 and b["fps"] > 0 and b["error"] is None
    assert b["input"] == str((videos / "day2" / "b.mov").resolve())
    assert b["outputs"] == [str(out / "day2/b.mp4"), str(out / "masks/day2/b"), str(out / "day2/b.mov.jsonl")]
    assert b["host"] and b["worker"].startswith("pid ") and len(b["settings_hash"]) == 16
    assert recs["broken.mp4"]["status"] == "failed" and recs["broken.mp4"]["error"] == message
    assert len({r["settings_hash"] for r in recs.values()}) == 1
    # the same command again: nothing to do, the failure is reported again and kept
    mtime = (out / "a.mp4").stat().st_mtime_ns
    rc = main(_args(model, videos, "-d", out, *extra, "--quiet"))
    text = capsys.readouterr().out
    assert rc == EXIT_SOME_FAILED and "0 done, 0 failed, 4 skipped" in text and "--retry-failed" in text
    assert (out / "a.mp4").stat().st_mtime_ns == mtime
    assert [r["status"] for r in _manifest(out)[4:]] == ["skipped"] * 4
    # the broken file is fixed: --retry-failed does it, and only it
    make_clip(videos / "broken.mp4", (96, 64), 6)
    rc = main(_args(model, videos, "-d", out, *extra, "--retry-failed", "--quiet"))
    assert rc == 0 and "1 done, 0 failed, 3 skipped" in capsys.readouterr().out
    assert probe(out / "broken.mp4")["frames"] == 6 and (out / "a.mp4").stat().st_mtime_ns == mtime
    # other settings: every file again (a deleted output, too, is redone under the same settings)
    rc = main(_args(model, videos, "-d", out, *extra, "--quiet", "--effect", "mask"))
    assert rc == 0 and "4 done, 0 failed, 0 skipped" in capsys.readouterr().out
    (out / "a.mp4").unlink()
    rc = main(_args(model, videos, "-d", out, *extra, "--quiet", "--effect", "mask"))
    assert rc == 0 and "1 done, 0 failed, 3 skipped" in capsys.readouterr().out
    rc = main(_args(model, videos, "-d", out, *extra, "--quiet", "--effect", "mask", "--force"))
    assert rc == 0 and "4 done, 0 failed, 0 skipped" in capsys.readouterr().out


def test_list_file_and_bad_arguments(model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_clip(tmp_path / "x.mp4", (96, 64), 5)
    lst = tmp_path / "list.txt"
    lst.write_text("x.mp4\nmissing.mp4\n")
    rc = main(_args(model, "--from-list", lst, "-d", tmp_path / "o", "--quiet", "--workers", "1"))
    text = capsys.readouterr().out
    assert rc == EXIT_SOME_FAILED and f"missing.mp4: video not found: {tmp_path / 'missing.mp4'}" in text
    assert rc == EXIT_SOME_FAILED and "1 done, 1 failed" in text
    assert main(_args(model, "-d", tmp_path / "o")) == 2
    assert "no inputs" in capsys.readouterr().err
    assert main(_args(model, tmp_path / "x.mp4", "-d", tmp_path / "o", "--masks-out", "masks")) == 2
    assert "same path for every file" in capsys.readouterr().err
    assert main(_args(model, tmp_path / "x.mp4", "-d", tmp_path / "o", "--effect", "nope")) == 2
    assert "unknown effect 'nope'" in capsys.readouterr().err
    rc = main(["batch", str(tmp_path / "x.mp4"), "-d", str(tmp_path / "o2"), "--model", str(tmp_path / "no.onnx")])
    assert rc != 0 and "no.onnx" in capsys.readouterr().err  # a model no worker can open ends the batch, once


def _start(model: str, *args: object) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "realtime_seg", *_args(model, *args), "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with sigint_as_in_a_terminal():
        return subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
        )


def _wait_for(cond: Any, proc: subprocess.Popen[str], what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert proc.poll() is None, (what, proc.communicate())
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _workers(pid: int) -> list[Any]:
    import psutil

    kids = psutil.Process(pid).children()
    return [k for k in kids if "resource_tracker" not in " ".join(k.cmdline())]


def _long_clips(folder: Path, n: int = 3, frames: int = 150) -> Path:
    folder.mkdir()
    for i in range(n):
        make_clip(folder / f"v{i}.mp4", (320, 240), frames + i)
    return folder


@pytest.mark.slow
def test_a_worker_killed_mid_file_is_replaced_and_the_file_done_again(model: str, tmp_path: Path) -> None:
    videos, out = _long_clips(tmp_path / "videos", 2, 300), tmp_path / "out"  # long enough to be killed mid-file
    proc = _start(model, videos, "-d", out, "--workers", "1")
    try:
        _wait_for(lambda: list(out.glob(".v*.partial.mp4")), proc, "a file half-way")
        (worker,) = _workers(proc.pid)
        worker.kill()  # SIGKILL: no clean-up in the worker at all
        _, err = proc.communicate(timeout=120)
    finally:
        os.killpg(proc.pid, signal.SIGKILL) if proc.poll() is None else None
    assert proc.returncode == 0, err
    assert "died (killed by signal 9)" in err and "trying the file again" in err
    recs = _manifest(out)
    assert sorted(r["status"] for r in recs) == ["done", "done"]
    assert sorted(r["attempts"] for r in recs) == [1, 2]
    for r in recs:
        assert probe(Path(r["outputs"][0]))["frames"] == r["frames"] == probe(Path(r["input"]))["frames"]
    assert _leftovers(out) == []


@pytest.mark.slow
def test_resume_after_the_whole_batch_was_killed_mid_file(model: str, tmp_path: Path) -> None:
    videos, out = _long_clips(tmp_path / "videos", 3), tmp_path / "out"
    proc = _start(model, videos, "-d", out, "--workers", "1", "--masks-out", "{stem}_masks")
    try:
        manifest = out / "batch.jsonl"
        _wait_for(lambda: manifest.exists() and list(out.glob(".v*.partial.mp4")), proc, "the second file half-way")
        os.killpg(proc.pid, signal.SIGKILL)  # power cut: the batch and its workers, no clean-up anywhere
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    first = _manifest(out)  # still valid JSON Lines
    assert [r["status"] for r in first] == ["done"]
    assert _leftovers(out)  # the killed file's temporary video and masks folder are there
    rc = main(_args(model, videos, "-d", out, "--workers", "1", "--masks-out", "{stem}_masks", "--quiet"))
    assert rc == 0
    recs = _manifest(out)
    assert [r["status"] for r in recs] == ["done", "skipped", "done", "done"]
    assert recs[1]["rel"] == first[0]["rel"]
    assert _leftovers(out) == []  # the stale temporary files were removed before the file was done again
    for i in range(3):
        assert probe(out / f"v{i}.mp4")["frames"] == 150 + i
        assert len(list((out / f"v{i}_masks").iterdir())) == 150 + i


@pytest.mark.slow
def test_ctrl_c_aborts_running_files_and_a_rerun_finishes(model: str, tmp_path: Path) -> None:
    videos, out = _long_clips(tmp_path / "videos", 3, 200), tmp_path / "out"
    proc = _start(model, videos, "-d", out, "--workers", "2", "--masks-out", "{stem}_masks")
    try:
        _wait_for(lambda: len(list(out.glob(".v*.partial.mp4"))) == 2, proc, "two files half-way")
        proc.send_signal(signal.SIGINT)
        text, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert "stopping: aborting the running files" in err
    assert "interrupted: 3 file(s) not finished; run the same command to resume" in text
    assert _leftovers(out) == [] and not list(out.glob("v*"))  # nothing partial under any name
    assert not (out / "batch.jsonl").exists() or _manifest(out) == []
    rc = main(_args(model, videos, "-d", out, "--workers", "2", "--masks-out", "{stem}_masks", "--quiet"))
    assert rc == 0 and [r["status"] for r in _manifest(out)] == ["done"] * 3


def test_ray_missing_says_how_to_install(
    model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as on an install without the [ray] extra
    make_clip(tmp_path / "x.mp4", (96, 64), 4)
    assert main(_args(model, tmp_path / "x.mp4", "-d", tmp_path / "o", "--ray")) == 1
    assert "--ray needs Ray, which is not installed: pip install 'realtime-seg[ray]'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.fixture(scope="module")
def local_ray() -> Any:
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.mark.ray
def test_ray_actors_process_the_folder_and_resume(
    model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], local_ray: Any
) -> None:
    videos = _videos(tmp_path / "videos")
    out = tmp_path / "out"
    rc = main(_args(model, "--ray", videos, "-d", out, "--masks-out", "{relpath}_m"))  # --ray DIR: DIR is an input
    text = capsys.readouterr().out
    assert rc == EXIT_SOME_FAILED
    assert "2 Ray actor(s), 1 CPU(s) each, x 1 model thread(s)" in text and "3 done, 1 failed, 0 skipped" in text
    recs = {r["rel"]: r for r in _manifest(out)}
    assert recs["broken.mp4"]["status"] == "failed" and "not a video" in recs["broken.mp4"]["error"]
    done = [r for r in recs.values() if r["status"] == "done"]
    assert len({r["worker"] for r in done}) <= 2  # actors keep their segmenter: at most one per actor
    assert all(r["worker"] != f"pid {os.getpid()}" for r in done)  # the work ran in the actors
    assert probe(out / "day2" / "b.mp4")["frames"] == 20 and len(list((out / "day2" / "b_m").iterdir())) == 20
    assert local_ray.is_initialized()  # an instance the caller started is left running
    rc = main(
        _args(model, videos, "-d", out, "--ray", "--masks-out", "{relpath}_m", "--retry-failed", "--workers", "1")
    )
    text = capsys.readouterr().out
    assert rc == EXIT_SOME_FAILED and "0 done, 1 failed, 3 skipped" in text
    assert "1 Ray actor(s), 2 CPU(s) each, x 2 model thread(s)" in text  # --workers 1: the cluster's 2 CPUs


@pytest.fixture
def small_disk(tmp_path: Path) -> Any:
    """A 300 kB tmpfs: a real full disk (needs the right to mount, as root in CI containers; skipped otherwise)."""
    where = tmp_path / "small_disk"
    where.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(where)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {r.stderr.decode(errors='replace').strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)


def test_a_full_disk_fails_only_the_file_that_filled_it(
    model: str, tmp_path: Path, small_disk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    make_clip(videos / "long.mp4", (640, 480), 200)  # its 200 mask PNGs do not fit in 300 kB
    make_clip(videos / "short.mp4", (96, 64), 10)
    out = tmp_path / "out"
    masks = f"{small_disk}/{{stem}}_m"
    rc = main(_args(model, videos, "-d", out, "--masks-out", masks, "--workers", "1", "--quiet"))
    text = capsys.readouterr().out
    assert rc == EXIT_SOME_FAILED and "1 done, 1 failed" in text
    line = next(x for x in text.splitlines() if x.startswith("  long.mp4: "))
    assert re.match(rf"  long\.mp4: cannot write {small_disk}/long_m/\d{{6}}\.png: No space left on device", line)
    # the same file alone through `process` gives the same line (frame numbers aside: the disk is not as empty)
    args = [
        "process",
        str(videos / "long.mp4"),
        "-o",
        str(tmp_path / "p.mp4"),
        "--masks-out",
        str(small_disk / "long_m"),
    ]
    rc = main([*args, "--model", model, "--backend", "onnxruntime", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 3 and err.startswith("realtime-seg: error: cannot write ") and err.count("\n") == 1
    assert re.sub(r"\d+", "N", err.strip().removeprefix("realtime-seg: error: ")) == re.sub(r"\d+", "N", line[12:])
    assert sorted(p.name for p in small_disk.iterdir()) == ["long_m", "short_m"]  # process keeps the PNGs it wrote
    assert len(list((small_disk / "short_m").iterdir())) == 10
    assert sorted(p.name for p in out.iterdir()) == ["batch.jsonl", "short.mp4"]  # no partial long.mp4
