"""``realtime-seg batch INPUTS... --out-dir DIR``: many files, on this machine's cores or on a Ray cluster.

Argument parsing and the progress display only; the work is :mod:`realtime_seg.pipeline.batch`.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from realtime_seg.cli._common import add_crop_option, add_model_options, out
from realtime_seg.cli._effects import add_effect_options, add_refine_options, settings_from_args
from realtime_seg.cli._outputs import add_encode_options, add_every_option, add_output_files
from realtime_seg.errors import SettingsError
from realtime_seg.models.registry import AUTO_MODEL
from realtime_seg.pipeline.batch import (
    EXIT_SOME_FAILED,
    MANIFEST_NAME,
    TEMPLATE_FIELDS,
    Aborted,
    BatchResult,
    Event,
    Finished,
    Manifest,
    OutputTemplates,
    Progress,
    WorkersReady,
    collect_inputs,
    plan,
    read_list,
    run_batch,
    settings_hash,
)

_LOCAL = "local"


def register(sub: argparse._SubParsersAction) -> None:
    fields = "; ".join(f"{{{k}}} {v}" for k, v in TEMPLATE_FIELDS.items())
    p = sub.add_parser(
        "batch",
        help="process many videos (folders, globs, lists) on every core, or on a Ray cluster; resumable",
        description="Process many videos with the same settings as `process`. Outputs keep each input's relative "
        f"path under --out-dir; {MANIFEST_NAME} there records every file, so running the same command again "
        f"resumes. Exit codes: 0 all done, {EXIT_SOME_FAILED} some files failed, 130 interrupted.",
        epilog=f"Template fields: {fields}.",
    )
    p.add_argument(
        "inputs", nargs="*", help="video files, folders (searched recursively for video suffixes) or globs ('*.mp4')"
    )
    p.add_argument("--from-list", type=Path, metavar="FILE", help="a text file with one input path per line")
    p.add_argument("-d", "--out-dir", type=Path, required=True, help=f"output folder (holds {MANIFEST_NAME})")
    p.add_argument(
        "--video-out",
        default="{relpath}.mp4",
        metavar="TEMPLATE",
        help="the processed video per input, under --out-dir (default: {relpath}.mp4)",
    )
    p.add_argument("--no-video", action="store_true", help="write no processed video (only masks, alpha, outlines)")
    add_effect_options(p)
    add_refine_options(p)
    add_model_options(p, default_model=AUTO_MODEL)
    add_crop_option(p)
    p.set_defaults(threads=None)
    for action in p._actions:  # the same option, another default: shared out among the workers
        if action.dest == "threads":
            action.help = "ONNX Runtime threads per worker (default: the cores shared among the workers)"
    add_every_option(p)
    add_output_files(p, templated=True)
    add_encode_options(p)
    g = p.add_argument_group("execution")
    g.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="worker processes (default: one per core, each with one ONNX Runtime thread; "
        "with --ray: one actor per --threads CPUs of the cluster)",
    )
    g.add_argument(
        "--ray",
        nargs="?",
        const=_LOCAL,
        default=None,
        metavar="ADDRESS",
        help="run on Ray: no ADDRESS starts a local instance, 'auto' joins this machine's cluster, "
        "ray://HOST:10001 connects to a remote one (needs pip install 'realtime-seg[ray]')",
    )
    g.add_argument("--force", action="store_true", help="process every file again, even those done before")
    g.add_argument("--retry-failed", action="store_true", help="process the files that failed before again")
    g.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no per-file lines (summary only)")
    p.set_defaults(func=run)


def templates_from_args(args: argparse.Namespace) -> OutputTemplates:
    return OutputTemplates(
        video=None if args.no_video else args.video_out,
        alpha=args.alpha_out,
        masks=args.masks_out,
        outlines=args.outlines_out,
        counts=args.counts_out,
        codec=args.codec,
        crf=args.crf,
        preset=args.preset,
    )


@contextmanager
def _ctrl_c_sets(stop: threading.Event) -> Iterator[None]:
    """The first Ctrl-C asks the batch to stop cleanly (running files aborted); a second one raises."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt("second Ctrl-C")
        stop.set()
        sys.stderr.write("\nrealtime-seg: stopping: aborting the running files (Ctrl-C again to force)\n")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class _Display:
    """One overall bar (files and frames, FPS, ETA) on stderr, and one line per finished file on stdout.
    The bar starts when the first worker has its model open, so worker start-up does not skew the FPS."""

    def __init__(self, stack: ExitStack, files: int, frames: int, quiet: bool) -> None:
        self.stack, self.files, self.total, self.quiet = stack, files, frames, quiet
        self.done_files = 0
        self.frames: dict[int, int] = {}
        self.bar: Any = None

    def _start_bar(self) -> None:
        if self.quiet or self.bar is not None:
            return
        from tqdm import tqdm

        self.bar = self.stack.enter_context(
            tqdm(total=self.total or None, unit="frame", file=sys.stderr, dynamic_ncols=True, smoothing=0.05)
        )
        self.bar.update(sum(self.frames.values()))
        self._describe()

    def _describe(self) -> None:
        if self.bar is not None:
            self.bar.set_description_str(f"{self.done_files}/{self.files} files")

    def line(self, text: str) -> None:
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.write(text, file=sys.stdout)
        else:
            out(text)

    def _advance(self, index: int, frames: int) -> None:
        before = self.frames.get(index, 0)
        self.frames[index] = max(before, frames)
        if self.bar is not None and frames > before:
            self.bar.update(frames - before)

    def __call__(self, ev: Event) -> None:
        if isinstance(ev, WorkersReady):
            p = ev.plan
            self.line(f"{p.workers} {ev.where} x {p.threads} model thread(s): {ev.model}")
            self._start_bar()
        elif isinstance(ev, Progress):
            self._advance(ev.job.index, ev.frames)
        elif isinstance(ev, Finished):
            r = ev.record
            self.done_files += 1
            self._advance(ev.job.index, r.frames)
            self._describe()
            if r.status == "done":
                self.line(f"done    {r.rel}: {r.frames} frames in {r.seconds:.1f} s ({r.fps:.1f} FPS, {r.host})")
            else:
                self.line(f"FAILED  {r.rel}: {r.error}")
        elif isinstance(ev, Aborted):
            self.line(f"stopped {ev.job.input.rel} (not finished; a re-run does it)")


def summary(result: BatchResult, manifest: Path) -> list[str]:
    done, failed, skipped = result.count("done"), result.count("failed"), result.count("skipped")
    fps = result.frames / result.wall_s if result.wall_s > 0 else 0.0
    lines = [
        f"{done} done, {failed} failed, {skipped} skipped: {result.frames} frames in {result.wall_s:.1f} s "
        f"({fps:.1f} FPS overall); manifest {manifest}"
    ]
    if result.interrupted:
        lines.append(f"interrupted: {result.not_finished} file(s) not finished; run the same command to resume")
    failures = result.failed
    if failures:
        lines.append(f"{len(failures)} failed:")
        lines += [f"  {r.rel}: {r.error}" for r in failures]
        if result.failed_before:
            lines.append("(failures from an earlier run are kept; --retry-failed processes them again)")
    return lines


def run(args: argparse.Namespace) -> int:
    if args.every < 1:
        raise SettingsError(f"--every must be >= 1, got {args.every}")
    if args.threads is not None and args.threads < 1:
        raise SettingsError(f"--threads must be >= 1 for a batch, got {args.threads}")
    if args.workers is not None and args.workers < 1:
        raise SettingsError(f"--workers must be >= 1, got {args.workers}")
    if args.ray not in (None, _LOCAL, "auto") and "://" not in args.ray and Path(args.ray).exists():
        args.inputs.insert(0, args.ray)  # `--ray videos/`: an input, not an address
        args.ray = _LOCAL
    names = list(args.inputs) + (read_list(args.from_list) if args.from_list else [])
    if not names:
        raise SettingsError("no inputs: name files, folders or globs, or give --from-list FILE")
    if args.ray is not None:
        from realtime_seg.pipeline.batch_ray import import_ray

        import_ray()  # without Ray: how to install it, before any work
    threads = args.threads  # None: budgeted per worker from the cores
    args.threads = threads or 1
    settings = settings_from_args(args)
    templates = templates_from_args(args)
    out_dir: Path = args.out_dir
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        from realtime_seg.errors import OutputError

        raise OutputError(f"cannot create --out-dir {out_dir}: {exc.strerror or exc}") from exc
    inputs = collect_inputs(names, out_dir=out_dir)
    manifest = Manifest(out_dir / MANIFEST_NAME)
    shash = settings_hash(settings, templates)
    the_plan = plan(
        inputs, out_dir, templates, shash, manifest.latest(), force=args.force, retry_failed=args.retry_failed
    )
    if not args.quiet:
        out(
            f"{len(inputs)} input(s): {len(the_plan.todo)} to process, {len(the_plan.skipped)} skipped "
            f"(settings {shash})"
        )
    stop = threading.Event()
    with ExitStack() as stack:
        display = _Display(stack, len(the_plan.todo), the_plan.frames_hint, args.quiet)
        stack.enter_context(_ctrl_c_sets(stop))
        result = run_batch(
            the_plan,
            settings,
            manifest,
            shash=shash,
            workers=args.workers,
            threads=threads,
            use_ray=args.ray is not None,
            ray_address=None if args.ray in (None, _LOCAL) else args.ray,
            on_event=display,
            stop=stop,
        )
    for line in summary(result, manifest.path):
        out(line)
    return result.exit_code
