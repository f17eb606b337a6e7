"""The Worklist tab's day view against a real controller, store, server and files."""

from __future__ import annotations

import dataclasses
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid
from pynetdicom import AE
from pynetdicom.sop_class import ModalityWorklistInformationFind  # type: ignore[attr-defined]
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtGui import QColor
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from tests.helpers.mpps import finished, performed, send_mpps
from tests.helpers.samples import name_query, write_entry
from wldesk.core.events import Event, InputEvent, QueryEvent
from wldesk.core.flow.status import set_step_status
from wldesk.core.net.scu import find
from wldesk.core.store import read_entry
from wldesk.gui import controller as controller_module
from wldesk.gui.controller import ServerController
from wldesk.gui.day_model import STATUS_TEXT_COLOUR, DayModel, DayStep, status_text
from wldesk.gui.day_view import DayView, day_title
from wldesk.gui.worklist_tab import WorklistTab

D = DayModel
TODAY = date.today()
DAY = TODAY.strftime("%Y%m%d")
TOMORROW = (TODAY + timedelta(days=1)).strftime("%Y%m%d")


@pytest.fixture
def tab(qtbot: QtBot, fast: ServerController) -> WorklistTab:
    made = WorklistTab(fast)
    qtbot.addWidget(made)
    made.day_button.setChecked(True)
    made.show()
    return made


def shown(view: DayView) -> list[tuple[str, list[tuple[str, str]]]]:
    """Each group's title and its rows' (time, file) as the model has them, in order."""
    model = view.model
    groups = []
    for number in range(model.rowCount()):
        parent = model.index(number, 0)
        rows = [(model.index(r, D.TIME, parent).data(), model.index(r, D.FILE, parent).data())
                for r in range(model.rowCount(parent))]
        groups.append((parent.data(), rows))
    return groups


def where(view: DayView, name: str, step: int = 0) -> tuple[int, int]:
    """The (group, row) of ``name``'s step ``step``."""
    model = view.model
    for number, group in enumerate(model.groups):
        for row, found in enumerate(group.steps):
            if found.key == (name, step):
                return number, row
    raise AssertionError(f"{name} step {step} is not shown")


def cell(view: DayView, name: str, column: int, role: int = Qt.ItemDataRole.DisplayRole,
         step: int = 0) -> object:
    number, row = where(view, name, step)
    model = view.model
    return model.index(row, column, model.index(number, 0)).data(role)


def choose(view: DayView, *names: str) -> None:
    selection = view.tree.selectionModel()
    selection.clear()
    model = view.model
    for name in names:
        number, row = where(view, name)
        selection.select(model.index(row, 0, model.index(number, 0)),
                         QItemSelectionModel.SelectionFlag.Select
                         | QItemSelectionModel.SelectionFlag.Rows)


def status_of(path: Path, step: int = 0) -> str:
    return str(dcmread(path).ScheduledProcedureStepSequence[step].get(
        "ScheduledProcedureStepStatus", ""))


def two_step_entry(folder: Path) -> Path:
    path = write_entry(folder, "two.wl", accession="T2", modality="CT", station="CT1", date=DAY,
                       time="1400")
    ds = dcmread(path)
    second = Dataset()
    second.ScheduledStationAETitle = "US1"
    second.Modality = "US"
    second.ScheduledProcedureStepStartDate = DAY
    second.ScheduledProcedureStepStartTime = "0700"
    second.ScheduledProcedureStepID = "S-T2-B"
    ds.ScheduledProcedureStepSequence = Sequence([*ds.ScheduledProcedureStepSequence, second])
    ds.save_as(path)
    return path


def test_shows_the_chosen_days_steps_grouped_by_modality_and_station_in_time_order(
        qtbot: QtBot, tab: WorklistTab, worklist_folder: Path) -> None:
    for name, modality, station, day, clock in (
            ("ct-late.wl", "CT", "CT1", DAY, "1500"), ("mr.wl", "MR", "MR1", DAY, "0900"),
            ("ct-early.wl", "CT", "CT1", DAY, "0815"), ("ct2.wl", "CT", "CT2", DAY, "1000"),
            ("tomorrow.wl", "CT", "CT1", TOMORROW, "0800")):
        write_entry(worklist_folder, name, accession=name[:-3], modality=modality,
                    station=station, date=day, time=clock)
    view = tab.day_view
    qtbot.waitUntil(lambda: view.model.step_count() == 4)
    assert tab.pages.currentWidget() is view
    assert shown(view) == [
        ("CT — CT1   (2 steps)", [("08:15", "ct-early.wl"), ("15:00", "ct-late.wl")]),
        ("CT — CT2   (1 step)", [("10:00", "ct2.wl")]),
        ("MR — MR1   (1 step)", [("09:00", "mr.wl")]),
    ]
    assert view.summary.text() == f"4 steps on {day_title(TODAY)}"
    assert all(view.tree.isExpanded(view.model.index(n, 0)) for n in range(3))
    tab.all_button.click()
    assert tab.pages.currentWidget() is tab.tables
    assert not tab.day_button.isChecked()
    tab.day_button.click()
    assert tab.pages.currentWidget() is view


def test_each_step_of_an_entry_shows_in_its_group_with_its_own_status(
        qtbot: QtBot, tab: WorklistTab, worklist_folder: Path) -> None:
    path = two_step_entry(worklist_folder)
    view = tab.day_view
    qtbot.waitUntil(lambda: view.model.step_count() == 2)
    assert shown(view) == [("CT — CT1   (1 step)", [("14:00", "two.wl")]),
                           ("US — US1   (1 step)", [("07:00", "two.wl (step 2)")])]
    number, row = where(view, "two.wl", 1)
    view.tree.selectionModel().select(
        view.model.index(row, 0, view.model.index(number, 0)),
        QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows)
    view.buttons["COMPLETED"].click()
    qtbot.waitUntil(lambda: cell(view, "two.wl", D.STATUS, step=1) == "done")
    assert status_of(path, 1) == "COMPLETED"
    assert status_of(path, 0) == ""
    assert cell(view, "two.wl", D.STATUS) == "scheduled"


def test_status_shows_as_words_and_a_readable_colour(
        qtbot: QtBot, fast: ServerController, worklist_folder: Path) -> None:
    words = {"": "scheduled", "SCHEDULED": "scheduled", "ARRIVED": "arrived", "READY": "ready",
             "STARTED": "in progress", "COMPLETED": "done", "DISCONTINUED": "discontinued"}
    for number, status in enumerate(words):
        path = write_entry(worklist_folder, f"{number}.wl", accession=f"S{number}", date=DAY)
        if status:
            fast.channels.ledger.update_file(path, set_step_status(status))
    view = DayView(fast)
    qtbot.addWidget(view)
    view.show()
    fast.store_changed.connect(lambda: view.set_entries(fast.snapshot().entries))
    qtbot.waitUntil(lambda: view.model.step_count() == len(words))
    colours = {}
    for number, text in enumerate(words.values()):
        name = f"{number}.wl"
        assert cell(view, name, D.STATUS) == text
        brush = cell(view, name, D.STATUS, Qt.ItemDataRole.BackgroundRole)
        if text == "scheduled":
            assert brush is None
            continue
        colours[text] = brush.color().name()  # type: ignore[attr-defined]
        ink = cell(view, name, D.STATUS, Qt.ItemDataRole.ForegroundRole)
        assert ink.color() == QColor(STATUS_TEXT_COLOUR)  # type: ignore[attr-defined]
        assert QColor(colours[text]).lightness() > 180  # dark text on a light colour
    assert len(set(colours.values())) == 4  # arrived and ready share one; the others differ


def test_who_queried_is_filled_after_a_real_c_find(
        qtbot: QtBot, tab: WorklistTab, fast: ServerController, worklist_folder: Path) -> None:
    write_entry(worklist_folder, "asked.wl", accession="Q1", modality="CT", date=DAY)
    write_entry(worklist_folder, "other.wl", accession="Q2", modality="MR", date=DAY)
    view = tab.day_view
    qtbot.waitUntil(lambda: view.model.step_count() == 2)
    fast.start()
    qtbot.waitUntil(lambda: fast.state == "running", timeout=5000)
    ae = AE(ae_title="CT_ROOM_1")
    ae.add_requested_context(ModalityWorklistInformationFind)
    assoc = ae.associate("127.0.0.1", fast.settings.port, ae_title="WLDESK")
    assert assoc.is_established
    try:
        assert len(find(assoc, name_query("", Modality="CT")).answers) == 1
    finally:
        assoc.release()
    qtbot.waitUntil(lambda: str(cell(view, "asked.wl", D.QUERIED)).startswith("CT_ROOM_1, "))
    asked = fast.queried["Q1"]
    assert cell(view, "asked.wl", D.QUERIED) == \
        f"CT_ROOM_1, {asked.time.astimezone():%H:%M}"
    assert cell(view, "other.wl", D.QUERIED) == ""


def test_the_controller_remembers_the_latest_queries_only(
        qtbot: QtBot, fast: ServerController, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(controller_module, "QUERIED_KEPT", 3)

    def query(calling: str, *accessions: str) -> QueryEvent:
        return QueryEvent(1, calling, "127.0.0.1", {}, 5, len(accessions), len(accessions), 1.0,
                          0, "Success", accession_numbers=accessions)

    fast.bus.emit(query("CT1", "A", "B", "C"))
    fast.bus.emit(query("MR1", "D", "A"))
    qtbot.waitUntil(lambda: "D" in fast.queried)
    assert list(fast.queried) == ["C", "D", "A"]
    assert fast.queried["A"].calling_aet == "MR1"
    assert fast.queried["C"].calling_aet == "CT1"


def test_mark_done_rewrites_only_the_status_and_the_view_follows(
        qtbot: QtBot, tab: WorklistTab, fast: ServerController, worklist_folder: Path) -> None:
    path = write_entry(worklist_folder, "exam.wl", accession="D1", date=DAY)
    before = dcmread(path)
    events: list[Event] = []
    fast.bus.subscribe(events.append)
    view = tab.day_view
    qtbot.waitUntil(lambda: view.model.step_count() == 1)
    assert cell(view, "exam.wl", D.PERFORMED) == ""
    choose(view, "exam.wl")
    assert view.buttons["COMPLETED"].isEnabled()
    clicked = datetime.now().astimezone()
    view.buttons["COMPLETED"].click()
    qtbot.waitUntil(lambda: cell(view, "exam.wl", D.STATUS) == "done")
    after = dcmread(path)
    assert after.ScheduledProcedureStepSequence[0].ScheduledProcedureStepStatus == "COMPLETED"
    del after.ScheduledProcedureStepSequence[0].ScheduledProcedureStepStatus
    assert after == before
    assert after.file_meta == before.file_meta
    status, seen = view.tracker.changed_at[("exam.wl", 0)]
    assert status == "COMPLETED"
    assert clicked <= seen <= datetime.now().astimezone()
    assert cell(view, "exam.wl", D.PERFORMED) == f"{seen:%H:%M}"
    assert view.outcome.text() == "1 step set to done."
    window = [e for e in events if isinstance(e, InputEvent) and e.channel == "Window"]
    assert len(window) == 1
    assert (window[0].action, window[0].order, window[0].file) == ("updated", "D1/S-D1",
                                                                   "exam.wl")
    assert window[0].detail == "status set to COMPLETED (step S-D1)"
    assert window[0].source
    choose(view, "exam.wl")  # the step stays chosen across the update
    assert not view.buttons["COMPLETED"].isEnabled()
    view.buttons["SCHEDULED"].click()
    qtbot.waitUntil(lambda: cell(view, "exam.wl", D.STATUS) == "scheduled")
    assert status_of(path) == "SCHEDULED"


def test_discontinue_asks_first(qtbot: QtBot, tab: WorklistTab, worklist_folder: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_entry(worklist_folder, "exam.wl", accession="X1", date=DAY)
    asked: list[str] = []
    answer = [QMessageBox.StandardButton.Cancel]

    def question(_parent: object, title: str, text: str, *_args: object) -> object:
        asked.append(text)
        return answer[0]

    monkeypatch.setattr(QMessageBox, "question", question)
    view = tab.day_view
    qtbot.waitUntil(lambda: view.model.step_count() == 1)
    choose(view, "exam.wl")
    unchanged = path.read_bytes()
    view.buttons["DISCONTINUED"].click()
    assert asked == ["Discontinue the step of DOE, JOHN? Modalities will no longer be asked to "
                     "perform it. You can set it back to scheduled with Reset to scheduled."]
    assert path.read_bytes() == unchanged
    assert view.outcome.text() == ""
    answer[0] = QMessageBox.StandardButton.Yes
    view.buttons["DISCONTINUED"].click()
    qtbot.waitUntil(lambda: cell(view, "exam.wl", D.STATUS) == "discontinued")
    assert status_of(path) == "DISCONTINUED"
    assert len(asked) == 2


@pytest.mark.expect_log_warnings(r"Window from .*: failed \(gone.wl\): status STARTED")
def test_a_file_that_cannot_be_rewritten_says_so(
        qtbot: QtBot, tab: WorklistTab, worklist_folder: Path) -> None:
    path = write_entry(worklist_folder, "gone.wl", accession="G1", date=DAY)
    view = tab.day_view
    qtbot.waitUntil(lambda: view.model.step_count() == 1)
    choose(view, "gone.wl")
    path.unlink()
    view.buttons["STARTED"].click()
    qtbot.waitUntil(lambda: not view.problem.isHidden())
    assert view.problem.text() == "Not changed: gone.wl: gone.wl is not in the worklist folder"
    assert view.outcome.text() == "0 steps set to in progress."


def test_date_navigation(qtbot: QtBot, tab: WorklistTab, worklist_folder: Path) -> None:
    yesterday = (TODAY - timedelta(days=1)).strftime("%Y%m%d")
    for name, day in (("y.wl", yesterday), ("t.wl", DAY), ("n.wl", TOMORROW)):
        write_entry(worklist_folder, name, accession=name[:1], date=day)
    view = tab.day_view
    qtbot.waitUntil(lambda: view.model.step_count() == 1)
    assert view.day() == TODAY
    assert [f for _, rows in shown(view) for _, f in rows] == ["t.wl"]
    view.next_button.click()
    assert view.day() == TODAY + timedelta(days=1)
    assert [f for _, rows in shown(view) for _, f in rows] == ["n.wl"]
    view.next_button.click()
    assert view.model.step_count() == 0
    assert not view.empty.isHidden() and view.tree.isHidden()
    assert view.empty.text() == f"Nothing is scheduled on {day_title(TODAY + timedelta(days=2))}."
    view.today_button.click()
    view.previous_button.click()
    assert [f for _, rows in shown(view) for _, f in rows] == ["y.wl"]
    view.show_day(TODAY)
    assert [f for _, rows in shown(view) for _, f in rows] == ["t.wl"]


def test_the_steps_are_read_once_the_day_view_shows(
        qtbot: QtBot, fast: ServerController, worklist_folder: Path) -> None:
    write_entry(worklist_folder, "a.wl", accession="A1", date=DAY)
    tab = WorklistTab(fast)
    qtbot.addWidget(tab)
    tab.show()
    qtbot.waitUntil(lambda: tab.model.rowCount() == 1)
    assert tab.day_view.model.step_count() == 0  # the table only: no step read yet
    tab.day_button.click()
    assert tab.day_view.model.step_count() == 1


def test_the_keyboard_reaches_the_steps(qtbot: QtBot, tab: WorklistTab,
                                        worklist_folder: Path) -> None:
    write_entry(worklist_folder, "k.wl", accession="K1", date=DAY)
    view = tab.day_view
    qtbot.waitUntil(lambda: view.model.step_count() == 1)
    view.tree.setFocus()
    view.tree.setCurrentIndex(view.model.index(0, 0))
    assert not view.buttons["COMPLETED"].isEnabled()  # a group's row chooses no step
    QTest.keyClick(view.tree, Qt.Key.Key_Down)
    assert [step.key for step in view.selected_steps()] == [("k.wl", 0)]
    assert view.buttons["COMPLETED"].isEnabled()


def test_ten_thousand_steps_on_a_day_are_grouped_once(
        qtbot: QtBot, fast: ServerController, worklist_folder: Path) -> None:
    one = read_entry(write_entry(worklist_folder, "base.wl", accession="B1", date=DAY))
    entries = [dataclasses.replace(one, name=f"{n:05}.wl") for n in range(10_000)]
    view = DayView(fast)
    qtbot.addWidget(view)
    view.show()
    started = time.perf_counter()
    view.set_entries(entries)
    qtbot.waitExposed(view)
    took = time.perf_counter() - started
    assert view.model.step_count() == 10_000
    assert took < 10, took
    resets: list[int] = []
    view.model.modelReset.connect(lambda: resets.append(1))
    started = time.perf_counter()
    view.set_entries(entries)  # the same snapshot again: nothing to regroup
    assert resets == []
    assert time.perf_counter() - started < 2
    first = view.model.groups[0].steps[0]
    assert isinstance(first, DayStep) and first.key == ("00000.wl", 0)


def test_performed_shows_the_modalitys_mpps_report(
        qtbot: QtBot, tab: WorklistTab, fast: ServerController, worklist_folder: Path) -> None:
    path = write_entry(worklist_folder, "mpps.wl", accession="M1", modality="CT", date=DAY)
    write_entry(worklist_folder, "other.wl", accession="M2", modality="CT", date=DAY)
    view = tab.day_view
    qtbot.waitUntil(lambda: view.model.step_count() == 2)
    fast.start()
    qtbot.waitUntil(lambda: fast.state == "running", timeout=5000)
    study = str(dcmread(path).StudyInstanceUID)
    uid = generate_uid()
    assert send_mpps(fast.settings.port, uid, performed(("M1", "S-M1", study))).Status == 0
    qtbot.waitUntil(lambda: cell(view, "mpps.wl", D.PERFORMED) == "09:05 (in progress)",
                    timeout=10000)
    assert send_mpps(fast.settings.port, uid, finished(), create=False).Status == 0
    qtbot.waitUntil(lambda: cell(view, "mpps.wl", D.PERFORMED) == "09:05 \N{EN DASH} 09:30 "
                                                                   "(completed)", timeout=10000)
    qtbot.waitUntil(lambda: cell(view, "mpps.wl", D.STATUS) == status_text("COMPLETED"))
    assert "MPPS from CT1: started 2026-12-02 09:05, ended 2026-12-02 09:30" in str(
        cell(view, "mpps.wl", D.PERFORMED, Qt.ItemDataRole.ToolTipRole))
    assert cell(view, "other.wl", D.PERFORMED) == ""
