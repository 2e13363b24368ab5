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
    pf = msub.add_parser("fetch", help="download the pinned mediapipe wheel from PyPI and convert its models")
    pf.add_argument("--wheel", type=Path, help="use a local mediapipe-0.10.21 wheel instead of PyPI")
    pf.add_argument("--force", action="store_true", help="re-extract and re-convert even if cached")
    pf.set_defaults(func=_fetch)


def _list(args: argparse.Namespace) -> int:
    from realtime_seg.models.fetch import cache_dir
    from realtime_seg.models.registry import list_models

    rows = list_models(tuple(args.paths))
    out(f"{'name':18} {'fetched':8} {'input':9} {'classes':22} path")
    for r in rows:
        size = f"{r.input_size_wh[0]}x{r.input_size_wh[1]}"
        out(f"{r.name:18} {'yes' if r.fetched else 'no':8} {size:9} {','.join(r.classes):22} {r.path or '-'}")
    out(f"\ncache: {cache_dir()}  (set REALTIME_SEG_CACHE to move it)")
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from realtime_seg.models.fetch import fetch_all

    for path in fetch_all(wheel=args.wheel, force=args.force):
        out(f"ready: {path}")
    return 0
