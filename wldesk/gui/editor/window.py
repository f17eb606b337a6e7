"""The `.wl` tag editor window: a tree table of the dataset, edited in place, checked as you type.

:class:`EditorWindow` is the window around the :class:`~wldesk.gui.editor.model.DatasetModel`:
menus, the keys modalities need that are missing, the character set, saving (atomic, with a prompt
when the file changed on disk), import and export as text, duplicate, templates and archiving. The
document logic is the headless core's (:mod:`wldesk.core.editing.document`); this module only
presents it.

Files are read off the GUI thread (a "Loading…" page meanwhile), so that a large file or a slow
share never freezes the application. A file changed on disk is reloaded when nothing was changed
here; otherwise a bar asks: Reload, or Keep mine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydicom.datadict import dictionary_is_retired, keyword_dict, tag_for_keyword
from pydicom.dataset import Dataset
from PySide6.QtCore import QEvent, QModelIndex, QSignalBlocker, QStringListModel, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShortcut, QUndoStack
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QCompleter,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QToolTip,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from wldesk.core import paths
from wldesk.core.dicom.model import SPS_SEQUENCE
from wldesk.core.dicom.vr import BINARY_VRS
from wldesk.core.editing.document import Document, FileIdentity, load_document, save_document
from wldesk.core.editing.entries import archive_entry, suggest_filename
from wldesk.core.editing.errors import ConflictError, EditError
from wldesk.core.editing.templates import save_template
from wldesk.core.editing.values import element_text
from wldesk.core.settings import KnownModality
from wldesk.gui.editor.disk import ConflictBar, FileWatch
from wldesk.gui.editor.files import EntryFiles
from wldesk.gui.editor.model import MISSING_BRUSH, TAG_ROLE, VR_ROLE, DatasetModel
from wldesk.gui.editor.new_entry import NewEntryDialog
from wldesk.gui.editor.widgets import CHARSETS, ValueDelegate
from wldesk.gui.tasks import run_in_background


def dictionary_keywords() -> list[str]:
    """The keywords of the data dictionary that are not retired, sorted: for the completer."""
    return sorted(k for k, t in keyword_dict.items() if k and not dictionary_is_retired(t))


class EditorWindow(QMainWindow):
    """Edits one `.wl` entry. Several can be open; each has its own undo history.

    ``folder`` is the worklist folder (duplicates are saved there; default: the entry's folder),
    ``modalities`` the known modalities (for duplicates), ``templates`` the templates folder,
    ``open_path`` what opens a file in an editor (for the duplicate just saved).
    """

    saved = Signal(object)  # pathlib.Path of the file just written
    archived = Signal(object)  # pathlib.Path of the entry in the archive folder
    loaded = Signal()  # the file was read (opened or reloaded) and is shown

    def __init__(self, document: Document, *, folder: Path | None = None,
                 modalities: Sequence[KnownModality] = (), templates: Path | None = None,
                 open_path: Callable[[Path], object] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowFlag(Qt.WindowType.Window)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.document = document
        self.folder = folder
        self.modalities = tuple(modalities)
        self.templates = templates
        self.open_path = open_path
        self.last_error = ""
        self.loading = False
        self._closing = False
        self._kept_mine = False  # "Keep mine" chosen for the file on disk as it is now:
        self._ignored_identity: FileIdentity | None = None  # that file (None: deleted)
        self.undo_stack = QUndoStack(self)
        self.model = DatasetModel(document.dataset, self.undo_stack, self)
        self.resize(1000, 680)
        self._build()
        self._build_menus()
        self.model.changed.connect(self._refresh)
        self.model.refused.connect(self._show_refusal)
        self.undo_stack.cleanChanged.connect(self._clean_changed)
        self.files = EntryFiles(self.model, self)
        self.files.message.connect(self.statusBar().showMessage)
        self.files.failed.connect(self._warn)
        self.files.imported.connect(self._expand_defaults)
        self.file_watch = FileWatch(self)
        self.file_watch.changed.connect(self.check_disk)
        self.file_watch.watch(document.path)
        self._refresh()
        self._expand_defaults()

    @classmethod
    def open_file(cls, path: Path | str, **kwargs: Any) -> EditorWindow:
        """An editor for the file at ``path``, read in the background: the window shows
        "Loading…" meanwhile (``loaded`` says when it is shown). When the file cannot be read, a
        message says why and the window closes."""
        path = Path(path)
        editor = cls(Document(Dataset(), path), **kwargs)
        editor._load(path, first=True)
        return editor

    def _load(self, path: Path, *, first: bool) -> None:
        self.loading = True
        if first:
            self.loading_label.setText(f"Loading {path.name}…")
            self.pages.setCurrentWidget(self.loading_label)
        else:
            self.content.setEnabled(False)
            self.statusBar().showMessage(f"Reloading {path}…")
        self._update_actions()
        self._refresh_title()
        run_in_background(self, lambda: load_document(path),
                          lambda document: self._loaded(document, first),
                          lambda exc: self._load_failed(path, exc, first),
                          name="wldesk-editor-load")

    def _loaded(self, document: Document, first: bool) -> None:
        self.loading = False
        self.document = document
        self.model.set_dataset(document.dataset)
        self._kept_mine = False
        self.conflict_bar.hide()
        self.pages.setCurrentWidget(self.content)
        self.content.setEnabled(True)
        self.file_watch.watch(document.path)
        self._expand_defaults()
        self._refresh()
        self.statusBar().showMessage(f"{'Opened' if first else 'Reloaded'} {document.path}", 5000)
        self.loaded.emit()
        if not first:
            self.check_disk()  # changed again while it was being read

    def _load_failed(self, path: Path, exc: Exception, first: bool) -> None:
        self.loading = False
        self._update_actions()
        self._refresh_title()
        if first:
            self._warn("Cannot open the entry", str(exc))
            self.close_discarding()
            return
        self.content.setEnabled(True)
        self.statusBar().clearMessage()
        self.last_error = str(exc)
        self.conflict_bar.ask(f"{path.name} changed on disk but cannot be read now: {exc}",
                              can_reload=path.exists())

    # --- building ------------------------------------------------------------------------------

    def _build(self) -> None:
        central = QWidget()
        outer = QVBoxLayout(central)
        self.conflict_bar = ConflictBar()
        self.conflict_bar.reload.connect(self.reload)
        self.conflict_bar.keep_mine.connect(self._keep_mine)
        outer.addWidget(self.conflict_bar)
        self.content = QWidget()
        layout = QVBoxLayout(self.content)
        layout.setContentsMargins(0, 0, 0, 0)
        self.loading_label = QLabel()
        self.loading_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.content)
        self.pages.addWidget(self.loading_label)
        outer.addWidget(self.pages, 1)

        tools = QHBoxLayout()
        self.add_edit = QLineEdit()
        self.add_edit.setPlaceholderText("Add element: keyword or tag, e.g. PatientWeight or (0010,1030)")
        completer = QCompleter(QStringListModel(dictionary_keywords(), self), self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setMaxVisibleItems(15)
        self.add_edit.setCompleter(completer)
        self.add_edit.returnPressed.connect(self._add_typed)
        self.add_button = QPushButton("Add")
        self.add_button.clicked.connect(self._add_typed)
        self.add_target = QLabel()
        tools.addWidget(self.add_edit, 2)
        tools.addWidget(self.add_button)
        tools.addWidget(self.add_target, 1)
        tools.addWidget(QLabel("Character set:"))
        self.charset_combo = QComboBox()
        self.charset_combo.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
        for label, value in CHARSETS:
            self.charset_combo.addItem(label, value)
        self.charset_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.charset_combo.setToolTip("SpecificCharacterSet (0008,0005): how the text is written")
        self.charset_combo.activated.connect(self._charset_chosen)
        tools.addWidget(self.charset_combo)
        layout.addLayout(tools)

        self.tree = QTreeView()
        self.tree.setModel(self.model)
        self.delegate = ValueDelegate(self.model, self.tree)
        self.tree.setItemDelegateForColumn(DatasetModel.VALUE, self.delegate)
        self.delegate.hint.connect(self._show_hint)
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                  | QAbstractItemView.EditTrigger.EditKeyPressed
                                  | QAbstractItemView.EditTrigger.AnyKeyPressed)
        header = self.tree.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.tree.setColumnWidth(DatasetModel.TAG, 150)
        self.tree.setColumnWidth(DatasetModel.NAME, 290)
        self.tree.setColumnWidth(DatasetModel.VR, 44)
        self.tree.selectionModel().currentChanged.connect(self._current_changed)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self.tree, self.remove_selected,
                  context=Qt.ShortcutContext.WidgetShortcut)

        panel = QWidget()
        side = QVBoxLayout(panel)
        side.setContentsMargins(0, 0, 0, 0)
        heading = QLabel("<b>Keys modalities need</b>")
        self.problems_status = QLabel()
        self.problems_status.setWordWrap(True)
        self.problems_list = QListWidget()
        self.problems_list.setWordWrap(True)
        self.problems_list.setToolTip("Double-click a missing key to add or edit it.")
        self.problems_list.itemActivated.connect(self._problem_activated)
        self.notes_label = QLabel()
        self.notes_label.setWordWrap(True)
        self.notes_label.setStyleSheet("color: #555;")
        side.addWidget(heading)
        side.addWidget(self.problems_status)
        side.addWidget(self.problems_list, 1)
        side.addWidget(self.notes_label)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.tree)
        splitter.addWidget(panel)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([720, 280])
        layout.addWidget(splitter, 1)
        self.setCentralWidget(central)
        self.statusBar()

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.save_action = file_menu.addAction("&Save", QKeySequence.StandardKey.Save, self.save)
        save_as = file_menu.addAction("Save &as…", QKeySequence.StandardKey.SaveAs, self.save_as)
        self._document_actions = [self.save_action, save_as]  # what needs the file read first
        for group in ((("&Reload from disk", self.reload),),
                      (("&Duplicate entry…", self.duplicate),
                       ("Save as &template…", self.save_as_template)),
                      (("&Import dump…", self._import_chosen),
                       ("Export as DCMTK &dump…", self._export_dump_chosen),
                       ("Export as &JSON…", self._export_json_chosen)),
                      (("Delete (move to archive)…", self.delete_entry),)):
            for text, slot in group:
                self._document_actions.append(file_menu.addAction(text, slot))
            file_menu.addSeparator()
        file_menu.addAction("&Close", QKeySequence.StandardKey.Close, self.close)

        self.edit_menu = edit_menu = self.menuBar().addMenu("&Edit")
        self.undo_action = self.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcuts(QKeySequence.keyBindings(QKeySequence.StandardKey.Undo))
        self.redo_action = self.undo_stack.createRedoAction(self, "&Redo")
        redo_keys = QKeySequence.keyBindings(QKeySequence.StandardKey.Redo)
        if QKeySequence("Ctrl+Y") not in redo_keys:
            redo_keys.append(QKeySequence("Ctrl+Y"))
        self.redo_action.setShortcuts(redo_keys)
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self.redo_action)
        edit_menu.addSeparator()
        edit_menu.addAction("&Add element…", QKeySequence("Ctrl+E"), self._focus_add)
        self.remove_action = QAction("&Remove element", self)
        self.remove_action.triggered.connect(self.remove_selected)
        edit_menu.addAction(self.remove_action)
        self.add_item_action = edit_menu.addAction("Add &item", QKeySequence("Ctrl+I"),
                                                   self.add_item_selected)
        self.remove_item_action = edit_menu.addAction("Remove i&tem", self.remove_selected)
        edit_menu.addSeparator()
        self.export_value_action = edit_menu.addAction("E&xport value…", self._export_value_chosen)
        self.replace_value_action = edit_menu.addAction("Replace value from &file…",
                                                        self._replace_value_chosen)
        edit_menu.addSeparator()
        edit_menu.addAction("E&xpand all", self.tree.expandAll)
        edit_menu.addAction("C&ollapse all", self.tree.collapseAll)

    def _expand_defaults(self) -> None:
        """Show the scheduled procedure step open: that is what modalities read."""
        for row in range(self.model.rowCount()):
            index = self.model.index(row, 0)
            if self.model.data(index, TAG_ROLE) == SPS_SEQUENCE:
                self.tree.expandRecursively(index)

    # --- state shown ---------------------------------------------------------------------------

    def _refresh(self) -> None:
        problems = self.model.problems()
        self.problems_list.clear()
        for problem in problems:
            item = QListWidgetItem(problem)
            item.setBackground(MISSING_BRUSH)
            self.problems_list.addItem(item)
        if problems:
            self.problems_status.setText(
                f"<span style='color:#a00'>{len(problems)} problem"
                f"{'' if len(problems) == 1 else 's'}: many modalities drop this entry.</span>")
        else:
            self.problems_status.setText(
                "<span style='color:#070'>Complete: it has every key modalities need.</span>")
        invalid = len(self.model.invalid_values())
        notes = list(self.document.notes)
        if invalid:
            notes.insert(0, f"{invalid} value(s) do not fit their VR (red).")
        self.notes_label.setText("\n".join(notes))
        with QSignalBlocker(self.charset_combo):
            value = self.model.charset()
            found = self.charset_combo.findData(value)
            if found < 0:
                self.charset_combo.addItem(value, value)
                found = self.charset_combo.count() - 1
            self.charset_combo.setCurrentIndex(found)
        self._refresh_title()
        self._update_actions()

    def _refresh_title(self) -> None:
        name = self.document.path.name if self.document.path else "New entry"
        if self.loading and self.pages.currentWidget() is self.loading_label:
            self.setWindowTitle(f"{name} — Loading… — wldesk editor")
            self.setWindowModified(False)
            return
        self.setWindowTitle(f"{name}[*] — wldesk editor")
        self.setWindowModified(self.document.is_modified())

    def _clean_changed(self, _clean: bool) -> None:
        self._refresh_title()

    def _current_changed(self, _current: QModelIndex, _previous: QModelIndex) -> None:
        self._update_actions()

    def _update_actions(self) -> None:
        for action in self._document_actions:
            action.setEnabled(not self.loading)
        self.edit_menu.setEnabled(not self.loading)
        index = self.tree.currentIndex()
        element = self.model.element(index) if index.isValid() else None
        is_item = self.model.is_item(index)
        self.remove_action.setEnabled(element is not None)
        self.remove_item_action.setEnabled(is_item)
        self.add_item_action.setEnabled(is_item or (element is not None and element.VR == "SQ"))
        binary = element is not None and element.VR in BINARY_VRS
        self.export_value_action.setEnabled(binary)
        self.replace_value_action.setEnabled(binary)
        container = self.model.container(index) if index.isValid() else QModelIndex()
        target = self.model.where(container) if container.isValid() else "the top level"
        self.add_target.setText(f"into {target.rstrip(':')}")

    def _show_hint(self, reason: str) -> None:
        if reason:
            self.statusBar().showMessage(f"Not a valid value: {reason}")
        else:
            self.statusBar().clearMessage()

    def _show_refusal(self, reason: str) -> None:
        self.last_error = reason
        self.statusBar().showMessage(f"Not changed: {reason}", 15000)
        index = self.tree.currentIndex()
        if index.isValid() and self.isVisible():
            rect = self.tree.visualRect(index.siblingAtColumn(DatasetModel.VALUE))
            QToolTip.showText(self.tree.viewport().mapToGlobal(rect.bottomLeft()), reason, self.tree)

    def _warn(self, title: str, text: str) -> None:
        self.last_error = text
        QMessageBox.warning(self, title, text)

    # --- editing -------------------------------------------------------------------------------

    def _focus_add(self) -> None:
        self.add_edit.setFocus()
        self.add_edit.selectAll()

    def _add_typed(self) -> None:
        text = self.add_edit.text().strip()
        if not text:
            return
        try:
            index = self.add_element(text)
        except EditError:
            return  # refused: the status bar says why
        self.add_edit.clear()
        if self.model.data(index, VR_ROLE) != "SQ":
            self.tree.edit(index.siblingAtColumn(DatasetModel.VALUE))

    def add_element(self, key: str) -> QModelIndex:
        """Add ``key`` (keyword or tag) where the selection is (an item, or beside an element)."""
        index = self.model.add_element(key, self.tree.currentIndex())
        parent = index.parent()
        if parent.isValid():
            self.tree.expand(parent)
        self.tree.setCurrentIndex(index)
        self.tree.scrollTo(index)
        return index

    def remove_selected(self) -> None:
        index = self.tree.currentIndex()
        if not index.isValid():
            return
        if self.model.is_item(index):
            self.model.remove_item(index)
        else:
            self.model.remove_element(index)

    def add_item_selected(self) -> None:
        index = self.tree.currentIndex()
        if self.model.is_item(index):
            index = index.parent()
        try:
            item = self.model.add_item(index)
        except EditError:
            return
        self.tree.expand(index)
        self.tree.setCurrentIndex(item)

    def set_charset(self, value: str) -> bool:
        """Change SpecificCharacterSet; a refusal is shown in a message box. True when changed."""
        try:
            self.model.set_charset(value)
        except EditError as exc:
            self._warn("Character set not changed", str(exc))
            self._refresh()
            return False
        return True

    def _charset_chosen(self, row: int) -> None:
        self.set_charset(str(self.charset_combo.itemData(row) or ""))

    def _problem_activated(self, item: QListWidgetItem) -> None:
        for where, keyword in DatasetModel.problem_targets(item.text()):
            tag = tag_for_keyword(keyword)
            assert tag is not None
            index = self.model.index_of((where, tag), DatasetModel.VALUE)
            if not index.isValid():
                container = self.model.index_of((where, None))
                if where and not container.isValid():
                    continue
                try:
                    index = self.model.add_element(keyword, container).siblingAtColumn(
                        DatasetModel.VALUE)
                except EditError:
                    continue
            self.tree.scrollTo(index)
            self.tree.setCurrentIndex(index)
            if self.model.flags(index) & Qt.ItemFlag.ItemIsEditable:
                self.tree.edit(index)
            return

    # --- files ---------------------------------------------------------------------------------

    def save(self) -> bool:
        """Save to the file (atomically); True when saved."""
        if self.loading:
            return False
        if self.document.path is None:
            return self.save_as()
        return self.save_to(self.document.path)

    def save_as(self) -> bool:
        start = self.document.path or suggest_filename(self.document.dataset, self._folder())
        name, _ = QFileDialog.getSaveFileName(self, "Save entry as", str(start),
                                              "Worklist files (*.wl);;All files (*)")
        return self.save_to(Path(name), force=True) if name else False

    def save_to(self, path: Path, *, force: bool = False) -> bool:
        """Write the entry to ``path``. A file changed on disk meanwhile is not overwritten
        without asking (:meth:`ask_conflict`), unless Keep mine was chosen for it; on failure the
        file on disk stays as it was and a message box says why."""
        if self.loading:
            return False
        self.delegate.commit_open_editor()
        kept = self._kept_mine and FileIdentity.of_path(path) == self._ignored_identity
        try:
            save_document(self.document, path, force=force or kept)
        except ConflictError:
            self._show_conflict()
            choice = self.ask_conflict()
            if choice == "overwrite":
                return self.save_to(path, force=True)
            if choice == "reload":
                self.reload()
            return False
        except EditError as exc:
            self._warn("Cannot save", f"{exc}\n\nThe file on disk was not changed.")
            return False
        self.undo_stack.setClean()
        self.conflict_bar.hide()
        self._kept_mine = False
        self.file_watch.watch(path)
        self._refresh()
        self.statusBar().showMessage(f"Saved {path}", 5000)
        self.saved.emit(path)
        return True

    def ask_conflict(self) -> str:
        """Ask what to do about the file changed on disk: "reload", "overwrite" or "cancel"."""
        box = QMessageBox(QMessageBox.Icon.Warning, "File changed on disk",
                          self.conflict_text(), parent=self)
        reload = box.addButton("Reload (lose my changes)", QMessageBox.ButtonRole.DestructiveRole)
        overwrite = box.addButton("Overwrite", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        clicked = box.clickedButton()
        return "reload" if clicked is reload else "overwrite" if clicked is overwrite else "cancel"

    def conflict_text(self) -> str:
        path = self.document.path
        name = path.name if path is not None else "the entry"
        if path is not None and not path.exists():
            return f"{name} was deleted or moved by someone else after it was opened here."
        return f"The file changed on disk: someone else changed {name} after it was opened here."

    def check_disk(self) -> bool:
        """When the file changed on disk (noticed by the file watch, or when the window is
        activated): reload it when nothing was changed here, else show the bar (Reload / Keep
        mine), unless Keep mine was chosen for the file as it is now. True when it changed."""
        path = self.document.path
        if self.loading or path is None:
            return False
        if not self.document.changed_on_disk():
            self.conflict_bar.hide()
            return False
        identity = FileIdentity.of_path(path)
        if self._kept_mine and identity == self._ignored_identity:
            return True
        if identity is not None and not self._has_local_changes():
            self.reload()
        else:
            self._show_conflict()
        return True

    def _has_local_changes(self) -> bool:
        return self.document.is_modified() or self.delegate.editor is not None

    def _show_conflict(self) -> None:
        path = self.document.path
        if path is not None and not path.exists():
            self.conflict_bar.ask(self.conflict_text() + " Keep yours: saving writes it again.",
                                  can_reload=False)
            return
        self.conflict_bar.ask(self.conflict_text() + " Reload their version (your changes here "
                              "are lost), or keep yours (saving then replaces theirs)?")

    def _keep_mine(self) -> None:
        if self.document.path is not None:
            self._kept_mine = True
            self._ignored_identity = FileIdentity.of_path(self.document.path)
        self.conflict_bar.hide()

    def reload(self) -> None:
        """Read the file again in the background, dropping the changes made here (and the undo
        history); ``loaded`` says when it is shown."""
        if self.document.path is not None and not self.loading:
            self._load(self.document.path, first=False)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.ActivationChange and self.isActiveWindow():
            self.check_disk()

    def _folder(self) -> Path:
        if self.folder is not None:
            return self.folder
        if self.document.path is not None:
            return self.document.path.parent
        return Path.cwd()

    def delete_entry(self) -> Path | None:
        """After confirmation, move the file to the archive folder and close; its new path."""
        path = self.document.path
        if path is None:
            return None
        answer = QMessageBox.question(
            self, "Delete entry",
            f"Move {path.name} to the archive folder?\nModalities will no longer see it.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel)
        if answer != QMessageBox.StandardButton.Yes:
            return None
        try:
            target = archive_entry(path)
        except EditError as exc:
            self._warn("Cannot delete", str(exc))
            return None
        self.archived.emit(target)
        self._closing = True
        self.close()
        return target

    def close_discarding(self) -> None:
        """Close without asking, dropping unsaved changes."""
        self._closing = True
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.delegate.commit_open_editor()
        if self._closing or self.loading or not self.document.is_modified():
            event.accept()
            return
        answer = QMessageBox.question(
            self, "Unsaved changes", f"Save the changes to {self.windowTitle().split('[')[0]}?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Save)
        if answer == QMessageBox.StandardButton.Discard \
                or (answer == QMessageBox.StandardButton.Save and self.save()):
            event.accept()
        else:
            event.ignore()

    # --- files of the entry and its values (EntryFiles does the work) --------------------------

    def _base_name(self, suffix: str) -> str:
        base = self.document.path.with_suffix(suffix) if self.document.path else Path("entry" + suffix)
        return str(base)

    def _export_dump_chosen(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Export as DCMTK dump",
                                              self._base_name(".dump"),
                                              "DCMTK dump (*.dump *.txt);;All files (*)")
        if name:
            self.files.export_dump(Path(name))

    def _export_json_chosen(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Export as JSON", self._base_name(".json"),
                                              "DICOM JSON (*.json);;All files (*)")
        if name:
            self.files.export_json(Path(name))

    def _import_chosen(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Import dump", str(self._folder()),
                                              "DCMTK dump or DICOM JSON (*.dump *.txt *.json);;"
                                              "All files (*)")
        if name:
            self.files.import_text(Path(name))

    def _export_value_chosen(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Export value", self._base_name(".bin"),
                                              "All files (*)")
        if name:
            self.files.export_value(self.tree.currentIndex(), Path(name))

    def _replace_value_chosen(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Replace value from file", str(self._folder()),
                                              "All files (*)")
        if name:
            self.files.replace_value(self.tree.currentIndex(), Path(name))

    # --- new entries from this one -------------------------------------------------------------

    def duplicate_dialog(self) -> QWidget:
        """The new-entry form prefilled from this entry (new IDs and Study Instance UID)."""
        dialog = NewEntryDialog(self._folder(), self.modalities, templates=self._templates(),
                                source=self.document.dataset, parent=self)
        if self.open_path is not None:
            dialog.created.connect(self.open_path)
        return dialog

    def duplicate(self) -> None:
        dialog = self.duplicate_dialog()
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()

    def _templates(self) -> Path:
        return self.templates if self.templates is not None else paths.templates_dir()

    def save_as_template(self, name: str | None = None) -> Path | None:
        """Save the entry without its patient and order values as a template named ``name``
        (asked when None) in the templates folder; the template file."""
        if name is None:
            suggestion = self.model.dataset.get("RequestedProcedureDescription")
            name, ok = QInputDialog.getText(self, "Save as template", "Template name:",
                                            text=element_text(suggestion))
            if not ok:
                return None
        try:
            path = save_template(self.document.dataset, name, self._templates())
        except EditError as exc:
            self._warn("Cannot save the template", str(exc))
            return None
        self.statusBar().showMessage(f"Template {name!r} saved: {path}", 5000)
        return path
