"""``realtime-seg info``: the environment, and for each backend whether it is usable and exactly why (not)."""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version

from realtime_seg import __version__
from realtime_seg.cli._common import out


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="environment and backend diagnostics (which backend runs, and why)")
    p.set_defaults(func=run)


def _dist_version(*names: str) -> str | None:
    for name in names:
        try:
            return version(name)
        except PackageNotFoundError:
            continue
    return None


def cpu_name() -> str:
    """The CPU model (``/proc/cpuinfo`` on Linux), and the core count."""
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} logical cores"


def nvidia_smi() -> dict[str, str]:
    """GPU, driver and the driver's CUDA version from ``nvidia-smi``; a reason where it is absent or fails."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return {"gpu": "none found (nvidia-smi is not on PATH: no NVIDIA driver installed?)"}
    try:
        query = subprocess.run(
            [exe, "--query-gpu=name,driver_version,compute_cap,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=15,
            check=True,
        ).stdout
        banner = subprocess.run([exe], capture_output=True, text=True, timeout=15, check=False).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        return {"gpu": f"nvidia-smi failed: {exc}"}
    gpus, drivers = [], set()
    for i, line in enumerate(filter(None, (ln.strip() for ln in query.splitlines()))):
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 4:
            gpus.append(f"{i}: {parts[0]} (compute {parts[2]}, {parts[3]})")
            drivers.add(parts[1])
    cuda = re.search(r"CUDA Version:\s*([\d.]+)", banner)
    return {
        "gpu": "; ".join(gpus) or "nvidia-smi lists no GPU",
        "driver": ", ".join(sorted(drivers)) or "unknown",
        "cuda (driver)": cuda.group(1) if cuda else "unknown",
    }


def collect() -> dict[str, str]:
    import cv2
    import numpy as np
    import onnxruntime as ort

    from realtime_seg.backends.select import choose_backend
    from realtime_seg.backends.tensorrt import cuda_bindings_problem, probe_details, trt_flavour
    from realtime_seg.backends.tensorrt.engine_cache import default_engine_dir

    info = {
        "realtime-seg": __version__,
        "python": f"{sys.version.split()[0]} ({sys.executable})",
        "os": platform.platform(),
        "cpu": cpu_name(),
    }
    info.update(nvidia_smi())
    trt_version = _dist_version(
        "tensorrt", "tensorrt-cu13", "tensorrt-cu12", "tensorrt-cu13-bindings", "tensorrt-cu12-bindings"
    )
    info["tensorrt"] = f"{trt_version} ({trt_flavour()})" if trt_version else "not installed"
    info["pycuda"] = _dist_version("pycuda") or "not installed"
    cuda_python = _dist_version("cuda-bindings", "cuda-python")
    info["cuda-python"] = cuda_python or "not installed"
    bindings_problem = cuda_bindings_problem()  # e.g. a driver too old for these bindings: said as exactly that
    if bindings_problem:
        info["cuda-python"] = f"{cuda_python or 'imports'}, but {bindings_problem}"
    info["numpy"] = np.__version__
    info["opencv"] = cv2.__version__
    providers = ort.get_available_providers()
    info["onnxruntime"] = f"{ort.__version__} providers: {', '.join(providers)}"

    probe = probe_details()
    if probe.ok and probe.gpu is not None:
        info["cuda device"] = f"{probe.gpu.summary} via {probe.cuda_api} (driver CUDA {probe.driver})"
    ort_gpu = [p for p in providers if p in ("TensorrtExecutionProvider", "CUDAExecutionProvider")]
    info["backend onnxruntime"] = "usable (CPU" + (", " + ", ".join(ort_gpu) if ort_gpu else "") + ")"
    if not ort_gpu:
        info["backend onnxruntime"] += "; GPU providers come with onnxruntime-gpu"
    info["backend tensorrt"] = "usable: " + probe.reason if probe.ok else f"not usable: {probe.reason}"
    auto = choose_backend("auto")
    info["backend auto"] = (
        f"{auto.name} (TensorRT usable)" if auto.name == "tensorrt" else f"{auto.name} (TensorRT not usable: see above)"
    )
    info["models fetched"] = _fetched_models()
    info["engine cache"] = f"{default_engine_dir()} (set REALTIME_SEG_ENGINE_DIR or --engine-dir to move it)"
    return info


def _fetched_models() -> str:
    """Which built-in models are in the cache (``models fetch`` gets the rest)."""
    try:
        from realtime_seg.models.registry import list_models

        rows = list_models()
    except Exception as exc:  # info reports, it does not fail
        return f"unknown ({exc})"
    have = [r.name for r in rows if r.fetched]
    missing = [r.name for r in rows if not r.fetched]
    text = ", ".join(have) or "none"
    if missing:
        text += f" (not fetched: {', '.join(missing)}; `realtime-seg models fetch [rvm]`)"
    return text


def run(args: argparse.Namespace) -> int:
    for key, value in collect().items():
        out(f"{key:20} {value}")
    return 0
