"""The new-entry form's OB/GYN template (LMP, or the due date it is worked out from, and the
pregnancy status) and patient names in several scripts (their character set chosen)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from PySide6.QtCore import QDate
from PySide6.QtWidgets import QLineEdit
from pytestqt.qtbot import QtBot

from tests.gui.editor.test_new_entry import MODALITIES
from wldesk.core.editing.document import load_document
from wldesk.core.editing.entries import JAPANESE_CHARSET, KOREAN_CHARSET
from wldesk.core.editing.obgyn import lmp_from_edd
from wldesk.gui.editor.new_entry import NewEntryDialog


def typed(edit: QLineEdit, text: str) -> None:
    """``text`` typed into ``edit`` (as a person types: the edit signal too; QTest cannot type
    CJK characters)."""
    edit.setText(text)
    edit.textEdited.emit(text)


def form(qtbot: QtBot, folder: Path) -> NewEntryDialog:
    dialog = NewEntryDialog(folder, MODALITIES)
    qtbot.addWidget(dialog)
    dialog.family_name.setText("Roe")
    dialog.given_name.setText("Jane")
    dialog.patient_id.setText("P1")
    dialog.station_aet.setCurrentText("US1")
    return dialog


def test_the_obgyn_template_records_lmp_from_the_due_date(qtbot: QtBot,
                                                          worklist_folder: Path) -> None:
    dialog = form(qtbot, worklist_folder)
    assert dialog.obgyn.box.isHidden()
    dialog.use_obgyn_template()
    dialog.station_aet.setCurrentText("US1")  # the template names no station
    assert not dialog.obgyn.box.isHidden()
    assert (dialog.modality.currentText(), dialog.requested_description.text()) == (
        "US", "OB/GYN ultrasound")
    due = date.today().replace(day=1)
    due = date(due.year + (due.month + 4) // 13, (due.month + 4) % 12 or 12, 1)  # ~4 months on
    dialog.obgyn.edd.setDate(QDate(due.year, due.month, due.day))
    assert dialog.obgyn.lmp.text_value() == lmp_from_edd(due).strftime("%Y%m%d")
    dialog.obgyn.status.setCurrentIndex(dialog.obgyn.status.findData("3"))
    saved = dialog.save_entry()
    assert saved is not None
    ds = load_document(saved).dataset
    assert ds.LastMenstrualDate == lmp_from_edd(due).strftime("%Y%m%d")
    assert ds.PregnancyStatus == 3


def test_an_lmp_in_the_future_is_refused(qtbot: QtBot, worklist_folder: Path) -> None:
    dialog = form(qtbot, worklist_folder)
    dialog.use_obgyn_template()
    dialog.station_aet.setCurrentText("US1")  # the template names no station
    far = date.today().replace(year=date.today().year + 2)
    dialog.obgyn.edd.setDate(QDate(far.year, far.month, min(far.day, 28)))  # LMP next year
    assert not dialog.save_button.isEnabled()
    assert "in the future" in dialog.save_button.toolTip()
    assert dialog.save_entry() is None and list(worklist_folder.iterdir()) == []
    dialog.obgyn.lmp.set_text_value("")
    assert dialog.save_button.isEnabled()


def test_a_name_in_three_scripts_chooses_japanese(qtbot: QtBot, worklist_folder: Path) -> None:
    dialog = form(qtbot, worklist_folder)
    dialog.family_name.setText("Yamada")
    dialog.given_name.setText("Tarou")
    dialog.modality.setCurrentText("US")
    dialog.requested_description.setText("Ultrasound")
    typed(dialog.ideographic_name, "山田^太郎")
    typed(dialog.phonetic_name, "やまだ^たろう")
    assert dialog.charset_combo.currentData() == JAPANESE_CHARSET
    saved = dialog.save_entry()
    assert saved is not None
    ds = load_document(saved).dataset
    assert str(ds.PatientName) == "Yamada^Tarou=山田^太郎=やまだ^たろう"
    assert ds.SpecificCharacterSet == ["ISO 2022 IR 6", "ISO 2022 IR 87"]
    again = NewEntryDialog(worklist_folder, MODALITIES, source=ds)
    qtbot.addWidget(again)
    assert (again.ideographic_name.text(), again.phonetic_name.text()) == (
        "山田^太郎", "やまだ^たろう")


def test_hangul_in_a_japanese_entry_is_shown_as_wrong(qtbot: QtBot, worklist_folder: Path) -> None:
    dialog = form(qtbot, worklist_folder)
    dialog.charset_combo.setCurrentIndex(dialog.charset_combo.findData(JAPANESE_CHARSET))
    dialog.charset_combo.activated.emit(dialog.charset_combo.currentIndex())  # a person's choice
    dialog.phonetic_name.setText("홍^길동")  # typed in by a program: no automatic choice
    assert "does not fit the character set Japanese" in dialog.phonetic_name.toolTip()
    assert not dialog.save_button.isEnabled()
    typed(dialog.ideographic_name, "洪")
    assert dialog.charset_combo.currentData() == KOREAN_CHARSET
    assert dialog.phonetic_name.toolTip() == ""
