"""File > Import CSV…: a spreadsheet's rows shown as the entries they make, and each row's
problems, before anything is written; Import writes the good rows the way the drop folder does
(:func:`wldesk.core.flow.csv_import.import_rows`, through the controller's ledger)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from wldesk.core.flow.csv_import import CsvFile, Outcome, import_rows, load_mapping, read_csv
from wldesk.gui.controller import ServerController
from wldesk.gui.qtutil import ERROR_COLOR
from wldesk.gui.tasks import run_in_background

PREVIEW_ROWS = 200
"""The rows the preview shows (the import takes them all)."""


def read_csv_file(path: Path, mapping_file: str, date_order: str) -> CsvFile:
    """The CSV file at ``path`` read as the import would read it (an unreadable file: its
    ``error`` says why)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return CsvFile(path.name, error=f"cannot read {path}: {exc.strerror or exc}")
    try:
        mapping = load_mapping(mapping_file.strip() or None)
    except ValueError as exc:
        return CsvFile(path.name, error=str(exc))
    return read_csv(data, path.name, mapping, date_order)


class CsvImportDialog(QDialog):
    """The preview of ``found`` (see the module documentation) and its Import button."""

    def __init__(self, controller: ServerController, found: CsvFile,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.found = found
        self.outcomes: list[Outcome] | None = None
        self.setWindowTitle(f"Import {found.name}")
        self.resize(900, 480)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.table = QTableWidget()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        import_button = self.buttons.addButton("Import", QDialogButtonBox.ButtonRole.AcceptRole)
        assert import_button is not None
        self.import_button = import_button
        self.buttons.accepted.connect(self.start_import)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.buttons)
        self._show_preview()

    def good_rows(self) -> int:
        return sum(1 for row in self.found.rows if not row.problems)

    def _show_preview(self) -> None:
        found = self.found
        if found.error:
            self.summary.setText(f"This file cannot be imported: {found.error}")
            self.summary.setStyleSheet(f"color: {ERROR_COLOR};")
            self.table.hide()
            self.import_button.setEnabled(False)
            return
        keywords = list(dict.fromkeys(k for _h, k in found.columns if k))
        ignored = [header for header, keyword in found.columns if not keyword and header]
        good, bad = self.good_rows(), len(found.rows) - self.good_rows()
        text = (f"{len(found.rows)} rows ({found.encoding}): {good} can be imported"
                + (f", {bad} with problems will be left out" if bad else "") + ". "
                "Nothing is written until you click Import; a row whose accession number is in "
                "the worklist already updates that entry.")
        if ignored:
            text += f" Columns not imported: {', '.join(ignored)}."
        if len(found.rows) > PREVIEW_ROWS:
            text += f" The first {PREVIEW_ROWS} rows are shown."
        self.summary.setText(text)
        self.import_button.setEnabled(good > 0)
        self.table.setColumnCount(len(keywords) + 2)
        self.table.setHorizontalHeaderLabels(["Row", "Problems", *keywords])
        shown = found.rows[:PREVIEW_ROWS]
        self.table.setRowCount(len(shown))
        for line, row in enumerate(shown):
            cells = [str(row.number), "; ".join(row.problems),
                     *(row.values.get(k, "") for k in keywords)]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if row.problems:
                    item.setForeground(QColor(ERROR_COLOR))
                    item.setToolTip("; ".join(row.problems))
                self.table.setItem(line, column, item)
        self.table.resizeColumnsToContents()
        self.table.setColumnWidth(1, min(self.table.columnWidth(1), 320))

    def start_import(self) -> None:
        """Write the good rows (off the GUI thread); the dialog then says what became of them."""
        self.import_button.setEnabled(False)
        found, ledger, bus = self.found, self.controller.channels.ledger, self.controller.bus
        self.summary.setText("Importing…")
        run_in_background(self, lambda: import_rows(found, ledger, bus), self._imported,
                          name="wldesk-csv-import")

    def _imported(self, outcomes: list[Outcome]) -> None:
        self.outcomes = outcomes
        counts: dict[str, int] = {}
        for outcome in outcomes:
            counts[outcome.action] = counts.get(outcome.action, 0) + 1
        words = {"created": "new entries", "updated": "entries updated",
                 "unchanged": "entries already up to date", "refused": "rows left out",
                 "failed": "rows that could not be written"}
        self.summary.setStyleSheet(f"color: {ERROR_COLOR};" if counts.get("failed") else "")
        self.summary.setText("Imported: " + ", ".join(
            f"{n} {words[action]}" for action, n in counts.items()) + ".")
        for line, outcome in enumerate(outcomes[:PREVIEW_ROWS]):
            if outcome.action == "failed":
                item = QTableWidgetItem(outcome.reason)
                item.setForeground(QColor(ERROR_COLOR))
                self.table.setItem(line, 1, item)
        self.buttons.clear()
        self.buttons.addButton(QDialogButtonBox.StandardButton.Close)


def show_csv_import(controller: ServerController, path: Path, parent: QWidget) -> None:
    """Read the CSV file at ``path`` off the GUI thread, then show its preview (non-modal)."""
    settings = controller.settings

    def shown(found: CsvFile) -> None:
        dialog = CsvImportDialog(controller, found, parent)
        dialog.setObjectName("csv-import")
        dialog.show()

    run_in_background(parent, lambda: read_csv_file(path, settings.import_mapping_file,
                                                    settings.import_date_order), shown,
                      name="wldesk-csv-read")
