"""Image files: read with a clear error, write atomically (temporary name, then rename)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from realtime_seg.errors import InputError, OutputError
from realtime_seg.io.atomic import write_bytes_atomic


def read_image(path: Path) -> np.ndarray:
    """Read an image as BGR uint8 (grey images become 3-channel)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"image not found: {path}")
    if not path.is_file():
        raise InputError(f"not a file: {path}")
    data = np.fromfile(str(path), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise InputError(f"not an image (or an unsupported format): {path}")
    return image


def alpha_u8(alpha: np.ndarray) -> np.ndarray:
    """A float alpha in [0, 1] as 8-bit grey (rounded, clipped); uint8 passes through unchanged."""
    if alpha.dtype == np.uint8:
        return alpha
    return np.clip(alpha * 255.0 + 0.5, 0, 255).astype(np.uint8)


def write_image_atomic(path: Path, image: np.ndarray) -> Path:
    """Encode ``image`` by the file extension and write it under ``path`` only when complete."""
    path = Path(path)
    if not path.parent.is_dir():
        raise OutputError(f"output folder does not exist: {path.parent}")
    ok, buf = cv2.imencode(path.suffix or ".png", image)
    if not ok:
        raise OutputError(f"cannot encode an image as {path.suffix!r}: {path}")
    return write_bytes_atomic(path, buf.tobytes())
