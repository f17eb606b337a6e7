"""Starting the tray application: single instance, settings, window, tray, server; quitting."""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtNetwork import QLocalServer, QLocalSocket
from PySide6.QtWidgets import QApplication, QMessageBox, QSystemTrayIcon

from wldesk.core import paths
from wldesk.core.fileio import atomic_write_bytes
from wldesk.core.logs import setup_logging
from wldesk.core.settings import Settings, SettingsProblem
from wldesk.core.settings_file import read_settings_file
from wldesk.gui.controller import ServerController
from wldesk.gui.mainwindow import MainWindow
from wldesk.gui.resources import icon
from wldesk.gui.startup import StartupDialog
from wldesk.gui.tray import TrayIcon

log = logging.getLogger(__name__)
INSTANCE_NAME = "wldesk-single-instance"
TRAY_NOTICE = "wldesk keeps serving the worklist in the tray; use Quit to stop it."
TRAY_NOTICE_MARK = "tray-notice-shown"  # in the state folder once the notice has been shown


def ask_running_instance(name: str = INSTANCE_NAME, *, show: bool = True) -> bool:
    """True when another wldesk answers on ``name`` (with ``show``, it shows its window)."""
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(500):
        return False
    socket.write(b"show\n" if show else b"\n")
    socket.waitForBytesWritten(500)
    socket.disconnectFromServer()
    return True


class WldeskApp(QObject):
    """The running application (without the event loop, so that tests can drive it).

    ``problems`` are what ``settings_source`` held that could not be used (``settings`` has the
    defaults instead): the window then opens with the start-up dialog and the server is not
    started. ``tray_available`` is asked at start-up and each time the window is closed.
    """

    def __init__(self, settings: Settings, settings_path: Path, *, minimized: bool = False,
                 instance_name: str = INSTANCE_NAME, problems: Sequence[SettingsProblem] = (),
                 settings_source: Path | None = None,
                 tray_available: Callable[[], bool] = QSystemTrayIcon.isSystemTrayAvailable,
                 state_folder: Path | None = None) -> None:
        super().__init__()
        self.settings_source = settings_source if settings_source is not None else settings_path
        self._tray_available = tray_available
        self.controller = ServerController(settings, settings_path, problems=problems,
                                           state_folder=state_folder)
        self.window = MainWindow(self.controller, quit_app=self.quit,
                                 hides_to_tray=self._tray_ready)
        self.window.hidden_to_tray.connect(self._tell_once_about_the_tray)
        self.tray = TrayIcon(self.controller, self.window.bring_forward, self.quit)
        self._tray_ready()
        self.instance = QLocalServer(self)
        QLocalServer.removeServer(instance_name)  # a stale name left by a crash
        if not self.instance.listen(instance_name):
            log.warning("single-instance channel unavailable: %s", self.instance.errorString())
        self.instance.newConnection.connect(self._on_second_launch)
        self.startup_dialog: StartupDialog | None = None
        if problems:
            log.warning("%s cannot be used as it is (%s): the worklist server is not started "
                        "until the settings are fixed", self.settings_source,
                        "; ".join(p.message for p in problems))
            self._show_startup_dialog(StartupDialog.for_settings_problems(
                self.window, self.settings_source, problems))
            self.controller.settings_changed.connect(self._start_once_fixed)
        elif settings.start_at_launch:
            self.controller.state_changed.connect(self._on_first_start)
            self.controller.start()
        if not minimized or not self.tray.isVisible():
            self.window.show()

    def _start_once_fixed(self, saved: Settings) -> None:
        """The settings file that had problems at start-up has none now (Reset, Save in the
        Settings tab, or the file fixed by hand and read again): the server held back for them
        starts, as it would have at launch."""
        if self.controller.settings_problems:
            return  # read again by hand, and still not right
        self.controller.settings_changed.disconnect(self._start_once_fixed)
        if saved.start_at_launch and self.controller.state in ("stopped", "error"):
            self.controller.state_changed.connect(self._on_first_start)  # a failure: the dialog
            self.controller.start()

    def _tray_ready(self) -> bool:
        """Whether there is a tray to hide the window to (its icon shown when one appeared)."""
        if not self._tray_available():
            return False
        self.tray.show()
        return True

    def _tell_once_about_the_tray(self) -> None:
        """The first time ever that closing hid the window, say that wldesk is still serving."""
        mark = paths.state_dir() / TRAY_NOTICE_MARK
        if mark.exists():
            return
        title = "wldesk is still running"
        if QSystemTrayIcon.isSystemTrayAvailable() and QSystemTrayIcon.supportsMessages():
            self.tray.showMessage(title, TRAY_NOTICE, QSystemTrayIcon.MessageIcon.Information,
                                  15000)
        else:
            box = QMessageBox(QMessageBox.Icon.Information, title, TRAY_NOTICE,
                              parent=self.window)  # owned by the window, shown without it
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.show()
        try:
            mark.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(mark, b"")
        except OSError as exc:
            log.warning("cannot remember that the tray notice was shown (%s): %s", mark, exc)

    def _on_first_start(self, state: str, _message: str) -> None:
        """The outcome of the start at launch (or once the settings file is fixed): a failure
        opens the start-up dialog (later ones show in the header and the tray only)."""
        if state == "starting":
            return
        self.controller.state_changed.disconnect(self._on_first_start)
        if state == "error":
            self._show_startup_dialog(StartupDialog.for_server_error(self.window,
                                                                     self.settings_source))

    def _show_startup_dialog(self, dialog: StartupDialog) -> None:
        self.startup_dialog = dialog
        self.window.bring_forward()
        dialog.show()
        dialog.raise_()

    def _on_second_launch(self) -> None:
        while self.instance.hasPendingConnections():
            connection = self.instance.nextPendingConnection()
            connection.readyRead.connect(lambda c=connection: self._on_request(c.readAll()))
            connection.disconnected.connect(connection.deleteLater)

    def _on_request(self, data: object) -> None:
        if b"show" in bytes(data):  # type: ignore[call-overload]
            self.window.bring_forward()

    def quit(self) -> None:
        """Stop the server cleanly, then leave the event loop (unless an editor keeps changes)."""
        if not self.window.close_editors():
            self.window.bring_forward()
            return
        self.window.quitting = True
        self.controller.stop_and_wait()
        self.tray.hide()
        self.instance.close()
        if self.startup_dialog is not None:
            self.startup_dialog.close()
        self.window.close()
        app = QApplication.instance()
        if app is not None:
            app.quit()


def open_app(config: Path | None, *, minimized: bool = False,
             instance_name: str = INSTANCE_NAME,
             tray_available: Callable[[], bool] = QSystemTrayIcon.isSystemTrayAvailable,
             ) -> WldeskApp:
    """The app of the ``wldesk`` command: settings from ``config`` (wldesk's or Orthanc's) or the
    user's settings file, read leniently, so that a file with problems opens the window with
    the start-up dialog instead of stopping wldesk."""
    loaded = read_settings_file(config)
    return WldeskApp(loaded.settings, loaded.path, minimized=minimized,
                     instance_name=instance_name, problems=loaded.problems,
                     settings_source=loaded.source, tray_available=tray_available)


def run_gui(config: Path | None, minimized: bool) -> int:
    app = QApplication(sys.argv[:1])
    app.setApplicationName("wldesk")
    app.setQuitOnLastWindowClosed(False)
    app.setWindowIcon(icon("wldesk"))
    # A second launch shows the running window; a second login autostart (machine-wide and
    # per-user entries both present) just leaves quietly.
    if ask_running_instance(show=not minimized):
        return 0
    # Before the settings are read: what reading them warns about goes to the log file too.
    setup_logging(paths.log_dir() / "wldesk.log")
    try:
        main = open_app(config, minimized=minimized)
    except OSError as exc:
        QMessageBox.critical(None, "wldesk", f"wldesk cannot start: {exc}")
        return 1
    app.aboutToQuit.connect(main.controller.stop_and_wait)

    def on_signal(signum: int, frame: object) -> None:
        log.info("received %s, quitting", signal.Signals(signum).name)
        main.quit()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    wake = QTimer()  # lets Python run signal handlers while Qt's event loop waits
    wake.start(250)
    wake.timeout.connect(lambda: None)
    return app.exec()
