"""Ray actors as batch workers (``realtime-seg batch --ray``): each actor keeps its segmenters between files.

Ray is imported only here, and only for ``--ray``; without it, :func:`import_ray` says how to install it.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from realtime_seg.errors import BackendUnavailable, RealtimeSegError
from realtime_seg.pipeline.batch import (
    MAX_ATTEMPTS,
    Aborted,
    BatchError,
    BatchJob,
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
from realtime_seg.pipeline.batch_exec import ACTOR_START_S, POLL_S, Emit, died_record, open_worker_segmenters

logger = logging.getLogger(__name__)


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
        self.segmenter: Segmenters | None = open_worker_segmenters(state, threads)
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
                    answers = ray.get([a.hello.remote() for a in batch], timeout=ACTOR_START_S)
                except RayActorError as exc:
                    raise BatchError(f"a Ray actor failed to start: {str(exc).splitlines()[0]}") from exc
                except GetTimeoutError as exc:
                    raise BatchError(
                        f"Ray could not start {len(batch)} actor(s) of {self.plan.cpus:g} CPU(s) within "
                        f"{ACTOR_START_S:.0f} s (is the cluster busy?); lower --workers or --threads"
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
                done, _ = ray.wait(list(running), num_returns=1, timeout=POLL_S)
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
                            emit(Finished(job, died_record(job, "Ray actor lost", self.shash)))
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
