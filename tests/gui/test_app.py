"""The application shell: start/stop through the UI, the tray menu, single instance, quitting."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import shiboken6
from pynetdicom import AE
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QMenu, QMessageBox
from pytestqt.qtbot import QtBot

from tests.helpers.ports import free_port
from tests.helpers.samples import write_entry
from wldesk.core.settings import Settings
from wldesk.gui.app import TRAY_NOTICE, WldeskApp, ask_running_instance
from wldesk.gui.controller import ServerController
from wldesk.gui.mainwindow import MainWindow
from wldesk.gui.tray import TrayIcon


def echo(port: int) -> bool:
    ae = AE(ae_title="PROBE")
    ae.add_requested_context(Verification)
    assoc = ae.associate("127.0.0.1", port, ae_title="WLDESK")
    if not assoc.is_established:
        return False
    ok = assoc.send_c_echo().Status == 0
    assoc.release()
    return bool(ok)


@pytest.fixture
def window(qtbot: QtBot, controller: ServerController) -> MainWindow:
    made = MainWindow(controller)
    qtbot.addWidget(made)
    return made


def test_start_and_stop_from_the_header(qtbot: QtBot, window: MainWindow,
                                        controller: ServerController) -> None:
    header = window.header
    assert header.button.text() == "Start server"
    header.button.click()
    qtbot.waitUntil(lambda: controller.state == "running", timeout=10000)
    assert header.button.text() == "Stop server"
    assert "running" in header.state_label.text()
    assert echo(controller.settings.port)
    header.button.click()
    qtbot.waitUntil(lambda: controller.state == "stopped", timeout=10000)
    assert not echo_possible(controller.settings.port)


def echo_possible(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.expect_log_warnings(r"skipped: not a DICOM file")
def test_header_counts_entries_and_problems(qtbot: QtBot, window: MainWindow,
                                            worklist_folder: Path) -> None:
    write_entry(worklist_folder, "a.wl")
    (worklist_folder / "bad.wl").write_bytes(b"not dicom")
    qtbot.waitUntil(lambda: "1</b> entries" in window.header.details.text(), timeout=5000)
    assert "1</b> problem files" in window.header.details.text()


@pytest.mark.expect_log_warnings(r"the port is already in use")
def test_port_in_use_shows_the_error(qtbot: QtBot, window: MainWindow,
                                     controller: ServerController) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", controller.settings.port))
        blocker.listen()
        controller.start()
        qtbot.waitUntil(lambda: controller.state == "error", timeout=10000)
    assert "in use" in window.header.state_label.text()
    assert window.header.button.text() == "Start server"


def test_tray_menu_follows_the_state(qtbot: QtBot, controller: ServerController,
                                     window: MainWindow) -> None:
    shown: list[bool] = []
    quit_calls: list[bool] = []
    tray = TrayIcon(controller, lambda: shown.append(True), lambda: quit_calls.append(True))
    tray.rebuild_menu()
    actions = tray.actions_by_text()
    assert list(actions) == ["Open wldesk", "Start server", "Open worklist folder", "Quit"]
    assert "stopped" in tray.toolTip() and str(controller.settings.port) in tray.toolTip()
    actions["Start server"].trigger()
    qtbot.waitUntil(lambda: controller.state == "running", timeout=10000)
    tray.rebuild_menu()
    actions = tray.actions_by_text()
    assert "Stop server" in actions
    assert "running" in tray.toolTip()
    actions["Open wldesk"].trigger()
    assert shown == [True]
    actions["Stop server"].trigger()
    qtbot.waitUntil(lambda: controller.state == "stopped", timeout=10000)
    tray.rebuild_menu()
    tray.actions_by_text()["Quit"].trigger()
    assert quit_calls == [True]


def test_tray_icon_changes_with_the_state(qtbot: QtBot, controller: ServerController) -> None:
    tray = TrayIcon(controller, lambda: None, lambda: None)
    stopped = tray.icon().cacheKey()
    controller.start()
    qtbot.waitUntil(lambda: controller.state == "running", timeout=10000)
    assert tray.icon().cacheKey() != stopped


def test_close_hides_to_tray_and_quit_stops(qtbot: QtBot, controller: ServerController) -> None:
    made = MainWindow(controller, hides_to_tray=lambda: True)
    qtbot.addWidget(made)
    made.show()
    made.close()
    assert made.isHidden()  # hidden, not gone: the server keeps serving
    made.bring_forward()
    assert made.isVisible()
    made.quitting = True
    made.close()
    assert made.isHidden()


@pytest.fixture
def app_settings(tmp_path: Path, worklist_folder: Path) -> Settings:
    return Settings(database=str(worklist_folder), port=free_port(), bind_address="127.0.0.1")


@pytest.fixture
def instance_name() -> str:
    return f"wldesk-test-{uuid.uuid4().hex}"


@pytest.fixture
def running_app(qtbot: QtBot, app_settings: Settings, tmp_path: Path,
                instance_name: str) -> Iterator[WldeskApp]:
    app = WldeskApp(app_settings, tmp_path / "settings.json", instance_name=instance_name)
    qtbot.addWidget(app.window)
    yield app
    app.quit()


def test_app_starts_the_server_at_launch(qtbot: QtBot, running_app: WldeskApp) -> None:
    qtbot.waitUntil(lambda: running_app.controller.state == "running", timeout=10000)
    assert running_app.window.isVisible()
    assert echo(running_app.controller.settings.port)


def test_second_launch_brings_the_window_forward(qtbot: QtBot, running_app: WldeskApp,
                                                 instance_name: str) -> None:
    running_app.window.hide()
    assert ask_running_instance(instance_name)
    qtbot.waitUntil(running_app.window.isVisible, timeout=5000)
    assert not ask_running_instance(f"{instance_name}-nobody")


def test_quit_stops_the_server(qtbot: QtBot, app_settings: Settings, tmp_path: Path,
                               instance_name: str) -> None:
    app = WldeskApp(app_settings, tmp_path / "settings.json", instance_name=instance_name,
                    minimized=True)
    qtbot.addWidget(app.window)
    qtbot.waitUntil(lambda: app.controller.state == "running", timeout=10000)
    app.quit()
    assert not echo_possible(app_settings.port)


def test_quit_asks_open_editors_about_unsaved_changes(
        qtbot: QtBot, running_app: WldeskApp, worklist_folder: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    answers = [QMessageBox.StandardButton.Cancel]
    monkeypatch.setattr(QMessageBox, "question", lambda *_args: answers[0])
    path = write_entry(worklist_folder, "a.wl")
    qtbot.waitUntil(lambda: running_app.controller.state == "running", timeout=10000)
    editor = running_app.window.open_entry(path)
    qtbot.waitUntil(lambda: not editor.loading, timeout=10000)
    assert editor.model.setData(editor.model.find("PatientID"), "CHANGED")
    running_app.quit()  # Cancel: nothing is lost, wldesk keeps running
    assert editor.isVisible()
    assert echo(running_app.controller.settings.port)
    answers[0] = QMessageBox.StandardButton.Discard
    running_app.quit()
    assert not editor.isVisible()
    assert not echo_possible(running_app.controller.settings.port)


# --- quitting and closing -------------------------------------------------------------------------

def file_menu(window: MainWindow) -> QMenu:
    menu = window.menuBar().actions()[0].menu()
    assert isinstance(menu, QMenu)
    return menu


def file_action(window: MainWindow, text: str) -> QAction:
    return next(a for a in file_menu(window).actions() if a.text() == text)


def notices() -> list[QMessageBox]:
    return [w for w in QApplication.topLevelWidgets()
            if isinstance(w, QMessageBox) and w.isVisible() and w.text() == TRAY_NOTICE]


def has_quit(app: WldeskApp) -> bool:
    """The quit path ran: the single-instance channel closed, the window and the tray gone."""
    return not app.instance.isListening() and app.window.isHidden() and not app.tray.isVisible()


def test_file_quit_stops_the_server_and_quits(qtbot: QtBot, running_app: WldeskApp) -> None:
    qtbot.waitUntil(lambda: running_app.controller.state == "running", timeout=10000)
    quit_action = file_action(running_app.window, "&Quit")
    assert quit_action.shortcut() == QKeySequence("Ctrl+Q")
    quit_action.trigger()
    assert has_quit(running_app)
    assert not echo_possible(running_app.controller.settings.port)


def test_file_quit_asks_open_editors_and_can_be_refused(
        qtbot: QtBot, running_app: WldeskApp, worklist_folder: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    answers = [QMessageBox.StandardButton.Cancel]
    asked: list[str] = []

    def question(_parent: object, title: str, *_args: object) -> QMessageBox.StandardButton:
        asked.append(title)
        return answers[0]

    monkeypatch.setattr(QMessageBox, "question", question)
    path = write_entry(worklist_folder, "a.wl")
    qtbot.waitUntil(lambda: running_app.controller.state == "running", timeout=10000)
    editor = running_app.window.open_entry(path)
    assert editor is not None
    qtbot.waitUntil(lambda: not editor.loading, timeout=10000)
    assert editor.model.setData(editor.model.find("PatientID"), "CHANGED")
    quit_action = file_action(running_app.window, "&Quit")
    quit_action.trigger()  # Cancel: nothing is lost, wldesk keeps serving
    assert len(asked) == 1
    assert editor.isVisible() and running_app.window.isVisible()
    assert echo(running_app.controller.settings.port)
    answers[0] = QMessageBox.StandardButton.Discard
    quit_action.trigger()
    assert len(asked) == 2
    assert has_quit(running_app)
    assert not echo_possible(running_app.controller.settings.port)


def test_closing_the_window_without_a_tray_quits(qtbot: QtBot, app_settings: Settings,
                                                 tmp_path: Path, instance_name: str) -> None:
    app = WldeskApp(app_settings, tmp_path / "settings.json", instance_name=instance_name,
                    minimized=True, tray_available=lambda: False)
    qtbot.addWidget(app.window)
    assert app.window.isVisible()  # minimized, but there is no tray to show it
    assert not app.tray.isVisible()
    file_menu(app.window).aboutToShow.emit()
    assert not file_action(app.window, "Close window").isVisible()  # closing is quitting here
    qtbot.waitUntil(lambda: app.controller.state == "running", timeout=10000)
    app.window.close()
    qtbot.waitUntil(lambda: has_quit(app), timeout=5000)
    assert not echo_possible(app_settings.port)
    assert notices() == []


def test_closing_the_window_without_a_tray_asks_open_editors_first(
        qtbot: QtBot, app_settings: Settings, tmp_path: Path, instance_name: str, *,
        worklist_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    answers, asked = [QMessageBox.StandardButton.Cancel], []

    def question(*_args: object) -> QMessageBox.StandardButton:
        asked.append(answers[0])
        return answers[0]

    monkeypatch.setattr(QMessageBox, "question", question)
    app = WldeskApp(app_settings, tmp_path / "settings.json", instance_name=instance_name,
                    tray_available=lambda: False)
    qtbot.addWidget(app.window)
    qtbot.waitUntil(lambda: app.controller.state == "running", timeout=10000)
    editor = app.window.open_entry(write_entry(worklist_folder, "a.wl"))
    qtbot.waitUntil(lambda: not editor.loading, timeout=10000)
    assert editor.model.setData(editor.model.find("PatientID"), "CHANGED")
    app.window.close()  # Cancel: the window, the editor and the server stay
    qtbot.waitUntil(lambda: len(asked) == 1, timeout=5000)  # the quit runs after the close event
    assert app.window.isVisible() and editor.isVisible() and app.instance.isListening()
    assert echo(app_settings.port)
    answers[0] = QMessageBox.StandardButton.Discard
    app.window.close()
    qtbot.waitUntil(lambda: has_quit(app), timeout=5000)
    assert len(asked) == 2
    assert not shiboken6.isValid(editor) or not editor.isVisible()
    assert not echo_possible(app_settings.port)


@pytest.mark.qt_log_ignore("systemTrayWindowChanged")  # offscreen: no real tray
def test_closing_the_window_with_a_tray_hides_it_and_says_so_once(
        qtbot: QtBot, app_settings: Settings, tmp_path: Path, instance_name: str) -> None:
    app = WldeskApp(app_settings, tmp_path / "settings.json", instance_name=instance_name,
                    tray_available=lambda: True)
    qtbot.addWidget(app.window)
    assert app.tray.isVisible()
    qtbot.waitUntil(lambda: app.controller.state == "running", timeout=10000)
    app.window.close()
    assert app.window.isHidden()
    assert echo(app_settings.port)  # still serving, from the tray
    [notice] = notices()  # no balloon here (no real tray): the notice is a message box
    notice.close()
    app.window.bring_forward()
    app.window.close()
    assert app.window.isHidden()
    assert notices() == []  # the second time, nothing
    app.quit()
    assert not echo_possible(app_settings.port)
    next_run = WldeskApp(app_settings, tmp_path / "settings.json", instance_name=instance_name,
                         tray_available=lambda: True)
    qtbot.addWidget(next_run.window)
    next_run.window.close()
    assert next_run.window.isHidden()
    assert notices() == []  # nor on the next run
    next_run.quit()


@pytest.mark.qt_log_ignore("systemTrayWindowChanged")  # offscreen: no real tray
def test_a_tray_that_appears_after_start_up_is_used_when_the_window_closes(
        qtbot: QtBot, app_settings: Settings, tmp_path: Path, instance_name: str) -> None:
    tray = [False]
    app = WldeskApp(app_settings, tmp_path / "settings.json", instance_name=instance_name,
                    tray_available=lambda: tray[0])
    qtbot.addWidget(app.window)
    assert not app.tray.isVisible()
    tray[0] = True
    app.window.close()
    assert app.window.isHidden() and app.tray.isVisible()
    assert app.instance.isListening()  # hidden, not quit
    [notice] = notices()
    notice.close()
    app.window.bring_forward()
    tray[0] = False  # ... and one that went away: closing quits
    app.window.close()
    qtbot.waitUntil(lambda: has_quit(app), timeout=5000)


def test_the_window_reopens_on_the_tab_it_was_left_on(qtbot: QtBot,
                                                      controller: ServerController) -> None:
    first = MainWindow(controller)
    qtbot.addWidget(first)
    assert first.tabs.currentWidget() is first.worklist  # nothing remembered yet
    first.tabs.setCurrentWidget(first.activity)
    second = MainWindow(controller)
    qtbot.addWidget(second)
    assert second.tabs.currentWidget() is second.activity
    controller.window_state_file.write_text("{not json", "utf-8")  # a damaged state file
    third = MainWindow(controller)
    qtbot.addWidget(third)
    assert third.tabs.currentWidget() is third.worklist
