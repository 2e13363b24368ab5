"""The batch library: inputs, templates, the manifest, the plan, and one file through ``run_job`` (real
ONNX Runtime with the tiny brightness model, real encoding)."""

from __future__ import annotations

import json
import threading
from pathlib import Path, PurePosixPath

import pytest

from realtime_seg.errors import InputError, SettingsError
from realtime_seg.pipeline.assemble import open_settings_segmenter
from realtime_seg.pipeline.batch import (
    BatchInput,
    BatchJob,
    FileRecord,
    Manifest,
    OutputTemplates,
    budget,
    collect_inputs,
    fill_template,
    plan,
    read_list,
    run_job,
    settings_from_state,
    settings_hash,
    settings_state,
)
from realtime_seg.pipeline.settings import ProcessingSettings
from realtime_seg.postprocess.refine import RefineConfig
from tests.clips import make_clip, probe


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> str:
    from tests.tiny_models import write_user_model

    return str(write_user_model(tmp_path_factory.mktemp("model"), "brightness"))


def _touch(p: Path) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(b"x")
    return p


def _rels(inputs: list[BatchInput]) -> list[str]:
    return [str(b.rel) for b in inputs]


# -- inputs ----------------------------------------------------------------------------------------
def test_folder_scan_is_recursive_by_suffix_skips_hidden_and_the_output_folder(tmp_path: Path) -> None:
    root = tmp_path / "videos"
    for name in ("a.mp4", "B.MOV", "day1/c.mkv", "day1/deep/d.webm", "notes.txt", ".hidden.mp4", ".cache/e.mp4"):
        _touch(root / name)
    _touch(root / "out" / "a.mp4")  # last run's output inside the input folder
    got = collect_inputs([root], out_dir=root / "out")
    assert _rels(got) == ["B.MOV", "a.mp4", "day1/c.mkv", "day1/deep/d.webm"]
    assert all(b.path.is_absolute() and b.path.exists() for b in got)


def test_globs_keep_the_path_below_their_folder_and_loose_files_below_their_common_folder(tmp_path: Path) -> None:
    for name in ("a/x.mp4", "a/y.mp4", "a/sub/z.mp4", "b/x.mp4"):
        _touch(tmp_path / name)
    assert _rels(collect_inputs([f"{tmp_path}/a/**/*.mp4"])) == ["sub/z.mp4", "x.mp4", "y.mp4"]
    loose = collect_inputs([tmp_path / "a/x.mp4", tmp_path / "b/x.mp4"])
    assert _rels(loose) == ["a/x.mp4", "b/x.mp4"]  # same names, kept apart
    assert _rels(collect_inputs([tmp_path / "a/x.mp4"])) == ["x.mp4"]
    with pytest.raises(InputError, match="no files match"):
        collect_inputs([f"{tmp_path}/*.mov"])
    with pytest.raises(InputError, match="no video files found"):
        collect_inputs([_touch(tmp_path / "empty" / "notes.txt").parent])


def test_list_file_paths_are_taken_from_its_folder(tmp_path: Path) -> None:
    _touch(tmp_path / "v" / "one.mp4")
    lst = tmp_path / "v" / "list.txt"
    lst.write_text(f"# clips\none.mp4\n\n{tmp_path}/v/gone.mp4\n")
    names = read_list(lst)
    assert names == [str(tmp_path / "v" / "one.mp4"), str(tmp_path / "v" / "gone.mp4")]
    got = collect_inputs(names)  # a vanished file is still an input: it fails on its own
    assert _rels(got) == ["one.mp4", "gone.mp4"]
    with pytest.raises(InputError, match="cannot read --from-list"):
        read_list(tmp_path / "nope.txt")


# -- templates -------------------------------------------------------------------------------------
def test_templates_fill_per_input_and_reject_bad_ones(tmp_path: Path) -> None:
    rel = PurePosixPath("talks/day1/intro.mov")
    assert str(fill_template("{relpath}_masks", rel)) == "talks/day1/intro_masks"
    assert str(fill_template("{reldir}/{stem}.{ext}.jsonl", rel)) == "talks/day1/intro.mov.jsonl"
    outs = OutputTemplates(masks="m/{relpath}", outlines="{name}.jsonl").for_input(tmp_path, rel)
    assert outs.video == tmp_path / "talks/day1/intro.mp4"
    assert outs.masks == tmp_path / "m/talks/day1/intro"
    assert outs.outlines == tmp_path / "intro.mov.jsonl"
    with pytest.raises(SettingsError, match=r"unknown field \{size\}; valid fields: \{relpath\}"):
        OutputTemplates(alpha="{size}.mp4")
    with pytest.raises(SettingsError, match="same path for every file"):
        OutputTemplates(masks="masks")
    with pytest.raises(SettingsError, match="nothing to write"):
        OutputTemplates(video=None)


# -- settings hash ---------------------------------------------------------------------------------
def test_settings_travel_as_plain_data_and_the_hash_ignores_threads_only(tmp_path: Path) -> None:
    s = ProcessingSettings(effect="blur", effect_options={"strength": 5.0}, refine=RefineConfig(smoothing=0.2))
    assert settings_from_state(json.loads(json.dumps(settings_state(s)))) == s
    t = OutputTemplates()
    h = settings_hash(s, t)
    assert settings_hash(ProcessingSettings(effect="blur", effect_options={"strength": 5.0}, threads=4,
                                            refine=RefineConfig(smoothing=0.2)), t) == h  # fmt: skip
    assert settings_hash(ProcessingSettings(effect="blur", effect_options={"strength": 6.0}), t) != h
    assert settings_hash(s, OutputTemplates(crf=30)) != h
    bg = tmp_path / "bg.png"
    bg.write_bytes(b"1")
    r = ProcessingSettings(effect="replace", effect_options={"background": str(bg)})
    h1 = settings_hash(r, t)
    bg.write_bytes(b"22")  # the same name, another picture: redo
    assert settings_hash(r, t) != h1


# -- manifest --------------------------------------------------------------------------------------
def test_manifest_appends_whole_lines_and_cuts_a_torn_last_line(tmp_path: Path) -> None:
    m = Manifest(tmp_path / "batch.jsonl")
    m.append(FileRecord(input="/a.mp4", rel="a.mp4", status="done", frames=3, seconds=1.0, fps=3.0))
    m.append(FileRecord(input="/b.mp4", rel="b.mp4", status="failed", error="boom"))
    m.append(FileRecord(input="/a.mp4", rel="a.mp4", status="skipped", error="done earlier"))
    with open(m.path, "ab") as fh:
        fh.write(b'{"input": "/c.mp4", "rel": "c.m')  # a power cut mid-line
    assert [r.status for r in m.read()] == ["done", "failed", "skipped"]
    m.repair()
    m.append(FileRecord(input="/c.mp4", rel="c.mp4", status="done"))
    lines = m.path.read_text().splitlines()
    assert [json.loads(line)["rel"] for line in lines] == ["a.mp4", "b.mp4", "a.mp4", "c.mp4"]
    latest = m.latest()
    assert latest["/a.mp4"].status == "done" and latest["/b.mp4"].error == "boom"  # skipped lines repeat only
    rec = json.loads(lines[0])
    assert set(rec) >= {"input", "outputs", "status", "frames", "seconds", "fps", "error", "host", "settings_hash"}


# -- plan ------------------------------------------------------------------------------------------
def test_plan_skips_done_and_failed_redoes_missing_or_changed_and_orders_longest_first(tmp_path: Path) -> None:
    ins = [BatchInput(tmp_path / f"{n}.mp4", PurePosixPath(f"{n}.mp4")) for n in ("short", "long", "bad", "gone")]
    t = OutputTemplates()
    out = tmp_path / "out"
    _touch(out / "short.mp4")

    def rec(name: str, status: str, h: str = "H") -> FileRecord:
        return FileRecord(input=str(tmp_path / f"{name}.mp4"), rel=f"{name}.mp4", status=status, settings_hash=h)  # type: ignore[arg-type]

    prev = {r.input: r for r in (rec("short", "done"), rec("long", "done", "OLD"), rec("bad", "failed"))}
    prev[str(tmp_path / "gone.mp4")] = rec("gone", "done")  # done, but its output was deleted since
    frames = {"short": 5, "long": 50, "bad": None, "gone": 10}
    p = plan(ins, out, t, "H", prev, probe=lambda path: frames[path.stem])
    assert [str(j.input.rel) for j in p.todo] == ["long.mp4", "gone.mp4"]  # longest first
    assert [j.index for j in p.todo] == [0, 1]
    assert {r.rel: r.error for r in p.skipped} == {
        "short.mp4": "done earlier",
        "bad.mp4": "failed earlier (--retry-failed retries it): None",
    }
    assert all(r.status == "skipped" and r.frames == 0 for r in p.skipped)
    assert [r.rel for r in p.failed_before] == ["bad.mp4"]
    p = plan(ins, out, t, "H", prev, retry_failed=True, probe=lambda path: frames[path.stem])
    assert sorted(str(j.input.rel) for j in p.todo) == ["bad.mp4", "gone.mp4", "long.mp4"]
    assert len(plan(ins, out, t, "H", prev, force=True, probe=lambda _: None).todo) == 4
    clash = [
        BatchInput(tmp_path / "x.mp4", PurePosixPath("x.mp4")),
        BatchInput(tmp_path / "x.mov", PurePosixPath("x.mov")),
    ]
    with pytest.raises(SettingsError, match=r"would both write .*x\.mp4; use a template with \{name\}"):
        plan(clash, out, t, "H", {}, probe=lambda _: None)


def test_budget_never_oversubscribes_the_cores() -> None:
    b = budget(2, 20)  # one worker per core, one model thread each
    assert (b.workers, b.threads, b.threaded, b.cpus) == (2, 1, True, 1.0)
    b = budget(16, 100)
    assert (b.workers, b.threads) == (16, 1)
    b = budget(8, 3, threaded=False)  # fewer files than cores: fewer workers, more threads each
    assert (b.workers, b.threads, b.threaded) == (3, 2, False)
    b = budget(16, 100, workers=4)
    assert (b.workers, b.threads, b.cpus) == (4, 4, 4.0)
    assert budget(1, 5) == budget(1, 5, workers=1, threads=1)
    with pytest.raises(SettingsError, match="--workers must be >= 1"):
        budget(2, 2, workers=0)


# -- one file --------------------------------------------------------------------------------------
def _job(clip: Path, out: Path, **templates: str) -> BatchJob:
    rel = PurePosixPath(clip.name)
    return BatchJob(0, BatchInput(clip.resolve(), rel), OutputTemplates(**templates).for_input(out, rel))


def test_run_job_writes_every_output_and_records_it(model: str, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "c.mp4", (96, 64), 10)
    s = ProcessingSettings(model=model, backend="onnxruntime")
    job = _job(clip, tmp_path / "out" / "deep", masks="{stem}_m", outlines="{stem}.jsonl")
    seen: list[int] = []
    with open_settings_segmenter(s) as seg:
        rec = run_job(job, s, seg, shash="abc", on_progress=lambda done, total: seen.append(done))
        again = run_job(job, s, seg, shash="abc")  # the same segmenter, a second file: still open
    assert rec is not None and again is not None
    assert rec.status == "done" and again.status == "done" and rec.error is None
    assert rec.frames == 10 and rec.fps > 0 and rec.settings_hash == "abc" and rec.worker.startswith("pid ")
    assert seen[-1] == 10
    out = tmp_path / "out" / "deep"
    assert rec.outputs == (str(out / "c.mp4"), str(out / "c_m"), str(out / "c.jsonl"))
    assert probe(out / "c.mp4")["frames"] == 10
    assert len(list((out / "c_m").iterdir())) == 10
    assert sorted(p.name for p in out.iterdir()) == ["c.jsonl", "c.mp4", "c_m"]  # no temporary names left


def test_run_job_failures_carry_process_message_and_a_stopped_file_leaves_nothing(model: str, tmp_path: Path) -> None:
    from realtime_seg.io.video import VideoReader

    s = ProcessingSettings(model=model, backend="onnxruntime")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00garbage" * 50)
    with pytest.raises(InputError) as err:
        VideoReader(bad)  # what `process` prints for this file
    clip = make_clip(tmp_path / "long.mp4", (96, 64), 120)
    stop = threading.Event()

    def stop_at_5(done: int, total: int | None) -> None:
        if done == 5:
            stop.set()

    with open_settings_segmenter(s) as seg:
        failed = run_job(_job(bad, tmp_path / "o"), s, seg)
        gone = run_job(_job(tmp_path / "vanished.mp4", tmp_path / "o"), s, seg)
        stopped = run_job(_job(clip, tmp_path / "o", masks="{stem}_m"), s, seg, stop=stop, on_progress=stop_at_5)
    assert failed is not None and failed.status == "failed" and failed.error == str(err.value)
    assert (
        gone is not None and gone.status == "failed" and gone.error == f"video not found: {tmp_path / 'vanished.mp4'}"
    )
    assert stopped is None
    assert list((tmp_path / "o").iterdir()) == []  # no video, no masks, no temporary names


def test_ray_budget_fits_actors_to_the_cluster() -> None:
    from realtime_seg.pipeline.batch import BatchError
    from realtime_seg.pipeline.batch_ray import ray_budget

    def rb(**kw: object) -> tuple[int, int, float]:
        args: dict[str, object] = {"total_cpus": 16, "largest_node_cpus": 8, "gpus": 0, "jobs": 100}
        args.update(workers=None, threads=None, gpu=False)
        args.update(kw)
        b = ray_budget(**args)  # type: ignore[arg-type]
        return b.workers, b.threads, b.cpus

    assert rb() == (16, 1, 1.0)  # one actor per CPU
    assert rb(threads=2) == (8, 2, 2.0)
    assert rb(workers=2) == (2, 8, 8.0)  # the cluster shared among the actors asked for
    assert rb(workers=1) == (1, 8, 8.0)  # ... but no actor larger than the largest node
    assert rb(total_cpus=1, largest_node_cpus=1) == (1, 1, 1.0)  # a 1-CPU machine still gets an actor
    assert rb(jobs=3) == (3, 1, 1.0)
    assert rb(gpu=True, gpus=4) == (4, 1, 1.0)  # TensorRT: one actor per GPU
    with pytest.raises(BatchError, match="needs GPUs"):
        rb(gpu=True)


@pytest.mark.network
def test_model_auto_is_picked_per_file_by_its_shape_and_each_model_opened_once(tmp_path: Path) -> None:
    from realtime_seg.pipeline.batch import Segmenters

    segs = Segmenters(ProcessingSettings(model="auto", backend="onnxruntime"))
    assert segs.open() == "model auto: picked per file by its frame shape"
    land, port = make_clip(tmp_path / "l.mp4", (128, 72), 3), make_clip(tmp_path / "p.mp4", (72, 128), 3)
    try:
        (s1, a), (s2, b), (s3, c) = segs.for_file(land), segs.for_file(port), segs.for_file(land)
        assert (s1.model, s2.model, s3.model) == ("selfie-landscape", "selfie", "selfie-landscape")
        assert a is c and a is not b  # one open segmenter per model, kept
        assert segs.for_file(tmp_path / "gone.mp4")[1] is None  # process_video reports it as for `process`
    finally:
        segs.close()
