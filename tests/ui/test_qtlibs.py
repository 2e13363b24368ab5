"""The check for the system libraries Qt's xcb plugin needs (Qt-free: it runs before Qt starts)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from realtime_seg.ui.qtlibs import (
    APT_INSTALL_LINE,
    XCB_LIBRARIES,
    parse_ldd,
    uses_xcb,
    xcb_plugin,
    xcb_problem_message,
)

LDD_SAMPLE = """\
\tlinux-vdso.so.1 (0x00007ffd)
\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x00007f01)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-icccm.so.4 => not found
"""


def test_parse_ldd_lists_each_missing_library_once() -> None:
    assert parse_ldd(LDD_SAMPLE) == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    assert parse_ldd("\tlibc.so.6 => /lib/libc.so.6 (0x1)\n") == []


def test_the_message_names_the_missing_packages_and_installs_all_of_them() -> None:
    msg = xcb_problem_message(["libxcb-icccm.so.4", "libxcb-keysyms.so.1"])
    assert "libxcb-icccm4, libxcb-keysyms1" in msg
    assert msg.endswith(APT_INSTALL_LINE)
    for package in ("libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1", "libxkbcommon-x11-0"):
        assert f" {package}" in APT_INSTALL_LINE


def test_only_an_x11_start_is_checked() -> None:
    assert uses_xcb({"DISPLAY": ":0"}, "linux")
    assert uses_xcb({"QT_QPA_PLATFORM": "xcb"}, "linux")
    assert not uses_xcb({"QT_QPA_PLATFORM": "offscreen"}, "linux")
    assert not uses_xcb({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}, "linux")
    assert not uses_xcb({"DISPLAY": ":0"}, "darwin")


def test_the_table_covers_every_x11_library_the_installed_plugin_links() -> None:
    """Read the real plugin: a PyQt6 upgrade that needs another library fails here, not on a user's desktop."""
    plugin = xcb_plugin()
    if plugin is None:
        pytest.skip("this PyQt6 has no xcb plugin")
    qpa = plugin.parents[2] / "lib" / "libQt6XcbQpa.so.6"
    needed: set[str] = set()
    for lib in (plugin, qpa):
        try:  # the NEEDED entries; ldd (which also lists what those load) where binutils is absent
            dump = subprocess.run(["objdump", "-p", str(lib)], capture_output=True, text=True, check=True).stdout
            names = [line.split()[1] for line in dump.splitlines() if line.strip().startswith("NEEDED")]
        except (OSError, subprocess.CalledProcessError):
            dump = subprocess.run(["ldd", str(lib)], capture_output=True, text=True, check=False).stdout
            names = [line.split()[0] for line in dump.splitlines() if line.strip()]
        needed |= {n for n in names if n.startswith(("libxcb", "libX11", "libxkb"))}
    assert needed, "found no X11 libraries in the plugin: the check would find nothing either"
    assert needed <= set(XCB_LIBRARIES)


def test_the_readme_gives_the_same_line() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert readme.count(APT_INSTALL_LINE) >= 2  # install section and troubleshooting table
