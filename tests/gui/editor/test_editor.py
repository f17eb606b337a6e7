"""The tag editor on real files: model edits with undo, validation, elements and items, character
sets, saving (atomic, unchanged bytes, failures, files changed on disk), archive, text import and
export, and the main window opening entries."""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import shiboken6
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid
from PySide6.QtCore import QLocale, QModelIndex, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMenu, QMessageBox, QWidget
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from tests.helpers.mpps import performed, send_mpps
from tests.helpers.samples import raw_text, worklist_dataset, write_entry, write_wl
from wldesk.core.editing.document import load_document
from wldesk.core.editing.entries import archive_folder
from wldesk.core.editing.errors import EditError
from wldesk.gui.controller import ServerController
from wldesk.gui.editor.model import MISSING_BRUSH, VR_ROLE, DatasetModel
from wldesk.gui.editor.widgets import DateEditor, PersonNameEditor, ValueLineEditor
from wldesk.gui.editor.window import EditorWindow
from wldesk.gui.mainwindow import MainWindow

SPS = "ScheduledProcedureStepSequence"
Button = QMessageBox.StandardButton


class Boxes:
    """Message boxes answered without showing them: what was asked, what was warned."""

    def __init__(self) -> None:
        self.answer = Button.Discard
        self.questions: list[str] = []
        self.warnings: list[str] = []

    def question(self, _parent: QWidget | None, _title: str, text: str, *_args: object) -> Button:
        self.questions.append(text)
        return self.answer

    def warning(self, _parent: QWidget | None, _title: str, text: str, *_args: object) -> Button:
        self.warnings.append(text)
        return Button.Ok


@pytest.fixture(autouse=True)
def boxes(monkeypatch: pytest.MonkeyPatch) -> Boxes:
    made = Boxes()
    monkeypatch.setattr(QMessageBox, "question", made.question)
    monkeypatch.setattr(QMessageBox, "warning", made.warning)
    return made


def check(tester: ModelTester, model: DatasetModel) -> None:
    """Qt's QAbstractItemModelTester on ``model`` (it stays attached: later changes are checked)."""
    tester.check(model, force_py=False)  # type: ignore[no-untyped-call]


def sample(**values: object) -> Dataset:
    return worklist_dataset("MÜLLER^JOSÉ", SpecificCharacterSet="ISO_IR 100", PatientSex="M",
                            ReferencedStudySequence=[], **values)


@pytest.fixture
def entry(worklist_folder: Path) -> Path:
    return write_wl(worklist_folder / "e1.wl", sample())


def make_editor(qtbot: QtBot, path: Path, tmp_path: Path) -> EditorWindow:
    """An editor on ``path``, shown, once the file is read (it is read in the background)."""
    editor = EditorWindow.open_file(path, templates=tmp_path / "templates")
    editor.show()
    qtbot.waitUntil(lambda: not editor.loading, timeout=10000)
    return editor


@pytest.fixture
def editor(qtbot: QtBot, entry: Path, tmp_path: Path) -> Iterator[EditorWindow]:
    made = make_editor(qtbot, entry, tmp_path)
    yield made
    if shiboken6.isValid(made):
        made.close_discarding()


def value(model: DatasetModel, *steps: str | int) -> object:
    return model.find(*steps).data(Qt.ItemDataRole.EditRole)


def test_tree_of_the_file(qtmodeltester: ModelTester, editor: EditorWindow) -> None:
    model = editor.model
    check(qtmodeltester, model)
    assert model.columnCount() == 4
    name = model.find("PatientName", column=DatasetModel.TAG)
    assert name.data() == "(0010,0010)"
    assert name.siblingAtColumn(DatasetModel.NAME).data() == "PatientName"
    assert name.siblingAtColumn(DatasetModel.VR).data() == "PN"
    assert value(model, "PatientName") == "MÜLLER^JOSÉ"
    sequence = model.find(SPS)
    assert sequence.data() == "1 item"
    item = model.find(SPS, 0, column=DatasetModel.NAME)
    assert item.data() == "Item 1"
    assert value(model, SPS, 0, "Modality") == "CT"
    assert editor.tree.isExpanded(sequence.siblingAtColumn(0))  # the step is shown open
    assert editor.charset_combo.currentData() == "ISO_IR 100"
    assert editor.problems_list.count() == 0
    assert "Complete" in editor.problems_status.text()
    assert not editor.isWindowModified()


def test_edit_through_the_model_with_undo_and_redo(qtmodeltester: ModelTester, qtbot: QtBot,
                                                   editor: EditorWindow) -> None:
    model = editor.model
    check(qtmodeltester, model)
    index = model.find("PatientID")
    with qtbot.waitSignal(model.dataChanged):
        assert model.setData(index, "NEW1")
    assert editor.document.dataset.PatientID == "NEW1"
    assert editor.isWindowModified()
    step = model.find(SPS, 0, "ScheduledStationAETitle")
    assert model.setData(step, "CT2")
    assert editor.document.dataset[SPS][0].ScheduledStationAETitle == "CT2"
    assert editor.undo_stack.count() == 2
    editor.undo_action.trigger()
    assert editor.document.dataset[SPS][0].ScheduledStationAETitle == "CT1"
    editor.undo_action.trigger()
    assert editor.document.dataset.PatientID == "PID1"
    assert not editor.isWindowModified()
    editor.redo_action.trigger()
    assert value(model, "PatientID") == "NEW1"
    assert any(k.toString() == "Ctrl+Y" for k in editor.redo_action.shortcuts())
    assert editor.undo_action.shortcut().toString() == "Ctrl+Z"


@pytest.mark.parametrize(("steps", "text", "reason"), [
    (("PatientBirthDate",), "20241301", "not a real date"),
    (("PatientBirthDate",), "1.1.2024", "YYYYMMDD"),
    ((SPS, 0, "ScheduledProcedureStepStartTime"), "2561", "hours go from 00 to 23"),
    ((SPS, 0, "Modality"), "c-t", "code string"),
    ((SPS, 0, "ScheduledStationAETitle"), "A" * 17, "at most 16 characters"),
    (("StudyInstanceUID",), "1.2.abc", "only digits and dots"),
    (("PatientID",), "A\\B", "holds one value"),
    (("PatientName",), "A^B^C^D^E^F", "at most 5 parts"),
])
def test_invalid_values_are_refused_with_the_reason(editor: EditorWindow, steps: tuple[str | int, ...],
                                                    text: str, reason: str) -> None:
    model = editor.model
    index = model.find(*steps)
    before = value(model, *steps)
    assert model.check_text(index, text) is not None
    assert not model.setData(index, text)
    assert reason in model.last_error
    assert reason in editor.statusBar().currentMessage()
    assert value(model, *steps) == before
    assert editor.undo_stack.count() == 0


def test_value_editors_fit_the_vr(qtbot: QtBot, editor: EditorWindow) -> None:
    model, tree = editor.model, editor.tree
    birth = model.find("PatientBirthDate")
    tree.setCurrentIndex(birth)
    tree.edit(birth)
    date_editor = editor.delegate.editor
    assert isinstance(date_editor, DateEditor)
    assert date_editor.calendarPopup()
    assert date_editor.text_value() == "19700101"
    date_editor.set_text_value("19811224")
    editor.delegate.commit_open_editor()
    assert value(model, "PatientBirthDate") == "19811224"

    name = model.find("PatientName")
    tree.setCurrentIndex(name)
    tree.edit(name)
    name_editor = editor.delegate.editor
    assert isinstance(name_editor, PersonNameEditor)
    assert [p.text() for p in name_editor.parts[:2]] == ["MÜLLER", "JOSÉ"]
    name_editor.parts[3].setText("DR")
    editor.delegate.commit_open_editor()
    assert value(model, "PatientName") == "MÜLLER^JOSÉ^^DR"

    modality = model.find(SPS, 0, "Modality")
    tree.setCurrentIndex(modality)
    tree.edit(modality)
    line = editor.delegate.editor
    assert isinstance(line, ValueLineEditor)
    line.selectAll()
    QTest.keyClicks(line, "mr")
    assert line.text() == "MR"  # code strings are upper-cased as they are typed
    QTest.keyClicks(line, "!")
    assert "code string" in line.toolTip()  # the reason shows while typing
    assert "code string" in editor.statusBar().currentMessage()
    editor.delegate.commit_open_editor()
    assert value(model, SPS, 0, "Modality") == "CT"  # refused
    assert "code string" in model.last_error


def test_add_element_by_keyword_or_tag_and_remove(qtmodeltester: ModelTester, qtbot: QtBot,
                                                  editor: EditorWindow) -> None:
    model = editor.model
    check(qtmodeltester, model)
    rows = model.rowCount()
    with qtbot.waitSignal(model.rowsInserted) as inserted:
        index = editor.add_element("PatientWeight")
    assert inserted.args is not None and inserted.args[1] == index.row()
    assert model.rowCount() == rows + 1
    assert index.siblingAtColumn(DatasetModel.VR).data() == "DS"
    assert index.data(VR_ROLE) == "DS"
    tags = [int(e.tag) for e in editor.document.dataset]
    assert tags == sorted(tags)
    above = model.index(index.row() - 1, DatasetModel.TAG).data()
    below = model.index(index.row() + 1, DatasetModel.TAG).data()
    assert above < "(0010,1030)" < below  # inserted in tag order
    assert model.setData(index.siblingAtColumn(DatasetModel.VALUE), "72.5")
    assert editor.document.dataset.PatientWeight == 72.5

    by_tag = model.add_element("(0010,1020)")
    assert by_tag.siblingAtColumn(DatasetModel.NAME).data() == "PatientSize"
    with pytest.raises(Exception, match="already there"):
        model.add_element("PatientWeight")
    with pytest.raises(Exception, match="neither a DICOM keyword"):
        model.add_element("NoSuchKeyword")
    assert "neither a DICOM keyword" in editor.statusBar().currentMessage()

    with qtbot.waitSignal(model.rowsRemoved):
        model.remove_element(model.find("PatientWeight"))
    assert "PatientWeight" not in editor.document.dataset
    editor.undo_stack.undo()
    assert editor.document.dataset.PatientWeight == 72.5

    # into an item: the selection decides where
    editor.tree.setCurrentIndex(model.find(SPS, 0, column=0))
    inside = editor.add_element("ScheduledPerformingPhysicianName")
    assert inside.parent() == model.find(SPS, 0, column=0)
    assert "ScheduledPerformingPhysicianName" in editor.document.dataset[SPS][0]
    while editor.undo_stack.canUndo():
        editor.undo_stack.undo()
    assert model.rowCount() == rows
    assert not editor.document.is_modified()


def test_sequence_items(qtmodeltester: ModelTester, qtbot: QtBot, editor: EditorWindow) -> None:
    model = editor.model
    check(qtmodeltester, model)
    sequence = model.find("ReferencedStudySequence", column=0)
    assert model.rowCount(sequence) == 0
    with qtbot.waitSignal(model.rowsInserted):
        item = model.add_item(sequence)
    assert model.rowCount(sequence) == 1
    assert sequence.siblingAtColumn(DatasetModel.VALUE).data() == "1 item"
    # an empty reference lacks the keys modalities need: listed and highlighted
    problems = model.problems()
    assert any("ReferencedStudySequence item 1" in p for p in problems)
    assert item.data(Qt.ItemDataRole.BackgroundRole) == MISSING_BRUSH
    assert editor.problems_list.count() == len(problems)
    model.add_element("ReferencedSOPClassUID", item)
    model.add_element("ReferencedSOPInstanceUID", item)
    uid = model.find("ReferencedStudySequence", 0, "ReferencedSOPInstanceUID")
    assert uid.siblingAtColumn(0).data(Qt.ItemDataRole.BackgroundRole) == MISSING_BRUSH
    assert model.setData(uid, "1.2.3.4")
    assert model.setData(model.find("ReferencedStudySequence", 0, "ReferencedSOPClassUID"),
                         "1.2.840.10008.3.1.2.3.1")
    assert model.problems() == []
    assert editor.problems_list.count() == 0
    second = model.add_item(sequence)
    assert second.row() == 1
    with qtbot.waitSignal(model.rowsRemoved):
        model.remove_item(model.index(0, 0, sequence))
    assert model.rowCount(sequence) == 1
    assert len(editor.document.dataset.ReferencedStudySequence) == 1
    editor.undo_stack.undo()  # the first item is back, with its values
    assert editor.document.dataset.ReferencedStudySequence[0].ReferencedSOPInstanceUID == "1.2.3.4"
    while editor.undo_stack.canUndo():
        editor.undo_stack.undo()
    assert model.rowCount(sequence) == 0


def test_missing_keys_panel_follows_the_edits(editor: EditorWindow) -> None:
    model = editor.model
    station = model.find(SPS, 0, "ScheduledStationAETitle")
    assert model.setData(station, "")
    assert editor.problems_list.item(0).text() == "missing or empty ScheduledStationAETitle"
    assert station.siblingAtColumn(0).data(Qt.ItemDataRole.BackgroundRole) == MISSING_BRUSH
    model.remove_element(model.find("PatientID"))
    texts = [editor.problems_list.item(i).text() for i in range(editor.problems_list.count())]
    assert "missing or empty PatientID" in texts
    assert "2 problems" in editor.problems_status.text()
    # double-clicking a missing key adds it and starts editing it
    editor._problem_activated(editor.problems_list.item(texts.index("missing or empty PatientID")))
    assert "PatientID" in editor.document.dataset
    editor.delegate.commit_open_editor()
    editor.undo_stack.undo()
    editor.undo_stack.undo()
    editor.undo_stack.undo()
    assert editor.problems_list.count() == 0
    assert station.siblingAtColumn(0).data(Qt.ItemDataRole.BackgroundRole) is None


def test_character_set(editor: EditorWindow, boxes: Boxes) -> None:
    model = editor.model
    name = model.find("PatientName")
    assert not model.setData(name, "ИВАНОВ^ИВАН")  # Cyrillic is not Latin-1
    assert "'И' (U+0418) cannot be written in ISO_IR 100" in model.last_error
    assert value(model, "PatientName") == "MÜLLER^JOSÉ"
    assert not model.setData(model.find(SPS, 0, "ScheduledProcedureStepDescription"), "ИВАН")
    assert model.last_error.startswith(  # the attribute named once
        "ScheduledProcedureStepSequence item 1: ScheduledProcedureStepDescription: the character 'И'")
    # ASCII cannot carry the Ü of the name: refused with a message, nothing changed
    editor.charset_combo.setCurrentIndex(editor.charset_combo.findData(""))
    editor.charset_combo.activated.emit(editor.charset_combo.currentIndex())
    assert boxes.warnings and "'Ü' (U+00DC)" in boxes.warnings[-1]
    assert editor.charset_combo.currentData() == "ISO_IR 100"
    assert editor.document.dataset.SpecificCharacterSet == "ISO_IR 100"
    assert editor.set_charset("ISO_IR 192")
    assert model.setData(name, "ИВАНОВ^ИВАН")
    assert not editor.set_charset("ISO_IR 100")
    assert "'И'" in boxes.warnings[-1]
    assert editor.charset_combo.currentData() == "ISO_IR 192"
    editor.undo_stack.undo()
    editor.undo_stack.undo()
    assert editor.charset_combo.currentData() == "ISO_IR 100"
    assert editor.undo_stack.undoText() == ""


def test_atomic_save_round_trip(editor: EditorWindow, entry: Path) -> None:
    model = editor.model
    assert model.setData(model.find("PatientName"), "SMITH^ANNE")
    added = model.add_element("PatientWeight")
    assert model.setData(added.siblingAtColumn(DatasetModel.VALUE), "72.5")
    assert model.setData(model.find(SPS, 0, "ScheduledProcedureStepStartTime"), "1415")
    with_saved: list[Path] = []
    editor.saved.connect(with_saved.append)
    assert editor.save()
    assert with_saved == [entry]
    assert not editor.isWindowModified()
    assert [p.name for p in entry.parent.iterdir()] == ["e1.wl"]  # no temporary file left
    reopened = load_document(entry).dataset
    assert str(reopened.PatientName) == "SMITH^ANNE"
    assert reopened.PatientWeight == 72.5
    assert reopened[SPS][0].ScheduledProcedureStepStartTime == "1415"
    assert reopened.SpecificCharacterSet == "ISO_IR 100"
    assert reopened.StudyInstanceUID == sample().StudyInstanceUID


def test_save_without_edits_changes_nothing(editor: EditorWindow, entry: Path) -> None:
    before = entry.read_bytes()
    assert editor.save()
    assert entry.read_bytes() == before
    model = editor.model
    assert model.setData(model.find("PatientID"), "OTHER")
    editor.undo_stack.undo()
    assert editor.save()
    assert entry.read_bytes() == before


def test_failed_save_keeps_the_original(editor: EditorWindow, entry: Path, boxes: Boxes,
                                        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    before = entry.read_bytes()
    assert editor.model.setData(editor.model.find("PatientID"), "CHANGED")

    def full(*_args: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("wldesk.core.fileio.os.replace", full)
    assert not editor.save()
    assert entry.read_bytes() == before
    assert "the disk is full" in boxes.warnings[-1]
    assert "not changed" in editor.last_error
    assert [p.name for p in entry.parent.iterdir()] == ["e1.wl"]
    assert editor.isWindowModified()
    monkeypatch.undo()
    monkeypatch.setattr(QMessageBox, "warning", boxes.warning)
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"")
    assert not editor.save_to(blocker / "e1.wl", force=True)
    assert "cannot save" in boxes.warnings[-1]
    assert entry.read_bytes() == before


def test_changed_on_disk_reloads_or_asks(qtbot: QtBot, editor: EditorWindow, entry: Path,
                                         tmp_path: Path) -> None:
    # nothing changed here: the file is reloaded, written in place or replaced (renamed over it)
    with qtbot.waitSignal(editor.loaded, timeout=10000):
        write_wl(entry, sample(PatientID="THEIRS"))
    assert value(editor.model, "PatientID") == "THEIRS"
    assert not editor.conflict_bar.isVisibleTo(editor)
    replacement = write_wl(tmp_path / "replacement.wl", sample(PatientID="RENAMED"))
    with qtbot.waitSignal(editor.loaded, timeout=10000):
        os.replace(replacement, entry)
    assert value(editor.model, "PatientID") == "RENAMED"
    assert not editor.check_disk()

    # changes here: the bar asks; Keep mine, and saving replaces theirs without asking again
    assert editor.model.setData(editor.model.find("PatientID"), "MINE")
    write_wl(entry, sample(PatientID="THEIRS2"))
    qtbot.waitUntil(lambda: editor.conflict_bar.isVisibleTo(editor), timeout=10000)
    assert "The file changed on disk" in editor.conflict_bar.label.text()
    assert value(editor.model, "PatientID") == "MINE"
    asked: list[str] = []

    def ask() -> str:
        asked.append("asked")
        return "cancel"

    editor.ask_conflict = ask  # type: ignore[method-assign]
    editor.conflict_bar.keep_button.click()
    assert not editor.conflict_bar.isVisibleTo(editor)
    editor.check_disk()  # as when the window is activated again: Keep mine holds
    assert not editor.conflict_bar.isVisibleTo(editor)
    assert editor.save()
    assert asked == []
    assert load_document(entry).dataset.PatientID == "MINE"

    # changes here and a change on disk not seen yet: saving asks
    assert editor.model.setData(editor.model.find("PatientID"), "MINE2")
    editor.file_watch.watch(None)  # the change is only noticed when saving
    write_wl(entry, sample(PatientID="THEIRS3"))
    assert not editor.save()
    assert asked == ["asked"]
    assert load_document(entry).dataset.PatientID == "THEIRS3"

    # or Reload: theirs, the changes here are dropped
    with qtbot.waitSignal(editor.loaded, timeout=10000):
        editor.conflict_bar.reload_button.click()
    assert value(editor.model, "PatientID") == "THEIRS3"
    assert not editor.isWindowModified()
    assert not editor.conflict_bar.isVisibleTo(editor)


def test_deleted_on_disk_keeps_the_entry_here(qtbot: QtBot, editor: EditorWindow,
                                              entry: Path) -> None:
    entry.unlink()
    qtbot.waitUntil(lambda: editor.conflict_bar.isVisibleTo(editor), timeout=10000)
    assert "deleted or moved" in editor.conflict_bar.label.text()
    assert not editor.conflict_bar.reload_button.isVisibleTo(editor)
    assert value(editor.model, "PatientID") == "PID1"
    editor.conflict_bar.keep_button.click()
    assert editor.save()
    assert load_document(entry).dataset.PatientID == "PID1"


def test_delete_moves_to_the_archive(qtbot: QtBot, editor: EditorWindow, entry: Path,
                                     boxes: Boxes) -> None:
    boxes.answer = Button.Cancel
    assert editor.delete_entry() is None
    assert entry.exists()
    boxes.answer = Button.Yes
    with qtbot.waitSignal(editor.archived) as archived:
        target = editor.delete_entry()
    assert target == archive_folder(entry.parent) / "e1.wl"
    assert archived.args == [target]
    assert not entry.exists() and target.is_file()
    assert not editor.isVisible()


def test_close_with_unsaved_changes_asks(qtbot: QtBot, editor: EditorWindow, entry: Path,
                                         boxes: Boxes) -> None:
    editor.close()  # nothing changed: no question
    assert boxes.questions == []
    editor.show()
    assert editor.model.setData(editor.model.find("PatientID"), "ASKED")
    boxes.answer = Button.Cancel
    assert not editor.close()
    assert editor.isVisible() and len(boxes.questions) == 1
    boxes.answer = Button.Save
    assert editor.close()
    assert load_document(entry).dataset.PatientID == "ASKED"


def test_export_and_import(qtmodeltester: ModelTester, editor: EditorWindow, tmp_path: Path) -> None:
    model = editor.model
    check(qtmodeltester, model)
    dump, as_json = tmp_path / "e1.dump", tmp_path / "e1.json"
    assert editor.files.export_dump(dump)
    text = dump.read_bytes()
    assert "(0010,0010) PN [MÜLLER^JOSÉ]".encode("latin-1") in text  # in the file's charset
    assert editor.files.export_json(as_json)
    assert json.loads(as_json.read_text("utf-8"))["00100020"]["Value"] == ["PID1"]
    dump.write_bytes(text.replace(b"[PID1]", b"[PID9]").replace(b"[Head]", b"[Knee]"))
    assert editor.files.import_text(dump)
    assert value(model, "PatientID") == "PID9"
    assert value(model, "RequestedProcedureDescription") == "Knee"
    assert value(model, SPS, 0, "Modality") == "CT"
    assert editor.undo_stack.undoText() == "Import e1.dump"
    editor.undo_stack.undo()
    assert value(model, "PatientID") == "PID1"
    assert not editor.document.is_modified()


def test_main_window_opens_editors(qtbot: QtBot, controller: ServerController, entry: Path,
                                   worklist_folder: Path, boxes: Boxes) -> None:
    window = MainWindow(controller)
    qtbot.addWidget(window)
    first = window.open_entry(entry)
    assert isinstance(first, EditorWindow) and first.isVisible()
    assert window.open_entry(entry) is first  # the same file: the same editor
    other = write_wl(worklist_folder / "e2.wl", sample(AccessionNumber="ACC2"))
    second = window.open_entry(other)
    assert second is not None and second is not first
    assert len(window.editors) == 2
    second.close()
    qtbot.waitUntil(lambda: len(window.editors) == 1, timeout=2000)
    file_menu = window.menuBar().actions()[0].menu()
    assert isinstance(file_menu, QMenu)
    texts = [a.text() for a in file_menu.actions()]
    assert "&New entry…" in texts and "&Open…" in texts
    (worklist_folder / "bad.wl").write_bytes(b"not dicom")
    bad = window.open_entry(worklist_folder / "bad.wl")
    qtbot.waitUntil(lambda: len(window.editors) == 1, timeout=10000)  # it said why and closed
    assert not shiboken6.isValid(bad) or not bad.isVisible()
    assert "not a DICOM file" in boxes.warnings[-1]
    first.close_discarding()


# --- what the editor says about values ------------------------------------------------------------


def edit_cell(editor: EditorWindow, index: QModelIndex) -> QWidget:
    editor.tree.setCurrentIndex(index)
    editor.tree.edit(index)
    opened = editor.delegate.editor
    assert opened is not None
    return opened


@pytest.mark.parametrize(("stored", "how"), [
    (b"17320331", "enter"),  # a real date before the picker's first day (DCMTK's wklist5)
    (b"20230230", "click away"),  # not a real date
    (b"20230101-20230131", "enter"),  # a range
    (b"soon", "click away"),
])
def test_the_date_picker_never_erases_a_date_it_cannot_show(
        qtbot: QtBot, worklist_folder: Path, tmp_path: Path, stored: bytes, how: str) -> None:
    ds = sample()
    ds[0x00100030] = raw_text(0x00100030, "DA", stored)
    path = write_wl(worklist_folder / "odd.wl", ds)
    before = path.read_bytes()
    editor = make_editor(qtbot, path, tmp_path)
    birth = editor.model.find("PatientBirthDate")
    opened = edit_cell(editor, birth)
    assert isinstance(opened, ValueLineEditor)  # a text box holding the exact text, not the picker
    assert opened.text() == stored.decode().rstrip()
    if how == "enter":
        QTest.keyClick(opened, Qt.Key.Key_Return)
    else:
        editor.delegate.commit_open_editor()
    qtbot.waitUntil(lambda: editor.delegate.editor is None)
    assert editor.undo_stack.count() == 0
    assert editor.save()
    assert path.read_bytes() == before
    editor.close_discarding()


def test_the_date_picker_itself_keeps_a_date_it_cannot_show(qtbot: QtBot) -> None:
    picker = DateEditor()
    qtbot.addWidget(picker)
    picker.set_text_value("17320331")
    assert picker.text_value() == "17320331"
    assert picker.text() == "17320331"  # shown as it is, not as "(empty)"
    picker.set_text_value("20240331")
    assert picker.text_value() == "20240331"
    QTest.keyClick(picker, Qt.Key.Key_Delete)
    assert picker.text_value() == ""


def test_a_refused_value_says_why(qtbot: QtBot, editor: EditorWindow) -> None:
    model = editor.model
    birth = model.find("PatientBirthDate")
    assert not model.setData(birth, "2023-13-01")
    message = editor.statusBar().currentMessage()
    assert message.startswith("Not changed: PatientBirthDate: a date is YYYYMMDD")
    assert "2026-11-27" in message  # the other ways of typing a date
    assert birth.data(Qt.ItemDataRole.ToolTipRole) == message
    assert value(model, "PatientBirthDate") == "19700101"
    # typed in a cell: the reason stays in the status line after the cell closes
    modality = model.find(SPS, 0, "Modality")
    line = edit_cell(editor, modality)
    assert isinstance(line, ValueLineEditor)
    line.selectAll()
    QTest.keyClicks(line, "C-T")
    QTest.keyClick(line, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: editor.delegate.editor is None)
    assert editor.statusBar().currentMessage().startswith(
        "Not changed: ScheduledProcedureStepSequence item 1: Modality: a code string")
    assert "code string" in modality.data(Qt.ItemDataRole.ToolTipRole)
    assert value(model, SPS, 0, "Modality") == "CT"
    assert model.setData(modality, "MR")  # a value set: the cell's tooltip no longer says no
    assert modality.data(Qt.ItemDataRole.ToolTipRole) is None


@pytest.fixture
def locale() -> Iterator[None]:
    before = QLocale()
    yield
    QLocale.setDefault(before)


@pytest.mark.parametrize(("country", "typed"), [
    (QLocale.Country.UnitedKingdom, "31/03/2024"),
    (QLocale.Country.UnitedKingdom, "Sunday, 31 March 2024"),
    (QLocale.Country.UnitedStates, "3/31/24"),
    (QLocale.Country.UnitedStates, "Sunday, March 31, 2024"),
    (QLocale.Country.UnitedStates, "2024-03-31"),
    (QLocale.Country.UnitedStates, "20240331"),
])
def test_dates_in_the_computers_own_format(locale: None, editor: EditorWindow,
                                           country: QLocale.Country, typed: str) -> None:
    QLocale.setDefault(QLocale(QLocale.Language.English, country))
    model = editor.model
    step_date = model.find(SPS, 0, "ScheduledProcedureStepStartDate")
    assert model.check_text(step_date, typed) is None
    assert model.setData(step_date, typed)
    assert editor.document.dataset[SPS][0].ScheduledProcedureStepStartDate == "20240331"


def test_a_date_in_another_format_is_refused(locale: None, editor: EditorWindow) -> None:
    QLocale.setDefault(QLocale(QLocale.Language.English, QLocale.Country.UnitedKingdom))
    model = editor.model
    assert not model.setData(model.find("PatientBirthDate"), "3/31/24")  # not how the UK writes it
    assert "2026-11-27 or 27/11/2026 work too" in model.last_error


def test_a_large_value_is_read_only_and_handled_as_a_file(qtbot: QtBot, worklist_folder: Path,
                                                          tmp_path: Path, boxes: Boxes) -> None:
    ds = sample()
    ds.add_new(0x00990010, "LO", "WLDESK TEST")
    ds.add_new(0x00991000, "OB", bytes(range(256)) * 400)
    path = write_wl(worklist_folder / "large.wl", ds)
    editor = make_editor(qtbot, path, tmp_path)
    model = editor.model
    large = model.index_of(((), 0x00991000), DatasetModel.VALUE)
    assert large.data() == "‹102.4 KB of OB data: 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f …›"
    assert not model.flags(large) & Qt.ItemFlag.ItemIsEditable
    assert "too large to show or edit as text" in large.data(Qt.ItemDataRole.ToolTipRole)
    assert not model.setData(large, "00")
    editor.tree.setCurrentIndex(large)
    assert editor.export_value_action.isEnabled() and editor.replace_value_action.isEnabled()

    exported = tmp_path / "value.bin"
    assert editor.files.export_value(large, exported)
    assert exported.read_bytes() == bytes(range(256)) * 400
    replacement = tmp_path / "small.bin"
    replacement.write_bytes(b"\x01\x02\x03")
    assert editor.files.replace_value(large, replacement)
    assert large.data() == "01\\02\\03"
    assert model.flags(large) & Qt.ItemFlag.ItemIsEditable  # small: edited as text again
    editor.undo_stack.undo()
    assert large.data().startswith("‹102.4 KB of OB data")
    with pytest.raises(EditError, match="select a binary element"):
        model.set_bytes(model.find("PatientID"), b"x")

    # the text exports leave it out, say so, and the dump is not read back without it
    dump, as_json = tmp_path / "large.dump", tmp_path / "large.json"
    assert editor.files.export_dump(dump)
    assert b"(0099,1000) OB (not loaded)" in dump.read_bytes()
    assert "left out: (0099,1000): 102.4 KB of OB data" in editor.statusBar().currentMessage()
    assert editor.files.export_json(as_json)
    assert "00991000" not in json.loads(as_json.read_text("utf-8"))
    assert not editor.files.import_text(dump)
    assert "left out of this dump" in boxes.warnings[-1]
    assert editor.save()
    assert load_document(path).dataset[0x00991000].value == bytes(range(256)) * 400
    editor.close_discarding()


def test_a_status_set_by_mpps_reloads_an_unedited_editor(
        qtbot: QtBot, controller: ServerController, worklist_folder: Path, tmp_path: Path) -> None:
    path = write_entry(worklist_folder, "a1.wl", accession="A1")
    study_uid = str(load_document(path).dataset.StudyInstanceUID)
    editor = make_editor(qtbot, path, tmp_path)
    try:
        controller.start()
        qtbot.waitUntil(lambda: controller.state == "running", timeout=10000)
        with qtbot.waitSignal(editor.loaded, timeout=10000):
            assert send_mpps(controller.settings.port, generate_uid(),
                             performed(("A1", "S-A1", study_uid))).Status == 0x0000
        assert value(editor.model, "ScheduledProcedureStepSequence", 0,
                     "ScheduledProcedureStepStatus") == "STARTED"
        assert not editor.conflict_bar.isVisibleTo(editor)
        assert not editor.isWindowModified()
    finally:
        editor.close_discarding()


def test_a_status_set_by_mpps_while_the_editor_has_changes_asks(
        qtbot: QtBot, controller: ServerController, worklist_folder: Path, tmp_path: Path) -> None:
    path = write_entry(worklist_folder, "a1.wl", accession="A1")
    study_uid = str(load_document(path).dataset.StudyInstanceUID)
    editor = make_editor(qtbot, path, tmp_path)
    try:
        assert editor.model.setData(editor.model.find("PatientID"), "MINE")
        controller.start()
        qtbot.waitUntil(lambda: controller.state == "running", timeout=10000)
        assert send_mpps(controller.settings.port, generate_uid(),
                         performed(("A1", "S-A1", study_uid))).Status == 0x0000
        qtbot.waitUntil(lambda: editor.conflict_bar.isVisibleTo(editor), timeout=10000)
        assert "The file changed on disk" in editor.conflict_bar.label.text()
        assert value(editor.model, "PatientID") == "MINE"  # nothing of the user's is lost
        assert load_document(path).dataset.PatientID != "MINE"
        with qtbot.waitSignal(editor.loaded, timeout=10000):
            editor.conflict_bar.reload_button.click()
        assert value(editor.model, "ScheduledProcedureStepSequence", 0,
                     "ScheduledProcedureStepStatus") == "STARTED"
        assert not editor.conflict_bar.isVisibleTo(editor)
    finally:
        editor.close_discarding()
