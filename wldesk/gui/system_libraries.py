"""The Linux system libraries the window needs, checked before Qt starts (this module imports no Qt).

PySide6's wheels bring Qt, but Qt loads OpenGL, fontconfig, GLib, D-Bus, xkbcommon and, for the X11
window system, the xcb libraries from the system. A minimal Debian or Ubuntu lacks them, and most
Debian 12 desktops lack some of the xcb ones (``libxcb-cursor0`` on all but KDE). Without them,
importing PySide6 fails with an ``ImportError`` naming a ``.so`` file, or Qt aborts with "Could not
load the Qt platform plugin "xcb"" and names ``libxcb-cursor0`` whichever library is missing. These
functions say which file is missing and which packages to install instead.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import re
import sys
from pathlib import Path

WINDOW_PACKAGES = ("libegl1", "libgl1", "libfontconfig1", "libglib2.0-0", "libdbus-1-3",
                   "libxkbcommon-x11-0", "libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1",
                   "libxcb-shape0")
"""The Debian/Ubuntu packages that, with their dependencies, hold every library PySide6's Qt loads for
the window on X11 and offscreen (checked with ldd on a minimal Debian 12; both commands of the
README's set-up install them)."""

_MISSING = re.compile(r"([\w.+-]+\.so(?:\.\d+)*): cannot open shared object file")


def missing_library_advice(error: BaseException) -> str | None:
    """What to install when ``error`` (an ImportError of PySide6, an OSError of the dynamic loader)
    says a shared library is missing on Linux; None for any other error."""
    found = _MISSING.search(str(error))
    if found is None or not sys.platform.startswith("linux"):
        return None
    return (f"the window cannot start: the system library {found.group(1)} is not installed. "
            f"On Debian or Ubuntu, install the libraries the window needs with: "
            f"sudo apt-get install {' '.join(WINDOW_PACKAGES)} "
            f"(wldesk serve, the server without the window, needs none of them)")


def xcb_plugin() -> Path | None:
    """PySide6's X11 platform plugin, ``libqxcb.so``; None when this PySide6 has none."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or spec.origin is None:
        return None
    plugin = Path(spec.origin).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return plugin if plugin.is_file() else None


def x11_problem(plugin: Path | None = None) -> str | None:
    """Why Qt's X11 platform plugin (``plugin``, by default :func:`xcb_plugin`) cannot be loaded,
    when Qt is going to use it: on Linux with an X display, no Wayland display and no other platform
    asked for in ``QT_QPA_PLATFORM``. None when it loads or is not going to be used."""
    if not sys.platform.startswith("linux") or not os.environ.get("DISPLAY") \
            or os.environ.get("WAYLAND_DISPLAY"):
        return None
    if not os.environ.get("QT_QPA_PLATFORM", "xcb").startswith("xcb"):
        return None
    plugin = plugin or xcb_plugin()
    if plugin is None:
        return None
    try:
        ctypes.CDLL(str(plugin))
    except OSError as exc:
        return missing_library_advice(exc)
    return None
