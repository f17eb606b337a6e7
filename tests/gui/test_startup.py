"""Start-up problems: the window opens anyway and a dialog says what is wrong and offers a way out
(a settings file with problems, a port in use, a missing worklist folder)."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from tests.gui.conftest import OpenedUrls
from tests.helpers.ports import echo, free_port
from wldesk.core import paths
from wldesk.core.settings import Settings
from wldesk.core.settings_file import load_settings
from wldesk.gui import startup
from wldesk.gui.app import WldeskApp, open_app
from wldesk.gui.startup import (
    CHANGE,
    CLOSE,
    CREATE_FOLDER,
    OPEN_FILE,
    READ_AGAIN,
    RESET,
    TRY_AGAIN,
    StartupDialog,
)

Launch = Callable[..., WldeskApp]


@pytest.fixture
def launch(qtbot: QtBot) -> Iterator[Launch]:
    """Start wldesk as the ``wldesk`` command does (``open_app``), without its event loop."""
    apps: list[WldeskApp] = []

    def make(config: Path | None, *, minimized: bool = False, tray: bool = False) -> WldeskApp:
        app = open_app(config, minimized=minimized, instance_name=f"wldesk-test-{uuid.uuid4().hex}",
                       tray_available=lambda: tray)
        qtbot.addWidget(app.window)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.quit()


def shown_dialog(app: WldeskApp) -> StartupDialog:
    dialog = app.startup_dialog
    assert dialog is not None and dialog.isVisible()
    return dialog


def backups(folder: Path) -> list[Path]:
    return sorted(folder.glob("settings.json.bak-*"))


@pytest.mark.expect_log_warnings(r"settings.json cannot be used as it is \(not valid JSON")
@pytest.mark.qt_log_ignore("systemTrayWindowChanged")  # offscreen: no real tray
def test_a_file_that_is_not_json_opens_the_window_and_reset_keeps_a_backup(
        qtbot: QtBot, launch: Launch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the defaults on a free port: the default one (4242) may be another program's on this computer
    defaults = Settings(port=free_port())
    monkeypatch.setattr(startup, "Settings", lambda: defaults)
    path = tmp_path / "settings.json"
    original = b'{"port": 104,, "ae_title": "CLINIC1"}'
    path.write_bytes(original)
    app = launch(path, minimized=True, tray=True)
    assert app.controller.state == "stopped"  # not served with the defaults
    assert app.window.isVisible()  # minimized to the tray, but there is something to say
    dialog = shown_dialog(app)
    assert "not valid JSON (line 1, column 14" in dialog.message.text()
    assert str(path) in dialog.message.text()
    assert dialog.button_texts() == [CHANGE, OPEN_FILE, READ_AGAIN, RESET, CLOSE]
    assert path.read_bytes() == original and backups(tmp_path) == []
    dialog.button(RESET).click()
    [backup] = backups(tmp_path)
    assert backup.read_bytes() == original
    assert load_settings(path) == defaults
    assert app.controller.settings == defaults and app.controller.settings_problems == ()
    assert str(backup) in dialog.outcome.text()
    assert dialog.button_texts() == [CLOSE]
    qtbot.waitUntil(lambda: app.controller.state == "running", timeout=10000)
    assert echo(defaults.port, "WLDESK")


@pytest.mark.expect_log_warnings(r"setting 'port': expected an integer, got 'abc'")
def test_a_wrong_value_shows_the_files_good_values_and_saving_keeps_a_backup(
        qtbot: QtBot, launch: Launch, tmp_path: Path, worklist_folder: Path) -> None:
    path = tmp_path / "settings.json"
    original = json.dumps({"ae_title": "CLINIC1", "port": "abc", "bind_address": "127.0.0.1",
                           "database": str(worklist_folder)}).encode()
    path.write_bytes(original)
    app = launch(path)
    assert app.controller.state == "stopped"
    dialog = shown_dialog(app)
    assert "setting 'port': expected an integer, got 'abc'" in dialog.message.text()
    dialog.button(CHANGE).click()
    assert not dialog.isVisible()
    tab = app.window.settings
    assert app.window.tabs.currentWidget() is tab
    assert tab.line_edit("ae_title").text() == "CLINIC1"
    assert tab.line_edit("database").text() == str(worklist_folder)
    assert tab.error_text("port") == ("In the settings file: expected an integer, got 'abc'. "
                                      "The default is shown.")
    assert tab.spin_box("port").value() == Settings().port
    assert tab.error_text("ae_title") == ""
    assert tab.file_bar.isVisible() and "setting 'port'" in tab.file_bar.text()
    assert tab.save_button.isEnabled()  # the file is worth fixing even with no edit
    port = free_port()
    tab.spin_box("port").setValue(port)
    tab.save_button.click()
    [backup] = backups(tmp_path)
    assert backup.read_bytes() == original
    saved = load_settings(path)
    assert (saved.ae_title, saved.port, saved.database) == ("CLINIC1", port, str(worklist_folder))
    assert str(backup) in tab.save_note.text() and tab.save_note.isVisible()
    assert tab.error_text("port") == "" and not tab.file_bar.isVisible()
    assert not tab.save_button.isEnabled()
    # the server held back for the file's problems starts once they are fixed
    qtbot.waitUntil(lambda: app.controller.state == "running", timeout=10000)
    assert echo(port, "CLINIC1")
    tab.spin_box("port").setValue(free_port())
    tab.save_button.click()
    assert backups(tmp_path) == [backup]  # a file without problems is replaced as usual
    assert not tab.save_note.isVisible()
    assert app.controller.state == "running" and echo(port, "CLINIC1")  # until a restart


@pytest.mark.expect_log_warnings(r"setting 'port': expected an integer, got 'abc'",
                                  r"setting 'ae_title': an AE title has at most 16 characters")
def test_a_file_fixed_by_hand_is_read_again_and_the_server_starts(
        qtbot: QtBot, launch: Launch, tmp_path: Path, worklist_folder: Path,
        opened_urls: OpenedUrls) -> None:
    path = tmp_path / "settings.json"

    def write(**values: object) -> None:
        path.write_text(json.dumps({"bind_address": "127.0.0.1", "database": str(worklist_folder),
                                    **values}), encoding="utf-8")

    write(ae_title="CLINIC1", port="abc")
    app = launch(path)
    dialog = shown_dialog(app)
    dialog.button(OPEN_FILE).click()
    assert [url.toLocalFile() for url in opened_urls.urls] == [str(path)]
    port = free_port()
    write(ae_title="THIS AE TITLE IS FAR TOO LONG", port=port)  # one mistake for another
    dialog.button(READ_AGAIN).click()
    assert "setting 'ae_title': an AE title has at most 16" in dialog.message.text()
    assert "setting 'port'" not in dialog.message.text()
    assert dialog.outcome.text() == "The file was read again: it still has the problems above."
    assert READ_AGAIN in dialog.button_texts()
    assert app.controller.state == "stopped"
    tab = app.window.settings
    assert tab.spin_box("port").value() == port  # what the file holds, the mistake marked
    assert tab.error_text("ae_title").startswith("In the settings file: an AE title has at most")
    assert tab.error_text("port") == ""

    write(ae_title="CLINIC1", port=port)
    fixed = path.read_bytes()
    dialog.button(READ_AGAIN).click()
    assert dialog.outcome.text() == ("The settings file was read again and the worklist server "
                                     "is starting.")
    assert dialog.button_texts() == [CLOSE]
    qtbot.waitUntil(lambda: app.controller.state == "running", timeout=10000)
    assert echo(port, "CLINIC1")
    assert path.read_bytes() == fixed and backups(tmp_path) == []  # read, not written
    assert tab.line_edit("ae_title").text() == "CLINIC1" and tab.error_text("ae_title") == ""
    assert tab.file_bar.isHidden() and not tab.save_button.isEnabled()


@pytest.mark.expect_log_warnings(r"the port is already in use")
@pytest.mark.qt_log_ignore("systemTrayWindowChanged")
def test_a_port_in_use_at_start_opens_the_window_with_the_dialog_once(
        qtbot: QtBot, tmp_path: Path, worklist_folder: Path) -> None:
    port = free_port()
    settings = Settings(database=str(worklist_folder), port=port, bind_address="127.0.0.1")
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", port))
        blocker.listen()
        app = WldeskApp(settings, tmp_path / "settings.json", minimized=True,
                        instance_name=f"wldesk-test-{uuid.uuid4().hex}", tray_available=lambda: True)
        qtbot.addWidget(app.window)
        try:
            assert app.window.isHidden()  # in the tray, until the start fails
            qtbot.waitUntil(lambda: app.startup_dialog is not None, timeout=10000)
            dialog = shown_dialog(app)
            assert app.window.isVisible()
            assert "the port is already in use" in dialog.message.text()
            assert f"using port {port}" in dialog.message.text()
            assert dialog.button_texts() == [TRY_AGAIN, CHANGE, CLOSE]  # no settings file to open
            dialog.button(TRY_AGAIN).click()
            assert not dialog.isVisible()
            qtbot.waitUntil(lambda: app.controller.state == "error", timeout=10000)
            assert app.startup_dialog is dialog and not dialog.isVisible()  # not twice
        except BaseException:
            app.quit()
            raise
    app.controller.start()
    qtbot.waitUntil(lambda: app.controller.state == "running", timeout=10000)
    assert echo(port, "WLDESK")
    app.quit()


@pytest.mark.expect_log_warnings(r"the port is already in use",
                                  r"setting 'port': expected an integer, got 'x'")
def test_try_again_uses_a_port_changed_in_the_file_by_hand(
        qtbot: QtBot, launch: Launch, tmp_path: Path, worklist_folder: Path,
        other_program: int) -> None:
    path = tmp_path / "settings.json"

    def write(port: object) -> None:
        path.write_text(json.dumps({"ae_title": "CLINIC1", "port": port, "bind_address": "127.0.0.1",
                                    "database": str(worklist_folder)}), encoding="utf-8")

    write(other_program)
    app = launch(path)
    qtbot.waitUntil(lambda: app.startup_dialog is not None, timeout=10000)
    dialog = shown_dialog(app)
    assert dialog.button_texts() == [TRY_AGAIN, CHANGE, OPEN_FILE, CLOSE]
    write("x")  # a slip while editing: said, nothing started
    dialog.button(TRY_AGAIN).click()
    assert dialog.isVisible() and "setting 'port': expected an integer" in dialog.outcome.text()
    assert app.controller.state == "error"
    port = free_port()
    write(port)
    dialog.button(TRY_AGAIN).click()
    assert not dialog.isVisible()
    qtbot.waitUntil(lambda: app.controller.state == "running", timeout=10000)
    assert echo(port, "CLINIC1")
    assert backups(tmp_path) == []


@pytest.mark.expect_log_warnings(r"the worklist folder .* does not exist")
def test_a_missing_folder_at_start_can_be_created(qtbot: QtBot, tmp_path: Path) -> None:
    folder = tmp_path / "share" / "worklists"
    settings = Settings(database=str(folder), port=free_port(), bind_address="127.0.0.1")
    app = WldeskApp(settings, tmp_path / "settings.json",
                    instance_name=f"wldesk-test-{uuid.uuid4().hex}", tray_available=lambda: False)
    qtbot.addWidget(app.window)
    try:
        qtbot.waitUntil(lambda: app.startup_dialog is not None, timeout=10000)
        dialog = shown_dialog(app)
        assert str(folder) in dialog.message.text()
        assert dialog.button_texts() == [CREATE_FOLDER, CHANGE, CLOSE]
        dialog.button(CREATE_FOLDER).click()
        qtbot.waitUntil(lambda: app.controller.state == "running", timeout=10000)
        assert folder.is_dir()
        assert f"The folder {folder} was created" in dialog.outcome.text()
        assert dialog.button_texts() == [CLOSE]
        assert echo(settings.port, "WLDESK")
    finally:
        app.quit()


@pytest.mark.expect_log_warnings(r"setting 'limit_answers'")
def test_the_window_command_opens_with_a_bad_user_settings_file(launch: Launch) -> None:
    # `wldesk` without a command runs open_app(None) (`wldesk serve` still stops, exit code 2:
    # tests/test_cli.py::test_serve_invalid_user_settings_file)
    path = paths.default_settings_path()
    path.parent.mkdir(parents=True)
    path.write_text('{"limit_answers": -3}', encoding="utf-8")
    app = launch(None)
    assert app.controller.settings_path == path
    assert app.controller.state == "stopped"
    assert app.window.isVisible()
    assert "setting 'limit_answers'" in shown_dialog(app).message.text()


def test_an_orthanc_configuration_still_starts_the_window(qtbot: QtBot, launch: Launch,
                                                          tmp_path: Path,
                                                          worklist_folder: Path) -> None:
    port = free_port()
    config = tmp_path / "orthanc.json"
    config.write_text(json.dumps({"DicomAet": "CLINIC_WL", "DicomPort": port,
                                  "DicomAlwaysAllowFindWorklist": True,
                                  "Worklists": {"Database": str(worklist_folder)}}),
                      encoding="utf-8")
    app = launch(config)
    assert app.startup_dialog is None
    assert app.controller.settings_path == paths.default_settings_path()  # never the Orthanc file
    assert app.controller.settings.ae_title == "CLINIC_WL"
    qtbot.waitUntil(lambda: app.controller.state == "running", timeout=10000)
    assert echo(port, "CLINIC_WL")
