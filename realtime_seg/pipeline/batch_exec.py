"""Where a batch runs: worker processes on this machine (:class:`LocalExecutor`) or Ray actors on a cluster
(:class:`~realtime_seg.pipeline.batch_ray.RayExecutor`, in its own module). Both keep one open segmenter per
worker for all its files (the model loads once per worker), hand out files longest first, one at a time, and
report :mod:`~realtime_seg.pipeline.batch` events to the caller's thread.

- A worker that dies mid-file (killed, out of memory) is replaced; its file goes back to the front of the
  queue, and after :data:`~realtime_seg.pipeline.batch.MAX_ATTEMPTS` deaths it is recorded as failed.
- Setting ``stop`` aborts the running files (their outputs are removed) and hands out no more.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from multiprocessing.connection import Connection, wait
from typing import Any, Protocol

from realtime_seg.errors import RealtimeSegError
from realtime_seg.pipeline.batch import (
    MAX_ATTEMPTS,
    Aborted,
    BatchError,
    BatchJob,
    Event,
    FileRecord,
    Finished,
    Progress,
    Segmenters,
    Started,
    WorkerPlan,
    WorkersReady,
    run_job,
    settings_from_state,
)

logger = logging.getLogger(__name__)

POLL_S = 0.2
#: the least time between two progress reports of one worker
_PROGRESS_S = 0.25
#: how long stopped workers get to abort their files and exit
_SHUTDOWN_S = 20.0
#: how long Ray actors may take to be placed and to open their model
ACTOR_START_S = 300.0

Emit = Callable[[Event], None]


class Executor(Protocol):
    plan: WorkerPlan

    def run(self, jobs: Sequence[BatchJob], emit: Emit, stop: threading.Event) -> None: ...


def died_record(job: BatchJob, how: str, shash: str) -> FileRecord:
    return FileRecord(
        input=job.key,
        rel=str(job.input.rel),
        status="failed",
        error=f"the worker processing this file died ({how}) {job.attempts} times; the file may crash the decoder",
        settings_hash=shash,
        attempts=job.attempts,
    )


def open_worker_segmenters(state: Mapping[str, Any], threads: int) -> Segmenters:
    import cv2

    cv2.setNumThreads(threads)  # OpenCV's pool sized to this worker's share, not the machine
    return Segmenters(settings_from_state(state))


# -- local worker processes ------------------------------------------------------------------------
def _local_worker_main(
    conn: Connection, state: dict[str, Any], shash: str, threads: int, threaded: bool, stop: Any, parent: int
) -> None:
    """A worker process: open the model once, then process the jobs that arrive on ``conn`` until ``None``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the parent decides
    lock = threading.Lock()

    def send(msg: tuple[Any, ...]) -> None:
        with lock:
            conn.send(msg)

    segmenter = open_worker_segmenters(state, threads)
    try:
        description = segmenter.open()
    except RealtimeSegError as exc:
        send(("fatal", str(exc), exc.exit_code))
        return
    except Exception as exc:
        send(("fatal", f"cannot open the model: {type(exc).__name__}: {exc}", 1))
        return
    settings = settings_from_state(state)
    send(("ready", description))
    try:
        while True:
            if not conn.poll(0.5):
                if os.getppid() != parent:  # the batch process is gone: do not linger
                    return
                continue
            job = conn.recv()
            if job is None:
                return
            send(("start", job.index))
            record = _run_watched(job, settings, segmenter, shash, threaded, stop, parent, send)
            send(("done", job.index, record))
    except (EOFError, BrokenPipeError):
        return
    finally:
        segmenter.close()


def _run_watched(
    job: BatchJob,
    settings: Any,
    segmenter: Any,
    shash: str,
    threaded: bool,
    stop: Any,
    parent: int,
    send: Callable[[tuple[Any, ...]], None],
) -> FileRecord | None:
    """One file in a worker process: a watcher thread turns the batch's stop (or the parent's death) into
    this file's stop event; progress goes to the parent at most every :data:`_PROGRESS_S`."""
    file_stop, finished = threading.Event(), threading.Event()

    def watch() -> None:
        while not finished.wait(0.1):
            if stop.is_set() or os.getppid() != parent:
                file_stop.set()
                return

    watcher = threading.Thread(target=watch, name="realtime-seg-batch-stop", daemon=True)
    watcher.start()
    last = [0.0]

    def progress(done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - last[0] >= _PROGRESS_S:
            last[0] = now
            send(("progress", job.index, done, total))

    try:
        return run_job(job, settings, segmenter, shash=shash, threaded=threaded, stop=file_stop, on_progress=progress)
    finally:
        finished.set()
        watcher.join()


class _Handle:
    """The parent's view of one worker process."""

    def __init__(self, wid: int, proc: Any, conn: Connection) -> None:
        self.wid, self.proc, self.conn = wid, proc, conn
        self.name = f"worker {wid} (pid {proc.pid})"
        self.ready = False
        self.job: BatchJob | None = None
        self.gone = False


class LocalExecutor:
    """A pool of worker processes on this machine (``spawn``: a clean interpreter each, no forked threads)."""

    def __init__(self, state: Mapping[str, Any], shash: str, plan: WorkerPlan) -> None:
        self.state, self.shash, self.plan = dict(state), shash, plan
        self.description = ""

    def run(self, jobs: Sequence[BatchJob], emit: Emit, stop: threading.Event) -> None:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        stop_all = ctx.Event()
        pending = collections.deque(jobs)
        handles: dict[int, _Handle] = {}
        next_id = [0]
        early_deaths = [0]

        def spawn() -> None:
            wid = next_id[0]
            next_id[0] += 1
            mine, theirs = ctx.Pipe()
            args = (theirs, self.state, self.shash, self.plan.threads, self.plan.threaded, stop_all, os.getpid())
            proc = ctx.Process(target=_local_worker_main, args=args, name=f"realtime-seg-batch-{wid}", daemon=True)
            proc.start()
            theirs.close()
            handles[wid] = _Handle(wid, proc, mine)

        def died(h: _Handle) -> None:
            h.gone = True
            code = h.proc.exitcode
            how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
            job, h.job = h.job, None
            del handles[h.wid]
            h.conn.close()
            if job is None:
                if not h.ready:
                    early_deaths[0] += 1
                    if early_deaths[0] > 2 * self.plan.workers:
                        raise BatchError(f"batch worker processes die on start ({how}); run with -vv to see why")
            elif stop.is_set():
                emit(Aborted(job))
            else:
                job = replace(job, attempts=job.attempts + 1)
                if job.attempts < MAX_ATTEMPTS:
                    logger.warning("%s died (%s) on %s; trying the file again", h.name, how, job.input.path)
                    pending.appendleft(job)
                else:
                    emit(Finished(job, died_record(job, how, self.shash)))
            if pending and not stop.is_set() and len(handles) < self.plan.workers:
                spawn()

        def receive(h: _Handle) -> None:
            while not h.gone and h.conn.poll():
                try:
                    msg = h.conn.recv()
                except (EOFError, OSError):
                    h.proc.join(timeout=5)
                    died(h)
                    return
                kind = msg[0]
                if kind == "ready":
                    h.ready = True
                    if not self.description:
                        self.description = msg[1]
                        emit(WorkersReady(self.plan, self.description, "worker process(es)"))
                elif kind == "fatal":
                    raise BatchError(msg[1], msg[2])
                elif kind == "start" and h.job is not None:
                    emit(Started(h.job, h.name))
                elif kind == "progress" and h.job is not None:
                    emit(Progress(h.job, msg[2], msg[3]))
                elif kind == "done" and h.job is not None:
                    job, h.job = h.job, None
                    record = msg[2]
                    emit(Aborted(job) if record is None else Finished(job, record))

        for _ in range(min(self.plan.workers, len(jobs))):
            spawn()
        stopping = False
        deadline = float("inf")
        try:
            while handles and (pending or any(h.job for h in handles.values())):
                if stop.is_set() and not stopping:
                    stopping = True
                    stop_all.set()
                    pending.clear()
                    deadline = time.monotonic() + _SHUTDOWN_S
                if time.monotonic() > deadline:
                    logger.warning("workers did not stop within %.0f s; terminating them", _SHUTDOWN_S)
                    for h in list(handles.values()):
                        if h.job is not None:
                            emit(Aborted(h.job))
                            h.job = None
                    break
                for h in list(handles.values()):
                    if h.ready and h.job is None and pending and not stopping:
                        h.job = pending.popleft()
                        h.conn.send(h.job)
                waitables: list[Any] = [h.conn for h in handles.values()] + [h.proc.sentinel for h in handles.values()]
                wait(waitables, timeout=POLL_S)
                for h in list(handles.values()):
                    receive(h)
                for h in list(handles.values()):
                    if not h.gone and not h.proc.is_alive():
                        receive(h)  # what it sent before it died
                        if not h.gone:
                            died(h)
        finally:
            stop_all.set()
            for h in handles.values():
                with contextlib.suppress(OSError):
                    h.conn.send(None)
            end = time.monotonic() + 5
            for h in handles.values():
                h.proc.join(timeout=max(0.1, end - time.monotonic()))
                if h.proc.is_alive():
                    h.proc.terminate()
                    h.proc.join(timeout=5)
                h.conn.close()
