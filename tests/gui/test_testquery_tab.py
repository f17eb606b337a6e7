"""The Test query tab against the real server (over the network) and without it (locally).

The query, its sending and the explanation without Qt: tests/core/net/test_probe.py."""

from __future__ import annotations

import shlex
import subprocess
import threading
from datetime import date, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QAbstractItemModel, QDate, Qt
from PySide6.QtGui import QGuiApplication
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from tests.helpers.dcmtk import dcmtk_tool
from tests.helpers.samples import write_test_query_entries
from wldesk.core.net.probe import Outcome
from wldesk.core.settings import KnownModality
from wldesk.gui.controller import ServerController
from wldesk.gui.testquery_tab import RowsModel
from wldesk.gui.testquery_tab import TestQueryTab as Tab

TODAY = date.today()
TOMORROW = TODAY + timedelta(days=1)
WAIT_MS = 15000


@pytest.fixture
def entries(worklist_folder: Path) -> Path:
    return write_test_query_entries(worklist_folder, TODAY)


def start(qtbot: QtBot, controller: ServerController) -> None:
    controller.start()
    qtbot.waitUntil(lambda: controller.state == "running", timeout=10000)


def restart(qtbot: QtBot, controller: ServerController, **changes: object) -> None:
    controller.apply_settings(controller.settings.replace(**changes))
    controller.restart()
    qtbot.waitUntil(lambda: controller.state == "running", timeout=10000)


def make_tab(qtbot: QtBot, controller: ServerController) -> Tab:
    tab = Tab(controller)
    qtbot.addWidget(tab)
    return tab


def fill(tab: Tab, *, calling: str = "TESTQUERY", when: str = "today", modality: str = "",
         station: str = "", patient: str = "") -> None:
    tab.calling_aet.setCurrentText(calling)
    {"today": tab.date_today, "range": tab.date_range, "any": tab.date_any}[when].setChecked(True)
    tab.modality.setCurrentText(modality)
    tab.station.setText(station)
    tab.patient_name.setText(patient)


def run(qtbot: QtBot, tab: Tab, button: str = "run") -> Outcome:
    with qtbot.waitSignal(tab.finished, timeout=WAIT_MS) as blocker:
        (tab.run_button if button == "run" else tab.explain_button).click()
    outcome = blocker.args[0] if blocker.args else None
    assert isinstance(outcome, Outcome)
    return outcome


def check_model(tester: ModelTester, model: QAbstractItemModel) -> None:
    tester.check(model)  # type: ignore[no-untyped-call]  # pytest-qt's check() has no annotations


def reasons(tab: Tab) -> dict[str, str]:
    return {row[0]: row[1] for row in tab.others_model.rows()}


def accessions(tab: Tab) -> list[str]:
    return [row[2] for row in tab.answers_model.rows()]


# --- the network -----------------------------------------------------------------------------------

@pytest.mark.expect_log_warnings(r"skipped: not a DICOM file")
def test_ct_today_as_ct1_answers_the_ct_and_explains_the_others(
        qtbot: QtBot, controller: ServerController, entries: Path, qtmodeltester: ModelTester) -> None:
    start(qtbot, controller)
    tab = make_tab(qtbot, controller)
    shown_in: list[threading.Thread] = []
    tab.finished.connect(lambda _: shown_in.append(threading.current_thread()))
    fill(tab, calling="CT1", modality="CT")
    outcome = run(qtbot, tab)
    assert shown_in == [threading.main_thread()]  # the worker's result reached the GUI thread
    assert outcome.sent and outcome.ok
    assert tab.status_label.text().startswith("1 answer, Success (0x0000), ")
    assert tab.status_label.text().endswith(" ms")
    assert accessions(tab) == ["A1"]
    row = tab.answers_model.rows()[0]
    assert row[:5] == ("DOE^JOHN", "ID-A1", "A1", "CT", "CT1")
    assert row[5] == f"{TODAY:%Y-%m-%d} 10:30"
    why = reasons(tab)
    assert set(why) == {"mr-today.wl", "ct-tomorrow.wl", "broken.wl"}
    assert "modality MR ≠ CT" in why["mr-today.wl"]
    assert f"{TOMORROW:%Y%m%d}" in why["ct-tomorrow.wl"]
    assert "date" in why["ct-tomorrow.wl"]
    assert why["broken.wl"].startswith("file not served: ")
    assert tab.answers_box.title() == "Answers (1)"
    assert tab.others_box.title() == "Entries that did not match (3)"
    assert tab.explain_button.isHidden()
    check_model(qtmodeltester, tab.answers_model)
    check_model(qtmodeltester, tab.others_model)


@pytest.mark.expect_log_warnings(r"skipped: not a DICOM file")
def test_filter_issuer_aet_is_explained(qtbot: QtBot, controller: ServerController,
                                        entries: Path) -> None:
    start(qtbot, controller)
    restart(qtbot, controller, filter_issuer_aet=True)
    tab = make_tab(qtbot, controller)
    assert "FilterIssuerAet" in tab.target_label.text()
    fill(tab, calling="CT2", when="any")
    outcome = run(qtbot, tab)
    assert outcome.sent and outcome.ok
    assert tab.status_label.text().startswith("0 answers, Success (0x0000)")
    why = reasons(tab)
    assert why["ct-today.wl"] == "scheduled for CT1, not for the calling AE title CT2 (FilterIssuerAet)"
    assert why["mr-today.wl"].endswith("(FilterIssuerAet)")
    # the modality's own AE title gets its steps (the CT of today and of tomorrow)
    fill(tab, calling="CT1", when="any")
    run(qtbot, tab)
    assert accessions(tab) == ["A1", "C1"]
    assert reasons(tab)["mr-today.wl"] == (
        "scheduled for MR1, not for the calling AE title CT1 (FilterIssuerAet)")


@pytest.mark.expect_log_warnings(r"skipped: not a DICOM file")
def test_wildcard_patient_name(qtbot: QtBot, controller: ServerController, entries: Path) -> None:
    start(qtbot, controller)
    tab = make_tab(qtbot, controller)
    fill(tab, when="any", patient="mül*")  # case-insensitive; non-ASCII: the query says UTF-8
    run(qtbot, tab)
    assert accessions(tab) == ["B1"]
    assert tab.answers_model.rows()[0][0] == "MÜLLER^HANS"
    assert reasons(tab)["ct-today.wl"] == "patient name DOE^JOHN ≠ mül*"
    fill(tab, when="any", patient="D?E^*")
    run(qtbot, tab)
    assert accessions(tab) == ["A1", "C1"]


@pytest.mark.expect_log_warnings(r"skipped: not a DICOM file")
def test_date_range(qtbot: QtBot, controller: ServerController, entries: Path) -> None:
    start(qtbot, controller)
    tab = make_tab(qtbot, controller)
    fill(tab, when="range", modality="CT")
    later = TOMORROW + timedelta(days=5)
    tab.date_from.setDate(QDate(later.year, later.month, later.day))  # the wrong way round: swapped
    tab.date_to.setDate(QDate(TOMORROW.year, TOMORROW.month, TOMORROW.day))
    assert tab.form().date_value == f"{TOMORROW:%Y%m%d}-{TOMORROW + timedelta(days=5):%Y%m%d}"
    run(qtbot, tab)
    assert accessions(tab) == ["C1"]


@pytest.mark.expect_log_warnings(
    r"is not a known modality",
    r"Association Rejected|Result: Rejected Permanent|Calling AE title not recognised",
    r"skipped: not a DICOM file",
)
def test_access_control_rejection(qtbot: QtBot, controller: ServerController, entries: Path) -> None:
    start(qtbot, controller)
    tab = make_tab(qtbot, controller)
    restart(qtbot, controller, allow_unknown_modalities=False,
            modalities=(KnownModality(name="CT room 1", ae_title="CT1"),))
    assert tab.calling_aet.findText("CT1") >= 0  # the known modalities are offered
    fill(tab, calling="TESTQUERY")
    outcome = run(qtbot, tab)
    assert not outcome.sent and outcome.offer_local
    assert tab.status_label.text().startswith(
        "association rejected: calling AE title not recognised (TESTQUERY is not allowed to query")
    assert not tab.explain_button.isHidden()
    assert tab.answers_model.rowCount() == 0
    fill(tab, calling="CT1", modality="CT")
    run(qtbot, tab)
    assert accessions(tab) == ["A1"]


@pytest.mark.expect_log_warnings(r"skipped: not a DICOM file")
def test_server_not_running_explains_locally(qtbot: QtBot, controller: ServerController,
                                             entries: Path) -> None:
    assert controller.state == "stopped"
    tab = make_tab(qtbot, controller)
    assert not tab.explain_button.isHidden()
    fill(tab, calling="CT1", modality="CT")
    tab.run_button.click()  # answered at once: nothing to send
    assert "server not running" in tab.status_label.text()
    assert "Explain locally" in tab.status_label.text()
    outcome = run(qtbot, tab, "explain")
    assert not outcome.sent and outcome.ok
    assert "worked out locally, nothing was sent: 1 entry would match" in tab.status_label.text()
    assert "worked out locally" in tab.answers_box.title()
    assert accessions(tab) == ["A1"]
    why = reasons(tab)
    assert "modality MR ≠ CT" in why["mr-today.wl"]
    assert why["broken.wl"].startswith("file not served: ")


def test_invalid_calling_aet(qtbot: QtBot, controller: ServerController) -> None:
    tab = make_tab(qtbot, controller)
    fill(tab, calling="A-TITLE-FAR-TOO-LONG")
    tab.run_button.click()
    assert tab.status_label.text().startswith("cannot query: an AE title has at most 16 characters")


# --- findscu -----------------------------------------------------------------------------------------

@pytest.mark.expect_log_warnings(r"skipped: not a DICOM file")
def test_copy_as_findscu_command(qtbot: QtBot, controller: ServerController, entries: Path,
                                 tmp_path: Path) -> None:
    start(qtbot, controller)
    tab = make_tab(qtbot, controller)
    fill(tab, calling="CT1", modality="CT")
    tab.copy_button.click()
    command = QGuiApplication.clipboard().text()
    port = controller.settings.port
    assert command.startswith(f"findscu -W -aet CT1 -aec WLDESK 127.0.0.1 {port} -k ")
    args = shlex.split(command)
    keys = [args[i + 1] for i, arg in enumerate(args) if arg == "-k"]
    day = f"{TODAY:%Y%m%d}"
    assert keys == [
        "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "AccessionNumber",
        "RequestedProcedureDescription", "StudyInstanceUID", "RequestedProcedureID",
        "ScheduledProcedureStepSequence[0].ScheduledStationAETitle",
        f"ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate={day}-{day}",
        "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartTime",
        "ScheduledProcedureStepSequence[0].Modality=CT",
        "ScheduledProcedureStepSequence[0].ScheduledProcedureStepDescription",
        "ScheduledProcedureStepSequence[0].ScheduledProcedureStepID",
    ]
    outcome = run(qtbot, tab)
    findscu = dcmtk_tool("findscu")
    if findscu is None:
        pytest.skip("DCMTK's findscu is not installed")
    out = tmp_path / "answers"
    out.mkdir()
    done = subprocess.run([findscu, "-X", "-od", str(out), *args[1:]], capture_output=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(list(out.glob("rsp*.dcm"))) == len(outcome.answers) == 1


# --- pieces -------------------------------------------------------------------------------------------

def test_rows_model(qtmodeltester: ModelTester) -> None:
    model = RowsModel(("File", "Why"))
    check_model(qtmodeltester, model)
    model.set_rows([("a.wl", "modality MR ≠ CT"), ("b.wl", "file not served: truncated")])
    check_model(qtmodeltester, model)
    assert model.rowCount() == 2 and model.columnCount() == 2
    assert model.data(model.index(1, 1)) == "file not served: truncated"
    assert model.headerData(0, Qt.Orientation.Horizontal) == "File"
