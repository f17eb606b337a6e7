"""GUI tests run offscreen against a real controller, store and server on a free port."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, QUrl, Slot
from PySide6.QtGui import QDesktopServices

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from tests.conftest import LogWarnings
from tests.helpers.ports import free_port
from wldesk.core.settings import Settings
from wldesk.gui.controller import ServerController


@pytest.fixture
def worklist_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "worklists"
    folder.mkdir()
    return folder


@pytest.fixture
def controller(qapp: object, tmp_path: Path, worklist_folder: Path,
               log_warnings: LogWarnings) -> Iterator[ServerController]:
    # The controller's store watches the folder from the start, and the tests write their files
    # in place (not atomically): the store may see one between its creation and its first bytes,
    # or while its bytes are written (it reads it again once it is closed).
    log_warnings.allow(r"skipped: empty file|skipped: the file changed while it was being read")
    settings = Settings(database=str(worklist_folder), port=free_port(), bind_address="127.0.0.1",
                        start_at_launch=False)
    made = ServerController(settings, tmp_path / "settings.json")
    yield made
    made.stop_and_wait()


@pytest.fixture
def fast(controller: ServerController) -> ServerController:
    """The controller, polling its store every 50 ms instead of every second: quicker tests."""
    controller.set_poll_interval(50)
    return controller


class OpenedUrls(QObject):
    """Where QDesktopServices sends file URLs while it is installed (instead of a file manager)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[QUrl] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url)


@pytest.fixture
def opened_urls() -> Iterator[OpenedUrls]:
    receiver = OpenedUrls()
    # PySide6 wants the slot's name as str, although its stubs say bytes
    QDesktopServices.setUrlHandler("file", receiver, "open")  # type: ignore[arg-type]
    yield receiver
    QDesktopServices.unsetUrlHandler("file")
