"""The Worklist tab: every entry of the folder in a sortable, filterable table, and the problem files.

The models follow the folder store live: on each ``store_changed`` they are brought up to date
from a new snapshot with the smallest change (rows removed, inserted or changed, matched by file
name), so the selection, the sort order and the scroll position survive the update.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QButtonGroup,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QStyle,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from wldesk.core.check import missing_keys
from wldesk.core.dicom.folding import contains_words, fold, search_words
from wldesk.core.dicom.model import ACCESSION_NUMBER, MODALITY, PATIENT_ID, STATION_AET
from wldesk.core.flow.ledger import node_facts
from wldesk.core.flow.mpps_records import MppsRecord, records_for
from wldesk.core.store import Entry, FileProblem, Snapshot
from wldesk.gui.controller import ServerController
from wldesk.gui.day_view import DayView
from wldesk.gui.entry_text import (
    PATIENT_NAME,
    REQUESTED_PROCEDURE_DESCRIPTION,
    SPS_DESCRIPTION,
    SPS_START_DATE,
    SPS_START_TIME,
    readable_name,
    scheduled_text,
    step_items,
    texts,
    unique,
)
from wldesk.gui.mpps_dialog import PerformedStepsDialog
from wldesk.gui.qtutil import ColumnsModel, error_label, refilter
from wldesk.gui.tasks import run_in_background
from wldesk.gui.tray import open_folder

Index = QModelIndex | QPersistentModelIndex

SORT_ROLE = Qt.ItemDataRole.UserRole + 1  # the value columns sort by (dates chronologically)
RAW_ROLE = Qt.ItemDataRole.UserRole + 2  # the value as the file holds it (e.g. "DOE^JOHN")
PATH_ROLE = Qt.ItemDataRole.UserRole + 3  # the file's pathlib.Path (any column)


@dataclass(frozen=True, slots=True)
class EntryRow:
    """The table's texts for one entry, computed once per version of its file."""

    entry: Entry
    cells: tuple[str, ...]
    raw_patient: str
    when: str  # the earliest step's "YYYY-MM-DD HH:MM": sorts chronologically as text
    search: str  # every cell and the raw patient name, folded for the filter (folding.fold)

    @property
    def key(self) -> str:
        return self.entry.name

    @property
    def source(self) -> object:
        return self.entry

    @classmethod
    def of(cls, entry: Entry) -> EntryRow:
        node = entry.node
        raw_names = texts(node, PATIENT_NAME)
        steps = step_items(node)
        modalities: list[str] = []
        stations: list[str] = []
        times: list[str] = []
        descriptions: list[str] = []
        for step in steps:
            modalities += texts(step, MODALITY)
            stations += texts(step, STATION_AET)
            dates = texts(step, SPS_START_DATE)
            if dates:
                times.append(scheduled_text(dates[0], next(iter(texts(step, SPS_START_TIME)), "")))
            descriptions += texts(step, SPS_DESCRIPTION)
        if not unique(descriptions):
            descriptions = texts(node, REQUESTED_PROCEDURE_DESCRIPTION)
        cells = (
            "; ".join(readable_name(n) for n in raw_names),
            ", ".join(unique(texts(node, PATIENT_ID))),
            ", ".join(unique(texts(node, ACCESSION_NUMBER))),
            ", ".join(unique(modalities)),
            ", ".join(unique(stations)),
            ", ".join(unique(times)),
            ", ".join(unique(descriptions)),
            entry.name,
        )
        raw_patient = "\\".join(raw_names)
        return cls(entry=entry, cells=cells, raw_patient=raw_patient, when=min(times, default=""),
                   search=fold("\t".join((*cells, raw_patient))))


@dataclass(frozen=True, slots=True)
class ProblemRow:
    problem: FileProblem

    @property
    def key(self) -> str:
        return self.problem.path.name

    @property
    def source(self) -> object:
        return self.problem


# --- models --------------------------------------------------------------------------------------

RowT = TypeVar("RowT", EntryRow, ProblemRow)
ItemT = TypeVar("ItemT", Entry, FileProblem)


class _KeyedTableModel(ColumnsModel, Generic[RowT, ItemT]):
    """Rows identified by file name, updated by the smallest diff against a new list.

    The model sorts itself (``sort``, which the proxy forwards): Python sorts 100,000 rows in a
    fraction of a second, where a proxy comparing them through ``data()`` takes many seconds.
    Rows stay in the current sort order: new rows are inserted where they belong, a re-sort is a
    layout change that keeps the selection.
    """

    COLUMNS: tuple[str, ...] = ()
    BULK_GROUPS = 256  # more separate insertion points than this: append, then re-sort once

    def __init__(self, make: Callable[[ItemT], RowT], key: Callable[[ItemT], str],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._make: Callable[[ItemT], RowT] = make
        self._key: Callable[[ItemT], str] = key
        self._rows: list[RowT] = []
        self._sort_column = -1  # -1: file name order
        self._sort_order = Qt.SortOrder.AscendingOrder

    def row_count(self) -> int:
        return len(self._rows)

    def row(self, row: int) -> RowT:
        return self._rows[row]

    # --- sorting -------------------------------------------------------------------------------

    def sort_key(self, row: RowT, column: int) -> str:
        """The text ``column`` sorts by (subclasses: dates as sortable text, any case)."""
        raise NotImplementedError

    def _order_key(self) -> Callable[[RowT], tuple[str, str]]:
        column = self._sort_column
        if not 0 <= column < len(self.COLUMNS):
            return lambda row: ("", row.key)
        return lambda row: (self.sort_key(row, column), row.key)  # the name breaks ties

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self._sort_column, self._sort_order = column, order
        self._resort()

    def _resort(self) -> None:
        ordered = sorted(self._rows, key=self._order_key(),
                         reverse=self._sort_order == Qt.SortOrder.DescendingOrder)
        if all(a is b for a, b in zip(ordered, self._rows, strict=True)):
            return
        self.layoutAboutToBeChanged.emit()
        position = {id(row): number for number, row in enumerate(ordered)}
        old = self.persistentIndexList()
        new = [self.index(position[id(self._rows[index.row()])], index.column()) for index in old]
        self._rows = ordered
        self.changePersistentIndexList(old, new)
        self.layoutChanged.emit()

    def _insertion_point(self, key: tuple[str, str]) -> int:
        """Where a row with ``key`` goes in the (sorted) rows."""
        order_key, rows = self._order_key(), self._rows
        descending = self._sort_order == Qt.SortOrder.DescendingOrder
        low, high = 0, len(rows)
        while low < high:
            middle = (low + high) // 2
            other = order_key(rows[middle])
            if (other > key) if descending else (other < key):
                low = middle + 1
            else:
                high = middle
        return low

    # --- updates -------------------------------------------------------------------------------

    def _sync(self, items: Sequence[ItemT]) -> None:
        """Make the rows those of ``items``: remove, change and insert as few rows as possible."""
        wanted = {self._key(item): item for item in items}
        rows = self._rows
        gone = [number for number, row in enumerate(rows) if row.key not in wanted]
        for first, last in reversed(_runs(gone)):
            self.beginRemoveRows(QModelIndex(), first, last)
            del rows[first:last + 1]
            self.endRemoveRows()
        changed = []
        for number, row in enumerate(rows):
            item = wanted[row.key]
            if row.source is not item:
                rows[number] = self._make(item)
                changed.append(number)
        last_column = len(self.COLUMNS) - 1
        for first, last in _runs(changed):
            self.dataChanged.emit(self.index(first, 0), self.index(last, last_column))
        if changed:
            self._resort()  # a changed row may sort elsewhere now
        present = {row.key for row in rows}
        order_key = self._order_key()
        new = sorted((self._make(item) for key, item in wanted.items() if key not in present),
                     key=order_key, reverse=self._sort_order == Qt.SortOrder.DescendingOrder)
        if not new:
            return
        groups: list[tuple[int, list[RowT]]] = []
        for row in new:
            point = self._insertion_point(order_key(row))
            if groups and groups[-1][0] == point:
                groups[-1][1].append(row)
            else:
                groups.append((point, [row]))
        bulk = len(groups) > self.BULK_GROUPS
        if bulk:
            groups = [(len(rows), new)]
        for point, run in reversed(groups):  # from the end: earlier points stay valid
            self.beginInsertRows(QModelIndex(), point, point + len(run) - 1)
            rows[point:point] = run
            self.endInsertRows()
        if bulk:
            self._resort()


def _runs(numbers: list[int]) -> list[tuple[int, int]]:
    """Ascending ``numbers`` as (first, last) runs of consecutive numbers."""
    runs: list[tuple[int, int]] = []
    for number in numbers:
        if runs and runs[-1][1] == number - 1:
            runs[-1] = (runs[-1][0], number)
        else:
            runs.append((number, number))
    return runs


def _warning_icon() -> QIcon:
    style = QApplication.style()
    return style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning) if style else QIcon()


class WorklistModel(_KeyedTableModel[EntryRow, Entry]):
    """One row per entry (file), in the order of ``sort`` (file names until sorted)."""

    COLUMNS = ("Patient", "Patient ID", "Accession", "Modality", "Station AET", "Scheduled",
               "Description", "File")
    PATIENT, PATIENT_ID, ACCESSION, MODALITY, STATION, SCHEDULED, DESCRIPTION, FILE = range(8)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(EntryRow.of, lambda entry: entry.name, parent)
        self._missing: dict[str, tuple[Entry, tuple[str, ...]]] = {}  # computed when first shown
        self._icon: QIcon | None = None

    def sort_key(self, row: EntryRow, column: int) -> str:
        return row.when if column == self.SCHEDULED else row.cells[column].casefold()

    def set_entries(self, entries: Sequence[Entry]) -> None:
        self._sync(entries)
        if len(self._missing) > len(self._rows):
            names = {row.key for row in self._rows}
            self._missing = {k: v for k, v in self._missing.items() if k in names}

    def entry(self, row: int) -> Entry:
        return self._rows[row].entry

    def missing(self, row: int) -> tuple[str, ...]:
        """The keys modalities need that the row's entry lacks (check.missing_keys), in words."""
        entry = self._rows[row].entry
        cached = self._missing.get(entry.name)
        if cached is None or cached[0] is not entry:
            cached = self._missing[entry.name] = (entry, tuple(missing_keys(entry.node)))
        return cached[1]

    def search_text(self, row: int) -> str:
        """Every column's text and the raw patient name, folded (no case, no accents) for the
        filter; computed once per version of the entry's file."""
        return self._rows[row].search

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        item, column = self._rows[index.row()], index.column()
        if not 0 <= column < len(self.COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return item.cells[column]
        if role == SORT_ROLE:
            return self.sort_key(item, column)
        if role == RAW_ROLE:
            return item.raw_patient if column == self.PATIENT else item.cells[column]
        if role == PATH_ROLE:
            return item.entry.path
        if column == self.PATIENT and role == Qt.ItemDataRole.DecorationRole:
            if not self.missing(index.row()):
                return None
            if self._icon is None:
                self._icon = _warning_icon()
            return self._icon
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == self.PATIENT:
                lines = [f"Patient name as stored: {item.raw_patient or '(empty)'}"]
                missing = self.missing(index.row())
                if missing:
                    lines.append("Many modalities drop this entry:")
                    lines += [f"• {m}" for m in missing]
                if item.entry.notes:
                    lines.append("Notes:")
                    lines += [f"• {n}" for n in item.entry.notes]
                return "\n".join(lines)
            if column == self.FILE:
                return str(item.entry.path)
            return item.cells[column] or None
        return None


class ProblemsModel(_KeyedTableModel[ProblemRow, FileProblem]):
    """The files that cannot be served, with the reason."""

    COLUMNS = ("File", "Reason")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(ProblemRow, lambda problem: problem.path.name, parent)

    def sort_key(self, row: ProblemRow, column: int) -> str:
        return (row.problem.path.name if column == 0 else row.problem.reason).casefold()

    def set_problems(self, problems: Sequence[FileProblem]) -> None:
        self._sync(problems)

    def problem(self, row: int) -> FileProblem:
        return self._rows[row].problem

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        problem, column = self._rows[index.row()].problem, index.column()
        if not 0 <= column < len(self.COLUMNS):
            return None
        text = problem.path.name if column == 0 else problem.reason
        if role in (Qt.ItemDataRole.DisplayRole, RAW_ROLE):
            return text
        if role == SORT_ROLE:
            return text.casefold()
        if role == PATH_ROLE:
            return problem.path
        if role == Qt.ItemDataRole.ToolTipRole:
            return str(problem.path) if column == 0 else text
        if role == Qt.ItemDataRole.DecorationRole and column == 0:
            return _warning_icon()
        return None


class WorklistFilter(QSortFilterProxyModel):
    """Keeps the rows holding every word of the text, in any column (or the raw patient name),
    in any order, without case or accents: "hans muller" finds ``MÜLLER^HANS``.

    Sorting is the source model's (``sort`` is forwarded): the proxy keeps its order.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._words: tuple[str, ...] = ()
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        model = self.sourceModel()
        if isinstance(model, _KeyedTableModel):
            model.sort(column, order)
        else:
            super().sort(column, order)

    @property
    def active(self) -> bool:
        """Whether the text set has words to look for (a blank text or a lone "^" has none)."""
        return bool(self._words)

    def set_text(self, text: str) -> None:
        words = search_words(text)
        if words == self._words:
            return

        def change() -> None:
            self._words = words

        refilter(self, change)

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        if not self._words:
            return True
        model = self.sourceModel()
        if isinstance(model, WorklistModel):
            return contains_words(model.search_text(source_row), self._words)
        texts = (str(model.data(model.index(source_row, c, source_parent)) or "")
                 for c in range(model.columnCount(source_parent)))
        return contains_words(fold("\t".join(texts)), self._words)


# --- the tab -------------------------------------------------------------------------------------

def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def summary_text(snapshot: Snapshot, shown: int | None = None) -> str:
    """``12 entries, 2 problem files`` (and how many the filter shows, when one is set)."""
    text = (f"{_plural(len(snapshot.entries), 'entry', 'entries')}, "
            f"{_plural(len(snapshot.problems), 'problem file', 'problem files')}")
    if shown is not None:
        text += f" ({shown} shown)"
    if snapshot.folder_error:
        text += f" — {snapshot.folder_error}"
    return text


def _table(model: QSortFilterProxyModel) -> QTableView:
    view = QTableView()
    view.setModel(model)
    view.setSortingEnabled(True)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)
    view.verticalHeader().setVisible(False)
    header = view.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setStretchLastSection(True)
    return view


class EmptyFolderHint(QWidget):
    """What an empty worklist folder shows instead of empty tables: where the `.wl` files go (with
    a button opening that folder) and the button of the new-entry form."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        title = QLabel("<b>No worklist entries yet</b>")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        title.setFont(font)
        where = QLabel("Modalities get their worklist from the entries (.wl files) in this folder:")
        where.setWordWrap(True)
        self.folder = QLabel()
        self.folder.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.folder.setWordWrap(True)
        self.folder_error = error_label("folder")
        self.open_button = QPushButton("Open folder")
        self.open_button.setToolTip("Show the worklist folder in the file manager")
        how = QLabel("Put the .wl files from your RIS or booking system there, or schedule a "
                     "procedure yourself:")
        how.setWordWrap(True)
        self.new_button = QPushButton("New entry…")
        self.new_button.setToolTip("Schedule a procedure: a new worklist entry in the folder")
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.open_button)
        folder_row.addStretch(1)
        new_row = QHBoxLayout()
        new_row.addWidget(self.new_button)
        new_row.addStretch(1)
        text = QVBoxLayout()
        text.addWidget(title)
        text.addSpacing(8)
        text.addWidget(where)
        text.addWidget(self.folder)
        text.addWidget(self.folder_error)
        text.addLayout(folder_row)
        text.addSpacing(8)
        text.addWidget(how)
        text.addLayout(new_row)
        box = QWidget()
        box.setMaximumWidth(640)
        box.setLayout(text)
        middle = QHBoxLayout()  # centred, as wide as it may be (wrapped text needs the width)
        middle.addStretch(1)
        middle.addWidget(box, 100)
        middle.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addLayout(middle)
        layout.addStretch(2)

    def set_folder(self, folder: str, error: str | None) -> None:
        self.folder.setText(f"<b>{html.escape(folder)}</b>")
        if error:
            self.folder_error.setText(f"{error[:1].upper()}{error[1:]}. Check that the folder is "
                                      "there, or choose another one in the Settings tab.")
        self.folder_error.setVisible(bool(error))


class WorklistTab(QWidget):
    """The entries of the worklist folder as the server serves them, and the files it cannot; an
    empty folder shows where entries come from instead (:class:`EmptyFolderHint`). "Day view"
    shows one day's steps by modality and station instead of the tables (:class:`DayView`),
    "All entries" the tables again."""

    open_entry = Signal(object)  # pathlib.Path of the double-clicked entry's file
    new_entry_requested = Signal()  # the empty folder's "New entry…" button
    archive_requested = Signal()  # the "Archived…" button

    def __init__(self, controller: ServerController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.model = WorklistModel(self)
        self.proxy = WorklistFilter(self)
        self.proxy.setSourceModel(self.model)
        self.problems_model = ProblemsModel(self)
        self.problems_proxy = WorklistFilter(self)
        self.problems_proxy.setSourceModel(self.problems_model)
        self._snapshot = Snapshot((), ())
        self._sized = False
        self._retry = QTimer(self)
        self._retry.setSingleShot(True)
        self._retry.setInterval(250)
        self._retry.timeout.connect(self.refresh)

        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter: name, ID, accession, modality, station, date, file…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self._filter_changed)
        self.summary = QLabel()
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.archive_button = QPushButton("Archived…")
        self.archive_button.setToolTip("Entries moved out of the worklist (deleted, cancelled or "
                                       "expired), to look at or restore")
        self.archive_button.clicked.connect(self.archive_requested)
        # which view: every entry (the table) or one day's steps (the day view)
        self.all_button = QPushButton("All &entries")
        self.all_button.setToolTip("Show every entry of the folder in a table")
        self.day_button = QPushButton("Day &view")
        self.day_button.setToolTip("Show one day's steps by modality and station, with their "
                                   "status, and set their status")
        self.views = QButtonGroup(self)
        for button in (self.all_button, self.day_button):
            button.setCheckable(True)
            button.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
            self.views.addButton(button)
        self.all_button.setChecked(True)
        self.day_button.toggled.connect(self._show_pages)
        top = QHBoxLayout()
        top.addWidget(self.filter_edit, 1)
        top.addWidget(self.summary)
        top.addWidget(self.archive_button)
        top.addStretch(0)  # takes the room the filter leaves in the day view
        top.addSpacing(12)
        top.addWidget(self.all_button)
        top.addWidget(self.day_button)

        self.table = _table(self.proxy)
        self.table.sortByColumn(WorklistModel.SCHEDULED, Qt.SortOrder.AscendingOrder)
        self.table.doubleClicked.connect(self._double_clicked)
        self.table.setToolTip("Double-click an entry to see every element of its file.")
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.performed_steps: PerformedStepsDialog | None = None  # the last one opened

        self.problems_box = QWidget()
        box = QVBoxLayout(self.problems_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(QLabel("Files that cannot be served (modalities do not see them):"))
        self.problems_table = _table(self.problems_proxy)
        self.problems_table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        # the file name is read whole; the reason takes the rest, cut short ("…") where too long,
        # in full in its tool tip
        problems_header = self.problems_table.horizontalHeader()
        problems_header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        problems_header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.problems_table.setTextElideMode(Qt.TextElideMode.ElideRight)
        box.addWidget(self.problems_table)

        self.tables = QSplitter(Qt.Orientation.Vertical)
        self.tables.addWidget(self.table)
        self.tables.addWidget(self.problems_box)
        self.tables.setStretchFactor(0, 4)
        self.tables.setStretchFactor(1, 1)
        self.hint = EmptyFolderHint()
        self.hint.open_button.clicked.connect(lambda: open_folder(controller.settings.database))
        self.hint.new_button.clicked.connect(self.new_entry_requested)
        self.day_view = DayView(controller)
        self.day_view.open_entry.connect(self.open_entry)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.tables)
        self.pages.addWidget(self.hint)
        self.pages.addWidget(self.day_view)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.pages, 1)

        controller.store_changed.connect(self.refresh)
        controller.settings_changed.connect(self.refresh)
        self.proxy.rowsInserted.connect(self._update_summary)
        self.proxy.rowsRemoved.connect(self._update_summary)
        self.refresh()

    def refresh(self) -> None:
        """Bring both tables up to date with the store (rows matched by file name)."""
        if not self.controller.store.wait_ready(0):
            # The first indexing holds the store's lock: a snapshot now would freeze the window.
            self.summary.setText("Reading the worklist folder…")
            self._retry.start()
            return
        snapshot = self.controller.snapshot()
        self._snapshot = snapshot
        self.model.set_entries(snapshot.entries)
        self.problems_model.set_problems(snapshot.problems)
        self.problems_box.setVisible(bool(snapshot.problems))
        self.day_view.set_entries(snapshot.entries)
        self.hint.set_folder(self.controller.settings.database, snapshot.folder_error)
        self._show_pages()
        if not self._sized and snapshot.entries:
            self._sized = True
            self.table.resizeColumnsToContents()
        self._update_summary()

    def _show_pages(self) -> None:
        """The day view when asked for, else the tables; an empty folder shows the hint."""
        empty = not self._snapshot.entries and not self._snapshot.problems
        day = self.day_button.isChecked()
        self.pages.setCurrentWidget(self.hint if empty else self.day_view if day else self.tables)
        self.filter_edit.setVisible(not empty and not day)
        self.summary.setVisible(not day)
        self.all_button.setVisible(not empty)
        self.day_button.setVisible(not empty)

    def station_titles(self) -> list[str]:
        """The station AE titles the folder's entries use (as last shown), sorted."""
        return self._snapshot.station_titles()

    def _update_summary(self) -> None:
        shown = self.proxy.rowCount() if self.proxy.active else None
        self.summary.setText(summary_text(self._snapshot, shown))

    def _filter_changed(self, text: str) -> None:
        self.proxy.set_text(text)
        self._update_summary()

    def selected_paths(self) -> list[Path]:
        rows = sorted({self.proxy.mapToSource(i).row() for i in self.table.selectionModel().selectedRows()})
        return [self.model.entry(r).path for r in rows]

    def _double_clicked(self, index: QModelIndex) -> None:
        source = self.proxy.mapToSource(index)
        if source.isValid():
            self.open_entry.emit(self.model.entry(source.row()).path)

    def context_menu(self, index: QModelIndex) -> QMenu | None:
        """The menu of the entry at ``index`` of the table (None off the entries)."""
        source = self.proxy.mapToSource(index)
        if not source.isValid():
            return None
        entry = self.model.entry(source.row())
        menu = QMenu(self)
        menu.addAction("Open…", lambda: self.open_entry.emit(entry.path))
        menu.addAction("Performed steps (MPPS)…", lambda: self.show_performed_steps(entry))
        return menu

    def _context_menu(self, position: QPoint) -> None:
        menu = self.context_menu(self.table.indexAt(position))
        if menu is not None:
            menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            menu.popup(self.table.viewport().mapToGlobal(position))

    def show_performed_steps(self, entry: Entry) -> None:
        """Open the dialog of the MPPS reports of ``entry`` (read off the GUI thread)."""
        facts = node_facts(entry.node)
        accession, study_uid = facts.key.accession, facts.study_uid
        step_id = facts.step_ids[0] if facts.step_ids else ""
        label = f"accession {accession}" if accession else entry.name

        def show(records: list[MppsRecord]) -> None:
            self.performed_steps = PerformedStepsDialog(label, records, self)
            self.performed_steps.show()

        run_in_background(self, lambda: records_for(accession, step_id, study_uid), show,
                          name="wldesk-mpps-records")
