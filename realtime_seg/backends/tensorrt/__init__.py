"""TensorRT backend: engines built from the ONNX model, cached in ``engines/``, run with pycuda or cuda-python.

Split the way Polygraphy splits loaders from runners:

* :mod:`.probe`: can TensorRT run here (it imports, CUDA bindings import, a GPU and a new enough driver answer);
* :mod:`.build`: build planning, the ONNX parser, the builder, the timing cache (loaders);
* :mod:`.engine_cache`: the cache of serialized engines, keyed by everything that makes a plan valid;
* :mod:`.runtime`: :class:`TensorRTBackend`, which deserializes and runs an engine (the runner);
* :mod:`.recurrent`: a recurrent model's interface and profile, and its state double-buffered on the device;
* :mod:`.cuda_api`: the few CUDA calls the runner needs, over pycuda or cuda-python.

Nothing in this package imports ``tensorrt``, ``pycuda`` or ``cuda`` at module level: it imports on CPU machines,
and :func:`probe` says why TensorRT cannot run there. (The package's ``probe`` attribute is that function; the
module of the same name is ``realtime_seg.backends.tensorrt.probe`` in ``from ... import`` statements.)
"""

from __future__ import annotations

from realtime_seg.backends.tensorrt.build import (
    HARDWARE_COMPAT,
    PRECISIONS,
    BuildOptions,
    BuildPlan,
    EngineRequest,
    EngineResult,
    build_plan,
    make_trt_logger,
    obtain_engine,
    onnx_precision,
)
from realtime_seg.backends.tensorrt.cuda_api import CUDA_API_NAMES, GpuInfo, make_cuda_api
from realtime_seg.backends.tensorrt.probe import (
    INSTALL_HINT,
    ProbeResult,
    cuda_bindings_problem,
    import_tensorrt,
    probe,
    probe_details,
    trt_flavour,
    trt_major,
)
from realtime_seg.backends.tensorrt.runtime import TensorRTBackend

__all__ = [
    "CUDA_API_NAMES",
    "HARDWARE_COMPAT",
    "INSTALL_HINT",
    "PRECISIONS",
    "BuildOptions",
    "BuildPlan",
    "EngineRequest",
    "EngineResult",
    "GpuInfo",
    "ProbeResult",
    "TensorRTBackend",
    "build_plan",
    "cuda_bindings_problem",
    "import_tensorrt",
    "make_cuda_api",
    "make_trt_logger",
    "obtain_engine",
    "onnx_precision",
    "probe",
    "probe_details",
    "trt_flavour",
    "trt_major",
]
