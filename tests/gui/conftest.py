"""GUI tests run offscreen against a real controller, store and server on a free port."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from tests.helpers.ports import free_port
from wldesk.core.settings import Settings
from wldesk.gui.controller import ServerController


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the user's real settings, logs and autostart entries out of reach."""
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(name, str(tmp_path / "home" / name.lower()))


@pytest.fixture
def worklist_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "worklists"
    folder.mkdir()
    return folder


@pytest.fixture
def controller(qapp: object, tmp_path: Path, worklist_folder: Path) -> Iterator[ServerController]:
    settings = Settings(database=str(worklist_folder), port=free_port(), bind_address="127.0.0.1",
                        start_at_launch=False)
    made = ServerController(settings, tmp_path / "settings.json")
    yield made
    made.stop_and_wait()
