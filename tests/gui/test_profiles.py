"""The profile dialog of the Settings tab: a modality's own profile and the default one edited,
with the preview of the answer that modality would get, saved to the settings file."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from tests.helpers.samples import worklist_dataset, write_wl
from wldesk.core.profile import Profile
from wldesk.core.settings import KnownModality
from wldesk.core.settings_file import load_settings
from wldesk.gui.controller import ServerController
from wldesk.gui.modalities_table import DEFAULT_TEXT, ModalitiesModel
from wldesk.gui.profiles import ProfileDialog
from wldesk.gui.settings_tab import SettingsTab

LEFT = Qt.MouseButton.LeftButton


@pytest.fixture
def tab(qtbot: QtBot, controller: ServerController, worklist_folder: Path) -> SettingsTab:
    for name, values in (("a-missing-id.wl", {"PatientID": None}), ("b-good.wl", {})):
        write_wl(worklist_folder / name,
                 worklist_dataset("Łukasz^Ødegård", SpecificCharacterSet="ISO_IR 192", **values))
    qtbot.waitUntil(lambda: len(controller.snapshot().entries) == 2)
    controller.apply_settings(controller.settings.replace(
        modalities=[KnownModality("CT room", "CT1"), KnownModality("Ultrasound", "US1")]))
    made = SettingsTab(controller)
    qtbot.addWidget(made)
    return made


def open_dialog(qtbot: QtBot, tab: SettingsTab, row: int) -> ProfileDialog:
    tab.modalities_view.selectRow(row)
    QTest.mouseClick(tab.button("profile"), LEFT)
    dialog = tab.profiles.dialog
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible)
    return dialog


def test_a_modalitys_profile_is_edited_with_a_preview_and_saved(
        qtbot: QtBot, tab: SettingsTab, controller: ServerController) -> None:
    model = tab.modalities_model
    assert model.data(model.index(1, ModalitiesModel.PROFILE)) == DEFAULT_TEXT
    dialog = open_dialog(qtbot, tab, 1)
    assert dialog.windowTitle() == "Profile of Ultrasound"
    assert dialog.inherit.isChecked() and not dialog.charset.isEnabled()
    assert dialog.verdict.text() == "Sent." and "[Łukasz^Ødegård]" in dialog.preview_text()

    dialog.inherit.click()
    assert dialog.charset.isEnabled() and not dialog.flags["withhold_invalid"].isEnabled()
    dialog.charset.setCurrentIndex(dialog.charset.findData("ascii"))
    dialog.flags["strict"].click()
    text = dialog.preview_text()
    assert "(0010,0010) PN [Lukasz^Odegard]  # PatientName" in text
    assert "(0008,0005)" not in text
    assert dialog.verdict.text() == ("Sent after every entry that passes the strict rules, "
                                     "because of: no PatientID.")
    dialog.entry.setCurrentIndex(dialog.entry.findText("b-good.wl"))
    assert dialog.verdict.text() == "Sent."
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: not dialog.isVisible())

    assert model.profile(1) == Profile(charset="ascii", strict=True)
    assert model.data(model.index(1, ModalitiesModel.PROFILE)) == "ascii, strict"
    assert model.profile(0) is None
    QTest.mouseClick(tab.save_button, LEFT)
    saved = load_settings(controller.settings_path)
    assert saved.profile_for("US1") == Profile(charset="ascii", strict=True)
    assert saved.modalities[0].profile is None
    assert controller.settings.profile_for("US1") == Profile(charset="ascii", strict=True)


def test_the_default_profile_is_edited_and_a_modality_can_go_back_to_it(
        qtbot: QtBot, tab: SettingsTab, controller: ServerController) -> None:
    QTest.mouseClick(tab.button("edit"), LEFT)
    dialog = tab.profiles.dialog
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible)
    assert dialog.windowTitle() == "Default profile" and dialog.inherit.isHidden()
    dialog.flags["one_step_per_answer"].click()
    dialog.max_answers.setValue(20)
    dialog.ok_button.click()
    candidate = tab.candidate()
    assert candidate is not None
    assert candidate.default_profile == Profile(one_step_per_answer=True, max_answers=20)

    tab.modalities_model.set_profile(0, Profile(charset="ISO_IR 100"))
    dialog = open_dialog(qtbot, tab, 0)
    assert not dialog.inherit.isChecked()
    assert dialog.charset.currentData() == "ISO_IR 100"
    dialog.inherit.click()  # back to the default: shown, not editable
    assert dialog.flags["one_step_per_answer"].isChecked() and dialog.max_answers.value() == 20
    dialog.ok_button.click()
    assert tab.modalities_model.profile(0) is None
    QTest.mouseClick(tab.save_button, LEFT)
    saved = load_settings(controller.settings_path)
    assert saved.profile_for("CT1") == Profile(one_step_per_answer=True, max_answers=20)
