"""The connection card (where modalities reach this worklist: address, AE title, port, with Copy)
and the "after restart" line: saved settings the running server does not use yet."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QPushButton, QWidget

from wldesk.core.settings import Settings
from wldesk.gui.controller import ServerController

PENDING_COLOR = "#7a4a00"
"""The "after restart" line's colour: a note, not an error."""

COPIED_MS = 1500
"""How long the Copy button says it copied."""

_NAMED = (("ae_title", "AE title"), ("port", "port"), ("bind_address", "address"),
          ("database", "folder"))
"""The settings the "after restart" line names with their new value, and how."""


def after_restart_text(live: Settings | None, saved: Settings) -> str:
    """``After restart: AE title WLTEST · port 4243``: what the saved settings change in the
    running server's (``live``) at its next restart; "" without a server or a difference."""
    if live is None or not live.restart_needed_for(saved):
        return ""
    parts = [f"{label} {getattr(saved, name)}" for name, label in _NAMED
             if getattr(saved, name) != getattr(live, name)]
    named = {name for name, _label in _NAMED}
    others = sum(1 for d in Settings.declarations()
                 if d.restart and d.name not in named and getattr(saved, d.name) != getattr(live, d.name))
    if others:
        parts.append(f"{others} more changed setting{'s' if others > 1 else ''}")
    return "After restart: " + " · ".join(parts)


class ConnectionCard(QFrame):
    """What a modality's set-up needs, for the server running (else the one that starts next)."""

    def __init__(self, controller: ServerController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.setObjectName("connection_card")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel()
        self.title.setStyleSheet("font-weight: bold;")
        self.lines = QLabel()
        self.lines.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the address, AE title and port, to paste them into an "
                                    "e-mail or a modality's set-up notes")
        self.copy_button.clicked.connect(self.copy)
        self._copied = QTimer(self)
        self._copied.setSingleShot(True)
        self._copied.setInterval(COPIED_MS)
        self._copied.timeout.connect(lambda: self.copy_button.setText("Copy"))
        layout = QGridLayout(self)
        layout.addWidget(self.title, 0, 0)
        layout.addWidget(self.lines, 1, 0)
        layout.addWidget(self.copy_button, 0, 1, 2, 1, Qt.AlignmentFlag.AlignTop)
        controller.state_changed.connect(self.refresh)
        controller.settings_changed.connect(self.refresh)
        controller.addresses_changed.connect(self.refresh)
        self.refresh()

    def text(self) -> str:
        """The card's three lines, as Copy puts them on the clipboard."""
        return "\n".join(self.controller.connection_lines())

    def refresh(self) -> None:
        running = self.controller.live_settings is not None
        self.title.setText("Modalities connect to" if running
                           else "When started, modalities connect to")
        self.lines.setText(self.text())
        self.lines.setEnabled(running)  # greyed: not answering now

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.text())
        self.copy_button.setText("Copied")
        self._copied.start()
