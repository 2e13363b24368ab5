from __future__ import annotations

import numpy as np
import pytest

from realtime_seg.errors import UnknownNameError
from realtime_seg.io.samples import load_sample, sample_image_path


@pytest.mark.network
def test_samples_are_bgr_uint8(samples: dict[str, np.ndarray]) -> None:
    assert set(samples) == {"astronaut", "camera"}
    for image in samples.values():
        assert image.dtype == np.uint8 and image.shape == (512, 512, 3)
    cam = samples["camera"]
    assert (cam[..., 0] == cam[..., 1]).all() and (cam[..., 1] == cam[..., 2]).all()  # grey -> 3 channels


@pytest.mark.network
def test_corrupt_sample_is_fetched_again(samples: dict[str, np.ndarray]) -> None:
    path = sample_image_path("camera")
    data = path.read_bytes()
    try:
        path.write_bytes(b"broken")
        np.testing.assert_array_equal(load_sample("camera"), samples["camera"])
    finally:
        if path.read_bytes() != data:
            path.write_bytes(data)


def test_unknown_sample() -> None:
    with pytest.raises(UnknownNameError, match="valid names: astronaut, camera"):
        sample_image_path("lena")
