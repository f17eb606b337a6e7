"""Icons and other files from the top-level ``resources/`` folder, found wherever wldesk runs."""

from __future__ import annotations

import os
import sys
from functools import cache
from pathlib import Path

from PySide6.QtGui import QIcon


def _candidates() -> list[Path]:
    found = []
    if os.environ.get("WLDESK_RESOURCES"):
        found.append(Path(os.environ["WLDESK_RESOURCES"]))
    bundle = getattr(sys, "_MEIPASS", None)  # a PyInstaller bundle
    if bundle:
        found.append(Path(bundle) / "resources")
    found.append(Path(sys.prefix) / "share" / "wldesk" / "resources")  # pip install
    found.append(Path(__file__).resolve().parents[2] / "resources")  # a source checkout
    return found


@cache
def resources_dir() -> Path:
    for folder in _candidates():
        if (folder / "wldesk.svg").is_file():
            return folder
    raise FileNotFoundError("wldesk's resources folder was not found; looked in "
                            + ", ".join(str(c) for c in _candidates()))


def icon(name: str) -> QIcon:
    """``icon("wldesk")`` or ``icon("state-running")``: an SVG of the resources folder."""
    path = resources_dir() / f"{name}.svg"
    if not path.is_file():
        raise FileNotFoundError(path)
    return QIcon(str(path))
