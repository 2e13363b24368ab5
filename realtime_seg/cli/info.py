"""``realtime-seg info``: the environment, and for each backend whether it is usable and why (not)."""

from __future__ import annotations

import argparse
import platform
import sys

from realtime_seg import __version__
from realtime_seg.cli._common import out


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="environment and backend diagnostics (which backend runs, and why)")
    p.set_defaults(func=run)


def collect() -> dict[str, str]:
    import cv2
    import numpy as np
    import onnxruntime as ort

    from realtime_seg.backends.select import choose_backend, tensorrt_status

    trt_ok, trt_why = tensorrt_status()
    auto = choose_backend("auto")
    return {
        "realtime-seg": __version__,
        "python": sys.version.split()[0],
        "os": platform.platform(),
        "cpu": platform.processor() or platform.machine(),
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "onnxruntime": f"{ort.__version__} providers: {', '.join(ort.get_available_providers())}",
        "backend onnxruntime": "usable",
        "backend tensorrt": "usable" if trt_ok else f"not usable: {trt_why}",
        "backend auto": f"{auto.name} ({auto.reason})",
    }


def run(args: argparse.Namespace) -> int:
    for key, value in collect().items():
        out(f"{key:20} {value}")
    return 0
