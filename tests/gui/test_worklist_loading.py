"""The Worklist tab with a large folder: its rows are made in slices between which the event loop
(and the server's queries) run; every entry ends up shown, and queries answered meanwhile, by a
real server to real clients, return every entry."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from pynetdicom import AE
from pynetdicom.sop_class import ModalityWorklistInformationFind  # type: ignore[attr-defined]
from pytestqt.qtbot import QtBot

from tests.helpers.samples import name_query, write_entry
from wldesk.core.net.scu import find
from wldesk.gui import worklist_tab
from wldesk.gui.controller import ServerController
from wldesk.gui.worklist_tab import WorklistTab

ENTRIES = 1500


def fill(folder: Path) -> list[str]:
    template = write_entry(folder, "e00000.wl").read_bytes()
    names = [f"e{n:05d}.wl" for n in range(ENTRIES)]
    for name in names[1:]:
        (folder / name).write_bytes(template)
    return names


def all_entries(port: int) -> int:
    ae = AE(ae_title="LOADING")
    ae.add_requested_context(ModalityWorklistInformationFind)
    assoc = ae.associate("127.0.0.1", port, ae_title="WLDESK")
    assert assoc.is_established
    try:
        return len(find(assoc, name_query()).answers)
    finally:
        assoc.release()


def test_many_entries_are_shown_once_their_rows_are_made_in_slices(
        qtbot: QtBot, fast: ServerController, worklist_folder: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    names = fill(worklist_folder)
    fast.store.wait_ready(30)
    monkeypatch.setattr(worklist_tab, "SLICE_SECONDS", 0.0)  # a row per slice: many slices
    monkeypatch.setattr(worklist_tab, "PAUSE_MS", 0)
    tab = WorklistTab(fast)
    qtbot.addWidget(tab)
    qtbot.waitUntil(lambda: len(fast.snapshot().entries) == ENTRIES, timeout=20000)
    tab.refresh()
    assert tab.model.rowCount() < ENTRIES  # the rows are being made, none shown half-made
    assert tab.summary.text().startswith("Reading the worklist folder…")
    qtbot.waitUntil(lambda: tab.model.rowCount() == ENTRIES, timeout=30000)
    assert sorted(tab.model.entry(r).name for r in range(ENTRIES)) == names
    assert tab.summary.text() == f"{ENTRIES} entries, 0 problem files"


def test_queries_while_the_tab_makes_its_rows_return_every_entry(
        qtbot: QtBot, fast: ServerController, worklist_folder: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Eight modalities ask for every entry while the tab makes the rows of a large folder."""
    fill(worklist_folder)
    monkeypatch.setattr(worklist_tab, "SLICE_SECONDS", 0.0005)
    monkeypatch.setattr(worklist_tab, "PAUSE_MS", 20)
    fast.start()
    qtbot.waitUntil(lambda: fast.state == "running", timeout=10000)
    fast.store.wait_ready(30)
    tab = WorklistTab(fast)
    qtbot.addWidget(tab)
    tab.show()
    port = fast.settings.port
    counts: list[int] = []
    errors: list[BaseException] = []

    def modality() -> None:
        try:
            for _ in range(3):
                counts.append(all_entries(port))
        except BaseException as exc:  # reported by the test below
            errors.append(exc)

    threads = [threading.Thread(target=modality) for _ in range(8)]
    for thread in threads:
        thread.start()
    qtbot.waitUntil(lambda: not any(t.is_alive() for t in threads), timeout=120000)
    assert not errors
    assert counts == [ENTRIES] * 24
    qtbot.waitUntil(lambda: tab.model.rowCount() == ENTRIES, timeout=30000)
