"""Many files: ``realtime-seg batch``'s library half (no argparse, no Qt).

- Planning (inputs, output templates, the settings hash, the manifest ``DIR/batch.jsonl`` and resuming) is
  :mod:`realtime_seg.pipeline.batch_plan`; its names are re-exported here.
- :func:`run_job` processes one file with a worker's open segmenter through
  :func:`~realtime_seg.pipeline.assemble.process_video` and returns its record: failures become a
  ``failed`` record with the one-line message ``process`` prints, and a stopped file leaves no output.
- :func:`run_batch` runs a plan on an executor (a local process pool, or Ray actors:
  :mod:`realtime_seg.pipeline.batch_exec`) and appends each finished file to the manifest.
"""

from __future__ import annotations

import functools
import glob
import logging
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from realtime_seg.errors import OutputError, RealtimeSegError, SettingsError
from realtime_seg.models.registry import AUTO_MODEL
from realtime_seg.pipeline.batch_plan import (
    MANIFEST_NAME,
    TEMPLATE_FIELDS,
    VIDEO_SUFFIXES,
    BatchInput,
    BatchJob,
    FileRecord,
    Manifest,
    OutputTemplates,
    Plan,
    Status,
    check_template,
    collect_inputs,
    fill_template,
    output_paths,
    plan,
    probe_frames,
    read_list,
    settings_from_state,
    settings_hash,
    settings_state,
)
from realtime_seg.pipeline.settings import ProcessingSettings
from realtime_seg.pipeline.sinks import VideoOutputs

__all__ = [
    "EXIT_SOME_FAILED",
    "MANIFEST_NAME",
    "MAX_ATTEMPTS",
    "TEMPLATE_FIELDS",
    "VIDEO_SUFFIXES",
    "Aborted",
    "BatchError",
    "BatchInput",
    "BatchJob",
    "BatchResult",
    "Event",
    "FileRecord",
    "Finished",
    "Manifest",
    "OutputTemplates",
    "Plan",
    "Progress",
    "Segmenters",
    "Started",
    "Status",
    "WorkerPlan",
    "WorkersReady",
    "available_cores",
    "budget",
    "check_template",
    "collect_inputs",
    "fill_template",
    "output_paths",
    "plan",
    "probe_frames",
    "read_list",
    "run_batch",
    "run_job",
    "settings_from_state",
    "settings_hash",
    "settings_state",
]

logger = logging.getLogger(__name__)

#: exit code of a batch in which some files failed (the rest are done)
EXIT_SOME_FAILED = 4
#: how often a worker may die on one file before the file is marked failed
MAX_ATTEMPTS = 2


class BatchError(RealtimeSegError):
    """The batch as a whole cannot run (no inputs, clashing outputs, a model no worker can open)."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class Segmenters:
    """A worker's open segmenters: one for the settings' model, opened once and kept for every file. With the
    model ``auto`` each file's model is picked by its frame shape (as ``process`` does), and each model picked
    is opened once, then kept."""

    def __init__(self, settings: ProcessingSettings) -> None:
        self.settings = settings
        self._open: dict[str, Any] = {}

    @property
    def auto(self) -> bool:
        return self.settings.model == AUTO_MODEL

    def get(self, model: str) -> Any:
        if model not in self._open:
            from realtime_seg.pipeline.assemble import open_settings_segmenter

            self._open[model] = open_settings_segmenter(replace(self.settings, model=model))
        return self._open[model]

    def open(self) -> str:
        """Open the model now (a model that cannot load fails the worker at once); its description."""
        if self.auto:
            return "model auto: picked per file by its frame shape"
        return str(self.get(self.settings.model).description)

    def for_file(self, path: Path) -> tuple[ProcessingSettings, Any]:
        """The settings and open segmenter for one file; ``None`` when the file cannot be read, so that
        ``process_video`` reports it as it would for ``process``."""
        if not self.auto:
            return self.settings, self.get(self.settings.model)
        from realtime_seg.io.video import VideoReader
        from realtime_seg.models.registry import resolve_auto

        try:
            with VideoReader(path) as reader:
                size = reader.info.size_wh
        except RealtimeSegError:
            return self.settings, None
        model = resolve_auto(self.settings.model, size, self.settings.backend)
        return replace(self.settings, model=model), self.get(model)

    def close(self) -> None:
        for seg in self._open.values():
            seg.close()
        self._open.clear()


# -- one file --------------------------------------------------------------------------------------
def worker_name() -> tuple[str, str]:
    return socket.gethostname(), f"pid {os.getpid()}"


def _remove_stale(outputs: VideoOutputs) -> None:
    """Temporary files a killed run left beside these outputs (video writers, outlines, a masks folder)."""
    from realtime_seg.io.video_writer import partial_files

    for p in (outputs.video, outputs.alpha):
        if p is not None:
            for tmp in partial_files(p):
                tmp.unlink(missing_ok=True)
    for text in (outputs.outlines, outputs.counts):
        if text is not None and text.parent.is_dir():
            for tmp in text.parent.glob(f".{glob.escape(text.name)}.*.part"):
                tmp.unlink(missing_ok=True)
    if outputs.masks is not None and outputs.masks.parent.is_dir():
        for tmp in outputs.masks.parent.glob(f".{glob.escape(outputs.masks.name)}.partial-*"):
            shutil.rmtree(tmp, ignore_errors=True)


def _swap_in(staged: Path, final: Path) -> None:
    """Move a finished masks folder to its final name (an older one is replaced whole)."""
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    if final.exists():
        os.replace(final, old)
    os.replace(staged, final)
    shutil.rmtree(old, ignore_errors=True)


def run_job(
    job: BatchJob,
    settings: ProcessingSettings,
    segmenter: Any,
    *,
    shash: str = "",
    threaded: bool = True,
    stop: threading.Event | None = None,
    on_progress: Callable[[int, int | None], None] | None = None,
) -> FileRecord | None:
    """Process one file with ``segmenter`` (an open segmenter, or a worker's :class:`Segmenters`); returns
    its record (``done`` or ``failed``), or ``None`` when ``stop`` was set (the file's outputs are removed: a
    stopped file is simply not finished).

    A failure is the one-line message ``realtime-seg process`` prints for the same file; an unexpected
    exception is logged with its traceback and recorded as ``failed`` too, so one file never ends a batch.
    """
    from realtime_seg.pipeline.assemble import process_video

    host, worker = worker_name()
    final = job.outputs
    record = functools.partial(
        FileRecord,
        input=job.key,
        rel=str(job.input.rel),
        host=host,
        worker=worker,
        settings_hash=shash,
        attempts=job.attempts + 1,
    )
    t0 = time.perf_counter()
    staged: Path | None = None
    try:
        for p in output_paths(final):
            try:
                p.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise OutputError(f"cannot create folder {p.parent}: {exc.strerror or exc}") from exc
        _remove_stale(final)
        outputs = final
        if final.masks is not None:  # mask PNGs are written one by one: stage the folder, rename when complete
            staged = final.masks.with_name(f".{final.masks.name}.partial-{os.getpid()}")
            outputs = replace(final, masks=staged)
        if isinstance(segmenter, Segmenters):
            settings, segmenter = segmenter.for_file(job.input.path)
        stats = process_video(
            job.input.path,
            outputs,
            settings,
            threaded=threaded,
            stop=stop,
            on_progress=on_progress,
            segmenter=segmenter,
        )
        if staged is not None and final.masks is not None:
            _swap_in(staged, final.masks)
            staged = None
        wall = time.perf_counter() - t0
        return record(
            status="done",
            outputs=tuple(str(p) for p in output_paths(final)),
            frames=stats.frames,
            model=stats.model,
            seconds=wall,
            fps=stats.frames / wall if wall > 0 else 0.0,
        )
    except KeyboardInterrupt:
        if stop is not None and stop.is_set():
            return None
        raise
    except RealtimeSegError as exc:
        error = str(exc)
        if staged is not None and final.masks is not None:  # name the folder as the user gave it
            error = error.replace(str(staged), str(final.masks))
    except OSError as exc:  # a file system error no layer below turned into an OutputError
        where = f": {exc.filename}" if exc.filename else ""
        error = f"{exc.strerror or exc}{where}"
    except Exception as exc:
        logger.exception("unexpected error on %s", job.input.path)
        error = f"unexpected error: {type(exc).__name__}: {exc}"
    finally:
        if staged is not None:
            shutil.rmtree(staged, ignore_errors=True)
    return record(status="failed", seconds=time.perf_counter() - t0, error=error)


# -- running a plan --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Started:
    job: BatchJob
    worker: str


@dataclass(frozen=True)
class Progress:
    job: BatchJob
    frames: int
    total: int | None


@dataclass(frozen=True)
class Finished:
    job: BatchJob
    record: FileRecord


@dataclass(frozen=True)
class Aborted:
    """The file was running when the batch was stopped; nothing of it was kept."""

    job: BatchJob


@dataclass(frozen=True)
class WorkersReady:
    """The first worker has opened its model: how many there are, the model, and where they run."""

    plan: WorkerPlan
    model: str
    where: str


@dataclass(frozen=True)
class WorkerPlan:
    """How many workers, and each one's share of the machine."""

    workers: int
    threads: int  #: ONNX Runtime intra-op threads per worker
    threaded: bool  #: run each file's decode / model / encode stages in their own threads
    cpus: float = 1.0  #: CPUs a Ray actor declares

    def __post_init__(self) -> None:
        if self.workers < 1 or self.threads < 1:
            raise SettingsError(f"workers and threads must be >= 1, got {self.workers}, {self.threads}")


Event = Started | Progress | Finished | Aborted | WorkersReady


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


#: cores per worker by default. Measured on 2 cores (docs/benchmarks.md, "Many files"): 2 workers of 1 model
#: thread gave 0.95-1.22x the best single-file FPS after start-up, 1 worker of 2 threads 0.87-0.89x; only
#: while other heavy processes shared the machine did 1 worker do better (it has more threads to be scheduled)
CORES_PER_WORKER = 1


def budget(
    cores: int, files: int, *, workers: int | None = None, threads: int | None = None, threaded: bool = True
) -> WorkerPlan:
    """Share ``cores`` among workers: by default one worker per :data:`CORES_PER_WORKER` cores (no more than
    there are files) and ``cores // workers`` ONNX Runtime threads each, so workers x model threads never
    exceeds the cores. ``threaded``: each file's stages on their own threads (``False``: one after the other)."""
    n = workers if workers is not None else max(1, min(cores // CORES_PER_WORKER, files))
    if n < 1:
        raise SettingsError(f"--workers must be >= 1, got {n}")
    t = threads if threads is not None else max(1, cores // n)
    if n * t > cores:
        logger.warning("%d workers x %d threads is more than the %d cores: they will compete", n, t, cores)
    return WorkerPlan(workers=n, threads=t, threaded=threaded, cpus=float(max(1, cores // n)))


@dataclass
class BatchResult:
    """The outcome of :func:`run_batch`: every record of this run, and whether it was stopped."""

    records: list[FileRecord] = field(default_factory=list)
    failed_before: tuple[FileRecord, ...] = ()
    interrupted: bool = False
    not_finished: int = 0  #: files not started or stopped mid-way (a re-run does them)
    wall_s: float = 0.0

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.records)

    @property
    def failed(self) -> list[FileRecord]:
        return [r for r in self.records if r.status == "failed"] + list(self.failed_before)

    @property
    def frames(self) -> int:
        return sum(r.frames for r in self.records if r.status == "done")

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return EXIT_SOME_FAILED if self.failed else 0


def run_batch(
    batch_plan: Plan,
    settings: ProcessingSettings,
    manifest: Manifest,
    *,
    shash: str,
    workers: int | None = None,
    threads: int | None = None,
    threaded: bool = True,
    use_ray: bool = False,
    ray_address: str | None = None,
    on_event: Callable[[Event], None] | None = None,
    stop: threading.Event | None = None,
) -> BatchResult:
    """Run ``batch_plan``: skipped files are recorded at once, the rest go to the executor (a local process
    pool, or Ray actors with ``use_ray``), each finished file is appended to ``manifest`` as it ends.
    ``workers``/``threads``: see :func:`budget` (on Ray, each actor declares ``threads`` CPUs, default
    :data:`CORES_PER_WORKER`, and the default is one actor per that many CPUs of the cluster, or one per GPU
    with the TensorRT backend).
    Setting ``stop`` stops the batch: running files are aborted (no outputs), the rest are left for a re-run."""
    from realtime_seg.pipeline import batch_exec, batch_ray
    from realtime_seg.pipeline.processor import close_effect

    close_effect(settings.create_effect())  # a bad effect option fails here, before any worker starts
    stop = stop or threading.Event()
    result = BatchResult(failed_before=batch_plan.failed_before)
    t0 = time.perf_counter()
    manifest.repair()
    for r in batch_plan.skipped:
        manifest.append(r)
        result.records.append(r)
    finished: set[int] = set()

    def handle(ev: Event) -> None:
        if isinstance(ev, Finished):
            manifest.append(ev.record)
            result.records.append(ev.record)
            finished.add(ev.job.index)
        if on_event is not None:
            on_event(ev)

    if batch_plan.todo:
        executor: batch_exec.Executor
        if use_ray:
            state = settings_state(settings)  # threads: set from the cluster once connected
            executor = batch_ray.RayExecutor(
                state, shash, workers=workers, threads=threads, threaded=threaded, address=ray_address
            )
        else:
            share = budget(available_cores(), len(batch_plan.todo), workers=workers, threads=threads, threaded=threaded)
            state = settings_state(replace(settings, threads=share.threads))
            executor = batch_exec.LocalExecutor(state, shash, share)
        executor.run(list(batch_plan.todo), handle, stop)
    result.interrupted = stop.is_set()
    result.not_finished = len(batch_plan.todo) - len(finished)
    result.wall_s = time.perf_counter() - t0
    return result


def summarize(records: Iterable[FileRecord]) -> dict[str, int]:
    counts = {"done": 0, "failed": 0, "skipped": 0}
    for r in records:
        counts[r.status] += 1
    return counts
