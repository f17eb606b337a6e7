"""Worklist tab > Archived...: the archived entries, and Restore bringing one back to the worklist
(where the server answers it again)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from pynetdicom import AE
from pynetdicom.sop_class import ModalityWorklistInformationFind  # type: ignore[attr-defined]
from PySide6.QtCore import QItemSelectionModel
from pytestqt.qtbot import QtBot

from tests.helpers.samples import name_query, write_entry
from wldesk.core.editing.entries import archive_entry
from wldesk.core.events import Event, InputEvent
from wldesk.core.net.scu import find
from wldesk.gui.activity_tab import ActivityModel as A
from wldesk.gui.archive_dialog import ArchiveDialog
from wldesk.gui.controller import ServerController
from wldesk.gui.mainwindow import MainWindow
from wldesk.gui.worklist_tab import WorklistModel


def select_row(dialog: ArchiveDialog, row: int) -> None:
    index = dialog.proxy.index(row, 0)
    dialog.table.selectionModel().select(
        index, QItemSelectionModel.SelectionFlag.ClearAndSelect
        | QItemSelectionModel.SelectionFlag.Rows)


def served_accessions(controller: ServerController) -> list[str]:
    ae = AE(ae_title="CT1")
    ae.add_requested_context(ModalityWorklistInformationFind)
    assert controller.server is not None
    assoc = ae.associate("127.0.0.1", controller.server.port, ae_title="WLDESK")
    assert assoc.is_established
    try:
        return sorted(str(a.AccessionNumber) for a in find(assoc, name_query()).answers)
    finally:
        assoc.release()


def test_archived_entries_are_listed_and_restored(qtbot: QtBot, controller: ServerController,
                                                  worklist_folder: Path) -> None:
    events: list[Event] = []
    controller.bus.subscribe(events.append)
    archive_entry(write_entry(worklist_folder, "old.wl", accession="OLD1", patient="OLD^ONE"),
                  datetime(2026, 10, 5))
    archive_entry(write_entry(worklist_folder, "new.wl", accession="NEW1"), datetime(2026, 11, 5))
    (worklist_folder / "archive" / "2026-11" / "broken.wl").write_bytes(b"not DICOM")
    write_entry(worklist_folder, "new.wl", accession="NEW2")  # the name is taken again
    with qtbot.waitSignal(controller.state_changed, timeout=10000,
                          check_params_cb=lambda state, _message: state == "running"):
        controller.start()
    assert served_accessions(controller) == ["NEW2"]

    window = MainWindow(controller)
    qtbot.addWidget(window)
    window.worklist.archive_button.click()
    dialog = window.findChild(ArchiveDialog, "archive")
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.model.rowCount() == 2, timeout=10000)
    files = [dialog.proxy.index(row, WorklistModel.FILE).data() for row in range(2)]
    assert files == ["2026-11/new.wl", "2026-10/old.wl"]  # newest month first
    assert dialog.summary.text() == "2 archived entries"
    assert not dialog.restore_button.isEnabled()

    select_row(dialog, 0)
    assert dialog.restore_button.isEnabled()
    dialog.restore_button.click()
    qtbot.waitUntil(lambda: dialog.model.rowCount() == 1, timeout=10000)
    assert (worklist_folder / "new-2.wl").is_file()  # name kept, made unique
    assert dialog.error.isHidden()
    assert served_accessions(controller) == ["NEW1", "NEW2"]
    [restored] = [e for e in events if isinstance(e, InputEvent)]
    assert (restored.channel, restored.action, restored.order, restored.file, restored.detail) == (
        "Window", "restored", "NEW1/S-NEW1", "new-2.wl", "restored from archive/2026-11")
    dialog.close()


@pytest.mark.expect_log_warnings(r"broken\.wl: skipped: not a DICOM file")
def test_the_window_archives_expired_entries_and_shows_each_move(
        qtbot: QtBot, controller: ServerController, worklist_folder: Path) -> None:
    write_entry(worklist_folder, "past.wl", accession="P1", date="20000101", time="0800")
    write_entry(worklist_folder, "future.wl", accession="F1", date="20991231", time="0800")
    (worklist_folder / "broken.wl").write_bytes(b"not DICOM")
    with qtbot.waitSignal(controller.state_changed, timeout=10000,
                          check_params_cb=lambda state, _message: state == "running"):
        controller.start()
    assert served_accessions(controller) == ["F1", "P1"]
    window = MainWindow(controller)
    qtbot.addWidget(window)
    # as Settings > Worklist > "Archive an entry this many hours after its scheduled start" saved
    controller.apply_settings(controller.settings.replace(archive_after_hours=24))
    month = f"archive/{datetime.now():%Y-%m}"
    qtbot.waitUntil((worklist_folder / month / "past.wl").is_file, timeout=10000)
    assert sorted(p.name for p in worklist_folder.glob("*.wl")) == ["broken.wl", "future.wl"]
    assert (worklist_folder / "broken.wl").read_bytes() == b"not DICOM"
    qtbot.waitUntil(lambda: served_accessions(controller) == ["F1"], timeout=10000)
    activity = window.activity.model
    qtbot.waitUntil(lambda: any(activity.cell(r, A.CALLING_AET) == "Housekeeping"
                                for r in range(activity.rowCount())), timeout=10000)
    [row] = [r for r in range(activity.rowCount())
             if activity.cell(r, A.CALLING_AET) == "Housekeeping"]
    assert activity.cell(row, A.QUERY) == f"archived P1/S-P1 {month}/past.wl"
    assert activity.cell(row, A.STATUS) == ("archived: scheduled 2000-01-01 08:00, archived 24 h after "
                                      "(archive_after_hours)")
