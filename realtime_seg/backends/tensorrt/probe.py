"""Can TensorRT run here? Import TensorRT (either wheel layout), find CUDA bindings, ask the GPU and the driver.

Never raises from :func:`probe`/:func:`probe_details`: every failure becomes a one-line reason with a hint. Nothing
here imports ``tensorrt``, ``pycuda`` or ``cuda`` at module level, so the package imports on CPU machines.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from dataclasses import dataclass
from typing import Any

from realtime_seg.backends.tensorrt.cuda_api import CudartApi, GpuInfo, driver_too_old_message, make_cuda_api
from realtime_seg.errors import BackendError, BackendUnavailable, DriverTooOld

logger = logging.getLogger(__name__)

INSTALL_HINT = (
    "pip install 'realtime-seg[cu12]' (NVIDIA driver R525 or newer) or 'realtime-seg[cu13]' (R580 or newer) "
    "--extra-index-url https://pypi.nvidia.com"
)
MIN_TRT_MAJOR = 10


TRT_MODULES = ("tensorrt", "tensorrt_bindings")


def import_tensorrt() -> Any:
    """Import TensorRT, turning every failure into :class:`BackendUnavailable` with the reason and a hint."""
    name = next((m for m in TRT_MODULES if importlib.util.find_spec(m) is not None), None)
    if name is None:
        raise BackendUnavailable(f"TensorRT is not installed: {INSTALL_HINT}")
    try:
        trt = importlib.import_module(name)
    except (ImportError, OSError) as exc:
        text = str(exc)
        hint = INSTALL_HINT
        if "libcudnn" in text or "libcublas" in text or "libcudart" in text:
            hint = (
                "a CUDA library TensorRT links against is missing: install TensorRT from NVIDIA's index, "
                "which brings them, or add the CUDA/cuDNN library folder to LD_LIBRARY_PATH"
            )
        elif "libnvinfer" in text:
            hint = "the tensorrt package is incomplete: reinstall it with " + INSTALL_HINT
        raise BackendUnavailable(f"TensorRT is installed but does not import ({text}): {hint}") from exc
    major = trt_major(trt)
    if major < MIN_TRT_MAJOR:
        raise BackendUnavailable(f"TensorRT {trt.__version__} is too old: realtime-seg needs TensorRT >= 10")
    return trt


def trt_major(trt: Any) -> int:
    """``10`` from ``"10.8.0.43"`` (also from pre-release strings such as ``"10.0.0b6"``)."""
    head = str(getattr(trt, "__version__", "0")).split(".")[0]
    digits = "".join(ch for ch in head if ch.isdigit())
    return int(digits) if digits else 0


def trt_flavour() -> str:
    """The CUDA major TensorRT's wheels were built for (``cu12``/``cu13``), from the installed distributions."""
    from importlib.metadata import PackageNotFoundError, version

    for cu in ("cu13", "cu12", "cu11"):
        for dist in (f"tensorrt-{cu}", f"tensorrt_{cu}", f"tensorrt-{cu}-bindings", f"tensorrt_{cu}_bindings"):
            try:
                version(dist)
                return cu
            except PackageNotFoundError:
                continue
    return "unknown"


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    reason: str
    trt_version: str | None = None
    cuda_api: str | None = None
    cuda_api_version: str | None = None
    driver: str | None = None
    gpu: GpuInfo | None = None


def probe_details(device: int = 0, cuda_api: str = "auto") -> ProbeResult:
    """Whether TensorRT can run here: it imports, CUDA bindings import, and a GPU answers. Never raises."""
    try:
        trt = import_tensorrt()
    except BackendUnavailable as exc:
        return ProbeResult(False, str(exc))
    version = str(trt.__version__)
    try:
        api = make_cuda_api(cuda_api)
    except BackendUnavailable as exc:
        return ProbeResult(False, f"TensorRT {version} imports, but {exc}", version)
    try:
        count = api.device_count()
        driver = api.driver_version()
    except DriverTooOld as exc:
        return ProbeResult(False, f"TensorRT {version} imports, but {exc}", version, api.name, api.version)
    except BackendError as exc:
        return ProbeResult(
            False, f"TensorRT {version} imports, but no GPU answers: {exc}", version, api.name, api.version
        )
    flavour = trt_flavour()
    too_old = driver_too_old_for(flavour, driver, f"TensorRT {version} ({flavour})")
    if too_old:
        return ProbeResult(False, too_old, version, api.name, api.version, driver)
    if count == 0:
        return ProbeResult(False, f"TensorRT {version} imports, but no NVIDIA GPU was found", version, api.name)
    if not 0 <= device < count:
        return ProbeResult(False, f"GPU {device} requested, but only {count} GPU(s) found", version, api.name)
    try:
        gpu = api.device_info(device)
    except BackendError as exc:
        return ProbeResult(False, f"TensorRT {version} imports, but GPU {device} does not answer: {exc}", version)
    reason = f"TensorRT {version} ({flavour}) with {api.name} {api.version}, driver {driver}, {gpu.summary}"
    return ProbeResult(True, reason, version, api.name, api.version, driver, gpu)


def driver_too_old_for(flavour: str, driver_cuda: str, what: str) -> str | None:
    """The reason a driver supporting CUDA ``driver_cuda`` (``"12.4"``) cannot run a ``cuNN`` build, or None."""
    if not flavour.startswith("cu") or not flavour[2:].isdigit():
        return None  # unknown flavour (a tar or deb install): nothing to compare
    needed = int(flavour[2:])
    head = driver_cuda.split(".")[0]
    if head.isdigit() and int(head) >= needed:
        return None
    return driver_too_old_message(driver_cuda, needed, what)


def cuda_bindings_problem() -> str | None:
    """Where cuda-python imports: why its calls fail on this machine (driver too old, or none), else None.

    For ``realtime-seg info``, which names the problem even where TensorRT itself is not installed.
    """
    try:
        api = CudartApi()
    except (ImportError, OSError):
        return None
    try:
        api.device_count()
    except DriverTooOld as exc:
        return str(exc)
    except BackendError as exc:
        return str(exc)
    return None


def probe() -> tuple[bool, str]:
    """Whether TensorRT can run here, and why (not)."""
    result = probe_details()
    return result.ok, result.reason
