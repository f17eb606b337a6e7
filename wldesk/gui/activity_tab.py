"""The Activity tab: a live log of the queries (and associations) the server handled, and of the
server starting, stopping, failing to start, or going on with its settings after a failed restart.

Events come from the controller's bridge (queued into the GUI thread) and are added in batches,
at most every ``FLUSH_MS``, so that queries arriving one after the other cost one model update
and one repaint per batch, not several per query; each row's texts are made once, not at every
repaint. The log keeps the newest ``MAX_ROWS`` rows.
With ``redact_patient_data`` on, query values that are patient data show as ``<redacted>``
(the same rule as the log file: ``wldesk.core.logs.NOT_PATIENT_DATA``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QItemSelection,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    QTimer,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from wldesk.core.events import AssociationEvent, InputEvent, QueryEvent, ServerEvent
from wldesk.core.fileio import atomic_write_bytes
from wldesk.core.logs import NOT_PATIENT_DATA, REDACTED, input_text, shown_value, status_with_code
from wldesk.core.settings import Settings
from wldesk.gui.audit_export import AuditExportDialog
from wldesk.gui.controller import ServerController
from wldesk.gui.qtutil import ColumnsModel, refilter

Index = QModelIndex | QPersistentModelIndex
ActivityEvent = QueryEvent | AssociationEvent | ServerEvent | InputEvent

MAX_ROWS = 5000
FLUSH_MS = 250  # events are added to the table at most this often
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
STATUS_FILTERS = ("All", "Success", "Failure", "Cancel", "Refused")

# What the Status column says about the server's own events.
SERVER_STATUS = {"started": "server started", "stopped": "server stopped",
                 "failed": "server not started", "rolled_back": "restart failed"}

# Short names for the keys modalities usually send, for the one-line summary.
SHORT_KEYS = {
    "ScheduledProcedureStepStartDate": "Date",
    "ScheduledProcedureStepStartTime": "Time",
    "ScheduledStationAETitle": "Station",
    "ScheduledStationName": "StationName",
    "ScheduledProcedureStepLocation": "Location",
    "AccessionNumber": "Accession",
    "PatientName": "Name",
    "RequestedProcedureID": "RequestedProcedure",
    "ScheduledProcedureStepID": "Step",
}


def query_summary(keys: dict[str, str], redact: bool, invalid: tuple[str, ...] = ()) -> str:
    """``Modality=CT Date=20261127-20261127``: the keys that carry a value."""
    parts = [f"{SHORT_KEYS.get(name, name)}={shown_value(name, value, redact, invalid)}"
             for name, value in keys.items() if value]
    return " ".join(parts) or "(all entries)"


def status_category(event: ActivityEvent) -> str:
    """Success, Failure, Cancel or Refused (a status filter's name); "" for an ordinary
    association event (requested, accepted, released) or the server starting or stopping."""
    if isinstance(event, ServerEvent):
        return "Failure" if event.kind in ("failed", "rolled_back") else ""
    if isinstance(event, InputEvent):
        return {"refused": "Refused", "failed": "Failure"}.get(event.action, "Success")
    if isinstance(event, AssociationEvent):
        return {"rejected": "Refused", "aborted": "Failure"}.get(event.kind, "")
    if event.status == 0x0000:
        return "Success"
    if event.status == 0xFE00:
        return "Cancel"
    if 0xA700 <= event.status <= 0xA7FF:
        return "Refused"
    return "Failure"


def status_label(event: QueryEvent, redact: bool = False) -> str:
    """The final status as text, always with its code (some texts explain it in words only)."""
    return status_with_code(event.status, event.redacted_status_text
                            if redact and event.redacted_status_text else event.status_text)


def _unsupported_names(event: QueryEvent) -> set[str]:
    """The keys of ``event.keys`` that the query gave a value but matching could not use.

    The server names them "Keyword (gggg,eeee)" or "Sequence (gggg,eeee) > Keyword (gggg,eeee)";
    the keys carry the keyword alone (or the tag text when there is no keyword).
    """
    found: set[str] = set()
    for name in event.unsupported_keys:
        last = name.split(" > ")[-1].strip()
        found.add(last)
        found.add(last.split(" (")[0])
    return found


def _clean(text: str) -> str:
    return " ".join(text.replace("\t", " ").splitlines())


@dataclass(frozen=True, slots=True)
class ActivityRow:
    number: int  # arrival order
    event: ActivityEvent

    @property
    def kind(self) -> str:
        if isinstance(self.event, ServerEvent):
            return "server"
        if isinstance(self.event, InputEvent):
            return "entry"
        return "query" if isinstance(self.event, QueryEvent) else "association"

    @property
    def calling_aet(self) -> str:
        if isinstance(self.event, InputEvent):
            return self.event.channel
        return "" if isinstance(self.event, ServerEvent) else self.event.calling_aet

    @property
    def category(self) -> str:
        return status_category(self.event)


class ActivityModel(ColumnsModel):
    """Query, association and server events, oldest first, at most ``max_rows`` (oldest dropped)."""

    COLUMNS = ("Time", "Calling AET", "Address", "Query", "Matches", "Duration (ms)", "Status")
    TIME, CALLING_AET, ADDRESS, QUERY, MATCHES, DURATION, STATUS = range(7)

    def __init__(self, max_rows: int = MAX_ROWS, redact: bool = False,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.max_rows = max_rows
        self._redact = redact
        self._rows: list[ActivityRow] = []
        self._counter = 0
        self._texts: dict[int, tuple[str, ...]] = {}  # a row's number -> its cells' texts

    # --- content -------------------------------------------------------------------------------

    @property
    def redact(self) -> bool:
        return self._redact

    def set_redact(self, redact: bool) -> None:
        if redact == self._redact:
            return
        self._redact = redact
        self._texts.clear()
        if self._rows:
            self.dataChanged.emit(self.index(0, self.QUERY), self.index(len(self._rows) - 1, self.QUERY))

    def add_events(self, events: Sequence[ActivityEvent]) -> None:
        """Append ``events``; drop the oldest rows beyond ``max_rows``."""
        if not events or self.max_rows <= 0:
            return
        events = events[-self.max_rows:]
        excess = len(self._rows) + len(events) - self.max_rows
        if excess > 0:
            self.beginRemoveRows(QModelIndex(), 0, excess - 1)
            for row in self._rows[:excess]:
                self._texts.pop(row.number, None)
            del self._rows[:excess]
            self.endRemoveRows()
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(events) - 1)
        for event in events:
            self._counter += 1
            self._rows.append(ActivityRow(self._counter, event))
        self.endInsertRows()

    def clear(self) -> None:
        if not self._rows:
            return
        self.beginRemoveRows(QModelIndex(), 0, len(self._rows) - 1)
        self._rows.clear()
        self._texts.clear()
        self.endRemoveRows()

    def row(self, row: int) -> ActivityRow:
        return self._rows[row]

    def event_at(self, row: int) -> ActivityEvent:
        return self._rows[row].event

    # --- texts ---------------------------------------------------------------------------------

    def cell(self, row: int, column: int, *, full_time: bool = False) -> str:
        event = self._rows[row].event
        if column == self.TIME:
            return event.time.isoformat(timespec="seconds") if full_time \
                else event.time.strftime("%H:%M:%S")
        if isinstance(event, ServerEvent):
            if column == self.QUERY:
                return event.message
            return SERVER_STATUS.get(event.kind, event.kind) if column == self.STATUS else ""
        if isinstance(event, InputEvent):  # an order from a channel: the channel is the caller
            return {self.CALLING_AET: event.channel, self.ADDRESS: event.source,
                    self.QUERY: " ".join(p for p in (event.action, event.order, event.file) if p),
                    self.STATUS: f"{event.action}: {event.detail}" if event.detail
                    else event.action}.get(column, "")
        if column == self.CALLING_AET:
            return event.calling_aet
        if isinstance(event, AssociationEvent):
            if column == self.ADDRESS:
                return f"{event.address}:{event.port}"
            if column == self.QUERY:
                return f"association #{event.association_id} {event.kind}"
            if column == self.STATUS:
                return f"{event.kind}: {event.reason}" if event.reason else event.kind
            return ""
        if column == self.ADDRESS:
            return event.address
        if column == self.QUERY:
            return query_summary(event.keys, self._redact, event.invalid_keys)
        if column == self.MATCHES:
            return str(event.matches)
        if column == self.DURATION:
            return f"{event.duration_ms:.1f}"
        if column == self.STATUS:
            return status_label(event, self._redact)
        return ""

    def export_cells(self, row: int) -> list[str]:
        """The row as exported: the table's texts with the full date and time."""
        return [_clean(self.cell(row, c, full_time=True)) for c in range(len(self.COLUMNS))]

    def details(self, row: int) -> str:
        """Everything about one row, for the details pane (redacted like the table)."""
        event = self._rows[row].event
        when = event.time.isoformat(sep=" ", timespec="seconds")
        if isinstance(event, ServerEvent):
            return f"{SERVER_STATUS.get(event.kind, event.kind).capitalize()} at {when}\n{event.message}"
        if isinstance(event, InputEvent):
            return f"Order through {event.channel} at {when}\n{input_text(event)}"
        if isinstance(event, AssociationEvent):
            lines = [f"Association #{event.association_id} {event.kind} at {when}",
                     f"Calling AE title: {event.calling_aet or '(none)'}",
                     f"Called AE title: {event.called_aet or '(none)'}",
                     f"Address: {event.address}:{event.port}"]
            if event.reason:
                lines.append(f"Reason: {event.reason}")
            if event.not_served:
                lines += ["", "Proposed SOP classes this server does not offer "
                              f"({len(event.not_served)}):"]
                lines += [f"  {name}" for name in event.not_served]
                lines.append("This server offers Modality Worklist FIND and Verification: a "
                             "modality set to query/retrieve FIND is the usual cause.")
            return "\n".join(lines)
        unsupported = _unsupported_names(event)
        lines = [f"Query of association #{event.association_id} at {when}",
                 f"Calling AE title: {event.calling_aet or '(none)'}",
                 f"Address: {event.address}",
                 f"Status: {status_label(event, self._redact)}",
                 f"Files considered: {event.files_considered}",
                 f"Matches: {event.matches}",
                 f"Sent: {event.returned}",
                 f"Duration: {event.duration_ms:.1f} ms",
                 "", f"Keys ({len(event.keys)}):"]
        for name, value in event.keys.items():
            shown = shown_value(name, value, self._redact, event.invalid_keys)
            mark = "  [not used for matching]" if name in unsupported else ""
            lines.append(f"  {name} = {shown}{mark}" if shown else f"  {name} (return key){mark}")
        if not event.keys:
            lines.append("  (none)")
        if event.unsupported_keys:
            lines.append("Not used for matching: " + ", ".join(event.unsupported_keys))
        if event.profile:
            lines.append(f"Profile of this modality: {event.profile}")
        for title, notes in (("Sent after the others (they break a strict rule)", event.sent_last),
                             ("Withheld (they break a strict rule)", event.withheld)):
            if notes:
                lines += ["", f"{title} ({len(notes)}):"] + [f"  {note}" for note in notes]
        lines.append("")
        accessions = event.accession_numbers
        if self._redact and "AccessionNumber" not in NOT_PATIENT_DATA:
            accessions = tuple(REDACTED if a else a for a in accessions)
        lines.append(f"Accession numbers of the answers ({len(accessions)}):")
        lines.append("  " + (", ".join(a or "(empty)" for a in accessions) or "(none)"))
        return "\n".join(lines)

    # --- Qt model ------------------------------------------------------------------------------

    def row_count(self) -> int:
        return len(self._rows)

    def shown_cells(self, row: int) -> tuple[str, ...]:
        """The table's texts of ``row``, made once (again after ``set_redact``)."""
        number = self._rows[row].number
        texts = self._texts.get(number)
        if texts is None:
            texts = self._texts[number] = tuple(self.cell(row, column)
                                                for column in range(len(self.COLUMNS)))
        return texts

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row, column = index.row(), index.column()
        if not 0 <= column < len(self.COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.shown_cells(row)[column]
        if role == SORT_ROLE:
            item = self._rows[row]
            event = item.event
            if column == self.TIME:  # events of several threads: by time, ties by arrival
                return event.time.timestamp()
            if column == self.MATCHES:
                return event.matches if isinstance(event, QueryEvent) else -1
            if column == self.DURATION:
                return event.duration_ms if isinstance(event, QueryEvent) else -1.0
            return self.shown_cells(row)[column].casefold()
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == self.TIME:
                return self.cell(row, column, full_time=True)
            return self.shown_cells(row)[column] or None
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (self.MATCHES, self.DURATION):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class ActivityFilter(QSortFilterProxyModel):
    """Filters by calling AE title and status category; hides routine association events unless
    ``show_associations`` (rejected and aborted associations always show)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.calling_aet: str | None = None
        self.status = "All"
        self.show_associations = True
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)

    def set_filters(self, *, calling_aet: str | None = None, status: str = "All",
                    show_associations: bool = True) -> None:
        def change() -> None:
            self.calling_aet, self.status = calling_aet, status
            self.show_associations = show_associations

        refilter(self, change)

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        model = self.sourceModel()
        if not isinstance(model, ActivityModel):
            return True
        item = model.row(source_row)
        if self.calling_aet is not None and item.calling_aet != self.calling_aet:
            return False
        category = item.category
        if item.kind == "association" and not self.show_associations and not category:
            return False
        return self.status in ("All", category)


def export_rows(path: Path, rows: Iterable[Sequence[str]],
                header: Sequence[str] = ActivityModel.COLUMNS) -> None:
    """Write ``header`` and ``rows`` as tab-separated UTF-8 text, atomically (all or nothing)."""
    lines = ["\t".join(_clean(c) for c in header)]
    lines += ["\t".join(_clean(c) for c in row) for row in rows]
    atomic_write_bytes(Path(path), ("\n".join(lines) + "\n").encode("utf-8"))


class ActivityTab(QWidget):
    """Live log of associations and queries, with filters, details and export."""

    def __init__(self, controller: ServerController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.model = ActivityModel(redact=controller.settings.redact_patient_data, parent=self)
        self.proxy = ActivityFilter(self)
        self.proxy.setSourceModel(self.model)
        self._pending: list[ActivityEvent] = []
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(FLUSH_MS)
        self._flush_timer.timeout.connect(self._flush)

        self.aet_combo = QComboBox()
        self.aet_combo.addItem("All calling AETs", None)
        self.aet_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.status_combo = QComboBox()
        self.status_combo.addItems(STATUS_FILTERS)
        self.associations_check = QCheckBox("Show association events")
        self.associations_check.setChecked(True)
        self.associations_check.setToolTip(
            "Rejected and aborted associations are always shown.")
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip(
            "Save the queries of a period from the audit log (CSV), or the rows shown here.")
        export_menu = QMenu(self.export_button)
        self.export_period_action = export_menu.addAction("Queries of a period (CSV)…")
        self.export_period_action.triggered.connect(self.open_export_dialog)
        self.export_rows_action = export_menu.addAction("Rows shown here (tab-separated)…")
        self.export_rows_action.triggered.connect(self._export_clicked)
        self.export_button.setMenu(export_menu)
        self.export_dialog: AuditExportDialog | None = None
        self.clear_button = QPushButton("Clear")
        self.count_label = QLabel()
        for combo in (self.aet_combo, self.status_combo):
            combo.currentIndexChanged.connect(self._filters_changed)
        self.associations_check.toggled.connect(self._filters_changed)
        self.clear_button.clicked.connect(self.model.clear)
        top = QHBoxLayout()
        top.addWidget(QLabel("Calling AET:"))
        top.addWidget(self.aet_combo)
        top.addWidget(QLabel("Status:"))
        top.addWidget(self.status_combo)
        top.addWidget(self.associations_check)
        top.addStretch(1)
        top.addWidget(self.count_label)
        top.addWidget(self.clear_button)
        top.addWidget(self.export_button)

        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(ActivityModel.TIME, Qt.SortOrder.DescendingOrder)  # newest first
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for column, width in ((ActivityModel.TIME, 80), (ActivityModel.CALLING_AET, 110),
                              (ActivityModel.ADDRESS, 130), (ActivityModel.QUERY, 360),
                              (ActivityModel.MATCHES, 70), (ActivityModel.DURATION, 100)):
            self.table.setColumnWidth(column, width)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)

        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setPlaceholderText("Select a row to see the query in full.")
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.details)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)

        for signal in (self.proxy.rowsInserted, self.proxy.rowsRemoved, self.proxy.modelReset):
            signal.connect(self._update_count)
        self.model.rowsRemoved.connect(self._show_details)  # the selected row may be gone
        bridge = controller.bridge
        bridge.query.connect(self._on_event)
        bridge.association.connect(self._on_event)
        bridge.server.connect(self._on_event)
        bridge.entry.connect(self._on_event)
        controller.settings_changed.connect(self._settings_changed)
        self._update_count()

    # --- events --------------------------------------------------------------------------------

    def _on_event(self, event: object) -> None:
        if isinstance(event, (QueryEvent, AssociationEvent, ServerEvent, InputEvent)):
            self._pending.append(event)
            if not self._flush_timer.isActive():
                self._flush_timer.start()

    def _flush(self) -> None:
        events, self._pending = self._pending, []
        self.model.add_events(events)
        for aet in sorted({e.calling_aet for e in events
                           if isinstance(e, (QueryEvent, AssociationEvent)) and e.calling_aet}):
            self._add_aet(aet)

    def _add_aet(self, aet: str) -> None:
        combo = self.aet_combo
        if combo.findData(aet) >= 0:
            return
        position = 1
        while position < combo.count() and str(combo.itemData(position)) < aet:
            position += 1
        combo.insertItem(position, aet, aet)

    def _settings_changed(self, settings: Settings) -> None:
        self.model.set_redact(settings.redact_patient_data)
        self._show_details()

    # --- filters, selection --------------------------------------------------------------------

    def _filters_changed(self) -> None:
        data = self.aet_combo.currentData()
        self.proxy.set_filters(calling_aet=data if isinstance(data, str) else None,
                               status=self.status_combo.currentText(),
                               show_associations=self.associations_check.isChecked())
        self._update_count()

    def _update_count(self) -> None:
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        self.count_label.setText(f"{shown} of {total} rows" if shown != total else f"{total} rows")

    def _selection_changed(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        self._show_details()

    def selected_source_row(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        source = self.proxy.mapToSource(rows[0])
        return source.row() if source.isValid() else None

    def _show_details(self) -> None:
        row = self.selected_source_row()
        self.details.setPlainText("" if row is None else self.model.details(row))

    def details_text(self) -> str:
        return self.details.toPlainText()

    # --- export --------------------------------------------------------------------------------

    def shown_rows(self) -> list[list[str]]:
        """The rows the filters show, in the table's order, as exported."""
        return [self.model.export_cells(self.proxy.mapToSource(self.proxy.index(r, 0)).row())
                for r in range(self.proxy.rowCount())]

    def export_to(self, path: Path) -> None:
        export_rows(path, self.shown_rows())

    def open_export_dialog(self) -> AuditExportDialog:
        """Activity > Export... > Queries of a period: the dialog (one, brought to the front)."""
        if self.export_dialog is None:
            self.export_dialog = AuditExportDialog(self.controller.audit, self)
        self.export_dialog.show()
        self.export_dialog.raise_()
        self.export_dialog.activateWindow()
        return self.export_dialog

    def _export_clicked(self) -> None:
        suggested = f"wldesk-activity-{datetime.now():%Y%m%d-%H%M%S}.tsv"
        name, _filter = QFileDialog.getSaveFileName(
            self, "Export activity", str(Path.home() / suggested),
            "Tab-separated text (*.tsv *.txt);;All files (*)")
        if not name:
            return
        try:
            self.export_to(Path(name))
        except OSError as exc:
            QMessageBox.warning(self, "Export activity",
                                f"Cannot write {name}: {exc.strerror or exc}")
