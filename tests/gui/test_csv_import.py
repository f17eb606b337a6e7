"""File > Import CSV…: the preview shows the rows as entries and their problems, writes nothing
until Import, and Import writes the good rows through the same core function as the drop folder."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from tests.gui.test_app import file_menu
from wldesk.core.events import InputEvent
from wldesk.gui.controller import ServerController
from wldesk.gui.csv_import import CsvImportDialog, read_csv_file, show_csv_import
from wldesk.gui.mainwindow import MainWindow

ORDERS = (
    "Patient name;Patient ID;Accession;Modality;Station;Date;Time;Description;Notes\n"
    "Doe, John;P1;ACC1;CT;CT1;2026-05-04;09:30;CT head;ground floor\n"
    "Roe^Jane;P2;ACC2;MR;MR1;2026-05-04;25:00;MR knee;\n"
    "Poe^Ed;P3;;CT;CT1;2026-05-04;10:00;CT chest;\n"
)


def cells(dialog: CsvImportDialog) -> list[list[str]]:
    table = dialog.table
    return [[table.item(r, c).text() for c in range(table.columnCount())]  # type: ignore[union-attr]
            for r in range(table.rowCount())]


@pytest.mark.expect_log_warnings(r"CSV from orders.csv: refused")
def test_preview_shows_rows_and_problems_and_writes_nothing_until_import(
        qtbot: QtBot, controller: ServerController, worklist_folder: Path, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS, encoding="utf-8")
    events: list[InputEvent] = []
    controller.bus.subscribe(lambda e: events.append(e) if isinstance(e, InputEvent) else None)
    dialog = CsvImportDialog(controller, read_csv_file(path, "", "auto"))
    qtbot.addWidget(dialog)
    table = dialog.table
    headers = [table.horizontalHeaderItem(c).text()  # type: ignore[union-attr]
               for c in range(table.columnCount())]
    assert headers == ["Row", "Problems", "PatientName", "PatientID", "AccessionNumber", "Modality",
                       "ScheduledStationAETitle", "ScheduledProcedureStepStartDate",
                       "ScheduledProcedureStepStartTime", "RequestedProcedureDescription"]
    rows = cells(dialog)
    assert rows[0][:5] == ["2", "", "Doe^John", "P1", "ACC1"]
    assert rows[1][0] == "3" and "'25:00' is not a time" in rows[1][1]
    assert rows[2][0] == "4" and "no accession number" in rows[2][1]
    summary = dialog.summary.text()
    assert "3 rows" in summary and "1 can be imported" in summary and "2 with problems" in summary
    assert "Columns not imported: Notes" in summary
    assert dialog.import_button.isEnabled()
    assert list(worklist_folder.glob("*.wl")) == [] and events == []

    dialog.import_button.click()
    qtbot.waitUntil(lambda: dialog.outcomes is not None, timeout=10000)
    assert [(o.row, o.action) for o in dialog.outcomes or []] == [
        (2, "created"), (3, "refused"), (4, "refused")]
    written = list(worklist_folder.glob("*.wl"))
    assert len(written) == 1 and pydicom.dcmread(written[0]).AccessionNumber == "ACC1"
    assert "Imported: 1 new entries, 2 rows left out" in dialog.summary.text()
    assert [(e.channel, e.action, e.source) for e in events] == [
        ("CSV", "created", "orders.csv"), ("CSV", "refused", "orders.csv"),
        ("CSV", "refused", "orders.csv")]
    assert dialog.buttons.button(QDialogButtonBox.StandardButton.Close) is not None


def test_a_file_that_cannot_be_imported_says_why(qtbot: QtBot, controller: ServerController,
                                                 tmp_path: Path) -> None:
    path = tmp_path / "photo.csv"
    path.write_bytes(b"\x81\x8d\x8f\x90\x9d")
    dialog = CsvImportDialog(controller, read_csv_file(path, "", "auto"))
    qtbot.addWidget(dialog)
    assert "cannot be imported" in dialog.summary.text()
    assert not dialog.import_button.isEnabled() and dialog.table.isHidden()
    missing = read_csv_file(tmp_path / "gone.csv", "", "auto")
    assert "cannot read" in missing.error


def test_the_file_menu_offers_import_csv(qtbot: QtBot, controller: ServerController,
                                         tmp_path: Path) -> None:
    window = MainWindow(controller)
    qtbot.addWidget(window)
    assert "&Import CSV…" in [a.text() for a in file_menu(window).actions()]
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS, encoding="utf-8")
    show_csv_import(controller, path, window)
    qtbot.waitUntil(lambda: window.findChild(CsvImportDialog, "csv-import") is not None,
                    timeout=10000)
    dialog = window.findChild(CsvImportDialog, "csv-import")
    assert dialog is not None and dialog.isVisible() and dialog.table.rowCount() == 3
    dialog.close()
