"""The Activity tab against the real server, queried by a real pynetdicom SCU."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pynetdicom import AE
from pynetdicom.sop_class import ModalityWorklistInformationFind  # type: ignore[attr-defined]
from PySide6.QtCore import QAbstractItemModel
from PySide6.QtWidgets import QFileDialog
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from tests.helpers import rawdicom
from tests.helpers.samples import write_entry
from wldesk.core.events import AssociationEvent, InputEvent, QueryEvent
from wldesk.core.logs import REDACTED
from wldesk.core.net.scu import find as scu_find
from wldesk.core.profile import Profile
from wldesk.core.settings import KnownModality
from wldesk.gui.activity_tab import (
    MAX_ROWS,
    ActivityModel,
    ActivityTab,
    export_rows,
    query_summary,
    status_category,
    status_label,
)
from wldesk.gui.controller import ServerController

A = ActivityModel


def check(tester: ModelTester, model: QAbstractItemModel) -> None:
    """Qt's QAbstractItemModelTester on ``model`` (it stays attached: later changes are checked)."""
    tester.check(model)  # type: ignore[no-untyped-call]


@pytest.fixture
def tab(qtbot: QtBot, controller: ServerController) -> ActivityTab:
    made = ActivityTab(controller)
    qtbot.addWidget(made)
    return made


@pytest.fixture
def running(qtbot: QtBot, controller: ServerController) -> ServerController:
    controller.start()
    qtbot.waitUntil(lambda: controller.state == "running", timeout=5000)
    return controller


def worklist_query(modality: str = "CT", date: str = "20261127-20261127", **top: str) -> Dataset:
    ds = Dataset()
    ds.PatientName = ""
    ds.PatientID = ""
    ds.AccessionNumber = ""
    for keyword, value in top.items():
        setattr(ds, keyword, value)
    step = Dataset()
    step.Modality = modality
    step.ScheduledProcedureStepStartDate = date
    step.ScheduledStationAETitle = ""
    ds.ScheduledProcedureStepSequence = Sequence([step])
    return ds


def find(controller: ServerController, query: Dataset, calling: str) -> list[int]:
    """One association, one C-FIND, released: the statuses the server sent."""
    ae = AE(ae_title=calling)
    ae.add_requested_context(ModalityWorklistInformationFind)
    assoc = ae.associate("127.0.0.1", controller.settings.port, ae_title="WLDESK")
    assert assoc.is_established
    try:
        statuses = scu_find(assoc, query).statuses
    finally:
        assoc.release()
    return statuses


def rows(model: ActivityModel, kind: str | None = None, text: str = "") -> list[int]:
    """Source rows of ``kind`` ("query", "association", "server") whose Query column contains
    ``text``."""
    return [r for r in range(model.rowCount())
            if (kind is None or model.row(r).kind == kind) and text in model.cell(r, A.QUERY)]


def shown(tab: ActivityTab) -> list[int]:
    """The source rows the filters show, in the table's order."""
    proxy = tab.proxy
    return [proxy.mapToSource(proxy.index(r, 0)).row() for r in range(proxy.rowCount())]


def select(tab: ActivityTab, source_row: int) -> None:
    tab.table.selectRow(tab.proxy.mapFromSource(tab.model.index(source_row, 0)).row())


@pytest.mark.expect_log_warnings(r"invalid query: ScheduledProcedureStepStartDate",
                                 r"is not a known modality")
def test_queries_details_filters_export(qtbot: QtBot, qtmodeltester: ModelTester, tab: ActivityTab, *,
                                        running: ServerController, worklist_folder: Path,
                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = tab.model
    check(qtmodeltester, model)
    write_entry(worklist_folder, "a.wl", accession="ACC-1")
    write_entry(worklist_folder, "b.wl", accession="ACC-2", patient="ROE^JANE")
    write_entry(worklist_folder, "c.wl", accession="ACC-3", modality="MR", station="MR1")
    assert find(running, worklist_query(OperatorsName="SOMEONE"), "SCANNER1") == [0xFF01, 0xFF01, 0x0000]
    assert find(running, worklist_query(date="next tuesday"), "OTHER")[-1] == 0xA900
    qtbot.waitUntil(lambda: len(rows(model, "query")) == 2
                    and len(rows(model, "association", "released")) == 2, timeout=5000)
    check(qtmodeltester, model)
    check(qtmodeltester, tab.proxy)

    ok, failed = rows(model, "query")
    assert [model.cell(ok, c) for c in (A.CALLING_AET, A.ADDRESS, A.MATCHES, A.STATUS)] == [
        "SCANNER1", "127.0.0.1", "2", "Success (0x0000)"]
    assert model.cell(ok, A.QUERY) == \
        "OperatorsName=SOMEONE Modality=CT Date=20261127-20261127"
    assert float(model.cell(ok, A.DURATION)) >= 0
    assert model.cell(ok, A.TIME) == model.row(ok).event.time.strftime("%H:%M:%S")
    assert [model.cell(failed, c) for c in (A.CALLING_AET, A.MATCHES)] == ["OTHER", "0"]
    failed_event = model.row(failed).event
    assert isinstance(failed_event, QueryEvent) and failed_event.status == 0xA900
    assert "0xA900" in model.cell(failed, A.STATUS)  # the code shows whatever the text says
    kinds = [model.cell(r, A.QUERY).split()[-1] for r in rows(model, "association")
             if model.cell(r, A.CALLING_AET) == "SCANNER1"]
    assert kinds == ["requested", "accepted", "released"]
    assert model.cell(rows(model, "association")[0], A.ADDRESS).startswith("127.0.0.1:")
    [started] = rows(model, "server")  # the server's own events show too, before the queries
    assert started == 0
    assert model.cell(started, A.STATUS) == "server started"
    assert model.cell(started, A.QUERY).startswith(f"WLDESK listening on 127.0.0.1:{running.settings.port}")
    assert model.cell(started, A.CALLING_AET) == model.cell(started, A.MATCHES) == ""

    # details of the selected query
    select(tab, ok)
    details = tab.details_text()
    for line in ("Calling AE title: SCANNER1", "Status: Success (0x0000)", "Files considered: 3",
                 "Matches: 2", "Sent: 2", "  OperatorsName = SOMEONE  [not used for matching]",
                 "  Modality = CT", "  PatientName (return key)", "  ACC-1, ACC-2"):
        assert line in details.splitlines(), line
    assert "Not used for matching: OperatorsName" in details
    select(tab, failed)
    assert "  ScheduledProcedureStepStartDate = next tuesday" in tab.details_text().splitlines()
    tab.table.clearSelection()
    assert tab.details_text() == ""

    # the calling AETs seen so far; filters by AET and status
    combo = tab.aet_combo
    assert [combo.itemText(i) for i in range(combo.count())] == ["All calling AETs", "OTHER", "SCANNER1"]
    combo.setCurrentIndex(combo.findData("OTHER"))
    assert shown(tab) and all(model.cell(r, A.CALLING_AET) == "OTHER" for r in shown(tab))
    assert len(shown(tab)) == 4  # requested, accepted, the query, released
    tab.status_combo.setCurrentText("Failure")
    assert shown(tab) == [failed]
    combo.setCurrentIndex(0)
    tab.status_combo.setCurrentText("Success")
    assert shown(tab) == [ok]
    tab.status_combo.setCurrentText("Cancel")
    assert shown(tab) == []
    tab.status_combo.setCurrentText("All")
    tab.associations_check.setChecked(False)
    assert sorted(shown(tab)) == [started, ok, failed]

    # a refused association shows even with association events hidden; a new AET joins the combo
    running.bus.emit(AssociationEvent(kind="rejected", association_id=99, calling_aet="INTRUDER",
                                      called_aet="WLDESK", address="10.0.0.9", port=4000,
                                      reason="calling AE title 'INTRUDER' is not a known modality"))
    qtbot.waitUntil(lambda: model.rowCount() == 10, timeout=5000)
    refused = model.rowCount() - 1
    assert refused in shown(tab)
    assert model.cell(refused, A.STATUS) == "rejected: calling AE title 'INTRUDER' is not a known modality"
    assert combo.findData("INTRUDER") == 1
    tab.status_combo.setCurrentText("Refused")
    assert shown(tab) == [refused]
    select(tab, refused)
    assert "Reason: calling AE title 'INTRUDER' is not a known modality" in tab.details_text()
    assert tab.count_label.text() == "1 of 10 rows"
    check(qtmodeltester, tab.proxy)

    # export of the rows shown, newest first as in the table
    tab.status_combo.setCurrentText("All")
    tab.associations_check.setChecked(True)
    combo.setCurrentIndex(combo.findData("SCANNER1"))
    target = tmp_path / "activity.tsv"
    tab.export_to(target)
    lines = target.read_text(encoding="utf-8").splitlines()
    assert lines[0].split("\t") == list(A.COLUMNS)
    assert len(lines) == 1 + 4
    cells = [line.split("\t") for line in lines[1:]]
    assert all(len(c) == 7 and c[1] == "SCANNER1" for c in cells)
    assert cells[0][3] == "association #1 released"
    query_line = next(c for c in cells if c[4] == "2")
    assert query_line[0] == model.row(ok).event.time.isoformat(timespec="seconds")
    assert query_line[6] == "Success (0x0000)"
    # Export… › Rows shown here asks for a file name, then writes the same
    chosen = tmp_path / "chosen.tsv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda *args, **kwargs: (str(chosen), "Tab-separated text (*.tsv *.txt)"))
    assert tab.export_rows_action in tab.export_button.menu().actions()
    tab.export_rows_action.trigger()
    assert chosen.read_bytes() == target.read_bytes()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: ("", ""))
    tab.export_rows_action.trigger()  # cancelled: nothing happens


def test_redaction(qtbot: QtBot, qtmodeltester: ModelTester, tab: ActivityTab, *,
                   running: ServerController, worklist_folder: Path, tmp_path: Path) -> None:
    model = tab.model
    check(qtmodeltester, model)
    write_entry(worklist_folder, "a.wl", patient="DOE^JOHN", accession="ACC-7")
    find(running, worklist_query(PatientName="DOE*"), "SCANNER1")
    qtbot.waitUntil(lambda: len(rows(model, "query")) == 1, timeout=5000)
    row = rows(model, "query")[0]
    select(tab, row)
    assert model.cell(row, A.QUERY) == "Name=DOE* Modality=CT Date=20261127-20261127"
    assert "  PatientName = DOE*" in tab.details_text().splitlines()
    assert "  ACC-7" in tab.details_text().splitlines()

    with qtbot.waitSignal(model.dataChanged, timeout=1000):
        running.apply_settings(dataclasses.replace(running.settings, redact_patient_data=True))
    assert model.cell(row, A.QUERY) == f"Name={REDACTED} Modality=CT Date=20261127-20261127"
    details = tab.details_text()
    assert "DOE" not in details and "ACC-7" not in details
    assert f"  PatientName = {REDACTED}" in details.splitlines()
    assert "  Modality = CT" in details.splitlines()
    assert f"  {REDACTED}" in details.splitlines()  # the accession number
    target = tmp_path / "redacted.tsv"
    tab.export_to(target)
    assert "DOE" not in target.read_text(encoding="utf-8")
    # a query arriving now is redacted as well; turning it off shows the values again
    find(running, worklist_query(PatientID="ID-ACC-7"), "SCANNER1")
    qtbot.waitUntil(lambda: len(rows(model, "query")) == 2, timeout=5000)
    assert model.cell(rows(model, "query")[1], A.QUERY).startswith(f"PatientID={REDACTED} ")
    running.apply_settings(dataclasses.replace(running.settings, redact_patient_data=False))
    assert model.cell(rows(model, "query")[1], A.QUERY).startswith("PatientID=ID-ACC-7 ")
    assert "ACC-7" in tab.details_text()
    check(qtmodeltester, model)


def query_event(number: int, calling: str = "MOD") -> QueryEvent:
    return QueryEvent(association_id=number, calling_aet=calling, address="10.0.0.1",
                      keys={"Modality": "CT"}, files_considered=1, matches=1, returned=1,
                      duration_ms=1.0, status=0, status_text="Success (0x0000)")


def number_at(model: ActivityModel, row: int) -> int:
    """The association number of a query row."""
    event = model.event_at(row)
    assert isinstance(event, QueryEvent)
    return event.association_id


def test_bounded_rows(qtbot: QtBot, qtmodeltester: ModelTester, tab: ActivityTab,
                      controller: ServerController) -> None:
    model = tab.model
    assert model.max_rows == MAX_ROWS == 5000
    removed: list[tuple[int, int]] = []
    model.rowsRemoved.connect(lambda _parent, first, last: removed.append((first, last)))
    controller.bus.emit(query_event(0))
    qtbot.waitUntil(lambda: model.rowCount() == 1, timeout=5000)
    select(tab, 0)  # the oldest row: dropped below, and its details with it
    assert tab.details_text()
    for number in range(1, MAX_ROWS + 1):
        controller.bus.emit(query_event(number))
    qtbot.waitUntil(lambda: number_at(model, model.rowCount() - 1) == MAX_ROWS,
                    timeout=10000)
    assert model.rowCount() == MAX_ROWS
    assert number_at(model, 0) == 1
    assert removed == [(0, 0)]
    assert tab.details_text() == ""
    assert tab.count_label.text() == f"{MAX_ROWS} rows"
    check(qtmodeltester, model)

    # (the tester re-checks every row on every change: it watches a small model meanwhile)
    small = ActivityModel(max_rows=3)
    check(qtmodeltester, small)
    small.add_events([query_event(n) for n in range(2)])
    small.add_events([query_event(n) for n in range(2, 7)])  # more than fit: the newest 3
    assert [number_at(small, r) for r in range(3)] == [4, 5, 6]
    small.add_events([query_event(7)])
    assert [number_at(small, r) for r in range(3)] == [5, 6, 7]
    small.clear()
    assert small.rowCount() == 0

    for number in range(MAX_ROWS + 1, MAX_ROWS + 4):
        controller.bus.emit(query_event(number))
    qtbot.waitUntil(lambda: number_at(model, model.rowCount() - 1) == MAX_ROWS + 3,
                    timeout=5000)
    assert model.rowCount() == MAX_ROWS
    assert number_at(model, 0) == 4
    assert removed == [(0, 0), (0, 2)]
    assert tab.proxy.rowCount() == MAX_ROWS
    check(qtmodeltester, model)


def test_texts(tmp_path: Path) -> None:
    keys = {"PatientName": "DOE^JOHN", "PatientID": "", "Modality": "CT",
            "ScheduledProcedureStepStartDate": "20261127-20261127", "AccessionNumber": "A1"}
    assert query_summary(keys, False) == "Name=DOE^JOHN Modality=CT Date=20261127-20261127 Accession=A1"
    assert query_summary(keys, True) == \
        f"Name={REDACTED} Modality=CT Date=20261127-20261127 Accession={REDACTED}"
    assert query_summary({"PatientName": ""}, False) == "(all entries)"
    assert [status_category(dataclasses.replace(query_event(1), status=s))
            for s in (0x0000, 0xFE00, 0xA700, 0xA900, 0xC001)] == [
        "Success", "Cancel", "Refused", "Failure", "Failure"]
    association = AssociationEvent(kind="accepted", association_id=1, calling_aet="X", called_aet="Y",
                                   address="10.0.0.1", port=1)
    assert [status_category(dataclasses.replace(association, kind=k))
            for k in ("requested", "accepted", "released", "rejected", "aborted")] == [
        "", "", "", "Refused", "Failure"]
    target = tmp_path / "rows.tsv"
    export_rows(target, [["a\tb", "line\nbreak"], ["ü", ""]], header=["One", "Two"])
    assert target.read_bytes() == "One\tTwo\na b\tline break\nü\t\n".encode()
    assert [p.name for p in tmp_path.iterdir()] == ["rows.tsv"]  # no temporary file left
    with pytest.raises(OSError):
        export_rows(tmp_path / "missing" / "rows.tsv", [])


@pytest.mark.expect_log_warnings(r"rejected .*proposed no SOP class this server offers")
def test_association_proposing_only_other_sop_classes_shows_as_refused(
        qtbot: QtBot, tab: ActivityTab, running: ServerController) -> None:
    """The most common misconfiguration: a modality set to Study Root Q/R FIND instead of
    Modality Worklist. It shows as refused, naming what was proposed."""
    model = tab.model
    answer = rawdicom.request(running.settings.port, rawdicom.associate_rq(
        calling=b"CT_ROOM_1", abstract_syntaxes=(rawdicom.STUDY_ROOT_FIND,)))
    assert answer[0] == rawdicom.A_ASSOCIATE_RJ
    qtbot.waitUntil(lambda: bool(rows(model, "association", "rejected")), timeout=5000)
    [refused] = rows(model, "association", "rejected")
    tab.associations_check.setChecked(False)
    tab.status_combo.setCurrentText("Refused")
    assert shown(tab) == [refused]
    assert model.cell(refused, A.CALLING_AET) == "CT_ROOM_1"
    assert "proposed no SOP class this server offers" in model.cell(refused, A.STATUS)
    select(tab, refused)
    lines = tab.details_text().splitlines()
    assert "  Study Root Query/Retrieve Information Model - FIND (1.2.840.10008.5.1.4.1.2.2.1)" \
        in lines
    assert "Proposed SOP classes this server does not offer (1):" in lines


def test_invalid_query_redacted() -> None:
    event = dataclasses.replace(
        query_event(1), keys={"ScheduledProcedureStepStartDate": "DOE^JOHN", "Modality": "CT"},
        status=0xA900, status_text="invalid query: Date: 'DOE^JOHN' is not a date",
        redacted_status_text="invalid query: Date: <redacted> is not a date",
        invalid_keys=("ScheduledProcedureStepStartDate",))
    assert query_summary(event.keys, True, event.invalid_keys) == f"Date={REDACTED} Modality=CT"
    assert "DOE" not in status_label(event, True) and "DOE" in status_label(event, False)


@pytest.mark.expect_log_warnings(r"HL7 from RIS \(10\.0\.0\.5\): refused: no accession number")
def test_orders_from_channels_show_with_their_channel(qtbot: QtBot, tab: ActivityTab,
                                                      controller: ServerController) -> None:
    controller.bus.emit(InputEvent("HL7", "created", "RIS (10.0.0.5)", "ACC1/SPS1", "ACC1_SPS1.wl",
                                   "no modality in the order: OT"))
    controller.bus.emit(InputEvent("HL7", "refused", "RIS (10.0.0.5)",
                                   detail="no accession number"))
    qtbot.waitUntil(lambda: tab.model.rowCount() == 2, timeout=5000)
    model = tab.model
    assert [model.cell(0, c) for c in (ActivityModel.CALLING_AET, ActivityModel.ADDRESS,
                                       ActivityModel.QUERY, ActivityModel.STATUS)] == [
        "HL7", "RIS (10.0.0.5)", "created ACC1/SPS1 ACC1_SPS1.wl",
        "created: no modality in the order: OT"]
    assert [model.row(r).category for r in range(2)] == ["Success", "Refused"]
    assert model.details(1) == ("Order through HL7 at "
                                f"{model.event_at(1).time.isoformat(sep=' ', timespec='seconds')}\n"
                                "HL7 from RIS (10.0.0.5): refused: no accession number")


def test_a_strict_profiles_late_and_withheld_entries_are_named_in_the_details(
        qtbot: QtBot, tab: ActivityTab, controller: ServerController,
        worklist_folder: Path) -> None:
    write_entry(worklist_folder, "good.wl", accession="ACC-1")
    write_entry(worklist_folder, "bad.wl", accession="ACC-2", time="")  # no SPS Start Time
    profiles = {"CT1": Profile(strict=True), "CT2": Profile(strict=True, withhold_invalid=True)}
    controller.apply_settings(controller.settings.replace(modalities=tuple(
        KnownModality(title, title, "", profile) for title, profile in profiles.items())))
    controller.start()
    qtbot.waitUntil(lambda: controller.state == "running", timeout=5000)
    model = tab.model
    for calling in profiles:
        assert find(controller, worklist_query(), calling)[-1] == 0x0000
    qtbot.waitUntil(lambda: len(rows(model, "query")) == 2, timeout=5000)
    details = {}
    for row in rows(model, "query"):
        select(tab, row)
        details[model.cell(row, A.CALLING_AET)] = tab.details_text().splitlines()
    late, withheld = details["CT1"], details["CT2"]
    assert "Profile of this modality: strict" in late
    assert late[late.index("Sent after the others (they break a strict rule) (1):") + 1] == \
        "  bad.wl: no ScheduledProcedureStepStartTime"
    assert "Sent: 2" in late and not any(line.startswith("Withheld") for line in late)
    assert "Profile of this modality: strict, withholding invalid entries" in withheld
    assert withheld[withheld.index("Withheld (they break a strict rule) (1):") + 1] == \
        "  bad.wl: no ScheduledProcedureStepStartTime"
    assert "Matches: 2" in withheld and "Sent: 1" in withheld
