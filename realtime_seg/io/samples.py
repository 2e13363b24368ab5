"""Sample photos for demos and tests, taken from the pinned scikit-image wheel on PyPI.

``astronaut`` (512x512 colour) and ``camera`` (512x512 grey) are read out of the
``scikit-image`` wheel (downloaded with ``pip download --no-deps``, never installed), checked
against pinned sha256 values and cached under ``<cache>/samples/``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from realtime_seg._pypi import atomic_write, cache_dir, fetch_members, file_lock, sha256_file
from realtime_seg.errors import InputError, UnknownNameError

__all__ = ["SAMPLES", "SKIMAGE_REQUIREMENT", "load_sample", "sample_image_path"]

log = logging.getLogger(__name__)

SKIMAGE_REQUIREMENT = "scikit-image==0.26.0"
#: sample name -> (member inside the wheel, sha256)
SAMPLES: dict[str, tuple[str, str]] = {
    "astronaut": (
        "skimage/data/astronaut.png",
        "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
    ),
    "camera": (
        "skimage/data/camera.png",
        "b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a",
    ),
}
_HINT = (
    "Check the network connection (or proxy / pip configuration) and retry; the sample photos come "
    f"from the {SKIMAGE_REQUIREMENT} wheel on PyPI."
)


def _samples_dir() -> Path:
    return cache_dir() / "samples"


def _valid(path: Path, sha256: str) -> bool:
    return path.is_file() and sha256_file(path) == sha256


def sample_image_path(name: str, *, wheel: Path | None = None) -> Path:
    """The cached PNG of a sample photo, downloading the scikit-image wheel once if needed.

    ``wheel`` may point at a local ``scikit-image`` wheel to avoid the download.
    """
    if name not in SAMPLES:
        raise UnknownNameError("sample image", name, list(SAMPLES))
    member, sha256 = SAMPLES[name]
    path = _samples_dir() / f"{name}.png"
    if _valid(path, sha256):
        return path
    with file_lock(_samples_dir() / ".lock"):
        if _valid(path, sha256):
            return path
        if path.exists():
            log.warning("cached sample %s is corrupt; fetching it again", path)
        members = {m: s for m, s in SAMPLES.values()}
        data, _, _ = fetch_members(SKIMAGE_REQUIREMENT, members, wheel=wheel, error=InputError, hint=_HINT)
        for sample, (m, _) in SAMPLES.items():
            atomic_write(_samples_dir() / f"{sample}.png", data[m])
    return path


def load_sample(name: str) -> np.ndarray:
    """A sample photo as a BGR ``uint8`` array of shape (H, W, 3); grey photos are expanded."""
    path = sample_image_path(name)
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"cannot decode sample image {path}")
    return image
