"""The Modalities tab: the modality doctor's answer to "why does the CT see nothing?".

A table of the known modalities and of every AE title that called (unknown ones marked), and for
the one selected, its figures in words: last association, last query, answers, status, queries
today, refusals and why, or since when it never asked (:mod:`wldesk.core.net.doctor_text`, read
through the controller). Under it, the connection card and, on Windows, whether the firewall lets
the port in, with a button that adds the installers' rule (elevated). "Test as this modality"
opens the Test query tab as that AE title, with its last query filled in.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from PySide6.QtCore import QItemSelection, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from wldesk.core.net.doctor_text import ModalityView
from wldesk.core.net.firewall import WINDOWS, FirewallState, add_rule_elevated, firewall_state
from wldesk.gui.connection import ConnectionCard
from wldesk.gui.controller import ServerController
from wldesk.gui.qtutil import ERROR_COLOR, ColumnsModel, Index
from wldesk.gui.tasks import run_in_background

REFRESH_MS = 250
"""How long the tab gathers events before it shows the figures again (a burst is one update)."""
UNKNOWN = "unknown AE title"
MAX_COLUMN_WIDTH = 280
ATTENTION_COLOR = "#7a4a00"


class ModalitiesModel(ColumnsModel):
    COLUMNS = ("AE title", "Modality", "Last association", "Last query", "Answers", "Status",
               "Today", "Needs attention")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.views: list[ModalityView] = []

    def set_views(self, views: list[ModalityView]) -> None:
        self.beginResetModel()
        self.views = views
        self.endResetModel()

    def row_count(self) -> int:
        return len(self.views)

    def cell(self, row: int, column: int) -> str:
        view = self.views[row]
        return (view.ae_title, view.name if view.known else UNKNOWN, view.last_association,
                view.last_query, view.answers, view.status, view.queries_today,
                view.attention)[column]

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.views):
            return None
        view = self.views[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return self.cell(index.row(), index.column())
        if role == Qt.ItemDataRole.FontRole and index.column() == 1 and not view.known:
            font = QFont()
            font.setItalic(True)
            return font
        if role == Qt.ItemDataRole.ForegroundRole and index.column() == 7 and view.attention:
            refused = view.attention.startswith(("refused", "last query failed"))
            return QBrush(QColor(ERROR_COLOR if refused else ATTENTION_COLOR))
        return None


class ModalitiesTab(QWidget):
    """What each modality did with the server, and why one may see nothing."""

    test_requested = Signal(str, object)  # calling AE title, its last query's keys (dict)

    def __init__(self, controller: ServerController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.model = ModalitiesModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)

        self.details = QPlainTextEdit()
        self.details.setObjectName("modality_details")
        self.details.setReadOnly(True)
        self.details.setPlaceholderText("Pick an AE title to see what it did and why it may see "
                                        "nothing.")
        self.test_button = QPushButton("Test as this modality")
        self.test_button.setToolTip("Open Test query with this AE title as the calling AE title "
                                    "and its last query's keys filled in")
        self.test_button.setEnabled(False)
        self.test_button.clicked.connect(self._test_clicked)
        detail_box = QWidget()
        detail_layout = QVBoxLayout(detail_box)
        detail_layout.setContentsMargins(0, 0, 0, 0)
        detail_layout.addWidget(self.details, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.test_button)
        buttons.addStretch(1)
        detail_layout.addLayout(buttons)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(detail_box)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)

        self.card = ConnectionCard(controller)
        self.firewall_label = QLabel()
        self.firewall_label.setObjectName("firewall_state")
        self.firewall_label.setWordWrap(True)
        self.firewall_button = QPushButton("Allow in Windows Firewall")
        self.firewall_button.setToolTip("Add the inbound rule for the server's port (Windows asks "
                                        "for administrator rights)")
        self.firewall_button.clicked.connect(self._allow_clicked)
        self.firewall_row = QWidget()
        firewall_layout = QHBoxLayout(self.firewall_row)
        firewall_layout.setContentsMargins(0, 0, 0, 0)
        firewall_layout.addWidget(self.firewall_label, 1)
        firewall_layout.addWidget(self.firewall_button)
        self.firewall_row.setVisible(WINDOWS)
        bottom = QHBoxLayout()
        bottom.addWidget(self.card)
        bottom.addWidget(self.firewall_row, 1)
        if not WINDOWS:
            bottom.addStretch(1)

        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addLayout(bottom)

        self._stale = False  # figures came while the tab was hidden
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_MS)
        self._refresh_timer.timeout.connect(self.refresh)
        controller.bridge.association.connect(self._later)
        controller.bridge.query.connect(self._later)
        controller.settings_changed.connect(self._later)
        controller.state_changed.connect(self._state_changed)
        self.refresh()
        self.check_firewall()

    # --- figures ---------------------------------------------------------------------------------

    def _later(self, _event: object = None) -> None:
        if not self.isVisible():
            self._stale = True  # refreshed when shown: a hidden tab costs the queries nothing
            return
        if not self._refresh_timer.isActive():
            self._refresh_timer.start()

    def showEvent(self, event: QShowEvent) -> None:
        if self._stale:
            self._stale = False
            self.refresh()
        super().showEvent(event)

    def refresh(self) -> None:
        """Show the figures now, keeping the AE title selected."""
        selected = self.selected_view()
        self.model.set_views(self.controller.modality_views())
        self.table.resizeColumnsToContents()
        header = self.table.horizontalHeader()
        for column in range(self.model.columnCount()):  # long texts in full in the tool tips
            header.resizeSection(column, min(header.sectionSize(column), MAX_COLUMN_WIDTH))
        if selected is not None:
            self.select(selected.ae_title)
        else:
            self._show_details()

    def select(self, ae_title: str) -> bool:
        for row, view in enumerate(self.model.views):
            if view.ae_title == ae_title:
                self.table.selectRow(row)
                self._show_details()
                return True
        return False

    def selected_view(self) -> ModalityView | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows or not 0 <= rows[0].row() < len(self.model.views):
            return None
        return self.model.views[rows[0].row()]

    def _selection_changed(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        self._show_details()

    def _show_details(self) -> None:
        view = self.selected_view()
        self.test_button.setEnabled(view is not None)
        self.details.setPlainText(self.details_text(view) if view is not None else "")

    @staticmethod
    def details_text(view: ModalityView) -> str:
        head = f"{view.ae_title} — {view.name}" if view.known else f"{view.ae_title} ({UNKNOWN})"
        return "\n".join([head, *(f"{label}: {text}" for label, text in view.details)])

    def _test_clicked(self) -> None:
        view = self.selected_view()
        if view is not None:
            self.test_requested.emit(view.ae_title, dict(view.last_keys))

    # --- firewall (Windows) ----------------------------------------------------------------------

    def _state_changed(self, _state: str, _message: str) -> None:
        self.check_firewall()

    def check_firewall(self) -> None:
        """Ask, off the GUI thread, whether Windows Firewall lets the shown server's port in."""
        if not WINDOWS:
            return
        port = self.controller.shown_settings.port
        self.firewall_label.setText(f"Checking whether Windows Firewall lets port {port} in…")
        run_in_background(self, partial(firewall_state, port), partial(self.show_firewall, port),
                          name="wldesk-gui-firewall")

    def show_firewall(self, port: int, state: FirewallState) -> None:
        if port != self.controller.shown_settings.port:
            return  # the check of the new port follows
        self.firewall_label.setText(state.text)
        self.firewall_label.setStyleSheet("" if state.allowed else f"color: {ERROR_COLOR};")
        self.firewall_button.setVisible(not state.allowed)

    def _allow_clicked(self) -> None:
        problem = add_rule_elevated(self.controller.shown_settings.port)
        if problem:
            self.firewall_label.setText(problem)
            return
        QTimer.singleShot(3000, self.check_firewall)  # netsh runs in its own, elevated window
