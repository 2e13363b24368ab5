"""Decoding a TF.js ``weightsManifest``: raw little-endian arrays, quantized floats dequantized."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from realtime_seg.errors import ModelError

_QUANT_DTYPES: dict[str, type[np.generic]] = {"uint8": np.uint8, "uint16": np.uint16, "float16": np.float16}
_RAW_DTYPES: dict[str, type[np.generic]] = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}


def decode_weights(manifest: Sequence[Mapping[str, Any]], data: bytes) -> dict[str, np.ndarray]:
    """Decode the weights of a TF.js ``weightsManifest`` from the concatenated shard bytes.

    Quantized float tensors are dequantized to float32. Raises :class:`ModelError` for a truncated
    buffer (naming the first weight that does not fit), leftover bytes, or an unsupported dtype.
    """
    out: dict[str, np.ndarray] = {}
    offset = 0
    for group in manifest:
        for w in group.get("weights", ()):
            name, shape, dtype = w["name"], [int(d) for d in w["shape"]], w["dtype"]
            count = int(np.prod(shape)) if shape else 1
            quant = w.get("quantization")
            if quant:
                qtype = _QUANT_DTYPES.get(quant.get("dtype", ""))
                if qtype is None:
                    raise ModelError(f"weight {name!r}: unsupported quantization dtype {quant.get('dtype')!r}")
                stored: type[np.generic] = qtype
            else:
                raw = _RAW_DTYPES.get(dtype)
                if raw is None:
                    raise ModelError(f"weight {name!r}: unsupported dtype {dtype!r}")
                stored = raw
            nbytes = count * np.dtype(stored).itemsize
            if offset + nbytes > len(data):
                raise ModelError(
                    f"weights are truncated: {name!r} needs bytes {offset}..{offset + nbytes}, "
                    f"the weight file has {len(data)}"
                )
            arr = np.frombuffer(data, dtype=np.dtype(stored).newbyteorder("<"), count=count, offset=offset)
            offset += nbytes
            if quant and quant["dtype"] == "float16":
                value = arr.astype(np.float32)
            elif quant:
                value = (np.float64(quant["min"]) + np.float64(quant["scale"]) * arr.astype(np.float64)).astype(
                    np.float32
                )
            else:
                value = arr.astype(_RAW_DTYPES[dtype])
            out[name] = value.reshape(shape)
    if offset != len(data):
        raise ModelError(f"the weight file has {len(data)} bytes, the manifest describes {offset}")
    return out
