"""Activity > Export... > Queries of a period: the audit log's queries as CSV, from a real server."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, time, timedelta
from pathlib import Path

from pynetdicom import AE
from pynetdicom.sop_class import ModalityWorklistInformationFind  # type: ignore[attr-defined]
from pytestqt.qtbot import QtBot

from tests.helpers.samples import name_query, write_entry
from wldesk.core import paths
from wldesk.core.audit import CSV_COLUMNS, file_name
from wldesk.core.net.scu import find as scu_find
from wldesk.gui.activity_tab import ActivityTab
from wldesk.gui.audit_export import quick_period
from wldesk.gui.controller import ServerController


def read_csv(path: Path) -> list[list[str]]:
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # so that spreadsheet programs read UTF-8
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_quick_periods() -> None:
    today = date(2026, 12, 2)
    assert quick_period("Today", today) == (datetime(2026, 12, 2, 0, 0), datetime(2026, 12, 2, 23, 59))
    assert quick_period("Yesterday", today) == (datetime(2026, 12, 1, 0, 0),
                                                datetime(2026, 12, 1, 23, 59))
    assert quick_period("Last 7 days", today) == (datetime(2026, 11, 26, 0, 0),
                                                  datetime(2026, 12, 2, 23, 59))


def test_the_dialog_exports_the_audit_log_of_a_period(qtbot: QtBot, controller: ServerController,
                                                      worklist_folder: Path,
                                                      tmp_path: Path) -> None:
    tab = ActivityTab(controller)
    qtbot.addWidget(tab)
    # yesterday, a query answered by ``wldesk serve`` while the window was closed
    yesterday = datetime.combine(date.today() - timedelta(days=1), time(9, 5)).astimezone()
    folder = paths.audit_dir()
    folder.mkdir(parents=True)
    (folder / file_name(yesterday.date())).write_text(json.dumps({
        "time": yesterday.isoformat(), "kind": "query", "calling_aet": "US1",
        "address": "10.0.0.9", "keys": {"PatientName": "", "Modality": "US"}, "matches": 0,
        "sent": 0, "withheld": 0, "status": 0, "status_text": "Success",
        "duration_ms": 1.5}) + "\n", encoding="utf-8")
    write_entry(worklist_folder, "a.wl", patient="MÜLLER^HANS", accession="A1")
    controller.start()
    qtbot.waitUntil(lambda: controller.state == "running", timeout=5000)
    ae = AE(ae_title="CT1")
    ae.add_requested_context(ModalityWorklistInformationFind)
    assoc = ae.associate("127.0.0.1", controller.settings.port, ae_title="WLDESK")
    assert assoc.is_established
    try:
        assert len(scu_find(assoc, name_query("MÜLLER*", Modality="CT")).answers) == 1
    finally:
        assoc.release()

    assert tab.export_period_action in tab.export_button.menu().actions()
    tab.export_period_action.trigger()
    dialog = tab.export_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.period() == (datetime.combine(date.today(), time(0, 0)),
                               datetime.combine(date.today(), time(23, 59, 59)))
    assert dialog.file_edit.text().endswith(f"wldesk-queries-{date.today():%Y%m%d}.csv")
    target = tmp_path / "today.csv"
    dialog.set_file(target)
    dialog.export_button.click()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=5000)
    assert dialog.result_label.text() == f"Saved 1 row to {target}."
    rows = read_csv(target)
    assert rows[0] == list(CSV_COLUMNS)
    assert rows[1][1:8] == ["CT1", "127.0.0.1", "PatientName=MÜLLER*; Modality=CT", "1", "1", "0",
                            "Success (0x0000)"]

    dialog.quick_buttons["Last 7 days"].click()
    assert dialog.file_edit.text() == str(target)  # a file chosen stays chosen
    dialog.export_button.click()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=5000)
    assert [row[1] for row in read_csv(target)[1:]] == ["US1", "CT1"]
    dialog.quick_buttons["Yesterday"].click()
    dialog.export_button.click()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=5000)
    assert [row[1:3] for row in read_csv(target)[1:]] == [["US1", "10.0.0.9"]]

    # a file that cannot be written: said so, nothing written
    dialog.set_file(tmp_path / "missing" / "queries.csv")
    dialog.export_button.click()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=5000)
    assert dialog.result_label.text().startswith("Could not save the file: ")
    assert not (tmp_path / "missing").exists()
    # a period that ends before it starts
    dialog.set_period(datetime(2026, 12, 2, 10, 0), datetime(2026, 12, 2, 9, 0))
    dialog.export_button.click()
    assert dialog.result_label.text() == "The period ends before it starts: change From or To."
    assert tab.open_export_dialog() is dialog  # one dialog, brought back
