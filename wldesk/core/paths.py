"""Where wldesk keeps its files (platformdirs; no paths relative to the code, so frozen builds work)."""

from __future__ import annotations

from pathlib import Path

import platformdirs

from wldesk import APP_NAME


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def log_dir() -> Path:
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def default_settings_path() -> Path:
    return config_dir() / "settings.json"


def default_worklist_dir() -> Path:
    return data_dir() / "worklists"


def templates_dir() -> Path:
    """Where the editor keeps entry templates."""
    return data_dir() / "templates"
