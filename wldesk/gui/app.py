"""Starting the tray application: single instance, settings, window, tray, server."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path

from PySide6.QtCore import QObject, QTimer
from PySide6.QtNetwork import QLocalServer, QLocalSocket
from PySide6.QtWidgets import QApplication, QMessageBox, QSystemTrayIcon

from wldesk.core import paths
from wldesk.core.logs import setup_logging
from wldesk.core.settings import Settings
from wldesk.gui.controller import ServerController
from wldesk.gui.mainwindow import MainWindow
from wldesk.gui.resources import icon
from wldesk.gui.tray import TrayIcon

log = logging.getLogger(__name__)
INSTANCE_NAME = "wldesk-single-instance"


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
    """The running application (without the event loop, so that tests can drive it)."""

    def __init__(self, settings: Settings, settings_path: Path, *, minimized: bool = False,
                 instance_name: str = INSTANCE_NAME) -> None:
        super().__init__()
        self.controller = ServerController(settings, settings_path)
        self.window = MainWindow(self.controller)
        self.tray = TrayIcon(self.controller, self.window.bring_forward, self.quit)
        tray_available = QSystemTrayIcon.isSystemTrayAvailable()
        self.window.hide_on_close = tray_available  # without a tray, closing the window quits
        if tray_available:
            self.tray.show()
        self.instance = QLocalServer(self)
        QLocalServer.removeServer(instance_name)  # a stale name left by a crash
        if not self.instance.listen(instance_name):
            log.warning("single-instance channel unavailable: %s", self.instance.errorString())
        self.instance.newConnection.connect(self._on_second_launch)
        if settings.start_at_launch:
            self.controller.start()
        if not minimized or not tray_available:
            self.window.show()

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
        self.window.close()
        app = QApplication.instance()
        if app is not None:
            app.quit()


def run_gui(settings: Settings, settings_path: Path, minimized: bool) -> int:
    app = QApplication(sys.argv[:1])
    app.setApplicationName("wldesk")
    app.setQuitOnLastWindowClosed(False)
    app.setWindowIcon(icon("wldesk"))
    # A second launch shows the running window; a second login autostart (machine-wide and
    # per-user entries both present) just leaves quietly.
    if ask_running_instance(show=not minimized):
        return 0
    setup_logging(paths.log_dir() / "wldesk.log")
    try:
        main = WldeskApp(settings, settings_path, minimized=minimized)
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
