"""The tray icon: its look shows the server's state; its menu is rebuilt from live state."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QUrl
from PySide6.QtGui import QAction, QDesktopServices
from PySide6.QtWidgets import QMenu, QSystemTrayIcon, QWidget

from wldesk.gui.connection import after_restart_text
from wldesk.gui.controller import ServerController
from wldesk.gui.resources import icon

STATE_TEXT = {"running": "running", "starting": "starting…", "restarting": "restarting…",
              "stopping": "stopping…", "stopped": "stopped", "error": "error"}


def state_icon_name(state: str) -> str:
    return {"running": "state-running", "error": "state-error", "stopped": "state-stopped"}.get(
        state, "state-starting")


def open_folder(path: str) -> bool:
    return QDesktopServices.openUrl(QUrl.fromLocalFile(path))


class TrayIcon(QSystemTrayIcon):
    def __init__(self, controller: ServerController, show_window: Callable[[], None],
                 quit_app: Callable[[], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self._show_window = show_window
        self._quit_app = quit_app
        self.menu = QMenu(parent)
        self.menu.aboutToShow.connect(self.rebuild_menu)
        self.setContextMenu(self.menu)
        self.activated.connect(self._on_activated)
        controller.state_changed.connect(self._on_state)
        controller.store_changed.connect(self.update_look)
        controller.settings_changed.connect(self.update_look)
        controller.addresses_changed.connect(self.update_look)
        controller.restart_failed.connect(self._on_restart_failed)
        self.rebuild_menu()
        self.update_look()

    def tooltip_text(self) -> str:
        """State, the connection card, saved settings not in use yet, entries and folder: the
        running server's (without one, the saved settings, which start next)."""
        controller = self.controller
        entries = len(controller.store)
        pending = after_restart_text(controller.live_settings, controller.settings)
        return "\n".join([
            f"wldesk — {STATE_TEXT.get(controller.state, controller.state)}",
            *controller.connection_lines(), *([pending] if pending else []),
            f"{entries} worklist entr{'y' if entries == 1 else 'ies'} in "
            f"{controller.shown_settings.database}"])

    def update_look(self) -> None:
        self.setIcon(icon(state_icon_name(self.controller.state)))
        self.setToolTip(self.tooltip_text())

    def rebuild_menu(self) -> None:
        """Build the menu from the current state (called each time it is about to show)."""
        self.menu.clear()
        self.menu.addAction("Open wldesk", self._show_window)
        state = self.controller.state
        if state in ("running", "starting"):
            self.menu.addAction("Stop server", self.controller.stop)
        else:
            start = self.menu.addAction("Start server", self.controller.start)
            start.setEnabled(state not in ("stopping", "restarting"))
        self.menu.addAction("Open worklist folder",
                            lambda: open_folder(self.controller.settings.database))
        self.menu.addSeparator()
        self.menu.addAction("Quit", self._quit_app)

    def actions_by_text(self) -> dict[str, QAction]:
        return {action.text(): action for action in self.menu.actions() if action.text()}

    def _on_state(self, state: str, message: str) -> None:
        self.update_look()
        if state == "error" and self.isVisible():
            self.showMessage("wldesk: the worklist server is not running", message,
                             QSystemTrayIcon.MessageIcon.Critical, 10000)

    def _on_restart_failed(self, message: str) -> None:
        self.update_look()
        if self.isVisible():
            self.showMessage("wldesk: the restart did not work", message,
                             QSystemTrayIcon.MessageIcon.Warning, 10000)

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger,
                      QSystemTrayIcon.ActivationReason.DoubleClick):
            self._show_window()
