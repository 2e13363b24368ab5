"""The ``realtime-seg`` command line. Each subcommand lives in its own module with ``register(subparsers)``.

Errors the user can cause end as one line on stderr and a non-zero exit code, never a traceback
(``--debug`` shows the traceback). Ctrl-C and SIGTERM stop a run cleanly with exit code 130 / 143
(:mod:`realtime_seg.cli._signals`).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from realtime_seg import __version__
from realtime_seg.cli._signals import Terminated, exit_code, signals_stop_the_run
from realtime_seg.errors import RealtimeSegError

logger = logging.getLogger(__name__)

#: subcommand modules, in help order; each defines ``register(subparsers)``
COMMAND_MODULES = ("models", "segment", "process", "batch", "app", "live", "demo", "build_engine", "info")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="realtime-seg",
        description="Real-time video segmentation: portrait blur, background replacement, tracked outlines.",
    )
    parser.add_argument("--version", action="version", version=f"realtime-seg {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(f"realtime_seg.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. Ctrl-C and SIGTERM stop it cleanly (exit 130 / 143), also while modules import.
    ``argv=None`` is the program itself (the console script, ``python -m realtime_seg``); a list is a call
    from Python, which gets its signal handlers back as they were."""
    with signals_stop_the_run(program=argv is None):
        try:
            return _main(argv)
        except KeyboardInterrupt as exc:  # SIGTERM arrives as Terminated, a KeyboardInterrupt
            detail = f": {exc}" if str(exc) else ""
            what = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
            sys.stderr.write(f"realtime-seg: {what}{detail}\n")
            return exit_code(exc)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()  # imports every subcommand (numpy, OpenCV, ...): inside the signal handling
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except RealtimeSegError as exc:
        if args.debug:
            raise
        sys.stderr.write(f"realtime-seg: error: {exc}\n")
        return exc.exit_code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
