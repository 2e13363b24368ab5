"""``realtime-seg build-engine``: build (or find in the cache) a TensorRT engine ahead of time, with progress."""

from __future__ import annotations

import argparse
from pathlib import Path

from realtime_seg.cli._common import out
from realtime_seg.models.registry import DEFAULT_MODEL


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "build-engine",
        help="build the TensorRT engine for a model ahead of time (else the first GPU run builds it)",
        description="Build a TensorRT engine and store it in the engine cache. Engines are specific to the GPU "
        "and the TensorRT version; the cache key covers both, so this is a no-op when a matching engine exists.",
    )
    p.add_argument(
        "--model", default=DEFAULT_MODEL, help=f"built-in model name or model.onnx (default: {DEFAULT_MODEL})"
    )
    p.add_argument(
        "--precision",
        choices=("fp32", "fp16"),
        default="fp16",
        help="fp16 builds built-in models from their fp16 ONNX variant (strongly typed); default: fp16",
    )
    p.add_argument("--opt-level", type=int, default=3, help="builder optimization level 0-5 (default 3; 0 is fastest)")
    p.add_argument("--max-batch", type=int, default=1, help="largest batch the engine accepts (default 1: live use)")
    p.add_argument("--workspace-mb", type=int, default=0, help="builder workspace limit in MiB (default: TensorRT's)")
    p.add_argument(
        "--engine-dir", type=Path, default=None, help="engine cache folder (default: see 'realtime-seg info')"
    )
    p.add_argument("--device", type=int, default=0, help="CUDA device index (default 0)")
    p.add_argument("--cuda-api", choices=("auto", "pycuda", "cuda-python"), default="auto", help="CUDA bindings")
    p.add_argument("--force", action="store_true", help="rebuild even if a matching engine is cached")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from realtime_seg.backends.tensorrt import BuildOptions, EngineRequest, import_tensorrt, obtain_engine
    from realtime_seg.backends.tensorrt.cuda_api import make_cuda_api
    from realtime_seg.backends.tensorrt.engine_cache import EngineCache
    from realtime_seg.models.registry import resolve_model

    trt = import_tensorrt()  # fails first, with the reason and the install hint, before any model download
    options = BuildOptions(
        precision=args.precision, opt_level=args.opt_level, max_batch=args.max_batch, workspace_mb=args.workspace_mb
    )
    spec = resolve_model(args.model, precision=args.precision)
    assert spec.onnx_path is not None  # resolve_model always sets it
    from realtime_seg.backends.tensorrt.runtime import recurrent_io

    recurrent = recurrent_io(spec)  # rvm: one profile over the working resolutions and the state shapes
    cache = EngineCache(args.engine_dir)
    api = make_cuda_api(args.cuda_api)
    api.activate(args.device)
    try:
        gpu = api.device_info(args.device)
        out(f"TensorRT {trt.__version__} on {gpu.summary}, via {api.name}")
        out(f"model {spec.name}: {spec.onnx_path}")
        result = obtain_engine(
            trt,
            EngineRequest(
                spec.onnx_path, spec.input_shape, options, profile=recurrent.profile() if recurrent else None
            ),
            gpu,
            cache,
            progress=lambda line: out(f"  {line}"),
            force=args.force,
        )
    finally:
        api.deactivate()
    key = result.key
    how = f"built in {result.seconds:.1f} s" if result.built else "already cached (--force rebuilds)"
    out(f"engine: {result.path} ({how})")
    out(f"  precision {key.precision} ({key.build_mode}), opt level {key.opt_level}, profile {key.profile or 'static'}")
    return 0
