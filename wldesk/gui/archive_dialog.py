"""The archived entries (``archive/YYYY-MM/`` of the worklist folder): what was deleted, cancelled
or expired, with Restore to bring one back to the worklist, where modalities see it again."""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from wldesk.core.editing.errors import EditError
from wldesk.core.store import Entry
from wldesk.gui.controller import ServerController
from wldesk.gui.qtutil import error_label
from wldesk.gui.tasks import run_in_background
from wldesk.gui.worklist_tab import WorklistFilter, WorklistModel, _table


class ArchiveDialog(QDialog):
    """The archived entries, newest month first (the File column: month folder and name)."""

    def __init__(self, controller: ServerController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Archived entries")
        self.controller = controller
        self.model = WorklistModel(self)
        self.proxy = WorklistFilter(self)
        self.proxy.setSourceModel(self.model)
        intro = QLabel("Entries moved out of the worklist (deleted, cancelled or expired). "
                       "Modalities do not see them; Restore puts the selected ones back.")
        intro.setWordWrap(True)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter: name, ID, accession, modality, date, file…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self.proxy.set_text)
        self.summary = QLabel("Reading the archive…")
        top = QHBoxLayout()
        top.addWidget(self.filter_edit, 1)
        top.addWidget(self.summary)
        self.table = _table(self.proxy)
        self.table.sortByColumn(WorklistModel.FILE, Qt.SortOrder.DescendingOrder)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.error = error_label("restore")
        self.restore_button = QPushButton("Restore")
        self.restore_button.setToolTip("Move the selected entries back into the worklist folder")
        self.restore_button.setEnabled(False)
        self.restore_button.clicked.connect(self.restore_selected)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.restore_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.resize(900, 480)
        self.reload()

    def reload(self) -> None:
        """Read the archive again, off the GUI thread."""
        ledger = self.controller.ledger
        run_in_background(self, ledger.archived, self._show, self._failed,
                          name="wldesk-archive-read")

    def _show(self, entries: list[Entry]) -> None:
        self.model.set_entries(entries)
        self.table.resizeColumnsToContents()
        count = len(entries)
        self.summary.setText("No archived entries" if not count else
                             f"{count} archived {'entry' if count == 1 else 'entries'}")

    def _failed(self, exc: Exception) -> None:
        self.summary.setText("")
        self._say(f"The archive cannot be read: {exc}")

    def _say(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))

    @Slot()
    def _selection_changed(self) -> None:
        self.restore_button.setEnabled(bool(self.table.selectionModel().selectedRows()))

    def selected(self) -> list[Entry]:
        rows = {self.proxy.mapToSource(i).row() for i in self.table.selectionModel().selectedRows()}
        return [self.model.entry(row) for row in sorted(rows)]

    @Slot()
    def restore_selected(self) -> None:
        problems = []
        for entry in self.selected():
            try:
                self.controller.restore_archived(entry.path)
            except EditError as exc:
                problems.append(f"{entry.name}: {exc}")
        self._say("Not restored: " + "; ".join(problems) if problems else "")
        self.reload()
