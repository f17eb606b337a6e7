"""The main window: a status header over the Worklist, Activity, Test query and Settings tabs;
it opens entries in editors (several at once) and the new-entry form."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from wldesk import __version__
from wldesk.core import paths
from wldesk.gui.activity_tab import ActivityTab
from wldesk.gui.controller import ServerController
from wldesk.gui.editor.new_entry import NewEntryDialog
from wldesk.gui.editor.window import EditorWindow
from wldesk.gui.resources import icon
from wldesk.gui.settings_tab import SettingsTab
from wldesk.gui.testquery_tab import TestQueryTab
from wldesk.gui.tray import STATE_TEXT, open_folder, state_icon_name
from wldesk.gui.worklist_tab import WorklistTab


class StatusHeader(QWidget):
    """State, AE title, port, folder, entries and problem files, with Start/Stop."""

    def __init__(self, controller: ServerController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        layout = QHBoxLayout(self)
        self.state_icon = QLabel()
        self.state_label = QLabel()
        self.state_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details = QLabel()
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.details.setOpenExternalLinks(False)
        self.details.linkActivated.connect(lambda _link: open_folder(controller.settings.database))
        self.button = QPushButton()
        self.button.clicked.connect(self._toggle)
        text = QVBoxLayout()
        text.addWidget(self.state_label)
        text.addWidget(self.details)
        layout.addWidget(self.state_icon)
        layout.addLayout(text, 1)
        layout.addWidget(self.button)
        controller.state_changed.connect(self.refresh)
        controller.store_changed.connect(self.refresh)
        controller.settings_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        controller, settings = self.controller, self.controller.settings
        state = controller.state
        self.state_icon.setPixmap(icon(state_icon_name(state)).pixmap(40, 40))
        headline = f"<b>Server {STATE_TEXT.get(state, state)}</b>"
        if state == "error":
            headline += f": {controller.message}"
        self.state_label.setText(headline)
        snapshot = controller.snapshot()
        problems = len(snapshot.problems)
        self.details.setText(
            f"AE title <b>{settings.ae_title}</b> · port <b>{settings.port}</b> · "
            f"folder <a href='open'>{settings.database}</a> · "
            f"<b>{len(snapshot.entries)}</b> entries · "
            + (f"<b style='color:#b00'>{problems}</b> problem files" if problems
               else "no problem files"))
        running = state in ("running", "starting")
        self.button.setText("Stop server" if running else "Start server")
        self.button.setEnabled(state != "stopping")

    def _toggle(self) -> None:
        if self.controller.state in ("running", "starting"):
            self.controller.stop()
        else:
            self.controller.start()


class MainWindow(QMainWindow):
    def __init__(self, controller: ServerController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.quitting = False
        self.hide_on_close = True
        self.setWindowTitle("wldesk — DICOM worklist server")
        self.setWindowIcon(icon("wldesk"))
        self.resize(1100, 700)
        central = QWidget()
        layout = QVBoxLayout(central)
        self.header = StatusHeader(controller)
        layout.addWidget(self.header)
        self.tabs = QTabWidget()
        self.worklist = WorklistTab(controller)
        self.activity = ActivityTab(controller)
        self.test_query = TestQueryTab(controller)
        self.settings = SettingsTab(controller)
        self.tabs.addTab(self.worklist, "Worklist")
        self.tabs.addTab(self.activity, "Activity")
        self.tabs.addTab(self.test_query, "Test query")
        self.tabs.addTab(self.settings, "Settings")
        layout.addWidget(self.tabs)
        self.setCentralWidget(central)
        self.worklist.open_entry.connect(self.open_entry)
        self.editors: list[EditorWindow] = []
        new_button = QPushButton("New entry…")
        new_button.setToolTip("Schedule a procedure: a new worklist entry in the folder")
        new_button.clicked.connect(self.new_entry)
        self.tabs.setCornerWidget(new_button, Qt.Corner.TopRightCorner)
        self._build_menus()

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction("&New entry…", QKeySequence.StandardKey.New, self.new_entry)
        file_menu.addAction("&Open…", QKeySequence.StandardKey.Open, self.open_file)
        file_menu.addSeparator()
        file_menu.addAction("Open worklist folder",
                            lambda: open_folder(self.controller.settings.database))
        file_menu.addAction("Open log folder", lambda: open_folder(str(paths.log_dir())))
        file_menu.addSeparator()
        file_menu.addAction("Close window", self.close)
        server_menu = self.menuBar().addMenu("&Server")
        server_menu.addAction("Start", self.controller.start)
        server_menu.addAction("Stop", self.controller.stop)
        server_menu.addAction("Restart", self.controller.restart)
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction("About wldesk", self._about)

    def open_entry(self, path: Path) -> EditorWindow:
        """Open ``path`` in an editor (the one already showing it, if any). The file is read in
        the background; when it cannot be, the editor says why and closes."""
        path = Path(path)
        for editor in self.editors:
            if editor.document.path is not None and editor.document.path.resolve() == path.resolve():
                editor.show()
                editor.raise_()
                editor.activateWindow()
                return editor
        settings = self.controller.settings
        editor = EditorWindow.open_file(path, folder=Path(settings.database),
                                        modalities=settings.modalities,
                                        open_path=self.open_entry, parent=self)
        self.editors.append(editor)
        editor.destroyed.connect(lambda _obj=None, e=editor: self._editor_closed(e))
        editor.show()
        return editor

    def _editor_closed(self, editor: EditorWindow) -> None:
        if editor in self.editors:
            self.editors.remove(editor)

    def open_file(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Open worklist entry",
                                              self.controller.settings.database,
                                              "Worklist files (*.wl);;All files (*)")
        if name:
            self.open_entry(Path(name))

    def new_entry_dialog(self) -> NewEntryDialog:
        """The new-entry form for the worklist folder and the known modalities."""
        settings = self.controller.settings
        return NewEntryDialog(Path(settings.database), settings.modalities, parent=self)

    def new_entry(self) -> None:
        dialog = self.new_entry_dialog()
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()

    def close_editors(self) -> bool:
        """Close every open editor (each asks about unsaved changes); False if one refused."""
        return all(editor.close() for editor in list(self.editors))

    def bring_forward(self) -> None:
        self.show()
        self.setWindowState(self.windowState() & ~Qt.WindowState.WindowMinimized)
        self.raise_()
        self.activateWindow()

    def _about(self) -> None:
        QMessageBox.about(self, "About wldesk",
                          f"wldesk {__version__}\nDICOM Modality Worklist server.\n"
                          f"Settings: {self.controller.settings_path}\nLogs: {paths.log_dir()}")

    def closeEvent(self, event: QCloseEvent) -> None:
        """Closing hides the window to the tray; Quit (tray or app) really quits."""
        if self.hide_on_close and not self.quitting:
            event.ignore()
            self.hide()
            return
        if not self.close_editors():
            event.ignore()
            return
        event.accept()
