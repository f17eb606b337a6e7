"""The Worklist tab's models: every entry of the folder (``WorklistModel``) and the problem files.

The models follow the folder store: ``set_entries`` brings them up to date with the smallest
change (rows removed, inserted or changed, matched by file name), so the selection, the sort
order and the scroll position survive the update. A row keeps only what sorting needs; the texts
shown are made when the row is shown, so that a folder of 100,000 entries costs neither seconds of
the GUI thread (which the server's queries would wait for, the interpreter being one) nor tens of
megabytes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QStyle, QWidget

from wldesk.core.check import missing_keys
from wldesk.core.dicom.folding import fold
from wldesk.core.dicom.model import ACCESSION_NUMBER, MODALITY, PATIENT_ID, STATION_AET
from wldesk.core.dicom.node import Node
from wldesk.core.store import Entry, FileProblem
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
from wldesk.gui.qtutil import ColumnsModel

Index = QModelIndex | QPersistentModelIndex

TEXTS_KEPT = 4096  # the texts of this many rows shown lately are kept

SORT_ROLE = Qt.ItemDataRole.UserRole + 1  # the value columns sort by (dates chronologically)
RAW_ROLE = Qt.ItemDataRole.UserRole + 2  # the value as the file holds it (e.g. "DOE^JOHN")
PATH_ROLE = Qt.ItemDataRole.UserRole + 3  # the file's pathlib.Path (any column)


def scheduled_when(node: Node) -> str:
    """The earliest step's start as "YYYY-MM-DD HH:MM" (sorts chronologically as text), "" when
    no step has a date: what the Scheduled column sorts by."""
    times = [scheduled_text(dates[0], next(iter(texts(step, SPS_START_TIME)), ""))
             for step in step_items(node) if (dates := texts(step, SPS_START_DATE))]
    return min(times, default="")


@dataclass(frozen=True, slots=True)
class EntryTexts:
    """What the table shows of one entry, made when the row is first shown (or filtered)."""

    cells: tuple[str, ...]
    raw_patient: str

    @property
    def search(self) -> str:
        """Every cell and the raw patient name, folded for the filter (folding.fold)."""
        return fold("\t".join((*self.cells, self.raw_patient)))

    @classmethod
    def of(cls, entry: Entry) -> EntryTexts:
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
        return cls(cells=cells, raw_patient="\\".join(raw_names))


class EntryRow:
    """One entry's row: only what sorting needs is kept (the Scheduled text, and the text of the
    column sorted by last); the texts shown are made when the row is shown, and not kept for
    every row (100,000 rows of texts are ~90 MB and ~3 s of the GUI thread)."""

    __slots__ = ("entry", "sorted_by", "when")

    def __init__(self, entry: Entry) -> None:
        self.entry = entry
        self.when = scheduled_when(entry.node)
        self.sorted_by: tuple[int, str] | None = None  # (column, its sort text)

    @property
    def key(self) -> str:
        return self.entry.name

    @property
    def source(self) -> object:
        return self.entry


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
    BULK_ROWS = 256  # more new rows than this at once: append them, then re-sort once

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

    def _made(self, item: ItemT, made: Mapping[str, RowT]) -> RowT:
        row = made.get(self._key(item))
        return row if row is not None and row.source is item else self._make(item)

    def _sync(self, items: Sequence[ItemT], made: Mapping[str, RowT] | None = None) -> None:
        """Make the rows those of ``items``: remove, change and insert as few rows as possible.
        ``made``: rows made beforehand, by key (used when their item is the one in ``items``)."""
        made = made or {}
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
                rows[number] = self._made(item, made)
                changed.append(number)
        last_column = len(self.COLUMNS) - 1
        for first, last in _runs(changed):
            self.dataChanged.emit(self.index(first, 0), self.index(last, last_column))
        if changed:
            self._resort()  # a changed row may sort elsewhere now
        present = {row.key for row in rows}
        order_key = self._order_key()
        new = sorted((self._made(item, made) for key, item in wanted.items() if key not in present),
                     key=order_key, reverse=self._sort_order == Qt.SortOrder.DescendingOrder)
        if not new:
            return
        # Many new rows (a folder read first, a large import): appended, then one re-sort; each
        # one's insertion point would cost a binary search of the rows (100,000 new rows: 1.7
        # million sort keys made on the GUI thread).
        bulk = len(new) > self.BULK_ROWS
        groups: list[tuple[int, list[RowT]]] = [(len(rows), new)] if bulk else []
        for row in new if not bulk else ():
            point = self._insertion_point(order_key(row))
            if groups and groups[-1][0] == point:
                groups[-1][1].append(row)
            else:
                groups.append((point, [row]))
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
        super().__init__(EntryRow, lambda entry: entry.name, parent)
        self._missing: dict[str, tuple[Entry, tuple[str, ...]]] = {}  # computed when first shown
        self._texts: dict[str, tuple[Entry, EntryTexts]] = {}  # of the rows shown lately
        self._search: dict[str, tuple[Entry, str]] = {}  # made once the filter is first used
        self._icon: QIcon | None = None

    def sort_key(self, row: EntryRow, column: int) -> str:
        if column == self.SCHEDULED:
            return row.when
        if row.sorted_by is None or row.sorted_by[0] != column:
            row.sorted_by = (column, EntryTexts.of(row.entry).cells[column].casefold())
        return row.sorted_by[1]

    def set_entries(self, entries: Sequence[Entry], made: Mapping[str, EntryRow] | None = None,
                    ) -> None:
        """Show ``entries``; ``made``: their rows made beforehand (``EntryRow``), by file name."""
        self._sync(entries, made)
        for cache in (self._missing, self._search):
            if len(cache) > len(self._rows):
                names = {row.key for row in self._rows}
                for name in [n for n in cache if n not in names]:
                    del cache[name]

    def texts(self, row: int) -> EntryTexts:
        """The texts row ``row`` shows, made when first asked for; those of the last
        ``TEXTS_KEPT`` rows asked for are kept."""
        entry = self._rows[row].entry
        kept = self._texts.get(entry.name)
        if kept is None or kept[0] is not entry:
            if len(self._texts) >= TEXTS_KEPT:
                self._texts.clear()
            kept = self._texts[entry.name] = (entry, EntryTexts.of(entry))
        return kept[1]

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
        filter; computed once per version of the entry's file, when the filter first needs it."""
        entry = self._rows[row].entry
        kept = self._search.get(entry.name)
        if kept is None or kept[0] is not entry:
            kept = self._search[entry.name] = (entry, self.texts(row).search)
        return kept[1]

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        item, column = self._rows[index.row()], index.column()
        if not 0 <= column < len(self.COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.texts(index.row()).cells[column]
        if role == SORT_ROLE:
            return self.sort_key(item, column)
        if role == RAW_ROLE:
            shown = self.texts(index.row())
            return shown.raw_patient if column == self.PATIENT else shown.cells[column]
        if role == PATH_ROLE:
            return item.entry.path
        if column == self.PATIENT and role == Qt.ItemDataRole.DecorationRole:
            if not self.missing(index.row()):
                return None
            if self._icon is None:
                self._icon = _warning_icon()
            return self._icon
        if role == Qt.ItemDataRole.ToolTipRole:
            shown = self.texts(index.row())
            if column == self.PATIENT:
                lines = [f"Patient name as stored: {shown.raw_patient or '(empty)'}"]
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
            return shown.cells[column] or None
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
