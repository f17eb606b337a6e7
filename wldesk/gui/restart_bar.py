"""The Settings tab's restart bar: offers "Restart now" once saved settings need a restart, checks
them against this computer first (a port another program uses stops it, and the bar says why),
and says why when a restart failed and the server went on with the settings it had."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from wldesk.core.net.preflight import Problem
from wldesk.core.settings import Settings
from wldesk.gui.controller import ServerController

RESTART_TEXT = "These changes take effect when the server restarts"
CANNOT_RESTART_TEXT = ("These changes take effect when the server restarts, but it cannot restart "
                       "with them now; it keeps running with the settings it has")
_STYLES = {
    "offer": "#restart_bar { background: #fff4ce; } #restart_bar QLabel { color: #3b2f00; }",
    "failed": "#restart_bar { background: #fde7e9; } #restart_bar QLabel { color: #5c0010; }",
}


class RestartBar(QFrame):
    """Hidden until :meth:`offer` (saved settings need a restart) or a failed restart."""

    def __init__(self, controller: ServerController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.setObjectName("restart_bar")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.label = QLabel(RESTART_TEXT)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.button = QPushButton("Restart now")
        self.button.clicked.connect(self._restart)
        row = QHBoxLayout(self)
        row.addWidget(self.label, 1)
        row.addWidget(self.button)
        self.setStyleSheet(_STYLES["offer"])
        self.hide()
        controller.restart_failed.connect(self.show_failure)
        controller.state_changed.connect(self._on_state)

    def offer(self) -> None:
        """Offer a restart with the saved settings, and check whether the server could make it."""
        self.setStyleSheet(_STYLES["offer"])
        self.label.setText(RESTART_TEXT)
        self.button.show()
        self.button.setEnabled(True)
        self.show()
        self._check(then_restart=False)

    def show_failure(self, message: str) -> None:
        """A restart failed: say why (the message says what runs now)."""
        self.setStyleSheet(_STYLES["failed"])
        self.label.setText(message)
        self.button.hide()
        self.show()

    def _restart(self) -> None:
        """Restart now: check the saved settings against this computer first."""
        self.button.setEnabled(False)
        self._check(then_restart=True)

    def _check(self, *, then_restart: bool) -> None:
        saved = self.controller.settings
        self.controller.check_settings(
            saved, self, lambda problems: self._checked(saved, then_restart, problems))

    def _checked(self, saved: Settings, then_restart: bool, problems: list[Problem]) -> None:
        if self.isHidden() or saved != self.controller.settings:
            return  # the offer is gone, or made again for newer settings
        self.button.setEnabled(True)
        if problems:
            self.label.setText(CANNOT_RESTART_TEXT + ":\n" + "\n".join(p.message for p in problems))
            return
        self.label.setText(RESTART_TEXT)
        if then_restart:
            self.hide()
            self.controller.restart()

    def _on_state(self, state: str, _message: str) -> None:
        if state != "running":
            self.hide()  # the server starts next with the saved settings
