"""The new-entry form: filled in like a person would, it writes a complete entry that the running
server gives to DCMTK's findscu; templates and duplicates."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
import shiboken6
from pydicom.dataset import Dataset
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QComboBox, QDialogButtonBox, QLineEdit, QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from tests.helpers.dcmtk import dcmtk_tool, run_findscu
from tests.helpers.samples import step, worklist_dataset, write_wl
from wldesk.core import paths
from wldesk.core.check import missing_keys
from wldesk.core.dicom.node import Node
from wldesk.core.editing.document import load_document
from wldesk.core.editing.templates import list_templates, save_template
from wldesk.core.settings import KnownModality
from wldesk.gui.controller import ServerController
from wldesk.gui.editor.new_entry import NewEntryDialog
from wldesk.gui.editor.window import EditorWindow
from wldesk.gui.mainwindow import MainWindow

SPS = "ScheduledProcedureStepSequence"
MODALITIES = (KnownModality("CT room 1", "CT1"), KnownModality("MR scanner", "MR1"))


@pytest.fixture(autouse=True)
def no_boxes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    shown: list[str] = []

    def warning(_parent: QWidget | None, _title: str, text: str, *_args: object) -> object:
        shown.append(text)
        return QMessageBox.StandardButton.Ok

    monkeypatch.setattr(QMessageBox, "warning", warning)
    return shown


@pytest.fixture
def dialog(qtbot: QtBot, worklist_folder: Path) -> NewEntryDialog:
    made = NewEntryDialog(worklist_folder, MODALITIES)
    qtbot.addWidget(made)
    return made


def fill(dialog: NewEntryDialog) -> None:
    dialog.family_name.setText("Müller")
    dialog.given_name.setText("José")
    dialog.patient_id.setText("P77")
    dialog.birth_date.set_text_value("19800229")
    dialog.sex.setCurrentIndex(dialog.sex.findData("F"))
    dialog.requested_description.setText("CT head without contrast")
    dialog.referring_physician.setText("HOUSE^GREGORY")
    dialog.priority.setCurrentIndex(dialog.priority.findData("ROUTINE"))
    dialog.modality.setCurrentText("CT")
    dialog.station_aet.setCurrentIndex(0)


def test_the_form_makes_an_entry_findscu_gets(qtbot: QtBot, controller: ServerController,
                                              worklist_folder: Path, tmp_path: Path) -> None:
    dialog = NewEntryDialog(worklist_folder, MODALITIES)
    qtbot.addWidget(dialog)
    assert [dialog.station_aet.itemText(i) for i in range(2)] == ["CT1", "MR1"]
    now = datetime.now()
    assert dialog.scheduled()[0] == now.date()  # scheduled now unless changed
    fill(dialog)
    assert dialog.station_aet.currentText() == "CT1"
    assert dialog.station_name.text() == "CT room 1"
    with qtbot.waitSignal(dialog.created) as created:
        save = dialog.buttons.button(QDialogButtonBox.StandardButton.Save)
        assert save is not None
        save.click()
    path = dialog.saved_path
    assert path is not None and created.args == [path]
    assert path.parent == worklist_folder and path.suffix == ".wl"
    assert dialog.result() == NewEntryDialog.DialogCode.Accepted
    ds = load_document(path).dataset
    assert missing_keys(Node.from_dataset(ds)) == []
    assert ds.SpecificCharacterSet == "ISO_IR 192"
    assert str(ds.PatientName) == "Müller^José"
    assert ds.PatientBirthDate == "19800229" and ds.PatientSex == "F"
    assert re.fullmatch(r"\d{16}", ds.AccessionNumber)
    assert path.name == f"{ds.AccessionNumber}.wl"
    assert ds.RequestedProcedureID == ds.AccessionNumber
    assert ds.StudyInstanceUID
    step = ds[SPS][0]
    assert (step.Modality, step.ScheduledStationAETitle) == ("CT", "CT1")
    assert step.ScheduledProcedureStepStartDate == now.strftime("%Y%m%d")
    assert step.ScheduledProcedureStepDescription == "CT head without contrast"

    findscu = dcmtk_tool("findscu")
    if findscu is None or dcmtk_tool("dump2dcm") is None:
        pytest.skip("DCMTK's findscu and dump2dcm are needed to query the server")
    controller.start()
    qtbot.waitUntil(lambda: controller.state == "running", timeout=10000)
    query = tmp_path / "query.dump"
    today = date.today().strftime("%Y%m%d")
    query.write_text("(0008,0005) CS [ISO_IR 192]\n(0008,0050) SH []\n(0010,0010) PN []\n"
                     "(0010,0020) LO []\n(0040,0100) SQ\n(fffe,e000) -\n(0008,0060) CS [CT]\n"
                     f"(0040,0001) AE []\n(0040,0002) DA [{today}]\n(fffe,e00d) -\n(fffe,e0dd) -\n",
                     encoding="ascii")
    result = run_findscu(controller.settings.port, query, controller.settings.ae_title, "CT1")
    assert result.final_status == "Success", result.describe()
    assert [a.AccessionNumber for a in result.answers] == [ds.AccessionNumber]
    assert str(result.answers[0].PatientName) == "Müller^José"


def error_of(dialog: NewEntryDialog, edit: QLineEdit) -> str:
    """The red text under a field ("" when it is hidden)."""
    labels = [f.error for f in dialog._fields if f.edit is edit]
    assert len(labels) == 1
    return "" if labels[0].isHidden() else labels[0].text()


def test_missing_and_invalid_values_are_shown(dialog: NewEntryDialog, worklist_folder: Path) -> None:
    assert dialog.save_entry() is None  # Save tried: every empty required field says so
    assert dialog.error_label.isVisibleTo(dialog)
    assert dialog.last_error == ("Fill in: family name, patient ID, procedure description, "
                                 "modality, station AE title")
    assert error_of(dialog, dialog.family_name) == "Enter the patient's family name"
    assert error_of(dialog, dialog.patient_id) == "Enter the patient ID"
    assert error_of(dialog, dialog.requested_description).startswith("Describe the procedure")
    assert error_of(dialog, line_of(dialog.modality)) == "Choose the modality, e.g. CT"
    assert error_of(dialog, line_of(dialog.station_aet)).startswith("Enter the AE title")
    assert error_of(dialog, dialog.given_name) == ""
    assert list(worklist_folder.iterdir()) == []
    dialog.patient_id.setText("A\\B")
    assert error_of(dialog, dialog.patient_id) == "A backslash (\\) is not allowed here"
    assert "backslash" in dialog.patient_id.toolTip()
    assert "#ffd0d0" in dialog.patient_id.styleSheet()
    dialog.patient_id.setText("P1")
    assert dialog.patient_id.styleSheet() == ""
    assert error_of(dialog, dialog.patient_id) == ""
    line = line_of(dialog.station_aet)
    line.setText("A" * 17)
    assert "at most 16" in line.toolTip()
    assert error_of(dialog, line) == "An AE title has at most 16 characters (17 given)"
    fill(dialog)
    dialog.charset_combo.setCurrentIndex(dialog.charset_combo.findData(""))  # ASCII
    assert error_of(dialog, dialog.family_name) == \
        "'ü' does not fit the character set ASCII only (default): choose UTF-8 at the top"
    assert not dialog.save_button.isEnabled()
    assert dialog.save_entry() is None
    assert "family name: 'ü' does not fit" in dialog.last_error
    assert "given name: 'é' does not fit" in dialog.last_error
    assert list(worklist_folder.iterdir()) == []
    dialog.charset_combo.setCurrentIndex(dialog.charset_combo.findData("ISO_IR 100"))
    assert error_of(dialog, dialog.family_name) == ""
    path = dialog.save_entry()
    assert path is not None
    assert load_document(path).dataset.SpecificCharacterSet == "ISO_IR 100"


def line_of(combo: QComboBox) -> QLineEdit:
    line = combo.lineEdit()
    assert line is not None
    return line


@pytest.mark.qt_log_ignore("does not support grabbing the keyboard")  # the station list pops up
def test_required_fields_are_marked_and_checked_as_typed(qtbot: QtBot, dialog: NewEntryDialog,
                                                         worklist_folder: Path) -> None:
    required = (dialog.family_name, dialog.patient_id, dialog.requested_description,
                dialog.modality, dialog.station_aet)
    for widget in required:
        assert dialog.labels[widget].text().endswith("*</span>"), dialog.labels[widget].text()
    for widget in (dialog.given_name, dialog.accession, dialog.step_description, dialog.sex):
        assert "*" not in dialog.labels[widget].text()
    assert "required" in dialog.required_legend.text()
    # a new form is not all red: it says what is still needed, and Save waits for it
    assert all(error_of(dialog, f.edit) == "" for f in dialog._fields)
    assert not dialog.save_button.isEnabled()
    assert dialog.save_button.toolTip() == "\n".join([
        "Fill in first:", "• family name", "• patient ID", "• procedure description",
        "• modality", "• station AE title"])
    assert dialog.required_legend.text().endswith(
        "still needed: family name, patient ID, procedure description, modality, station AE title")

    # typed, then rubbed out: the field says what it needs; typed again: it stops
    QTest.keyClicks(dialog.family_name, "Mul")
    assert error_of(dialog, dialog.family_name) == ""
    for _ in range(3):
        QTest.keyClick(dialog.family_name, Qt.Key.Key_Backspace)
    assert error_of(dialog, dialog.family_name) == "Enter the patient's family name"
    assert "#ffd0d0" in dialog.family_name.styleSheet()
    QTest.keyClicks(dialog.family_name, "Muller")
    assert error_of(dialog, dialog.family_name) == ""
    assert dialog.family_name.styleSheet() == ""

    QTest.keyClicks(dialog.patient_id, "P1")
    QTest.keyClicks(line_of(dialog.modality), "ct")
    assert dialog.modality.currentText() == "CT"  # upper-cased as typed
    QTest.keyClicks(line_of(dialog.station_aet), "T")
    completer = dialog.station_aet.completer()
    popup = completer.popup() if completer is not None else None
    assert completer is not None and popup is not None and popup.isVisible()
    completions = completer.completionModel()
    assert [completions.index(r, 0).data() for r in range(completions.rowCount())] == ["CT1"]
    line_of(dialog.station_aet).clear()
    QTest.keyClicks(line_of(dialog.station_aet), "CT1")
    assert dialog.save_button.toolTip() == "Fill in first:\n• procedure description"
    # the step's description describes the procedure too
    QTest.keyClicks(dialog.step_description, "CT head")
    assert dialog.save_button.isEnabled()
    assert dialog.save_button.toolTip() == "Save the entry into the worklist folder"
    assert error_of(dialog, dialog.requested_description) == ""
    assert dialog.required_legend.text().endswith("required")

    # a wrong value disables Save until it is put right
    QTest.keyClicks(dialog.accession, "A" * 17)
    assert not dialog.save_button.isEnabled()
    assert dialog.save_button.toolTip() == \
        "Correct first:\n• accession number: A short string has at most 16 characters (17 given)"
    QTest.keyClick(dialog.accession, Qt.Key.Key_Backspace)
    assert dialog.save_button.isEnabled()
    with qtbot.waitSignal(dialog.created):
        dialog.save_button.click()
    assert dialog.saved_path is not None and dialog.saved_path.parent == worklist_folder
    ds = load_document(dialog.saved_path).dataset
    assert (str(ds.PatientName), ds.AccessionNumber, ds.RequestedProcedureDescription) == \
        ("Muller", "A" * 16, "CT head")


def test_a_template_with_codes_needs_no_description(qtbot: QtBot, dialog: NewEntryDialog,
                                                    tmp_path: Path) -> None:
    """A procedure described by codes (RIS templates often are) needs no description typed."""
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "RPID17", "99LOCAL", "CT head"
    coded = worklist_dataset(RequestedProcedureDescription=None, RequestedProcedureCodeSequence=[code],
                             ScheduledProcedureStepSequence=[step(
                                 ScheduledProcedureStepDescription=None,
                                 ScheduledProtocolCodeSequence=[code])])
    path = save_template(coded, "CT head (coded)", tmp_path / "templates")
    dialog.family_name.setText("Smith")
    dialog.patient_id.setText("P9")
    assert dialog.problems() == (["procedure description", "modality", "station AE title"], [])
    assert dialog.apply_template(path)
    assert dialog.requested_description.text() == "" and dialog.step_description.text() == ""
    assert dialog.problems() == ([], [])
    assert dialog.save_button.isEnabled()
    dialog.template_combo.activated.emit(0)  # "(none)": the codes are gone, a description is needed
    assert dialog.problems() == (["procedure description"], [])
    assert dialog.apply_template(path)
    saved = dialog.save_entry()
    assert saved is not None, dialog.last_error
    ds = load_document(saved).dataset
    assert missing_keys(Node.from_dataset(ds)) == []
    assert ds.RequestedProcedureCodeSequence[0].CodeValue == "RPID17"


@pytest.fixture
def editor(qtbot: QtBot, worklist_folder: Path) -> Iterator[EditorWindow]:
    ds = worklist_dataset("DOE^JANE", SpecificCharacterSet="ISO_IR 192", PatientSex="F",
                          ReferencedStudySequence=[], ReferringPhysicianName="WHO^DR",
                          StudyID="S1")
    path = write_wl(worklist_folder / "source.wl", ds)
    made = EditorWindow.open_file(path, modalities=MODALITIES)
    qtbot.waitUntil(lambda: not made.loading, timeout=10000)
    yield made
    if shiboken6.isValid(made):
        made.close_discarding()


def test_templates_save_and_prefill(qtbot: QtBot, editor: EditorWindow, worklist_folder: Path) -> None:
    path = editor.save_as_template("CT head")
    assert path is not None and path.parent == paths.templates_dir()
    assert [t.name for t in list_templates(paths.templates_dir())] == ["CT head"]
    dialog = NewEntryDialog(worklist_folder, MODALITIES)
    qtbot.addWidget(dialog)
    assert [dialog.template_combo.itemText(i) for i in range(dialog.template_combo.count())] \
        == ["(none)", "CT head", "OB/GYN ultrasound (built in)"]
    dialog.family_name.setText("Smith")
    dialog.patient_id.setText("P9")
    dialog.template_combo.setCurrentIndex(1)
    dialog.template_combo.activated.emit(1)
    assert dialog.family_name.text() == "Smith"  # the patient stays
    assert dialog.requested_description.text() == "Head"
    assert dialog.modality.currentText() == "CT"
    assert dialog.station_aet.currentText() == "CT1"
    assert dialog.step_description.text() == "CT head"
    assert dialog.accession.text() == ""
    saved = dialog.save_entry()
    assert saved is not None
    ds = load_document(saved).dataset
    assert (str(ds.PatientName), ds.PatientID, ds.RequestedProcedureDescription) == \
        ("Smith", "P9", "Head")
    assert missing_keys(Node.from_dataset(ds)) == []

    # a template saved from the form itself
    form = NewEntryDialog(worklist_folder, MODALITIES)
    qtbot.addWidget(form)
    form.requested_description.setText("MR knee")
    form.modality.setCurrentText("MR")
    form.station_aet.setCurrentText("MR1")
    made = form.save_as_template("MR knee")
    assert made is not None
    assert form.template_combo.currentText() == "MR knee"
    template = NewEntryDialog(worklist_folder, MODALITIES)
    qtbot.addWidget(template)
    assert template.apply_template(made)
    assert (template.modality.currentText(), template.family_name.text()) == ("MR", "")


def test_duplicate_gives_new_ids_and_uids(qtbot: QtBot, editor: EditorWindow,
                                          worklist_folder: Path) -> None:
    opened: list[Path] = []
    editor.open_path = opened.append
    dialog = editor.duplicate_dialog()
    assert isinstance(dialog, NewEntryDialog)
    qtbot.addWidget(dialog)
    assert (dialog.family_name.text(), dialog.given_name.text()) == ("DOE", "JANE")
    assert dialog.patient_id.text() == "PID1"
    assert dialog.birth_date.text_value() == "19700101"
    assert dialog.sex.currentData() == "F"
    assert dialog.referring_physician.text() == "WHO^DR"
    assert (dialog.accession.text(), dialog.requested_procedure_id.text(),
            dialog.step_id.text()) == ("", "", "")
    path = dialog.save_entry()
    assert path is not None and opened == [path]
    source = editor.document.dataset
    copy = load_document(path).dataset
    assert copy.PatientID == source.PatientID and str(copy.PatientName) == "DOE^JANE"
    for keyword in ("StudyInstanceUID", "AccessionNumber", "RequestedProcedureID"):
        assert copy[keyword].value != source[keyword].value, keyword
    assert copy[SPS][0].ScheduledProcedureStepID != source[SPS][0].ScheduledProcedureStepID
    assert "StudyID" not in copy
    assert missing_keys(Node.from_dataset(copy)) == []


@pytest.mark.qt_log_ignore("does not support propagateSizeHints")  # the offscreen platform
def test_main_window_new_entry(qtbot: QtBot, controller: ServerController,
                               worklist_folder: Path) -> None:
    controller.set_poll_interval(50)
    controller.apply_settings(controller.settings.replace(modalities=MODALITIES))
    window = MainWindow(controller)
    qtbot.addWidget(window)
    corner = window.tabs.cornerWidget()
    assert corner is not None and "New entry" in corner.property("text")
    # an empty folder: the Worklist tab's own New entry button opens the form
    qtbot.waitUntil(lambda: window.worklist.pages.currentWidget() is window.worklist.hint,
                    timeout=5000)
    window.worklist.hint.new_button.click()
    opened = window.findChildren(NewEntryDialog)
    assert len(opened) == 1 and opened[0].isVisible()
    opened[0].close()

    # the station AE titles offered: the known modalities' and those the folder's entries use
    write_wl(worklist_folder / "us.wl", worklist_dataset(ScheduledProcedureStepSequence=[
        step(ScheduledStationAETitle="US_2"), step(ScheduledStationAETitle="ANGIO ")]))
    write_wl(worklist_folder / "ct.wl", worklist_dataset(AccessionNumber="B1"))  # station CT1
    qtbot.waitUntil(lambda: window.worklist.model.rowCount() == 2, timeout=5000)
    dialog = window.new_entry_dialog()
    qtbot.addWidget(dialog)
    assert dialog.folder == worklist_folder
    stations = dialog.station_aet
    assert [stations.itemText(i) for i in range(stations.count())] == ["ANGIO", "CT1", "MR1", "US_2"]
    assert stations.itemData(stations.findText("MR1"), Qt.ItemDataRole.ToolTipRole) == "MR scanner"
    stations.setCurrentText("US_2")
    assert dialog.station_name.isHidden()
    stations.setCurrentText("CT1")
    assert not dialog.station_name.isHidden() and dialog.station_name.text() == "CT room 1"
