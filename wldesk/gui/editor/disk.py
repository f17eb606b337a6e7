"""The editor and the file on disk: noticing that someone else changed the file, and the bar that
asks what to do when there are changes here too."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget


class FileWatch(QObject):
    """Says (``changed``) when the file at :attr:`path` may have changed on disk: written in place,
    replaced (another file renamed over it, as atomic writers do), or removed.

    It watches the file and its folder (a rename over the file is a change of the folder; the file
    watched until then is gone), and watches the new file after a replacement. Events are
    gathered for ``delay_ms``: a writer's several writes are one change.
    """

    changed = Signal()

    def __init__(self, parent: QObject | None = None, delay_ms: int = 250) -> None:
        super().__init__(parent)
        self.path: Path | None = None
        self._watcher = QFileSystemWatcher(self)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._watcher.fileChanged.connect(self._timer.start)
        self._watcher.directoryChanged.connect(self._timer.start)
        self._timer.timeout.connect(self._fire)

    def watch(self, path: Path | None) -> None:
        """Watch ``path`` (and its folder) instead of what was watched; None: nothing."""
        watched = self._watcher.files() + self._watcher.directories()
        if watched:
            self._watcher.removePaths(watched)
        self.path = path
        self._add()

    def _add(self) -> None:
        if self.path is None:
            return
        watched = set(self._watcher.files()) | set(self._watcher.directories())
        for target in (self.path, self.path.parent):
            if str(target) not in watched and target.exists():
                self._watcher.addPath(str(target))

    def _fire(self) -> None:
        self._add()  # a file renamed over the watched one is a new file: watch it too
        self.changed.emit()


class ConflictBar(QFrame):
    """The yellow bar over the table: the file changed on disk while there are changes here.
    Reload (theirs; the changes here are lost) or Keep mine (saving then replaces theirs)."""

    reload = Signal()
    keep_mine = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet("QFrame { background: #fff3cd; }")
        bar = QHBoxLayout(self)
        self.label = QLabel()
        self.label.setWordWrap(True)
        bar.addWidget(self.label, 1)
        self.reload_button = QPushButton("Reload")
        self.reload_button.setToolTip("Show the file as it is on disk now; the changes made here "
                                      "are lost")
        self.reload_button.clicked.connect(self.reload)
        self.keep_button = QPushButton("Keep mine")
        self.keep_button.setToolTip("Go on with the version here; saving it replaces the file on "
                                    "disk")
        self.keep_button.clicked.connect(self.keep_mine)
        bar.addWidget(self.reload_button)
        bar.addWidget(self.keep_button)
        self.hide()

    def ask(self, text: str, *, can_reload: bool = True) -> None:
        """Show the bar with ``text`` (Reload only when there is a file to reload)."""
        self.label.setText(text)
        self.reload_button.setVisible(can_reload)
        self.show()
