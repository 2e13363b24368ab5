"""Helpers shared by the subcommands: user-facing output and common options."""

from __future__ import annotations

import argparse
import sys

from realtime_seg.backends.select import BACKEND_NAMES
from realtime_seg.models.registry import DEFAULT_MODEL
from realtime_seg.pipeline.settings import DEFAULT_THREADS


def out(text: str = "") -> None:
    """Write a line of user-facing output (the library itself only logs)."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help="built-in model name (selfie, selfie-landscape) or a path to model.onnx with a sidecar model.toml "
        f"(default: {DEFAULT_MODEL})",
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
