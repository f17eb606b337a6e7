"""The Worklist tab: every entry of the folder in a sortable, filterable table, and the problem files.

The models (``worklist_model.py``) follow the folder store live: on each ``store_changed`` they
are brought up to date from a new snapshot with the smallest change, so the selection, the sort
order and the scroll position survive the update. The entries are shown while the folder is still
being read. The rows of many new entries are made in short slices between which the GUI thread
lets go of the interpreter, so that the server's queries never wait long for it.
"""

from __future__ import annotations

import html
import time
from pathlib import Path

from PySide6.QtCore import QModelIndex, QPoint, QSortFilterProxyModel, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
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
    QTableView,
    QVBoxLayout,
    QWidget,
)

from wldesk.core.dicom.folding import contains_words, fold, search_words
from wldesk.core.flow.ledger import node_facts
from wldesk.core.flow.mpps_records import MppsRecord, records_for
from wldesk.core.store import Entry, Snapshot
from wldesk.gui.controller import ServerController
from wldesk.gui.day_view import DayView
from wldesk.gui.mpps_dialog import PerformedStepsDialog
from wldesk.gui.qtutil import error_label, refilter
from wldesk.gui.tasks import run_in_background
from wldesk.gui.tray import open_folder
from wldesk.gui.worklist_model import (
    PATH_ROLE,
    RAW_ROLE,
    SORT_ROLE,
    EntryRow,
    Index,
    ProblemsModel,
    WorklistModel,
    _KeyedTableModel,
)

SLICE_SECONDS = 0.004
"""The longest the GUI thread makes rows at a time; then it lets the event loop (and the server's
queries, which need the interpreter) run for ``PAUSE_MS``."""

PAUSE_MS = 10

READING_RETRY_MS = 3000
"""When the table first shows what the store has read so far, while it reads the folder first;
then after twice as long each time, up to ``READING_RETRY_MAX_MS``."""
READING_RETRY_MAX_MS = 30_000

__all__ = ["PATH_ROLE", "RAW_ROLE", "SORT_ROLE", "ProblemsModel", "WorklistFilter",
           "WorklistModel", "WorklistTab", "summary_text"]


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
        self._reading = False  # the store is still reading the folder first
        self._asking = False  # for what the store has read so far
        self._retry = QTimer(self)
        self._retry.setSingleShot(True)
        self._retry.timeout.connect(self.refresh)
        self._retry_ms = READING_RETRY_MS
        self._made: dict[str, EntryRow] = {}  # the rows made, by file name
        self._making: tuple[Entry, ...] = ()  # the entries whose rows are being made
        self._next = 0  # ... from this one on
        self._slices = QTimer(self)
        self._slices.setSingleShot(True)
        self._slices.setInterval(PAUSE_MS)
        self._slices.timeout.connect(self._make_rows)

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
        """Bring both tables up to date with the store (rows matched by file name); while the
        store reads the folder first, with what it has read so far."""
        if self.controller.store.wait_ready(0):
            self._show(self.controller.snapshot(), reading=False)
        elif not self._asking and not self._retry.isActive():
            self._reading = True
            self._update_summary()
            # The first indexing may hold the store's lock a while: what it has read so far is
            # taken off the GUI thread, so that the window never freezes waiting for it.
            self._asking = True
            self.controller.snapshot_in_background(self, self._read_so_far)

    def _read_so_far(self, snapshot: Snapshot) -> None:
        self._asking = False
        if self.controller.store.wait_ready(0):
            self.refresh()  # done meanwhile: the whole folder
            return
        self._show(snapshot, reading=True)
        # each showing of a large folder read so far takes the interpreter from the indexing for
        # a while: shown again after twice as long each time (3, 6, 12... s)
        self._retry.start(self._retry_ms)
        self._retry_ms = min(self._retry_ms * 2, READING_RETRY_MAX_MS)

    def _show(self, snapshot: Snapshot, *, reading: bool) -> None:
        self._snapshot = snapshot
        self._reading = reading
        if not reading:
            self._retry_ms = READING_RETRY_MS  # for the next store's first indexing
        self.problems_model.set_problems(snapshot.problems)
        self.problems_box.setVisible(bool(snapshot.problems))
        self.day_view.set_entries(snapshot.entries)
        self.hint.set_folder(self.controller.settings.database, snapshot.folder_error)
        self._show_pages()
        self._making, self._next = snapshot.entries, 0
        self._make_rows()

    def _make_rows(self) -> None:
        """Make the rows of the entries not shown yet for ``SLICE_SECONDS`` at most, then again
        after a pause; once all are made, show them (one update of the table)."""
        entries, made = self._making, self._made
        deadline = time.perf_counter() + SLICE_SECONDS
        position = self._next
        while position < len(entries):
            entry = entries[position]
            position += 1
            row = made.get(entry.name)
            if row is None or row.entry is not entry:
                made[entry.name] = EntryRow(entry)
                if time.perf_counter() > deadline:
                    break
        self._next = position
        if position < len(entries):
            self._slices.start()
        else:
            if len(made) > len(entries):
                self._made = made = {e.name: made[e.name] for e in entries}
            self.model.set_entries(entries, made)
            if not self._sized and entries:
                self._sized = True
                self.table.resizeColumnsToContents()
        self._update_summary()

    def _show_pages(self) -> None:
        """The day view when asked for, else the tables; an empty folder shows the hint."""
        empty = not self._snapshot.entries and not self._snapshot.problems and not self._reading
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
        text = summary_text(self._snapshot, shown)
        if self._reading or self._next < len(self._making):
            text = f"Reading the worklist folder… {text}"
        self.summary.setText(text)

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
