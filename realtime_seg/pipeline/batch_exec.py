"""Where a batch runs: worker processes on this machine (:class:`LocalExecutor`) or Ray actors on a cluster
(:class:`RayExecutor`). Both keep one open segmenter per worker for all its files (the model loads once
per worker), hand out files longest first, one at a time, and report :mod:`~realtime_seg.pipeline.batch`
events to the caller's thread.

- A worker that dies mid-file (killed, out of memory) is replaced; its file goes back to the front of the
  queue, and after :data:`~realtime_seg.pipeline.batch.MAX_ATTEMPTS` deaths it is recorded as failed.
- Setting ``stop`` aborts the running files (their outputs are removed) and hands out no more.
- Ray is imported only here, and only for ``--ray``; without it, :func:`import_ray` says how to install it.
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

from realtime_seg.errors import BackendUnavailable, RealtimeSegError
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
    worker_name,
)

logger = logging.getLogger(__name__)

_POLL_S = 0.2
#: the least time between two progress reports of one worker
_PROGRESS_S = 0.25
#: how long stopped workers get to abort their files and exit
_SHUTDOWN_S = 20.0
#: how long Ray actors may take to be placed and to open their model
_ACTOR_START_S = 300.0

Emit = Callable[[Event], None]


class Executor(Protocol):
    plan: WorkerPlan

    def run(self, jobs: Sequence[BatchJob], emit: Emit, stop: threading.Event) -> None: ...


def _died_record(job: BatchJob, how: str, shash: str) -> FileRecord:
    return FileRecord(
        input=job.key,
        rel=str(job.input.rel),
        status="failed",
        error=f"the worker processing this file died ({how}) {job.attempts} times; the file may crash the decoder",
        settings_hash=shash,
        attempts=job.attempts,
    )


def _open_worker_segmenters(state: Mapping[str, Any], threads: int) -> Segmenters:
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

    segmenter = _open_worker_segmenters(state, threads)
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
                    emit(Finished(job, _died_record(job, how, self.shash)))
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
                wait(waitables, timeout=_POLL_S)
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


# -- Ray -------------------------------------------------------------------------------------------
def ray_budget(
    *,
    total_cpus: float,
    largest_node_cpus: float,
    gpus: int,
    jobs: int,
    workers: int | None,
    threads: int | None,
    gpu: bool,
    threaded: bool = True,
) -> WorkerPlan:
    """Actors for a cluster. Each declares ``threads`` CPUs (default: the cluster's CPUs shared among the
    ``workers`` asked for, else :data:`~realtime_seg.pipeline.batch.CORES_PER_WORKER`), never more than its
    largest node has (such an actor would never be placed). Default count: one actor per that many CPUs,
    or one per GPU with TensorRT (each also declares one GPU); never more actors than files."""
    from realtime_seg.pipeline.batch import CORES_PER_WORKER

    if threads is not None:
        cpus = threads
    elif workers is not None and not gpu:
        cpus = max(1, int(total_cpus // workers))
    else:
        cpus = CORES_PER_WORKER
    if largest_node_cpus >= 1 and cpus > largest_node_cpus:
        cpus = int(largest_node_cpus)
    if workers is not None:
        n = workers
    elif gpu:
        if gpus < 1:
            raise BatchError("--backend tensorrt on Ray needs GPUs, but the cluster reports none")
        n = gpus
    else:
        n = max(1, int(total_cpus // cpus))
    return WorkerPlan(workers=max(1, min(n, jobs)), threads=threads or cpus, threaded=threaded, cpus=float(cpus))


RAY_INSTALL_HINT = "pip install 'realtime-seg[ray]' (or pip install 'ray>=2.9')"


def import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise BackendUnavailable(f"--ray needs Ray, which is not installed: {RAY_INSTALL_HINT}") from exc
    return ray


class RayWorker:
    """The body of a Ray actor: one open segmenter, used for every file the actor is given.

    Runs with ``max_concurrency`` > 1 so :meth:`progress` and :meth:`cancel` answer while :meth:`run` works.
    """

    def __init__(self, state: dict[str, Any], shash: str, threads: int, threaded: bool) -> None:
        self.settings = settings_from_state(state)
        self.shash, self.threaded = shash, threaded
        self.stop = threading.Event()
        self._progress: tuple[int, int, int | None] = (-1, 0, None)
        self.error: tuple[str, int] | None = None
        self.segmenter: Segmenters | None = _open_worker_segmenters(state, threads)
        self.description = ""
        try:
            self.description = self.segmenter.open()
        except RealtimeSegError as exc:
            self.error = (str(exc), exc.exit_code)

    def hello(self) -> tuple[tuple[str, int] | None, str, str]:
        host, worker = worker_name()
        return self.error, f"{host} {worker}", self.description

    def run(self, job: BatchJob) -> FileRecord | None:
        def progress(done: int, total: int | None) -> None:
            self._progress = (job.index, done, total)

        s = self
        return run_job(
            job, s.settings, s.segmenter, shash=s.shash, threaded=s.threaded, stop=s.stop, on_progress=progress
        )

    def progress(self) -> tuple[int, int, int | None]:
        return self._progress

    def cancel(self) -> None:
        self.stop.set()

    def close(self) -> None:
        if self.segmenter is not None:
            self.segmenter.close()
            self.segmenter = None


class RayExecutor:
    """Ray actors (:class:`RayWorker`), one per ``plan.cpus`` CPUs of the cluster (or per GPU with TensorRT).

    ``address``: ``None`` starts a local Ray instance (sized to this machine's cores), ``"auto"`` joins the
    cluster this machine belongs to, ``"ray://host:10001"`` connects to a remote one. When Ray is already
    initialized in this process (a notebook, the tests), that instance is used and left running.
    """

    def __init__(
        self,
        state: Mapping[str, Any],
        shash: str,
        *,
        workers: int | None,
        threads: int | None,
        threaded: bool,
        address: str | None,
    ) -> None:
        self.state, self.shash = dict(state), shash
        self.workers, self.threads, self.threaded = workers, threads, threaded
        self.address = address
        self.description = ""
        self.gpu = state.get("backend") == "tensorrt"
        self.plan = WorkerPlan(workers=workers or 1, threads=threads or 1, threaded=threaded)

    def _connect(self, ray: Any) -> bool:
        if ray.is_initialized():
            return False
        from realtime_seg.pipeline.batch import available_cores

        kwargs: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
        try:
            if self.address is None:
                ray.init(num_cpus=available_cores(), include_dashboard=False, **kwargs)
            else:
                ray.init(address=self.address, **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = self.address or "a local instance"
            raise BatchError(f"cannot start or reach Ray at {where}: {str(exc).splitlines()[0]}") from exc
        return True

    def _budget(self, ray: Any, jobs: int) -> WorkerPlan:
        """Actors and CPUs per actor from the cluster: see :func:`ray_budget`."""
        nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
        return ray_budget(
            total_cpus=sum(r.get("CPU", 0) for r in nodes),
            largest_node_cpus=max((r.get("CPU", 0) for r in nodes), default=0),
            gpus=int(sum(r.get("GPU", 0) for r in nodes)),
            jobs=jobs,
            workers=self.workers,
            threads=self.threads,
            gpu=self.gpu,
            threaded=self.threaded,
        )

    def run(self, jobs: Sequence[BatchJob], emit: Emit, stop: threading.Event) -> None:
        ray = import_ray()
        from ray.exceptions import GetTimeoutError, RayActorError

        started_here = self._connect(ray)
        actors: list[Any] = []
        try:
            self.plan = self._budget(ray, len(jobs))
            self.state["threads"] = self.plan.threads
            options: dict[str, Any] = {"num_cpus": self.plan.cpus, "max_concurrency": 3, "max_restarts": 0}
            if self.gpu:
                options["num_gpus"] = 1
            cls = ray.remote(**options)(RayWorker)
            n = self.plan.workers

            def new_actor() -> Any:
                a = cls.remote(self.state, self.shash, self.plan.threads, self.plan.threaded)
                actors.append(a)
                return a

            names: dict[Any, str] = {}

            def greet(batch: list[Any]) -> None:
                try:
                    answers = ray.get([a.hello.remote() for a in batch], timeout=_ACTOR_START_S)
                except RayActorError as exc:
                    raise BatchError(f"a Ray actor failed to start: {str(exc).splitlines()[0]}") from exc
                except GetTimeoutError as exc:
                    raise BatchError(
                        f"Ray could not start {len(batch)} actor(s) of {self.plan.cpus:g} CPU(s) within "
                        f"{_ACTOR_START_S:.0f} s (is the cluster busy?); lower --workers or --threads"
                    ) from exc
                for a, (error, name, desc) in zip(batch, answers, strict=True):
                    if error is not None:
                        raise BatchError(*error)
                    names[a] = name
                    self.description = desc

            idle = [new_actor() for _ in range(n)]
            greet(idle)
            emit(WorkersReady(self.plan, self.description, f"Ray actor(s), {self.plan.cpus:g} CPU(s) each,"))
            pending = collections.deque(jobs)
            running: dict[Any, tuple[Any, BatchJob]] = {}
            cancelled = False
            last_poll = 0.0
            while pending or running:
                if stop.is_set() and not cancelled:
                    cancelled = True
                    pending.clear()
                    for a, _ in running.values():
                        a.cancel.remote()
                while idle and pending and not cancelled:
                    a, job = idle.pop(), pending.popleft()
                    running[a.run.remote(job)] = (a, job)
                    emit(Started(job, names[a]))
                if not running:
                    break
                done, _ = ray.wait(list(running), num_returns=1, timeout=_POLL_S)
                for ref in done:
                    a, job = running.pop(ref)
                    try:
                        record = ray.get(ref)
                    except RayActorError as exc:
                        job = replace(job, attempts=job.attempts + 1)
                        how = str(exc).splitlines()[0][:120]
                        if cancelled:
                            emit(Aborted(job))
                        elif job.attempts < MAX_ATTEMPTS:
                            logger.warning("Ray actor %s died on %s (%s); trying again", names[a], job.key, how)
                            pending.appendleft(job)
                        else:
                            emit(Finished(job, _died_record(job, "Ray actor lost", self.shash)))
                        if pending and not cancelled:
                            fresh = new_actor()
                            greet([fresh])
                            idle.append(fresh)
                        continue
                    emit(Aborted(job) if record is None else Finished(job, record))
                    idle.append(a)
                now = time.monotonic()
                if running and now - last_poll >= 0.5:
                    last_poll = now
                    polls = {a.progress.remote(): job for a, job in running.values()}
                    ready, _ = ray.wait(list(polls), num_returns=len(polls), timeout=1.0)
                    for ref in ready:
                        with_job = polls[ref]
                        try:
                            index, frames, total = ray.get(ref)
                        except RayActorError:
                            continue
                        if index == with_job.index:
                            emit(Progress(with_job, frames, total))
        finally:
            for a in actors:
                try:
                    ray.get(a.close.remote(), timeout=10)
                except Exception:  # a dead actor: nothing to close
                    logger.debug("closing an actor failed", exc_info=True)
                ray.kill(a)
            if started_here:
                ray.shutdown()
