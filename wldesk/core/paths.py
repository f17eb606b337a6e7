"""Where wldesk keeps its files (platformdirs; no paths relative to the code, so frozen builds work)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

from wldesk import APP_NAME


def machine_dir() -> Path | None:
    """The machine-wide folder of an installed wldesk (C:\\ProgramData\\wldesk), or None.

    Used once its settings.json exists (the Windows installers write it): then one server, one
    settings file, one worklist folder and one log folder serve the PC, whoever is logged in.
    WLDESK_MACHINE_DIR overrides (for tests and unusual installs).
    """
    override = os.environ.get("WLDESK_MACHINE_DIR")
    if override:
        return Path(override)
    if sys.platform == "win32":
        folder = Path(platformdirs.site_config_dir(APP_NAME, appauthor=False))
        return folder if (folder / "settings.json").is_file() else None
    return None


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def state_dir() -> Path:
    """What wldesk remembers for this user between runs that is no setting (a notice seen)."""
    return Path(platformdirs.user_state_dir(APP_NAME, appauthor=False))


def audit_dir() -> Path:
    """The query audit log's daily files: with the machine-wide logs on an installed PC (the
    service and every user's window write and read the same files), else in the state folder."""
    machine = machine_dir()
    return (machine if machine is not None else state_dir()) / "audit"


def log_dir() -> Path:
    machine = machine_dir()
    if machine is not None:
        return machine / "logs"
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def default_settings_path() -> Path:
    machine = machine_dir()
    return (machine if machine is not None else config_dir()) / "settings.json"


def default_worklist_dir() -> Path:
    machine = machine_dir()
    return (machine if machine is not None else data_dir()) / "worklists"


def templates_dir() -> Path:
    """Where the editor keeps entry templates: with the worklists on an installed PC (every user
    of the clinic PC sees the same ones), else per user."""
    machine = machine_dir()
    return (machine if machine is not None else data_dir()) / "templates"


def cache_dir() -> Path:
    """What wldesk can rebuild if it is lost (the folder index's snapshot): per user."""
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))
