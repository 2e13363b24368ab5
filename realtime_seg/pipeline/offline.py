"""The offline pipeline: decoder thread -> processing thread(s) -> writer thread.

- Queues are bounded (``queue_size``), so memory stays flat however long the video is.
- Every blocking put/get uses a short timeout and checks a stop :class:`threading.Event`, so no thread
  can hang: an exception in any stage sets the event, the other stages notice within 0.1 s, and the
  exception is re-raised in the caller's thread. Ctrl-C (KeyboardInterrupt, delivered to the caller's
  thread) does the same.
- A decoding error (a truncated file) travels *in order* behind the frames decoded before it, so those
  frames are still processed and written (what ``--keep-partial`` keeps) before it is raised.
- Sinks are finalized (renamed to their final names) only after the last frame; on any failure they are
  aborted: the partial file is deleted, or kept as a playable file when the sink was told to keep it.

Threads: decoder -> model (``segment_step``) -> refine + effect (``finish_step``) -> writer; a processor
without the two halves (or ``split=False``) runs as one processing stage. The caller's thread only waits
(in 0.1 s slices, so Ctrl-C is handled at once).

``threaded=False`` runs the same stages one after the other in the caller's thread (the baseline).
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from realtime_seg.io.video import Frame
from realtime_seg.pipeline.processor import Processed, Processor, Segmented
from realtime_seg.pipeline.sinks import FrameSink
from realtime_seg.pipeline.stats import RunStats, StageTimer

logger = logging.getLogger(__name__)

_POLL_S = 0.1
_JOIN_S = 2.0


# -- the pipeline ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _End:
    """The end marker; ``error`` is the decoder's exception when the stream broke."""

    error: BaseException | None = None


class _Stopped(Exception):
    """Internal: the stop event was set while waiting on a queue."""


def _put(q: queue.Queue[Any], item: Any, stop: threading.Event) -> None:
    while True:
        if stop.is_set():
            raise _Stopped
        try:
            q.put(item, timeout=_POLL_S)
            return
        except queue.Full:
            continue


def _get(q: queue.Queue[Any], stop: threading.Event) -> Any:
    while True:
        if stop.is_set():
            raise _Stopped
        try:
            return q.get(timeout=_POLL_S)
        except queue.Empty:
            continue


def _main_thread_gets_signals() -> None:
    """Block SIGINT/SIGTERM in a worker thread (and the native threads it starts: FFmpeg, x264, OpenCV),
    so Ctrl-C always lands in the caller's thread and never interrupts a system call in a library thread."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})


def _worker(target: Callable[..., None], done: threading.Event) -> Callable[..., None]:
    def run(*args: Any) -> None:
        try:
            _main_thread_gets_signals()
            target(*args)
        finally:
            done.set()

    return run


def _timed(frames: Iterable[Frame], timer: StageTimer) -> Iterator[Frame]:
    it = iter(frames)
    while True:
        t0 = time.perf_counter()
        try:
            f = next(it)
        except StopIteration:
            return
        timer.add("decode", (time.perf_counter() - t0) * 1e3)
        yield f


class OfflinePipeline:
    """Run ``frames`` through ``processor`` into ``sinks``. One instance per run.

    ``on_frame(n)`` is called after each frame is written (from the writer thread when threaded).
    ``stop`` may be set from outside to cancel: :meth:`run` then raises :class:`KeyboardInterrupt`.
    """

    def __init__(
        self,
        frames: Iterable[Frame],
        processor: Processor,
        sinks: Sequence[FrameSink],
        *,
        threaded: bool = True,
        queue_size: int = 4,
        on_frame: Callable[[int], None] | None = None,
        stop: threading.Event | None = None,
        split: bool = True,
    ) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        self.frames, self.processor, self.sinks = frames, processor, list(sinks)
        self.threaded, self.queue_size, self.on_frame = threaded, queue_size, on_frame
        self.stop = stop or threading.Event()
        self.split = split
        self.timer = StageTimer()
        self.written = 0
        self.threads: list[threading.Thread] = []
        self._errors: list[BaseException] = []
        self._end: _End | None = None
        self._done: list[threading.Event] = []

    # stages ---------------------------------------------------------------------------------------
    def _process(self, frame: Frame) -> Processed:
        t0 = time.perf_counter()
        result = self.processor.process(frame.image, frame.index, frame.t)
        self.timer.add("process", (time.perf_counter() - t0) * 1e3)
        self.timer.add_all(result.timings_ms)
        return result

    def _write(self, frame: Frame, result: Processed) -> None:
        for sink in self.sinks:
            t0 = time.perf_counter()
            sink.write(frame, result)
            self.timer.add(sink.stage, (time.perf_counter() - t0) * 1e3)
        self.written += 1
        if self.on_frame is not None:
            self.on_frame(self.written)

    # runs -----------------------------------------------------------------------------------------
    def run(self) -> RunStats:
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            if self.threaded:
                self._run_threaded()
            else:
                self._run_sequential()
        except BaseException:
            self._abort_sinks()
            raise
        self._close_sinks()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        return RunStats(self.written, wall, self.timer.summary(), self.threaded, cpu)

    def _run_sequential(self) -> None:
        for frame in _timed(self.frames, self.timer):
            if self.stop.is_set():
                raise KeyboardInterrupt("stopped")
            self._write(frame, self._process(frame))

    def _decoder(self, q: queue.Queue[Any]) -> None:
        try:
            try:
                for frame in _timed(self.frames, self.timer):
                    _put(q, frame, self.stop)
            except _Stopped:
                return
            except BaseException as exc:  # the stream broke: pass it on behind the frames before it
                _put(q, _End(exc), self.stop)
                return
            _put(q, _End(), self.stop)
        except _Stopped:
            return
        except BaseException as exc:
            self._fail(exc)

    def _stage(self, fn: Callable[[Any], Any], q_in: queue.Queue[Any], q_out: queue.Queue[Any]) -> None:
        """A middle stage: items from ``q_in`` through ``fn`` into ``q_out``; the end marker passes on."""
        try:
            while True:
                item = _get(q_in, self.stop)
                if isinstance(item, _End):
                    _put(q_out, item, self.stop)
                    return
                _put(q_out, fn(item), self.stop)
        except _Stopped:
            return
        except BaseException as exc:
            self._fail(exc)

    def _writer(self, q: queue.Queue[Any]) -> None:
        try:
            while True:
                item = _get(q, self.stop)
                if isinstance(item, _End):
                    self._end = item
                    return
                frame, result = item
                self._write(frame, result)
        except _Stopped:
            return
        except BaseException as exc:
            self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        self._errors.append(exc)
        self.stop.set()

    def _middle_stages(self) -> list[tuple[str, Callable[[Any], Any]]]:
        """Processing as two stages (model | refine + effect), or one with ``split=False``."""
        p = self.processor
        if not self.split:
            return [("process", lambda f: (f, self._process(f)))]

        def first(f: Frame) -> tuple[Frame, Segmented]:
            t0 = time.perf_counter()
            out = p.segment_step(f.image, f.index)
            self.timer.add("segment", (time.perf_counter() - t0) * 1e3)
            return f, out

        def second(item: tuple[Frame, Segmented]) -> tuple[Frame, Processed]:
            f, segmented = item
            t0 = time.perf_counter()
            result = p.finish_step(f.image, f.index, f.t, segmented)
            self.timer.add("composite", (time.perf_counter() - t0) * 1e3)
            self.timer.add_all(result.timings_ms)
            return f, result

        return [("segment", first), ("composite", second)]

    def _run_threaded(self) -> None:
        stages = self._middle_stages()
        queues: list[queue.Queue[Any]] = [queue.Queue(self.queue_size) for _ in range(len(stages) + 1)]
        targets: list[tuple[str, Callable[..., None], tuple[Any, ...]]] = [("decode", self._decoder, (queues[0],))]
        for i, (name, fn) in enumerate(stages):
            targets.append((name, self._stage, (fn, queues[i], queues[i + 1])))
        targets.append(("write", self._writer, (queues[-1],)))
        # Each thread sets its own "done" event. The caller waits on events, never in Thread.join():
        # a KeyboardInterrupt inside join() can leave a running thread marked as stopped (CPython
        # gh-90882, seen here as a writer still encoding into a container already closed).
        self._done = [threading.Event() for _ in targets]
        self.threads = [
            threading.Thread(target=_worker(fn, done), args=args, name=f"realtime-seg-{name}", daemon=True)
            for (name, fn, args), done in zip(targets, self._done, strict=True)
        ]
        try:
            for t in self.threads:
                t.start()
            while not self._done[-1].wait(_POLL_S):  # the writer finishes last; Ctrl-C gets through at once
                pass
        except BaseException:
            self.stop.set()
            raise
        finally:
            self._join()
        if self._errors:
            raise self._errors[0]
        if self._end is not None and self._end.error is not None:
            raise self._end.error
        if self._end is None:
            raise KeyboardInterrupt("stopped")

    def _join(self) -> None:
        started = [(t, d) for t, d in zip(self.threads, self._done, strict=True) if t.ident is not None]
        if any(not d.is_set() for _, d in started):
            self.stop.set()
        for t, done in started:
            if not done.wait(_JOIN_S):
                logger.error("thread %s did not stop within %.1f s", t.name, _JOIN_S)
                continue
            t.join(_JOIN_S)  # returns at once: the thread is past its last line

    def _close_sinks(self) -> None:
        closed: list[FrameSink] = []
        try:
            for sink in self.sinks:
                sink.close()
                closed.append(sink)
        except BaseException:
            for sink in self.sinks:
                if sink not in closed:
                    self._abort_one(sink)
            raise

    def _abort_sinks(self) -> None:
        self.stop.set()
        for sink in self.sinks:
            self._abort_one(sink)

    @staticmethod
    def _abort_one(sink: FrameSink) -> None:
        try:
            sink.abort()
        except Exception:  # never hide the original error behind a cleanup error
            logger.exception("cleaning up %s failed", type(sink).__name__)
