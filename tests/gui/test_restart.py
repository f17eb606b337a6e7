"""Issue #12: a restart never trades a working server for a broken one, and the window never shows
saved settings as the live ones. Real servers on real ports; the port another program holds is a
socket of the test."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest
from pynetdicom import AE
from pynetdicom.sop_class import ModalityWorklistInformationFind  # type: ignore[attr-defined]
from PySide6.QtCore import QCoreApplication
from pytestqt.qtbot import QtBot

from tests.conftest import LogWarnings
from tests.helpers.ports import LOCALHOST, free_port
from tests.helpers.samples import name_query, write_entry
from wldesk.core.net.scu import find as scu_find
from wldesk.core.settings_file import load_settings
from wldesk.gui.activity_tab import ActivityModel
from wldesk.gui.controller import ServerController
from wldesk.gui.mainwindow import MainWindow
from wldesk.gui.tray import TrayIcon

NOT_HERE = "198.51.100.7"  # TEST-NET-2 (RFC 5737): on no computer's network


def accessions(port: int) -> list[str]:
    """The accession numbers a modality gets from the worklist server on 127.0.0.1:``port``."""
    ae = AE(ae_title="MODALITY")
    ae.add_requested_context(ModalityWorklistInformationFind)
    ae.connection_timeout = ae.acse_timeout = 5
    try:
        assoc = ae.associate(LOCALHOST, port, ae_title="WLDESK")
        assert assoc.is_established
        try:
            result = scu_find(assoc, name_query(), timeout=10)
        finally:
            assoc.release()
    finally:
        ae.shutdown()
    assert result.final_status == 0x0000
    return sorted(str(answer.AccessionNumber) for answer in result.answers)


@pytest.fixture
def window(qtbot: QtBot, controller: ServerController, worklist_folder: Path) -> MainWindow:
    write_entry(worklist_folder, "a.wl", accession="ACC-1")
    made = MainWindow(controller)
    qtbot.addWidget(made)
    controller.start()
    qtbot.waitUntil(lambda: controller.state == "running", timeout=10000)
    qtbot.waitUntil(lambda: accessions(controller.settings.port) == ["ACC-1"], timeout=10000)
    return made


def activity_rows(window: MainWindow, status: str) -> list[str]:
    """The Query column (the message) of the Activity tab's rows with ``status``."""
    model = window.activity.model
    return [model.cell(r, ActivityModel.QUERY) for r in range(model.rowCount())
            if model.cell(r, ActivityModel.STATUS) == status]


def wait_for_restart(qtbot: QtBot, controller: ServerController) -> None:
    assert controller.state == "restarting"
    qtbot.waitUntil(lambda: controller.state != "restarting", timeout=20000)


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex((LOCALHOST, port)) == 0


@pytest.mark.expect_log_warnings(r"the port is already in use", r"could not restart")
def test_restart_to_a_port_another_program_holds_keeps_the_old_server(
        qtbot: QtBot, window: MainWindow, controller: ServerController, other_program: int) -> None:
    old_port, tab = controller.settings.port, window.settings
    tab.spin_box("port").setValue(other_program)
    qtbot.waitUntil(lambda: "already used by another program" in tab.warning_text("port"),
                    timeout=5000)
    assert tab.save_button.isEnabled()  # a port in use does not stop Save...
    tab.save_button.click()
    assert load_settings(controller.settings_path).port == other_program
    # ... but it stops "Restart now", and the bar says why
    qtbot.waitUntil(lambda: "cannot restart with them now" in tab.restart_label.text(), timeout=5000)
    assert f"Port {other_program} is already used by another program" in tab.restart_label.text()
    tab.restart_button.click()
    qtbot.waitUntil(tab.restart_button.isEnabled, timeout=5000)
    assert controller.state == "running" and not tab.restart_bar.isHidden()
    assert accessions(old_port) == ["ACC-1"]

    controller.restart()  # Server › Restart: no check first, the restart itself is safe
    wait_for_restart(qtbot, controller)
    assert controller.state == "running"
    assert accessions(old_port) == ["ACC-1"]
    message = controller.restart_problem
    assert message == (
        f"The server could not restart with the new settings (cannot listen on "
        f"{LOCALHOST}:{other_program}: the port is already in use). It went on answering with the "
        f"settings it had (AE title WLDESK, port {old_port}). Those are the saved settings again.")
    # the window says so: the header, the Settings tab's bar, the Activity tab
    assert window.header.problem.text() == message and window.header.problem.isVisibleTo(window)
    assert tab.restart_label.text() == message and not tab.restart_bar.isHidden()
    assert not tab.restart_button.isVisibleTo(tab)
    qtbot.waitUntil(lambda: activity_rows(window, "restart failed") == [message], timeout=5000)
    assert any(f"{other_program}: the port is already in use" in text
               for text in activity_rows(window, "server not started"))
    # the saved settings are the running server's again
    assert load_settings(controller.settings_path).port == old_port
    assert controller.settings.port == old_port and tab.spin_box("port").value() == old_port
    assert window.header.pending.isHidden()


@pytest.mark.expect_log_warnings(r"the address is not one of this computer's", r"could not restart")
def test_restart_to_an_address_not_on_this_computer_keeps_the_old_server(
        qtbot: QtBot, window: MainWindow, controller: ServerController) -> None:
    port, tab = controller.settings.port, window.settings
    tab.line_edit("bind_address").setText(NOT_HERE)
    qtbot.waitUntil(lambda: tab.warning_text("bind_address").startswith(
        f"{NOT_HERE} is not an address of this computer"), timeout=5000)
    tab.save_button.click()
    controller.restart()
    wait_for_restart(qtbot, controller)
    assert controller.state == "running"
    assert accessions(port) == ["ACC-1"]
    assert "the address is not one of this computer's" in window.header.problem.text()
    assert "went on answering" in window.header.problem.text()
    qtbot.waitUntil(lambda: len(activity_rows(window, "restart failed")) == 1, timeout=5000)
    assert load_settings(controller.settings_path).bind_address == LOCALHOST


@pytest.mark.parametrize("broken", ["tls", "folder"])
def test_a_restart_on_the_same_port_that_fails_brings_the_old_server_back(
        qtbot: QtBot, window: MainWindow, controller: ServerController, *, tmp_path: Path,
        worklist_folder: Path, broken: str, log_warnings: LogWarnings) -> None:
    log_warnings.expect("does not exist")
    log_warnings.expect("could not restart")
    port = controller.settings.port
    if broken == "tls":
        change = {"tls_certificate": str(tmp_path / "server.pem"),
                  "tls_key": str(tmp_path / "server.key")}
        why = f"the TLS certificate {tmp_path / 'server.pem'} does not exist"
    else:
        change = {"database": str(tmp_path / "removed")}
        why = f"the worklist folder {tmp_path / 'removed'} does not exist"
    controller.apply_settings(controller.settings.replace(ae_title="WLTEST", **change))
    controller.restart()
    wait_for_restart(qtbot, controller)
    assert controller.state == "running"
    assert accessions(port) == ["ACC-1"]  # as WLDESK, in its own folder
    assert controller.restart_problem == (
        f"The server could not restart with the new settings ({why}). It started again with the "
        f"settings it had (AE title WLDESK, port {port}). Those are the saved settings again.")
    saved = load_settings(controller.settings_path)
    assert (saved.ae_title, saved.tls_certificate, saved.database) == \
        ("WLDESK", "", str(worklist_folder))
    assert window.header.card.text().splitlines()[1:] == ["AE title: WLDESK", f"Port: {port}"]


def test_a_restart_to_a_free_port_moves_the_server(qtbot: QtBot, window: MainWindow,
                                                   controller: ServerController) -> None:
    old_port, new_port = controller.settings.port, free_port()
    controller.apply_settings(controller.settings.replace(port=new_port))
    controller.restart()
    wait_for_restart(qtbot, controller)
    assert controller.state == "running" and controller.restart_problem == ""
    assert accessions(new_port) == ["ACC-1"]
    assert not listening(old_port)
    assert window.header.problem.isHidden() and window.header.pending.isHidden()
    assert window.header.card.text().splitlines()[2] == f"Port: {new_port}"
    # the Activity tab adds events in batches: the old server's stop may come in the next one
    qtbot.waitUntil(lambda: len(activity_rows(window, "server started")) == 2
                    and len(activity_rows(window, "server stopped")) == 1, timeout=5000)
    assert activity_rows(window, "server stopped") == ["server stopped"]


def test_the_header_shows_the_live_settings_and_what_changes_after_a_restart(
        qtbot: QtBot, window: MainWindow, controller: ServerController) -> None:
    header, old_port, new_port = window.header, controller.settings.port, free_port()
    tray = TrayIcon(controller, lambda: None, lambda: None)
    qtbot.waitUntil(lambda: controller.addresses is not None, timeout=5000)
    live_card = ["Address: 127.0.0.1 (this computer only)", "AE title: WLDESK", f"Port: {old_port}"]
    assert header.card.text().splitlines() == live_card and header.pending.isHidden()

    tab = window.settings
    tab.line_edit("ae_title").setText("WLTEST")
    tab.spin_box("port").setValue(new_port)
    tab.save_button.click()  # saved, not restarted
    assert load_settings(controller.settings_path).ae_title == "WLTEST"
    assert header.card.text().splitlines() == live_card  # what answers now
    assert header.pending.text() == f"After restart: AE title WLTEST · port {new_port}"
    assert header.pending.isVisibleTo(window)
    tip = tray.toolTip().splitlines()
    assert tip[1:5] == [*live_card, f"After restart: AE title WLTEST · port {new_port}"]

    controller.restart()
    wait_for_restart(qtbot, controller)
    assert header.card.text().splitlines() == [live_card[0], "AE title: WLTEST", f"Port: {new_port}"]
    assert header.pending.isHidden()
    assert not any(line.startswith("After restart") for line in tray.toolTip().splitlines())

    # stopped: the saved settings, which start next
    tab.line_edit("ae_title").setText("NEXT")
    tab.save_button.click()
    controller.stop()
    qtbot.waitUntil(lambda: controller.state == "stopped", timeout=10000)
    assert header.card.text().splitlines()[1] == "AE title: NEXT"
    assert header.card.title.text() == "When started, modalities connect to"
    assert header.pending.isHidden()


def test_a_saved_folder_is_not_shown_as_served_before_a_restart(
        qtbot: QtBot, window: MainWindow, controller: ServerController, tmp_path: Path,
        worklist_folder: Path) -> None:
    header, tray = window.header, TrayIcon(controller, lambda: None, lambda: None)
    new_folder = tmp_path / "next"
    new_folder.mkdir()
    write_entry(new_folder, "b.wl", accession="ACC-2")
    write_entry(new_folder, "c.wl", accession="ACC-3")
    qtbot.waitUntil(lambda: controller.counts() == (1, 0), timeout=5000)
    window.settings.line_edit("database").setText(str(new_folder))
    window.settings.save_button.click()
    assert load_settings(controller.settings_path).database == str(new_folder)
    assert str(worklist_folder) in header.details.text()  # the folder the server answers from
    assert str(new_folder) not in header.details.text()
    assert "<b>1</b> entries" in header.details.text()
    assert header.pending.text() == f"After restart: folder {new_folder}"
    assert tray.toolTip().splitlines()[-1].endswith(str(worklist_folder))
    assert accessions(controller.settings.port) == ["ACC-1"]

    controller.restart()
    wait_for_restart(qtbot, controller)
    assert accessions(controller.settings.port) == ["ACC-2", "ACC-3"]
    qtbot.waitUntil(lambda: "<b>2</b> entries" in header.details.text(), timeout=5000)
    assert str(new_folder) in header.details.text() and header.pending.isHidden()
    assert tray.toolTip().splitlines()[-1].endswith(str(new_folder))


@pytest.mark.expect_log_warnings(r"does not exist", r"nor start again with the previous ones")
def test_when_neither_settings_can_start_the_window_says_both_whys(
        qtbot: QtBot, window: MainWindow, controller: ServerController, tmp_path: Path,
        worklist_folder: Path) -> None:
    port = controller.settings.port
    controller.apply_settings(controller.settings.replace(database=str(tmp_path / "nowhere")))
    shutil.rmtree(worklist_folder)  # and the folder in use goes away too
    controller.restart()
    wait_for_restart(qtbot, controller)
    assert controller.state == "error" and not listening(port)
    message = controller.restart_problem
    assert message == (
        f"The server could not restart with the new settings (the worklist folder "
        f"{tmp_path / 'nowhere'} does not exist), nor start again with the previous ones (the "
        f"worklist folder {worklist_folder} does not exist). Those are the saved settings again.")
    assert message in window.header.state_label.text()
    assert window.header.button.text() == "Start server"
    assert window.settings.restart_label.text() == message
    assert load_settings(controller.settings_path).database == str(worklist_folder)


def test_quitting_during_a_restart_stops_both_servers(qtbot: QtBot, window: MainWindow,
                                                      controller: ServerController) -> None:
    old_port, new_port = controller.settings.port, free_port()
    controller.apply_settings(controller.settings.replace(port=new_port))
    controller.restart()
    controller.stop_and_wait()  # as Quit does, at once
    assert not listening(old_port) and not listening(new_port)
    QCoreApplication.processEvents()  # the restart's outcome, queued by now: it changes nothing
    assert controller.state == "restarting"
    assert load_settings(controller.settings_path).port == new_port
