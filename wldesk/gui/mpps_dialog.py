"""The performed steps (MPPS) a modality reported for an entry: their status, start, end and
station, and each one's whole message as DICOM JSON."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from wldesk.core.flow.mpps_records import MppsRecord

COLUMNS = ("Status", "Started", "Ended", "Station", "Station AE title")


class PerformedStepsDialog(QDialog):
    """The records of one entry (oldest first); the selected one's DICOM JSON below them."""

    def __init__(self, entry: str, records: list[MppsRecord],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Performed steps (MPPS) — {entry}")
        self.records = records
        if records:
            text = f"What the modality reported about {entry}, oldest first:"
        else:
            text = (f"No modality has reported performing {entry} (MPPS). Modalities that do "
                    "not send MPPS never show here.")
        self.label = QLabel(text)
        self.label.setWordWrap(True)
        self.table = QTableWidget(len(records), len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        for row, record in enumerate(records):
            values = (record.status, record.start, record.end or "—", record.station,
                      record.performing_ae)
            for column, value in enumerate(values):
                self.table.setItem(row, column, QTableWidgetItem(value))
        self.json = QPlainTextEdit()
        self.json.setReadOnly(True)
        self.json.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.json.setPlaceholderText("The selected report as DICOM JSON")
        self.table.itemSelectionChanged.connect(self._show_selected)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.json)
        split.setStretchFactor(1, 2)
        split.setVisible(bool(records))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(split, 1)
        layout.addWidget(buttons)
        self.resize(720, 520 if records else 160)
        if records:
            self.table.selectRow(len(records) - 1)

    def _show_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        self.json.setPlainText(self.records[rows[0].row()].json_text() if rows else "")
