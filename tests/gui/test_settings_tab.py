"""The Settings tab: every setting editable, validated while typing, saved to disk, restart offered."""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QAbstractItemModel, QModelIndex, Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QCheckBox, QFileDialog, QGroupBox, QLabel, QLineEdit, QWidget
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from tests.helpers.ports import echo, free_port
from wldesk.core.settings import GROUPS, KnownModality, Settings
from wldesk.core.settings_file import load_settings
from wldesk.gui.controller import ServerController
from wldesk.gui.modalities_table import ModalitiesModel
from wldesk.gui.settings_tab import SettingsTab, field_label

LEFT = Qt.MouseButton.LeftButton


@pytest.fixture
def tab(qtbot: QtBot, controller: ServerController) -> SettingsTab:
    made = SettingsTab(controller)
    qtbot.addWidget(made)
    return made


def type_into(widget: QWidget, text: str) -> None:
    """Replace the text of a line edit or spin box as a user would: select all, type."""
    QTest.keyClick(widget, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    if text:
        QTest.keyClicks(widget, text)
    else:
        QTest.keyClick(widget, Qt.Key.Key_Backspace)


def edit_cell(qtbot: QtBot, tab: SettingsTab, row: int, column: int, text: str) -> None:
    """Edit one cell of the modalities table in place and commit it with Return."""
    view, model = tab.modalities_view, tab.modalities_model
    index = model.index(row, column)
    if view.indexWidget(index) is None:  # Add opens the new row's name cell itself
        view.setCurrentIndex(index)
        view.edit(index)
    editor = view.indexWidget(index)
    assert isinstance(editor, QLineEdit)
    type_into(editor, text)
    QTest.keyClick(editor, Qt.Key.Key_Return)  # the delegate commits and closes it (queued)
    qtbot.waitUntil(lambda: view.indexWidget(index) is None)
    assert model.data(index) == text


def add_modality(qtbot: QtBot, tab: SettingsTab, name: str, ae_title: str, host: str = "") -> None:
    QTest.mouseClick(tab.button("add"), LEFT)
    row = tab.modalities_model.rowCount() - 1
    edit_cell(qtbot, tab, row, ModalitiesModel.NAME, name)
    edit_cell(qtbot, tab, row, ModalitiesModel.AE_TITLE, ae_title)
    if host:
        edit_cell(qtbot, tab, row, ModalitiesModel.HOST, host)


def click_save(tab: SettingsTab) -> None:
    assert tab.save_button.isEnabled(), tab.form_error.text() or "nothing to save"
    QTest.mouseClick(tab.save_button, LEFT)


def check_model(tester: ModelTester, model: QAbstractItemModel) -> None:
    check: Callable[[QAbstractItemModel], None] = tester.check  # pytest-qt leaves it untyped
    check(model)


# --- the model ---------------------------------------------------------------------------------

def test_modalities_model_passes_the_model_tester(qtmodeltester: ModelTester) -> None:
    model = ModalitiesModel([KnownModality("CT room 1", "CT1", "192.168.1.20"),
                             KnownModality("US", "US_2"), KnownModality("again", "CT1"),
                             KnownModality("bad", "BAD\\AET", "no spaces allowed")])
    check_model(qtmodeltester, model)
    assert model.rowCount() == 4 and model.columnCount() == 4
    assert model.rowCount(model.index(0, 0)) == 0  # a table: no children
    assert model.flags(model.index(0, 1)) & Qt.ItemFlag.ItemIsEditable
    assert model.flags(QModelIndex()) == Qt.ItemFlag.NoItemFlags
    assert model.problems() == [
        "Row 3, AE title: 'CT1' is already the AE title of row 1",
        "Row 4, AE title: an AE title uses ASCII letters, digits and punctuation other than \\ "
        "('BAD\\\\AET')",
        "Row 4, Host: not a host name or address: 'no spaces allowed'",
    ]
    assert model.data(model.index(2, 1), Qt.ItemDataRole.ToolTipRole).startswith("'CT1' is already")
    assert model.data(model.index(0, 1), Qt.ItemDataRole.ToolTipRole) is None

    assert model.setData(model.index(2, 1), "CT2")
    assert model.rows()[2] == ("again", "CT2", "")
    assert model.removeRows(3, 1)
    assert model.problems() == []
    assert model.insertRows(1, 2) and model.rowCount() == 5
    assert [p.split(":")[0] for p in model.problems()] == ["Row 2, AE title", "Row 3, AE title"]
    assert not model.removeRows(4, 2) and not model.insertRows(9, 1)
    check_model(qtmodeltester, model)


# --- the form ----------------------------------------------------------------------------------

def test_every_setting_has_an_editor_described_by_its_declaration(tab: SettingsTab) -> None:
    declarations = Settings.declarations()
    assert sorted(tab.field_names()) == sorted(f.name for f in declarations)
    for declaration in declarations:
        assert tab.editor(declaration.name).toolTip() == declaration.description
    assert field_label(next(f for f in declarations if f.name == "bind_address")) == \
        "Local address to listen on"
    assert field_label(next(f for f in declarations if f.name == "limit_final_status")) == \
        "Final status after LimitAnswers cut a query"
    combo = tab.combo_box("limit_final_status")
    assert [combo.itemText(i) for i in range(combo.count())] == ["Success", "Cancel (0xFE00)"]
    assert tab.spin_box("port").minimum() == 1 and tab.spin_box("port").maximum() == 65535
    assert tab.spin_box("limit_answers").text() == "unlimited"
    assert not combo.isEnabled(), "the final status matters only when answers are limited"
    tab.spin_box("limit_answers").setValue(3)
    assert combo.isEnabled()


def test_groups_come_from_the_declarations(tab: SettingsTab) -> None:
    boxes = tab.findChildren(QGroupBox)
    assert [box.title() for box in boxes] == list(GROUPS)
    for box in boxes:
        members = [d.name for d in Settings.declarations() if d.group == box.title()]
        assert [n for n in tab.field_names() if box.isAncestorOf(tab.editor(n))] == members
    assert tab.field_names() == [  # the form's order, as before the groups were declared
        "database", "hidden_statuses", "archive_after_hours", "archive_after_hours_by_modality",
        "archive_done_after_minutes",
        "filter_issuer_aet", "limit_answers", "limit_final_status", "settle_seconds",
        "folder_events",
        "ae_title", "port", "bind_address", "tls_certificate", "tls_key", "tls_ca",
        "association_request_timeout", "check_called_ae_title", "mpps", "mpps_keep_days",
        "allow_unknown_modalities", "modalities", "default_profile",
        "rest_port", "rest_bind_address", "rest_token", "rest_user", "rest_password",
        "rest_tls_certificate", "rest_tls_key", "hl7_port", "hl7_bind_address",
        "hl7_mapping_file", "hl7_fallback_station", "hl7_keep_days",
        "import_folder", "import_mapping_file", "import_date_order",
        "start_at_launch", "start_at_login", "redact_patient_data", "audit_days"]


def test_secrets_are_typed_but_not_shown(tab: SettingsTab) -> None:
    assert {d.name for d in Settings.declarations() if d.secret} == {"rest_token", "rest_password"}
    hidden = QLineEdit.EchoMode.PasswordEchoOnEdit
    assert tab.line_edit("rest_token").echoMode() == hidden
    assert tab.line_edit("rest_password").echoMode() == hidden
    assert tab.line_edit("rest_user").echoMode() == QLineEdit.EchoMode.Normal
    assert tab.line_edit("ae_title").echoMode() == QLineEdit.EchoMode.Normal


def test_form_shows_the_settings_in_use_and_nothing_to_save(tab: SettingsTab,
                                                            controller: ServerController) -> None:
    settings = controller.settings
    assert tab.line_edit("database").text() == settings.database
    assert tab.line_edit("ae_title").text() == settings.ae_title
    assert tab.spin_box("port").value() == settings.port
    assert tab.check_box("start_at_launch").isChecked() is settings.start_at_launch
    assert tab.candidate() == settings
    assert not tab.save_button.isEnabled() and not tab.revert_button.isEnabled()
    assert tab.restart_bar.isHidden() and tab.save_error.isHidden()


def test_settings_round_trip_to_disk(qtbot: QtBot, tab: SettingsTab, controller: ServerController,
                                     tmp_path: Path) -> None:
    other_folder = tmp_path / "other worklists"  # keyClicks types ASCII only
    other_folder.mkdir()
    port = free_port()
    type_into(tab.line_edit("database"), str(other_folder))
    tab.check_box("filter_issuer_aet").setChecked(True)
    tab.spin_box("limit_answers").setValue(25)
    combo = tab.combo_box("limit_final_status")
    combo.setCurrentIndex(combo.findData("cancel"))
    type_into(tab.line_edit("ae_title"), "CLINIC_WL")
    tab.spin_box("port").setValue(port)
    type_into(tab.line_edit("bind_address"), "0.0.0.0")
    tab.check_box("allow_unknown_modalities").setChecked(False)
    add_modality(qtbot, tab, "CT room 1", "CT1", "192.168.1.20")
    add_modality(qtbot, tab, "Ultraschall", "US_2")
    tab.check_box("redact_patient_data").setChecked(True)
    tab.check_box("start_at_launch").setChecked(True)
    assert tab.revert_button.isEnabled()

    click_save(tab)

    expected = Settings(
        database=str(other_folder), filter_issuer_aet=True, limit_answers=25,
        limit_final_status="cancel", ae_title="CLINIC_WL", port=port, bind_address="0.0.0.0",
        allow_unknown_modalities=False,
        modalities=(KnownModality("CT room 1", "CT1", "192.168.1.20"), KnownModality("Ultraschall", "US_2")),
        redact_patient_data=True, start_at_launch=True, start_at_login=False)
    assert load_settings(controller.settings_path) == expected
    assert controller.settings == expected
    assert tab.save_error.isHidden() and tab.restart_bar.isHidden()  # the server is not running
    assert not tab.save_button.isEnabled() and not tab.revert_button.isEnabled()
    assert tab.modalities_model.rows() == [("CT room 1", "CT1", "192.168.1.20"), ("Ultraschall", "US_2", "")]


@pytest.mark.expect_log_warnings(r"unknown setting 'dashboard' kept as is")
def test_a_key_of_a_newer_wldesk_survives_a_save(tab: SettingsTab, controller: ServerController) -> None:
    path = controller.settings_path
    data = {**controller.settings.to_mapping(), "version": 2, "dashboard": {"theme": "dark"}}
    path.write_text(json.dumps(data), encoding="utf-8")
    controller.apply_settings(load_settings(path))  # as if the window had started with it
    type_into(tab.line_edit("ae_title"), "RENAMED")
    click_save(tab)
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert saved["dashboard"] == {"theme": "dark"} and saved["ae_title"] == "RENAMED"


def test_values_are_saved_as_the_settings_normalize_them(qtbot: QtBot, tab: SettingsTab,
                                                         controller: ServerController) -> None:
    type_into(tab.line_edit("ae_title"), "  SPACED  ")
    add_modality(qtbot, tab, "", " MR1 ")
    click_save(tab)
    assert controller.settings.ae_title == "SPACED"
    assert controller.settings.modalities == (KnownModality("MR1", "MR1", ""),)  # name from the AE title
    assert tab.line_edit("ae_title").text() == "SPACED"
    assert tab.modalities_model.rows() == [("MR1", "MR1", "")]


# --- validation ---------------------------------------------------------------------------------

def test_invalid_ae_title_is_named_and_disables_save(tab: SettingsTab) -> None:
    line = tab.line_edit("ae_title")
    type_into(line, "A" * 17)
    assert "'ae_title'" in tab.error_text("ae_title")
    assert "at most 16 characters" in tab.error_text("ae_title")
    assert not tab.error_label("ae_title").isHidden()
    assert not tab.save_button.isEnabled() and tab.candidate() is None
    assert tab.revert_button.isEnabled()
    type_into(line, "BACK\\SLASH")
    assert "other than \\" in tab.error_text("ae_title")
    type_into(line, "")
    assert "must not be empty" in tab.error_text("ae_title")
    type_into(line, "GOOD_AET")
    assert tab.error_text("ae_title") == "" and tab.error_label("ae_title").isHidden()
    assert tab.save_button.isEnabled()


def test_invalid_port_is_named_and_disables_save(tab: SettingsTab) -> None:
    spin = tab.spin_box("port")
    type_into(spin, "0")
    assert tab.error_text("port") == "setting 'port': must be a number from 1 to 65535 (got 0)"
    assert not tab.save_button.isEnabled()
    type_into(spin, "")
    assert tab.error_text("port") == "setting 'port': expected an integer, got ''"
    assert not tab.save_button.isEnabled()
    type_into(spin, "104")
    assert tab.error_text("port") == "" and spin.value() == 104
    assert tab.save_button.isEnabled()


def test_invalid_listen_address_is_named(tab: SettingsTab) -> None:
    type_into(tab.line_edit("bind_address"), "every interface")
    assert tab.error_text("bind_address") == \
        "setting 'bind_address': not an IP address: 'every interface'"
    assert not tab.save_button.isEnabled()
    type_into(tab.line_edit("bind_address"), "localhost")
    assert tab.error_text("bind_address") == "" and tab.save_button.isEnabled()


def test_modality_archive_hours_are_checked(tab: SettingsTab) -> None:
    line = tab.line_edit("archive_after_hours_by_modality")
    type_into(line, "CT 48")
    assert tab.error_text("archive_after_hours_by_modality") == (
        "setting 'archive_after_hours_by_modality': expected MODALITY=HOURS (e.g. CT=48), got "
        "'CT 48'")
    assert not tab.save_button.isEnabled()
    type_into(line, "ct=48, US=0")
    assert tab.error_text("archive_after_hours_by_modality") == ""
    assert tab.save_button.isEnabled()
    candidate = tab.candidate()
    assert candidate is not None
    assert candidate.archive_after_hours_by_modality == "CT=48, US=0"


def test_modality_rows_are_validated(qtbot: QtBot, tab: SettingsTab, controller: ServerController) -> None:
    QTest.mouseClick(tab.button("add"), LEFT)
    assert tab.modalities_model.rowCount() == 1
    assert tab.error_text("modalities") == "Row 1, AE title: an AE title must not be empty"
    assert not tab.save_button.isEnabled()
    edit_cell(qtbot, tab, 0, ModalitiesModel.AE_TITLE, "CT1")
    assert tab.error_text("modalities") == "" and tab.save_button.isEnabled()

    add_modality(qtbot, tab, "CT again", "CT1")
    assert tab.error_text("modalities") == "Row 2, AE title: 'CT1' is already the AE title of row 1"
    assert not tab.save_button.isEnabled()
    edit_cell(qtbot, tab, 1, ModalitiesModel.HOST, "ct 2")
    assert tab.error_text("modalities").splitlines() == [
        "Row 2, AE title: 'CT1' is already the AE title of row 1",
        "Row 2, Host: not a host name or address: 'ct 2'"]

    tab.modalities_view.selectRow(1)
    QTest.mouseClick(tab.button("remove"), LEFT)
    assert tab.modalities_model.rows() == [("", "CT1", "")]
    assert tab.error_text("modalities") == "" and tab.save_button.isEnabled()
    click_save(tab)
    assert controller.settings.modalities == (KnownModality("CT1", "CT1"),)


# --- revert and outside changes -------------------------------------------------------------------

def test_revert_shows_the_settings_in_use_again(qtbot: QtBot, tab: SettingsTab,
                                                controller: ServerController) -> None:
    before = controller.settings
    type_into(tab.line_edit("ae_title"), "CHANGED")
    type_into(tab.spin_box("port"), "0")
    tab.check_box("redact_patient_data").setChecked(True)
    add_modality(qtbot, tab, "X", "X1")
    assert tab.revert_button.isEnabled()
    QTest.mouseClick(tab.revert_button, LEFT)
    assert tab.line_edit("ae_title").text() == before.ae_title
    assert tab.spin_box("port").value() == before.port and tab.error_text("port") == ""
    assert not tab.check_box("redact_patient_data").isChecked()
    assert tab.modalities_model.rowCount() == 0
    assert tab.candidate() == before == controller.settings
    assert not tab.save_button.isEnabled() and not tab.revert_button.isEnabled()
    assert not controller.settings_path.exists(), "Revert saves nothing"


def test_settings_changed_elsewhere_reload_the_form(tab: SettingsTab, controller: ServerController) -> None:
    controller.apply_settings(controller.settings.replace(
        ae_title="ELSEWHERE", modalities=[{"name": "MR", "ae_title": "MR1", "host": ""}]))
    assert tab.line_edit("ae_title").text() == "ELSEWHERE"
    assert tab.modalities_model.rows() == [("MR", "MR1", "")]
    assert not tab.save_button.isEnabled()


def test_browse_and_open_the_worklist_folder(tab: SettingsTab, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    chosen = tmp_path / "chosen"
    chosen.mkdir()
    asked: list[str] = []

    def pick(parent: QWidget, caption: str, folder: str, *args: Any) -> str:
        asked.append(folder)
        return str(chosen)

    opened: list[str] = []

    def open_url(url: QUrl) -> bool:
        opened.append(url.toLocalFile())
        return True

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", pick)
    monkeypatch.setattr(QDesktopServices, "openUrl", open_url)
    start = tab.line_edit("database").text()
    QTest.mouseClick(tab.button("browse"), LEFT)
    assert asked == [start]
    assert tab.line_edit("database").text() == str(chosen)
    assert tab.button("open").isEnabled()
    QTest.mouseClick(tab.button("open"), LEFT)
    assert [Path(p) for p in opened] == [chosen]
    type_into(tab.line_edit("database"), str(tmp_path / "missing"))
    assert not tab.button("open").isEnabled()


# --- saving -------------------------------------------------------------------------------------

def test_start_at_login_writes_and_removes_the_autostart_entry(tab: SettingsTab,
                                                               controller: ServerController) -> None:
    if sys.platform == "win32":
        pytest.skip("the XDG autostart entry is not used on Windows")
    entry = Path(os.environ["XDG_CONFIG_HOME"]) / "autostart" / "wldesk.desktop"
    assert not entry.exists()
    tab.check_box("start_at_login").setChecked(True)
    click_save(tab)
    assert load_settings(controller.settings_path).start_at_login is True
    lines = entry.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "[Desktop Entry]"
    exec_lines = [line for line in lines if line.startswith("Exec=")]
    assert len(exec_lines) == 1
    assert shlex.split(exec_lines[0].removeprefix("Exec=")) == \
        [sys.executable, "-m", "wldesk", "--minimized"]

    tab.check_box("start_at_login").setChecked(False)
    click_save(tab)
    assert not entry.exists()
    assert load_settings(controller.settings_path).start_at_login is False


def test_port_change_while_running_offers_a_restart(qtbot: QtBot, tab: SettingsTab,
                                                   controller: ServerController) -> None:
    controller.start()
    qtbot.waitUntil(lambda: controller.state == "running", timeout=10000)
    tab.check_box("redact_patient_data").setChecked(True)  # no restart needed for this one
    click_save(tab)
    assert tab.restart_bar.isHidden()

    new_port = free_port()
    tab.spin_box("port").setValue(new_port)
    click_save(tab)
    assert load_settings(controller.settings_path).port == new_port
    assert not tab.restart_bar.isHidden()
    assert "take effect when the server restarts" in tab.restart_label.text()
    assert controller.state == "running"

    QTest.mouseClick(tab.restart_button, LEFT)  # checks the saved settings first, then restarts
    qtbot.waitUntil(tab.restart_bar.isHidden, timeout=5000)
    qtbot.waitUntil(lambda: controller.state == "running", timeout=10000)
    assert echo(new_port, controller.settings.ae_title)


def test_restart_offer_goes_away_when_the_server_stops(qtbot: QtBot, tab: SettingsTab,
                                                      controller: ServerController) -> None:
    controller.start()
    qtbot.waitUntil(lambda: controller.state == "running", timeout=10000)
    type_into(tab.line_edit("ae_title"), "RENAMED")
    click_save(tab)
    assert not tab.restart_bar.isHidden()
    controller.stop()
    qtbot.waitUntil(lambda: controller.state == "stopped", timeout=10000)
    assert tab.restart_bar.isHidden()  # the next start uses the saved settings anyway


def test_failed_save_shows_why_and_keeps_the_form(tab: SettingsTab,
                                                 controller: ServerController) -> None:
    type_into(tab.line_edit("ae_title"), "FIRST")
    click_save(tab)
    saved = controller.settings_path
    before = saved.read_bytes()
    folder_before = sorted(p.name for p in saved.parent.iterdir())

    controller.settings_path = saved / "settings.json"  # its parent is a regular file
    type_into(tab.line_edit("ae_title"), "SECOND")
    click_save(tab)

    assert not tab.save_error.isHidden()
    assert tab.save_error.text().startswith("The settings were not saved (")
    assert str(saved) in tab.save_error.text()
    assert saved.read_bytes() == before
    assert sorted(p.name for p in saved.parent.iterdir()) == folder_before
    assert controller.settings.ae_title == "FIRST"
    assert tab.line_edit("ae_title").text() == "SECOND"
    assert tab.save_button.isEnabled(), "the user can try again"

    controller.settings_path = saved
    click_save(tab)
    assert tab.save_error.isHidden()
    assert load_settings(saved).ae_title == "SECOND"


def test_a_missing_folder_is_shown_and_can_be_created(qtbot: QtBot, tab: SettingsTab,
                                                      tmp_path: Path) -> None:
    missing = tmp_path / "new" / "worklists"
    type_into(tab.line_edit("database"), str(missing))
    qtbot.waitUntil(lambda: tab.warning_text("database") == f"The folder {missing} does not exist.",
                    timeout=5000)
    assert tab.create_folder_button.isVisibleTo(tab)
    assert tab.save_button.isEnabled()  # a folder to be created later is fair to save
    assert tab.error_text("database") == ""
    assert not tab.button("open").isEnabled()
    QTest.mouseClick(tab.create_folder_button, LEFT)
    assert missing.is_dir()
    assert tab.button("open").isEnabled()
    qtbot.waitUntil(lambda: tab.warning_text("database") == "", timeout=5000)
    assert not tab.create_folder_button.isVisibleTo(tab)


def test_the_running_servers_own_port_is_no_problem(qtbot: QtBot, tab: SettingsTab,
                                                    controller: ServerController,
                                                    tmp_path: Path) -> None:
    controller.start()
    qtbot.waitUntil(lambda: controller.state == "running", timeout=10000)
    type_into(tab.line_edit("ae_title"), "WLTEST")
    type_into(tab.line_edit("database"), str(tmp_path / "missing"))  # so that the check shows
    qtbot.waitUntil(lambda: tab.warning_text("database") != "", timeout=5000)
    assert tab.warning_text("port") == "" and tab.warning_text("bind_address") == ""


def test_the_form_fits_the_window_without_scrolling_sideways(qtbot: QtBot, tab: SettingsTab) -> None:
    """Long labels wrap instead of pushing the fields (and the messages under them) out of view;
    clicking a check box's text ticks it, as a check box's own text does."""
    tab.resize(1100, 600)
    tab.show()
    qtbot.waitExposed(tab)
    assert tab.form_area.horizontalScrollBar().maximum() == 0
    port = tab.spin_box("port")
    assert port.mapTo(tab, port.rect().topRight()).x() <= tab.width()
    check = tab.check_box("check_called_ae_title")
    label = tab.findChild(QLabel, "check_called_ae_title_label")
    assert label is not None and label.wordWrap() and label.buddy() is check
    was = check.isChecked()
    QTest.mouseClick(label, Qt.MouseButton.LeftButton)
    assert check.isChecked() != was


def test_hidden_statuses_are_check_boxes_saved_as_a_list(tab: SettingsTab,
                                                          controller: ServerController) -> None:
    def box(status: str) -> QCheckBox:
        found = tab.findChild(QCheckBox, f"hidden_statuses:{status}")
        assert found is not None
        return found

    assert [s for s in ("SCHEDULED", "STARTED", "COMPLETED", "DISCONTINUED")
            if box(s).isChecked()] == ["COMPLETED", "DISCONTINUED"]
    assert box("COMPLETED").text() == "Completed"
    box("DISCONTINUED").click()
    box("STARTED").click()
    click_save(tab)
    assert controller.settings.hidden_statuses == ("STARTED", "COMPLETED")
    saved = json.loads(controller.settings_path.read_text(encoding="utf-8"))
    assert saved["hidden_statuses"] == ["STARTED", "COMPLETED"]
