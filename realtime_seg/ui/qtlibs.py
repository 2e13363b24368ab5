"""Qt's X11 platform plugin and the system libraries it needs, checked before Qt starts. Qt-free.

PyQt6's wheel ships Qt but not the X11 (xcb) libraries its ``xcb`` platform plugin links against. When one is
missing, Qt aborts the process with "xcb-cursor0 or libxcb-cursor0 is needed" (naming only the first), so the
app asks ``ldd`` first and prints one ``apt install`` line for everything the plugin needs.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

logger = logging.getLogger(__name__)

#: every library PyQt6's xcb plugin (``libqxcb.so`` and ``libQt6XcbQpa.so.6``) links against outside Qt and the C
#: runtime, with the Debian/Ubuntu package that provides it (read from the plugin with ``objdump -p``)
XCB_LIBRARIES: dict[str, str] = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
}

#: the one line that installs them all (the README's install section and troubleshooting table show the same)
APT_INSTALL_LINE = "sudo apt install " + " ".join(dict.fromkeys(XCB_LIBRARIES.values()))


def xcb_plugin() -> Path | None:
    """PyQt6's ``libqxcb.so``, or ``None`` when PyQt6 (or its xcb plugin) is not installed."""
    spec = importlib.util.find_spec("PyQt6")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "Qt6" / "plugins" / "platforms" / "libqxcb.so"
    return path if path.is_file() else None


def parse_ldd(output: str) -> list[str]:
    """The libraries ``ldd`` reports as ``not found``, each once, in its order."""
    missing = [line.split("=>")[0].strip() for line in output.splitlines() if "not found" in line]
    return list(dict.fromkeys(m for m in missing if m))


def missing_libraries(library: Path) -> list[str]:
    """What ``library`` (and what it loads) cannot find; ``[]`` when all resolve or ``ldd`` cannot tell."""
    try:
        done = subprocess.run(["ldd", str(library)], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        logger.debug("ldd %s failed: %s", library, exc)
        return []
    return parse_ldd(done.stdout)


def uses_xcb(env: Mapping[str, str] = os.environ, platform: str = sys.platform) -> bool:
    """Whether Qt will load its xcb plugin: on Linux, when asked to, or by default outside a Wayland session."""
    if not platform.startswith("linux"):
        return False
    asked = env.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    if asked:
        return asked == "xcb"
    return not env.get("WAYLAND_DISPLAY")


def xcb_problem_message(missing: list[str]) -> str:
    """What to tell the user when the xcb plugin lacks ``missing`` libraries."""
    packages = ", ".join(XCB_LIBRARIES.get(m, m) for m in missing)
    return (
        f"Qt cannot open a window: its X11 (xcb) plugin is missing {', '.join(missing)} (Debian/Ubuntu "
        f"package(s) {packages}). Install everything it needs with:\n  {APT_INSTALL_LINE}"
    )


def xcb_problem(env: Mapping[str, str] = os.environ) -> str | None:
    """A message with the ``apt install`` line when Qt's xcb plugin would fail to load, else ``None``."""
    if not uses_xcb(env):
        return None
    plugin = xcb_plugin()
    if plugin is None:
        return None
    missing = missing_libraries(plugin)
    return xcb_problem_message(missing) if missing else None
