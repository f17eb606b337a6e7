"""The Worklist tab against a real controller and store: real files, live updates."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid
from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QIcon
from PySide6.QtTest import QTest
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from tests.gui.conftest import OpenedUrls
from tests.helpers.mpps import finished, performed, send_mpps
from tests.helpers.samples import write_entry
from wldesk.core.store import Snapshot, read_entry
from wldesk.gui.controller import ServerController
from wldesk.gui.entry_text import readable_name, scheduled_text
from wldesk.gui.mpps_dialog import PerformedStepsDialog
from wldesk.gui.worklist_tab import (
    PATH_ROLE,
    RAW_ROLE,
    SORT_ROLE,
    ProblemsModel,
    WorklistFilter,
    WorklistModel,
    WorklistTab,
    summary_text,
)

M = WorklistModel


@pytest.fixture
def tab(qtbot: QtBot, fast: ServerController) -> WorklistTab:
    made = WorklistTab(fast)
    qtbot.addWidget(made)
    return made


def check(tester: ModelTester, model: QAbstractItemModel) -> None:
    """Qt's QAbstractItemModelTester on ``model`` (it stays attached: later changes are checked)."""
    tester.check(model)  # type: ignore[no-untyped-call]


def row_of(model: WorklistModel, name: str) -> int:
    rows = [r for r in range(model.rowCount()) if model.entry(r).name == name]
    assert len(rows) == 1, name
    return rows[0]


def cell(model: WorklistModel, name: str, column: int, role: int = Qt.ItemDataRole.DisplayRole) -> object:
    return model.data(model.index(row_of(model, name), column), role)


def shown_files(tab: WorklistTab) -> list[str]:
    proxy = tab.proxy
    return [proxy.data(proxy.index(r, M.FILE)) for r in range(proxy.rowCount())]


def replace_entry(folder: Path, name: str, **values: str) -> Path:
    """Write an entry beside the folder, then rename it over ``name``: the store never sees it
    half-written, so the change is one version of the file, not a problem and a repair."""
    staging = folder.parent / "staging"
    staging.mkdir(exist_ok=True)
    target = folder / name
    os.replace(write_entry(staging, name, **values), target)
    return target


def write_two_steps(folder: Path, name: str) -> Path:
    path = write_entry(folder, name, patient="MÜLLER^ANNA", accession="B7", station="MR1",
                       modality="MR", date="20261128", time="0815")
    ds = dcmread(path)
    second = Dataset()
    second.ScheduledStationAETitle = "CT2"
    second.Modality = "CT"
    second.ScheduledProcedureStepStartDate = "20261129"
    second.ScheduledProcedureStepStartTime = "140000"
    second.ScheduledProcedureStepID = "S-B7-2"
    second.ScheduledProcedureStepDescription = "Chest"
    ds.ScheduledProcedureStepSequence = Sequence([*ds.ScheduledProcedureStepSequence, second])
    ds.save_as(path, enforce_file_format=True)
    return path


def write_incomplete(folder: Path, name: str) -> Path:
    """An entry without a Study Instance UID and a step description: modalities drop it."""
    path = write_entry(folder, name, patient="ROE^RICHARD", accession="C3", modality="US",
                       station="US1", date="20261126", time="120000")
    ds = dcmread(path)
    del ds.StudyInstanceUID
    del ds.ScheduledProcedureStepSequence[0].ScheduledProcedureStepDescription
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.mark.expect_log_warnings(r"skipped: not a DICOM file")
def test_entries_problems_and_live_updates(qtbot: QtBot, qtmodeltester: ModelTester, tab: WorklistTab,
                                           worklist_folder: Path) -> None:
    model, problems = tab.model, tab.problems_model
    assert model.rowCount() == 0
    write_entry(worklist_folder, "a.wl", patient="DOE^JOHN", accession="A1", date="20261127",
                time="103000")
    write_two_steps(worklist_folder, "b.wl")
    write_incomplete(worklist_folder, "c.wl")
    (worklist_folder / "bad.wl").write_bytes(b"this is not a DICOM file")
    (worklist_folder / "notes.txt").write_text("not a worklist file")
    qtbot.waitUntil(lambda: model.rowCount() == 3 and problems.rowCount() == 1, timeout=5000)
    check(qtmodeltester, model)
    check(qtmodeltester, problems)
    check(qtmodeltester, tab.proxy)

    assert [model.entry(r).name for r in range(3)] == ["c.wl", "a.wl", "b.wl"]  # by date and time
    assert [model.data(model.index(row_of(model, "a.wl"), c)) for c in range(8)] == [
        "DOE, JOHN", "ID-A1", "A1", "CT", "CT1", "2026-11-27 10:30", "Step", "a.wl"]
    assert cell(model, "a.wl", M.PATIENT, RAW_ROLE) == "DOE^JOHN"
    assert cell(model, "a.wl", M.FILE, PATH_ROLE) == worklist_folder / "a.wl"
    # two steps: one row, the steps' values joined
    assert [model.data(model.index(row_of(model, "b.wl"), c)) for c in range(8)] == [
        "MÜLLER, ANNA", "ID-B7", "B7", "MR, CT", "MR1, CT2", "2026-11-28 08:15, 2026-11-29 14:00",
        "Step, Chest", "b.wl"]
    # no step description: the requested procedure's
    assert cell(model, "c.wl", M.DESCRIPTION) == "Exam"

    # only the entry lacking keys carries the warning, with the problems in its tool tip
    icon = cell(model, "c.wl", M.PATIENT, Qt.ItemDataRole.DecorationRole)
    assert isinstance(icon, QIcon) and not icon.isNull()
    tip = str(cell(model, "c.wl", M.PATIENT, Qt.ItemDataRole.ToolTipRole))
    assert "missing or empty StudyInstanceUID" in tip
    assert "ScheduledProcedureStepDescription" in tip
    assert "ROE^RICHARD" in tip
    assert model.missing(row_of(model, "a.wl")) == ()
    assert cell(model, "a.wl", M.PATIENT, Qt.ItemDataRole.DecorationRole) is None
    assert "many modalities expect exactly one" in str(
        cell(model, "b.wl", M.PATIENT, Qt.ItemDataRole.ToolTipRole))

    reason = controller_reason = tab.controller.snapshot().problems[0].reason
    assert problems.data(problems.index(0, 0)) == "bad.wl"
    assert problems.data(problems.index(0, 1)) == controller_reason
    assert problems.data(problems.index(0, 0), PATH_ROLE) == worklist_folder / "bad.wl"
    assert reason
    assert tab.summary.text() == "3 entries, 1 problem file"
    assert not tab.problems_box.isHidden()

    # select a.wl; delete b.wl, change a.wl, repair bad.wl: rows follow without a reset
    proxy_row = tab.proxy.mapFromSource(model.index(row_of(model, "a.wl"), 0)).row()
    tab.table.selectRow(proxy_row)
    assert tab.selected_paths() == [worklist_folder / "a.wl"]
    resets: list[bool] = []
    model.modelReset.connect(lambda: resets.append(True))
    (worklist_folder / "b.wl").unlink()
    qtbot.waitUntil(lambda: model.rowCount() == 2, timeout=5000)
    assert [model.entry(r).name for r in range(2)] == ["c.wl", "a.wl"]
    with qtbot.waitSignal(model.dataChanged, timeout=5000):
        replace_entry(worklist_folder, "a.wl", patient="DOE^JOHN", accession="A1-CHANGED")
    assert cell(model, "a.wl", M.ACCESSION) == "A1-CHANGED"
    replace_entry(worklist_folder, "bad.wl", patient="FIXED^FRED", accession="F1")
    qtbot.waitUntil(lambda: model.rowCount() == 3 and problems.rowCount() == 0, timeout=5000)
    assert cell(model, "bad.wl", M.PATIENT) == "FIXED, FRED"
    assert tab.selected_paths() == [worklist_folder / "a.wl"]
    assert not resets
    assert tab.summary.text() == "3 entries, 0 problem files"
    assert tab.problems_box.isHidden()
    check(qtmodeltester, model)
    check(qtmodeltester, problems)
    check(qtmodeltester, tab.proxy)


def test_filter_and_sort(qtbot: QtBot, qtmodeltester: ModelTester, tab: WorklistTab,
                         worklist_folder: Path) -> None:
    write_entry(worklist_folder, "1.wl", patient="SMITH^ANNA", accession="X1", modality="MR",
                station="MR1", date="20270101", time="0700")
    write_entry(worklist_folder, "2.wl", patient="doe^john", accession="X2", modality="CT",
                station="CT1", date="20261231", time="235900")
    write_entry(worklist_folder, "3.wl", patient="BROWN^BOB", accession="X3", modality="CT",
                station="CT2", date="20261231", time="0930")
    qtbot.waitUntil(lambda: tab.model.rowCount() == 3, timeout=5000)
    proxy = tab.proxy
    check(qtmodeltester, proxy)

    # default: by scheduled date and time, chronologically
    assert shown_files(tab) == ["3.wl", "2.wl", "1.wl"]
    tab.table.sortByColumn(M.SCHEDULED, Qt.SortOrder.DescendingOrder)
    assert shown_files(tab) == ["1.wl", "2.wl", "3.wl"]
    tab.table.sortByColumn(M.PATIENT, Qt.SortOrder.AscendingOrder)  # any case
    assert shown_files(tab) == ["3.wl", "2.wl", "1.wl"]
    for column in range(M.FILE + 1):  # every column sorts
        tab.table.sortByColumn(column, Qt.SortOrder.AscendingOrder)
        assert proxy.data(proxy.index(0, column), SORT_ROLE) is not None
    tab.table.sortByColumn(M.STATION, Qt.SortOrder.DescendingOrder)
    assert shown_files(tab) == ["1.wl", "3.wl", "2.wl"]

    # the filter matches any column, any case, and the name as stored
    tab.filter_edit.setText("ct")
    assert sorted(shown_files(tab)) == ["2.wl", "3.wl"]
    assert tab.summary.text() == "3 entries, 0 problem files (2 shown)"
    tab.filter_edit.setText("SMITH^")
    assert shown_files(tab) == ["1.wl"]
    tab.filter_edit.setText("2026-12-31 23:59")
    assert shown_files(tab) == ["2.wl"]
    tab.filter_edit.setText("DOE, JOHN")
    assert shown_files(tab) == ["2.wl"]
    tab.filter_edit.setText("nothing like this")
    assert shown_files(tab) == []
    # a file arriving while filtered shows only if it matches
    write_entry(worklist_folder, "4.wl", patient="NOTHING LIKE THIS", accession="X4")
    write_entry(worklist_folder, "5.wl", patient="OTHER^ONE", accession="X5")
    qtbot.waitUntil(lambda: tab.model.rowCount() == 5, timeout=5000)
    assert shown_files(tab) == ["4.wl"]
    tab.filter_edit.clear()
    assert proxy.rowCount() == 5
    assert tab.summary.text() == "5 entries, 0 problem files"
    check(qtmodeltester, proxy)


@pytest.mark.qt_log_ignore("does not support propagateSizeHints")  # the offscreen platform
def test_double_click_opens_the_entry(qtbot: QtBot, tab: WorklistTab, worklist_folder: Path) -> None:
    write_entry(worklist_folder, "a.wl", accession="A1")
    write_entry(worklist_folder, "b.wl", accession="B1", date="20261128")
    qtbot.waitUntil(lambda: tab.model.rowCount() == 2, timeout=5000)
    tab.resize(900, 500)
    tab.show()
    qtbot.waitExposed(tab)
    index = tab.proxy.mapFromSource(tab.model.index(row_of(tab.model, "b.wl"), M.ACCESSION))
    center = tab.table.visualRect(index).center()
    QTest.mouseClick(tab.table.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, center)
    assert tab.selected_paths() == [worklist_folder / "b.wl"]
    with qtbot.waitSignal(tab.open_entry, timeout=2000) as blocker:
        QTest.mouseDClick(tab.table.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                          center)
    assert blocker.args == [worklist_folder / "b.wl"]


def test_minimal_updates(qtbot: QtBot, qtmodeltester: ModelTester, worklist_folder: Path) -> None:
    """Set entries directly: removals and insertions in runs, changes as dataChanged, no reset."""
    names = [f"{n:02d}.wl" for n in range(10)]
    template = write_entry(worklist_folder, "template.wl").read_bytes()
    for name in names:
        (worklist_folder / name).write_bytes(template)
    entries = {name: read_entry(worklist_folder / name) for name in names}
    model = WorklistModel()
    check(qtmodeltester, model)
    events: list[tuple[str, int, int]] = []
    model.rowsInserted.connect(lambda _p, first, last: events.append(("insert", first, last)))
    model.rowsRemoved.connect(lambda _p, first, last: events.append(("remove", first, last)))
    model.dataChanged.connect(lambda first, last, _roles: events.append(
        ("change", first.row(), last.row())))
    model.modelReset.connect(lambda: events.append(("reset", 0, 0)))

    model.set_entries([entries[n] for n in names[:3] + names[6:]])
    assert events == [("insert", 0, 6)]
    events.clear()
    model.set_entries([entries[n] for n in names])  # 03, 04, 05 arrive in the middle
    assert events == [("insert", 3, 5)]
    events.clear()
    model.set_entries([entries[n] for n in names])  # nothing changed
    assert events == []
    changed = read_entry(worklist_folder / "04.wl")
    model.set_entries([entries[n] for n in names[:4]] + [changed] + [entries[n] for n in names[5:]])
    assert events == [("change", 4, 4)]
    events.clear()
    # 00, 01 and 08 go, 10 arrives at the end, 05 changes: in reverse order, as runs
    (worklist_folder / "10.wl").write_bytes(template)
    entries["04.wl"] = changed
    new = [entries[n] for n in names[2:8] if n != "05.wl"] + [read_entry(worklist_folder / "05.wl"),
                                                             entries["09.wl"],
                                                             read_entry(worklist_folder / "10.wl")]
    model.set_entries(list(reversed(new)))
    assert events == [("remove", 8, 8), ("remove", 0, 1), ("change", 3, 3), ("insert", 7, 7)]
    assert [model.entry(r).name for r in range(model.rowCount())] == [
        "02.wl", "03.wl", "04.wl", "05.wl", "06.wl", "07.wl", "09.wl", "10.wl"]
    assert model.entry(2) is changed
    events.clear()

    # sorted (descending accession), a new entry is inserted where it sorts, a changed one moves
    kept = [model.entry(r) for r in range(model.rowCount())]
    layouts: list[bool] = []
    model.layoutChanged.connect(lambda *_args: layouts.append(True))
    model.sort(M.ACCESSION, Qt.SortOrder.DescendingOrder)  # all "A1": by file name, descending
    assert [model.entry(r).name for r in range(model.rowCount())] == [
        "10.wl", "09.wl", "07.wl", "06.wl", "05.wl", "04.wl", "03.wl", "02.wl"]
    assert layouts == [True]
    persistent = QPersistentModelIndex(model.index(1, 0))  # 09.wl: followed through changes
    (worklist_folder / "11.wl").write_bytes(template)
    eleven = read_entry(worklist_folder / "11.wl")
    model.set_entries([*kept, eleven])
    assert events == [("insert", 0, 0)]
    events.clear()
    high = replace_entry(worklist_folder, "03.wl", accession="Z9")
    model.set_entries([*kept[:1], read_entry(high), *kept[2:], eleven])
    assert events == [("change", 7, 7)]
    assert layouts == [True, True]
    assert [model.entry(r).name for r in range(model.rowCount())][:3] == ["03.wl", "11.wl", "10.wl"]
    assert persistent.row() == 3 and model.entry(persistent.row()).name == "09.wl"
    model.set_entries([])
    assert model.rowCount() == 0
    check(qtmodeltester, model)

    problems = ProblemsModel()
    check(qtmodeltester, problems)
    assert problems.rowCount(QModelIndex()) == 0
    assert problems.rowCount(QPersistentModelIndex(QModelIndex())) == 0
    assert problems.headerData(1, Qt.Orientation.Horizontal) == "Reason"


def test_texts() -> None:
    assert readable_name("DOE^JOHN") == "DOE, JOHN"
    assert readable_name("DOE^JOHN^PAUL^DR^JR") == "DOE, DR JOHN PAUL, JR"
    assert readable_name("Yamada^Tarou=山田^太郎") == "Yamada, Tarou = 山田, 太郎"
    assert readable_name("=山田^太郎") == "山田, 太郎"
    assert readable_name("SINGLE") == "SINGLE"
    assert readable_name("^GIVEN") == "GIVEN"
    assert readable_name("") == ""
    assert scheduled_text("20261127", "103000") == "2026-11-27 10:30"
    assert scheduled_text("20261127", "10:30:00.5") == "2026-11-27 10:30"
    assert scheduled_text("20261127", "09") == "2026-11-27 09:00"
    assert scheduled_text("20261127", "") == "2026-11-27"
    assert scheduled_text("2026-1", "later") == "2026-1 later"
    assert summary_text(Snapshot((), ())) == "0 entries, 0 problem files"
    assert summary_text(Snapshot((), (), "cannot read the worklist folder /x (gone)")) == \
        "0 entries, 0 problem files — cannot read the worklist folder /x (gone)"


def test_shows_what_the_first_indexing_has_read_so_far(
        qtbot: QtBot, fast: ServerController, worklist_folder: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """While the store indexes the folder (maybe holding its lock), the tab shows the entries read
    so far, taking them off the GUI thread: it never asks the store on the GUI thread then."""
    controller = fast
    write_entry(worklist_folder, "a.wl")
    ready: list[bool] = []
    real = controller.store.wait_ready
    monkeypatch.setattr(controller.store, "wait_ready",
                        lambda timeout=None: bool(ready) and real(timeout))
    asked: list[bool] = []
    snapshot = controller.snapshot

    def counted() -> Snapshot:
        asked.append(True)
        return snapshot()

    monkeypatch.setattr(controller, "snapshot", counted)
    tab = WorklistTab(controller)
    qtbot.addWidget(tab)
    assert tab.summary.text().startswith("Reading the worklist folder…")
    assert tab.pages.currentWidget() is not tab.hint  # not "no entries yet"
    qtbot.waitUntil(lambda: tab.model.rowCount() == 1, timeout=5000)
    assert tab.summary.text() == "Reading the worklist folder… 1 entry, 0 problem files"
    assert not asked
    ready.append(True)
    qtbot.waitUntil(lambda: tab.summary.text() == "1 entry, 0 problem files", timeout=5000)


def test_filter_ignores_case_accents_and_name_separators(qtbot: QtBot, tab: WorklistTab,
                                                         worklist_folder: Path) -> None:
    write_entry(worklist_folder, "mueller.wl", patient="MÜLLER^HANS", accession="M1")
    write_entry(worklist_folder, "odegard.wl", patient="Ødegård^Åse", accession="O1")
    write_entry(worklist_folder, "strasse.wl", patient="Straße^Eva", accession="S1")
    write_entry(worklist_folder, "doe.wl", patient="DOE^JOHN", accession="D1", station="MR1")
    qtbot.waitUntil(lambda: tab.model.rowCount() == 4, timeout=5000)
    for typed, found in [("muller", ["mueller.wl"]), ("MULLER", ["mueller.wl"]),
                         ("hans muller", ["mueller.wl"]),  # the name typed naturally
                         ("Müller, Hans", ["mueller.wl"]),  # as the table shows it
                         ("muller^hans", ["mueller.wl"]),
                         ("odegard", ["odegard.wl"]), ("ase odegard", ["odegard.wl"]),
                         ("strasse", ["strasse.wl"]), ("STRAßE", ["strasse.wl"]),
                         ("john mr1", ["doe.wl"]),  # words from different columns
                         ("hans doe", []), ("mullerx", []), ("zzz", [])]:
        tab.filter_edit.setText(typed)
        assert sorted(shown_files(tab)) == found, typed
    assert tab.summary.text() == "4 entries, 0 problem files (0 shown)"
    tab.filter_edit.setText(" ^ ")  # no word to look for: everything shows
    assert tab.proxy.rowCount() == 4
    assert tab.summary.text() == "4 entries, 0 problem files"


def test_filtering_ten_thousand_entries_keeps_the_matching_rows(qtbot: QtBot,
                                                               worklist_folder: Path) -> None:
    """Each keystroke compares the typed words with the text folded once per entry (when its row
    is made): typing a name letter by letter narrows 10,000 entries to the right ones."""
    names = ("MÜLLER^HANS", "Ødegård^Åse", "DOE^JOHN", "SMITH^ANNA")
    read = [read_entry(write_entry(worklist_folder, f"{n}.wl", patient=name, accession=f"A{n}"))
            for n, name in enumerate(names)]
    entries = [dataclasses.replace(read[n % 4], name=f"{n:05d}.wl") for n in range(10_000)]
    model = WorklistModel()
    model.set_entries(entries)
    proxy = WorklistFilter()
    proxy.setSourceModel(model)
    for typed in ("m", "mu", "mul", "mull", "mulle", "muller", "muller h", "muller ha"):
        proxy.set_text(typed)
    assert proxy.rowCount() == 2_500
    assert all("MÜLLER" in proxy.index(row, 0).data() for row in range(2_500))
    proxy.set_text("odegard ase")
    assert proxy.rowCount() == 2_500
    proxy.set_text("muller anna")
    assert proxy.rowCount() == 0


@pytest.mark.expect_log_warnings(r"skipped: not a DICOM file")
def test_problem_file_names_are_readable(qtbot: QtBot, tab: WorklistTab, worklist_folder: Path) -> None:
    name = "RIS-export-2026-11-27-cardiology-department-CT-room-1-morning-list.wl"
    write_entry(worklist_folder, "a.wl")
    (worklist_folder / name).write_bytes(b"this is not a DICOM file")
    tab.resize(900, 500)
    tab.show()
    qtbot.waitExposed(tab)
    qtbot.waitUntil(lambda: tab.problems_model.rowCount() == 1, timeout=5000)
    table = tab.problems_table
    index = tab.problems_proxy.index(0, 0)
    assert index.data() == name
    text_width = table.fontMetrics().horizontalAdvance(name) + table.iconSize().width()
    assert table.columnWidth(0) >= text_width
    # the reason takes the rest of the width; cut short, its tool tip holds all of it
    reason = tab.controller.snapshot().problems[0].reason
    assert table.columnWidth(0) + table.columnWidth(1) <= table.viewport().width()
    assert tab.problems_proxy.index(0, 1).data(Qt.ItemDataRole.ToolTipRole) == reason


@pytest.mark.expect_log_warnings(r"skipped: not a DICOM file")
def test_an_empty_folder_says_where_entries_come_from(qtbot: QtBot, tab: WorklistTab,
                                                      worklist_folder: Path,
                                                      opened_urls: OpenedUrls) -> None:
    tab.resize(900, 500)
    tab.show()
    qtbot.waitExposed(tab)
    qtbot.waitUntil(tab.hint.isVisible, timeout=5000)
    assert not tab.table.isVisible() and not tab.filter_edit.isVisible()
    assert str(worklist_folder) in tab.hint.folder.text()
    assert tab.hint.folder_error.isHidden()
    assert tab.summary.text() == "0 entries, 0 problem files"
    tab.hint.open_button.click()
    assert [u.toLocalFile() for u in opened_urls.urls] == [str(worklist_folder)]
    with qtbot.waitSignal(tab.new_entry_requested, timeout=1000):
        tab.hint.new_button.click()

    # a file the server cannot serve is something to look at: the tables show
    bad = worklist_folder / "bad.wl"
    bad.write_bytes(b"this is not a DICOM file")
    qtbot.waitUntil(tab.problems_table.isVisible, timeout=5000)
    assert not tab.hint.isVisible()
    bad.unlink()
    qtbot.waitUntil(tab.hint.isVisible, timeout=5000)
    write_entry(worklist_folder, "a.wl")
    qtbot.waitUntil(tab.table.isVisible, timeout=5000)
    assert not tab.hint.isVisible() and tab.filter_edit.isVisible()
    assert tab.proxy.rowCount() == 1
    assert tab.station_titles() == ["CT1"]


@pytest.mark.expect_log_warnings(r"cannot read the worklist folder")
def test_a_missing_folder_says_so_in_the_hint(qtbot: QtBot, tab: WorklistTab,
                                             worklist_folder: Path) -> None:
    worklist_folder.rmdir()
    qtbot.waitUntil(lambda: not tab.hint.folder_error.isHidden(), timeout=5000)
    assert tab.pages.currentWidget() is tab.hint
    assert tab.hint.folder_error.text().startswith(f"Cannot read the worklist folder {worklist_folder}")
    assert "Settings tab" in tab.hint.folder_error.text()


def test_the_context_menu_shows_the_performed_steps(qtbot: QtBot, tab: WorklistTab,
                                                    fast: ServerController,
                                                    worklist_folder: Path) -> None:
    path = write_entry(worklist_folder, "a.wl", accession="A1")
    write_entry(worklist_folder, "b.wl", accession="B1")
    study_uid = str(dcmread(path).StudyInstanceUID)
    fast.start()
    qtbot.waitUntil(lambda: fast.state == "running", timeout=10000)
    uid = generate_uid()
    assert send_mpps(fast.settings.port, uid, performed(("A1", "S-A1", study_uid))).Status == 0
    assert send_mpps(fast.settings.port, uid, finished(), create=False).Status == 0
    qtbot.waitUntil(lambda: tab.model.rowCount() == 2, timeout=5000)
    tab.resize(900, 500)
    tab.show()
    qtbot.waitExposed(tab)

    def open_from_menu(name: str) -> PerformedStepsDialog:
        before = tab.performed_steps
        index = tab.proxy.mapFromSource(tab.model.index(row_of(tab.model, name), M.ACCESSION))
        menu = tab.context_menu(index)
        assert menu is not None
        assert [a.text() for a in menu.actions()] == ["Open…", "Performed steps (MPPS)…"]
        menu.actions()[1].trigger()
        qtbot.waitUntil(lambda: tab.performed_steps not in (None, before), timeout=5000)
        dialog = tab.performed_steps
        assert dialog is not None
        return dialog

    dialog = open_from_menu("a.wl")
    assert dialog.table.rowCount() == 1
    assert [dialog.table.item(0, c).text() for c in range(5)  # type: ignore[union-attr]
            ] == [
        "COMPLETED", "2026-12-02 09:05", "2026-12-02 09:30", "CT room 1", "CT1"]
    assert json.loads(dialog.json.toPlainText())["00080018"]["Value"] == [uid]
    dialog.grab().save(str(worklist_folder.parent / "mpps_dialog.png"))
    dialog.close()

    empty = open_from_menu("b.wl")
    assert empty.table.rowCount() == 0
    assert "No modality has reported performing accession B1" in empty.label.text()
    empty.close()
