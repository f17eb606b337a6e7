"""The main window: a status header over the Worklist, Activity, Modalities, Test query and
Settings tabs; it opens entries in editors (several at once) and the new-entry form."""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
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
from wldesk.core.fileio import atomic_write_bytes, read_json_object
from wldesk.gui.activity_tab import ActivityTab
from wldesk.gui.archive_dialog import ArchiveDialog
from wldesk.gui.connection import PENDING_COLOR, ConnectionCard, after_restart_text
from wldesk.gui.controller import ServerController
from wldesk.gui.csv_import import show_csv_import
from wldesk.gui.editor.new_entry import NewEntryDialog
from wldesk.gui.editor.window import EditorWindow
from wldesk.gui.modalities_tab import ModalitiesTab
from wldesk.gui.qtutil import ERROR_COLOR
from wldesk.gui.resources import icon
from wldesk.gui.settings_tab import SettingsTab
from wldesk.gui.testquery_tab import TestQueryTab
from wldesk.gui.tray import STATE_TEXT, open_folder, state_icon_name
from wldesk.gui.worklist_tab import WorklistTab

log = logging.getLogger(__name__)


class StatusHeader(QWidget):
    """The server's state, the connection card (address, AE title, port), folder, entries and
    problem files, with Start/Stop; saved settings not yet in use, and a failed restart.

    What it shows is the running server's (:attr:`ServerController.live_settings`), or without one
    the saved settings, which the next start uses; never saved values as if they were live."""

    def __init__(self, controller: ServerController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        layout = QHBoxLayout(self)
        self.state_icon = QLabel()
        self.state_label = QLabel()
        self.state_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.state_label.setWordWrap(True)
        self.details = QLabel()
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.details.setOpenExternalLinks(False)
        self.details.linkActivated.connect(
            lambda _link: open_folder(controller.shown_settings.database))
        self.pending = QLabel()
        self.pending.setObjectName("after_restart")
        self.pending.setStyleSheet(f"color: {PENDING_COLOR};")
        self.pending.setToolTip("Saved settings that the server uses once it restarts "
                                "(Restart now in the Settings tab, or Restart in the Server menu)")
        self.problem = QLabel()
        self.problem.setObjectName("restart_problem")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet(f"color: {ERROR_COLOR};")
        self.problem.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.card = ConnectionCard(controller)
        self.button = QPushButton()
        self.button.clicked.connect(self._toggle)
        text = QVBoxLayout()
        text.addWidget(self.state_label)
        text.addWidget(self.details)
        text.addWidget(self.pending)
        text.addWidget(self.problem)
        text.addStretch(1)
        layout.addWidget(self.state_icon, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(text, 1)
        layout.addWidget(self.card)
        layout.addWidget(self.button, 0, Qt.AlignmentFlag.AlignTop)
        controller.state_changed.connect(self.refresh)
        controller.store_changed.connect(self.refresh)
        controller.settings_changed.connect(self.refresh)
        controller.restart_failed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        controller = self.controller
        shown = controller.shown_settings
        state = controller.state
        self.state_icon.setPixmap(icon(state_icon_name(state)).pixmap(40, 40))
        headline = f"<b>Server {STATE_TEXT.get(state, state)}</b>"
        if state == "error":
            headline += f": {controller.message}"
        self.state_label.setText(headline)
        entries, problems = controller.counts()
        self.details.setText(
            f"Folder <a href='open'>{html.escape(shown.database)}</a> · "
            f"<b>{entries}</b> entries · "
            + (f"<b style='color:#b00'>{problems}</b> problem files" if problems
               else "no problem files"))
        pending = after_restart_text(controller.live_settings, controller.settings)
        self.pending.setText(pending)
        self.pending.setHidden(not pending)
        problem = controller.restart_problem
        self.problem.setText(problem)
        self.problem.setHidden(not problem or controller.message == problem)  # else in the headline
        running = state in ("running", "starting")
        self.button.setText("Stop server" if running else "Start server")
        self.button.setEnabled(state not in ("stopping", "restarting"))

    def _toggle(self) -> None:
        if self.controller.state in ("running", "starting"):
            self.controller.stop()
        else:
            self.controller.start()


class MainWindow(QMainWindow):
    """``quit_app`` is what File > Quit does, and closing the window where it does not hide to
    the tray (``hides_to_tray``, asked at each close: a tray can come and go); without it, both
    close the window (after the editors). The app wires its own quit in."""

    hidden_to_tray = Signal()  # closing hid the window: wldesk keeps serving from the tray

    def __init__(self, controller: ServerController, parent: QWidget | None = None, *,
                 quit_app: Callable[[], None] | None = None,
                 hides_to_tray: Callable[[], bool] = lambda: False) -> None:
        super().__init__(parent)
        self.controller = controller
        self.quitting = False
        self._quit_app = quit_app if quit_app is not None else self._close_for_good
        self._hides_to_tray = hides_to_tray
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
        self.modalities = ModalitiesTab(controller)
        self.tabs.addTab(self.modalities, "Modalities")
        self.modalities.test_requested.connect(self.test_as_modality)
        self.tabs.addTab(self.test_query, "Test query")
        self.tabs.addTab(self.settings, "Settings")
        for tab, name in ((self.worklist, "worklist"), (self.activity, "activity"),
                          (self.modalities, "modalities"), (self.test_query, "test_query"),
                          (self.settings, "settings")):
            tab.setObjectName(name)
        self._reopen_tab()
        self.tabs.currentChanged.connect(self._remember_tab)
        layout.addWidget(self.tabs)
        self.setCentralWidget(central)
        self.worklist.open_entry.connect(self.open_entry)
        self.worklist.new_entry_requested.connect(self.new_entry)
        self.worklist.archive_requested.connect(self.show_archive)
        self.editors: list[EditorWindow] = []
        new_button = QPushButton("New entry…")
        new_button.setToolTip("Schedule a procedure: a new worklist entry in the folder")
        new_button.clicked.connect(self.new_entry)
        self.tabs.setCornerWidget(new_button, Qt.Corner.TopRightCorner)
        self._build_menus()

    def _reopen_tab(self) -> None:
        """Show the tab the window showed when it was last left (remembered in the state folder)."""
        path = self.controller.window_state_file
        if not path.exists():
            return
        try:
            name = read_json_object(path, "the window's state").get("tab")
        except ValueError as exc:
            log.info("%s; the window opens on its first tab", exc)
            return
        for number in range(self.tabs.count()):
            tab = self.tabs.widget(number)
            if tab is not None and tab.objectName() == name:
                self.tabs.setCurrentIndex(number)
                return

    def _remember_tab(self, _number: int) -> None:
        path = self.controller.window_state_file
        shown = self.tabs.currentWidget()
        state = {"tab": shown.objectName() if shown is not None else ""}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, json.dumps(state).encode("utf-8"))
        except OSError as exc:
            log.info("cannot remember the window's tab in %s: %s", path, exc.strerror or exc)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        file_menu.setToolTipsVisible(True)
        file_menu.addAction("&New entry…", QKeySequence.StandardKey.New, self.new_entry)
        file_menu.addAction("&Open…", QKeySequence.StandardKey.Open, self.open_file)
        file_menu.addAction("&Import CSV…", self.import_csv).setToolTip(
            "Make entries from the rows of a spreadsheet saved as CSV (shown before they are "
            "written)")
        file_menu.addAction("&Archived entries…", self.show_archive).setToolTip(
            "Entries moved out of the worklist (deleted, cancelled or expired), to restore")
        file_menu.addSeparator()
        file_menu.addAction("Open worklist folder",
                            lambda: open_folder(self.controller.settings.database))
        file_menu.addAction("Open log folder", lambda: open_folder(str(paths.log_dir())))
        file_menu.addSeparator()
        close = file_menu.addAction("Close window", self.close)
        close.setToolTip("Hide the window; wldesk keeps serving the worklist from the tray")
        # without a tray, closing is quitting: only Quit is offered then
        file_menu.aboutToShow.connect(lambda: close.setVisible(self._hides_to_tray()))
        quit_keys = QKeySequence.keyBindings(QKeySequence.StandardKey.Quit) or [
            QKeySequence("Ctrl+Q")]  # Windows has no standard Quit key
        file_menu.addAction("&Quit", quit_keys[0], self._quit_app).setToolTip(
            "Stop the worklist server and close wldesk")
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

    def show_archive(self) -> ArchiveDialog:
        """The archived entries, with Restore (non-modal)."""
        dialog = ArchiveDialog(self.controller, self)
        dialog.setObjectName("archive")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def import_csv(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Import CSV", "",
                                              "CSV files (*.csv);;All files (*)")
        if name:
            show_csv_import(self.controller, Path(name), self)

    def new_entry_dialog(self) -> NewEntryDialog:
        """The new-entry form for the worklist folder and the known modalities, offering the
        station AE titles the folder's entries use."""
        settings = self.controller.settings
        return NewEntryDialog(Path(settings.database), settings.modalities,
                              stations=self.worklist.station_titles(), parent=self)

    def new_entry(self) -> None:
        dialog = self.new_entry_dialog()
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()

    def close_editors(self) -> bool:
        """Close every open editor (each asks about unsaved changes); False if one refused."""
        return all(editor.close() for editor in list(self.editors))

    def test_as_modality(self, calling_aet: str, keys: dict[str, str]) -> None:
        """The Test query tab, filled in as ``calling_aet`` asked last (the Modalities tab's)."""
        self.test_query.impersonate(calling_aet, keys)
        self.tabs.setCurrentWidget(self.test_query)

    def show_settings(self) -> None:
        """Bring the window forward on its Settings tab."""
        self.bring_forward()
        self.tabs.setCurrentWidget(self.settings)

    def bring_forward(self) -> None:
        self.show()
        self.setWindowState(self.windowState() & ~Qt.WindowState.WindowMinimized)
        self.raise_()
        self.activateWindow()

    def _about(self) -> None:
        QMessageBox.about(self, "About wldesk",
                          f"wldesk {__version__}\nDICOM Modality Worklist server.\n"
                          f"Settings: {self.controller.settings_path}\nLogs: {paths.log_dir()}")

    def _close_for_good(self) -> None:
        if self.close_editors():
            self.quitting = True
            self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Closing hides the window to the tray where there is one; without one it quits, as
        File > Quit does (the quit closes the window once it has stopped the server)."""
        if self.quitting:
            event.setAccepted(self.close_editors())
            return
        event.ignore()
        if self._hides_to_tray():
            self.hide()
            self.hidden_to_tray.emit()
        else:
            QTimer.singleShot(0, self, self._quit_app)  # not within this close: quitting closes us
