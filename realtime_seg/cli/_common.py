"""Helpers shared by the subcommands: user-facing output and common options."""

from __future__ import annotations

import argparse
import sys

from realtime_seg.backends.select import BACKEND_NAMES
from realtime_seg.crop import CROP_MODES
from realtime_seg.models.registry import AUTO_MODEL, DEFAULT_MODEL
from realtime_seg.pipeline.settings import DEFAULT_THREADS


def out(text: str = "") -> None:
    """Write a line of user-facing output (the library itself only logs)."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def size_arg(text: str) -> tuple[int, int]:
    """argparse type for ``WIDTHxHEIGHT`` (both positive)."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT like 1280x720, got {text!r}") from None
    if w <= 0 or h <= 0:
        raise argparse.ArgumentTypeError(f"width and height must be positive, got {text!r}")
    return (w, h)


def seconds_arg(text: str) -> float:
    """argparse type for a positive duration in seconds, ``10`` or ``10s`` or ``0.5s``."""
    try:
        v = float(text.lower().removesuffix("s"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds like 10 or 0.5s, got {text!r}") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return v


def add_model_options(p: argparse.ArgumentParser, *, default_model: str = DEFAULT_MODEL) -> None:
    """``--model`` (``default_model``: ``auto`` where the frame size is known), ``--backend``, ``--threads``."""
    auto = (
        f"{AUTO_MODEL} (selfie-landscape for landscape frames, selfie for portrait and square ones), "
        if default_model == AUTO_MODEL
        else ""
    )
    p.add_argument(
        "--model",
        default=default_model,
        help=f"{auto}built-in model name (selfie, selfie-landscape, rvm: Robust Video Matting, fetched with "
        "`models fetch rvm`) or a path to model.onnx with a sidecar model.toml; auto picks rvm when TensorRT is "
        f"in use and rvm is fetched (default: {default_model})",
    )
    p.add_argument(
        "--downsample",
        type=float,
        default=None,
        metavar="RATIO",
        help="rvm: its working resolution as a fraction of the frame, in (0, 1] (default: chosen from the frame "
        "size, 480 pixels on the long side: 0.375 of 720p, 0.25 of 1080p; full-body shots gain from about 1.6x)",
    )
    p.add_argument(
        "--backend",
        default="auto",
        choices=BACKEND_NAMES,
        help="inference backend: auto (TensorRT when usable, else ONNX Runtime), onnxruntime, "
        "cpu (ONNX Runtime on the CPU only), tensorrt (default: auto)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=DEFAULT_THREADS,
        help=f"ONNX Runtime intra-op threads (default: {DEFAULT_THREADS}, measured fastest on 2 cores; "
        "0 = ONNX Runtime's default)",
    )


def add_crop_option(p: argparse.ArgumentParser, *, default: str | None = "auto") -> None:
    """``--crop auto|off``; ``default=None`` (the app): as last time, else ``auto``."""
    p.add_argument(
        "--crop",
        default=default,
        choices=CROP_MODES,
        help="auto: the selfie models run on a window around the people found in the previous frame (better masks "
        "of people far from the lens; the whole frame still runs about once a second); off: always the whole frame "
        "(default: auto)",
    )
