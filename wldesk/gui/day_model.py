"""The day view's model: the steps scheduled on one day, grouped by modality and station.

Every step of every entry is read once per version of its file (the store keeps an unchanged
file's ``Entry``), which is also when a status change is noticed: the time the window saw it is
the step's "Performed" time. The day's steps are grouped and sorted once per snapshot or date,
never while painting; a day of 10,000 steps is one model reset.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QWidget

from wldesk.core.dicom.model import ACCESSION_NUMBER, MODALITY, PATIENT_ID, STATION_AET
from wldesk.core.dicom.node import Node
from wldesk.core.flow.mpps_records import MppsRecord
from wldesk.core.store import Entry
from wldesk.gui.controller import Queried
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
)
from wldesk.gui.qtutil import column_title

Index = QModelIndex | QPersistentModelIndex

SPS_ID = 0x00400009
SPS_STATUS = 0x00400020

STEP_ROLE = Qt.ItemDataRole.UserRole + 10  # the row's DayStep (None for a group's row)

# status (as the file holds it) -> the words shown, the cell's colour (None: the table's own)
STATUS_LOOK: dict[str, tuple[str, str | None]] = {
    "": ("scheduled", None),
    "SCHEDULED": ("scheduled", None),
    "ARRIVED": ("arrived", "#d6e6fb"),
    "READY": ("ready", "#d6e6fb"),
    "STARTED": ("in progress", "#fbe7b3"),
    "COMPLETED": ("done", "#cdebd3"),
    "DISCONTINUED": ("discontinued", "#f5d0d0"),
}
STATUS_TEXT_COLOUR = "#1d1d1d"  # on the light status colours, in light and dark themes alike


def status_text(status: str) -> str:
    """How a step status reads in the day view: ``COMPLETED`` -> ``done``."""
    return STATUS_LOOK.get(status, (status.lower(), None))[0]


def status_colour(status: str) -> str | None:
    """The status cell's background colour (``#rrggbb``), None for the table's own."""
    return STATUS_LOOK.get(status, ("", None))[1]


def clock_text(moment: datetime, today: date) -> str:
    """``09:12`` today, ``2026-11-30 09:12`` another day."""
    shown = moment.astimezone()
    return shown.strftime("%H:%M" if shown.date() == today else "%Y-%m-%d %H:%M")


@dataclass(frozen=True, slots=True)
class DayStep:
    """One scheduled procedure step of an entry, as the day view shows it."""

    entry: Entry
    index: int  # the step's place in the entry's Scheduled Procedure Step Sequence
    step_id: str
    changeable_alone: bool  # its SPS ID tells it from the entry's other steps (or it is alone)
    date: str  # YYYYMMDD as the file holds it
    time: str  # HH:MM ("" when the file has none)
    modality: str
    station: str
    patient: str
    patient_id: str
    accession: str
    description: str
    status: str  # upper case, "" when the file has none

    @property
    def key(self) -> tuple[str, int]:
        return self.entry.name, self.index


def entry_steps(entry: Entry) -> tuple[DayStep, ...]:
    """Every step of ``entry`` (an entry without steps has none to show)."""
    node = entry.node
    steps = step_items(node)
    ids = [next(iter(texts(step, SPS_ID)), "") for step in steps]
    patient = "; ".join(readable_name(n) for n in texts(node, PATIENT_NAME))
    patient_id = ", ".join(texts(node, PATIENT_ID))
    accession = next(iter(texts(node, ACCESSION_NUMBER)), "")
    procedure = ", ".join(texts(node, REQUESTED_PROCEDURE_DESCRIPTION))
    return tuple(_day_step(entry, number, step, ids=ids, patient=patient, patient_id=patient_id,
                           accession=accession, procedure=procedure)
                 for number, step in enumerate(steps))


def _day_step(entry: Entry, number: int, step: Node, *, ids: list[str], patient: str,
              patient_id: str, accession: str, procedure: str) -> DayStep:
    step_id = ids[number]
    day = next(iter(texts(step, SPS_START_DATE)), "")
    clock = scheduled_text("", next(iter(texts(step, SPS_START_TIME)), ""))
    return DayStep(
        entry=entry, index=number, step_id=step_id,
        changeable_alone=len(ids) == 1 or (bool(step_id) and ids.count(step_id) == 1),
        date=day, time=clock,
        modality=", ".join(texts(step, MODALITY)), station=", ".join(texts(step, STATION_AET)),
        patient=patient, patient_id=patient_id, accession=accession,
        description=", ".join(texts(step, SPS_DESCRIPTION)) or procedure,
        status=next(iter(texts(step, SPS_STATUS)), "").upper())


@dataclass(frozen=True, slots=True)
class DayGroup:
    modality: str
    station: str
    steps: tuple[DayStep, ...]

    @property
    def title(self) -> str:
        modality = self.modality or "No modality"
        station = self.station or "no station AE title"
        count = len(self.steps)
        return f"{modality} — {station}   ({count} {'step' if count == 1 else 'steps'})"


class StepTracker:
    """Every step of the folder by file name, read once per version of its file, and when this
    window saw each step's status change."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._read: dict[str, tuple[Entry, tuple[DayStep, ...]]] = {}
        self.changed_at: dict[tuple[str, int], tuple[str, datetime]] = {}  # status, when seen

    def update(self, entries: Sequence[Entry]) -> None:
        read: dict[str, tuple[Entry, tuple[DayStep, ...]]] = {}
        now: datetime | None = None
        for entry in entries:
            known = self._read.get(entry.name)
            if known is not None and known[0] is entry:
                read[entry.name] = known
                continue
            steps = entry_steps(entry)
            read[entry.name] = (entry, steps)
            if known is None:
                continue  # first seen: when its status was set is not known here
            before = {step.index: step.status for step in known[1]}
            for step in steps:
                if step.index in before and before[step.index] != step.status:
                    now = now or self._clock()
                    self.changed_at[step.key] = (step.status, now)
        self._read = read
        if any(name not in read for name, _ in self.changed_at):
            self.changed_at = {k: v for k, v in self.changed_at.items() if k[0] in read}

    def performed(self, step: DayStep) -> datetime | None:
        """When this window saw ``step`` take its present status (None: not seen changing)."""
        seen = self.changed_at.get(step.key)
        return seen[1] if seen is not None and seen[0] == step.status else None

    def day(self, day: str) -> list[DayGroup]:
        """The steps scheduled on ``day`` (YYYYMMDD), by modality and station, each group by
        time (steps without a time first), then patient."""
        grouped: dict[tuple[str, str], list[DayStep]] = defaultdict(list)
        for _, steps in self._read.values():
            for step in steps:
                if step.date == day:
                    grouped[(step.modality, step.station)].append(step)
        return [DayGroup(modality, station,
                         tuple(sorted(steps, key=lambda s: (s.time, s.patient, s.key))))
                for (modality, station), steps in sorted(grouped.items())]


class DayModel(QAbstractItemModel):
    """Groups (modality — station) at the top level, their steps below, in time order."""

    COLUMNS = ("Time", "Patient", "Patient ID", "Accession", "Procedure", "Status", "Queried by",
               "Performed", "File")
    TIME, PATIENT, PATIENT_ID, ACCESSION, PROCEDURE, STATUS, QUERIED, PERFORMED, FILE = range(9)

    def __init__(self, queried: Mapping[str, Queried], tracker: StepTracker,
                 today: Callable[[], date], parent: QWidget | None = None, *,
                 performed: Callable[[], Mapping[str, Sequence[MppsRecord]]] = dict) -> None:
        """``performed``: the kept MPPS reports by accession number, as they are now."""
        super().__init__(parent)
        self._queried = queried
        self._performed = performed
        self._tracker = tracker
        self._today = today
        self.groups: list[DayGroup] = []
        self._bold: QFont | None = None

    def set_groups(self, groups: list[DayGroup]) -> bool:
        """Show ``groups``; False (and nothing done) when they are the ones shown."""
        if len(groups) == len(self.groups) and all(
                (new.modality, new.station) == (old.modality, old.station)
                and len(new.steps) == len(old.steps)
                and all(a is b for a, b in zip(new.steps, old.steps, strict=True))
                for new, old in zip(groups, self.groups, strict=True)):
            return False
        self.beginResetModel()
        self.groups = groups
        self.endResetModel()
        return True

    def step_count(self) -> int:
        return sum(len(group.steps) for group in self.groups)

    def queries_changed(self) -> None:
        """The "Queried by" column's cells may read differently now."""
        self._column_changed(self.QUERIED)

    def performed_changed(self) -> None:
        """The "Performed" column's cells may read differently now (an MPPS report came)."""
        self._column_changed(self.PERFORMED)

    def _column_changed(self, column: int) -> None:
        for number, group in enumerate(self.groups):
            if group.steps:
                parent = self.index(number, 0)
                self.dataChanged.emit(self.index(0, column, parent),
                                      self.index(len(group.steps) - 1, column, parent),
                                      [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole])

    def report(self, step: DayStep) -> MppsRecord | None:
        """The latest MPPS report of ``step`` (its accession number and SPS ID), or None."""
        if not step.accession:
            return None
        reports = [r for r in self._performed().get(step.accession, ())
                   if r.concerns(step.accession, step.step_id, "")]
        return reports[-1] if reports else None

    # --- the tree ------------------------------------------------------------------------------

    def index(self, row: int, column: int, parent: Index | None = None) -> QModelIndex:
        parent = parent if parent is not None else QModelIndex()
        if not 0 <= column < len(self.COLUMNS) or row < 0:
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, column, 0) if row < len(self.groups) else QModelIndex()
        if parent.internalId() != 0 or not 0 <= parent.row() < len(self.groups):
            return QModelIndex()
        if row >= len(self.groups[parent.row()].steps):
            return QModelIndex()
        return self.createIndex(row, column, parent.row() + 1)

    def parent(self, index: Index | None = None) -> Any:
        if index is None:
            return QObject.parent(self)  # the model's owner (QObject.parent)
        if not index.isValid() or index.internalId() == 0:
            return QModelIndex()
        return self.createIndex(index.internalId() - 1, 0, 0)

    def rowCount(self, parent: Index | None = None) -> int:
        if parent is None or not parent.isValid():
            return len(self.groups)
        if parent.internalId() == 0 and parent.column() == 0 and parent.row() < len(self.groups):
            return len(self.groups[parent.row()].steps)
        return 0

    def columnCount(self, parent: Index | None = None) -> int:
        return len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        return column_title(self.COLUMNS, section, orientation, role)

    def step(self, index: Index) -> DayStep | None:
        """The step of ``index``'s row (None for a group's row)."""
        if not index.isValid() or index.internalId() == 0:
            return None
        group = self.groups[index.internalId() - 1]
        return group.steps[index.row()] if index.row() < len(group.steps) else None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        if index.internalId() == 0:
            return self._group_data(index, role)
        step = self.step(index)
        if step is None:
            return None
        column = index.column()
        if role == STEP_ROLE:
            return step
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return self._text(step, column)
        if column == self.STATUS:
            colour = status_colour(step.status)
            if colour is not None and role == Qt.ItemDataRole.BackgroundRole:
                return QBrush(QColor(colour))
            if colour is not None and role == Qt.ItemDataRole.ForegroundRole:
                return QBrush(QColor(STATUS_TEXT_COLOUR))
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(step, column)
        return None

    def _group_data(self, index: Index, role: int) -> Any:
        if index.column() != 0 or index.row() >= len(self.groups):
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return self.groups[index.row()].title
        if role == Qt.ItemDataRole.FontRole:
            if self._bold is None:
                self._bold = QFont()
                self._bold.setBold(True)
            return self._bold
        return None

    def _text(self, step: DayStep, column: int) -> str:
        if column == self.TIME:
            return step.time
        if column == self.PATIENT:
            return step.patient
        if column == self.PATIENT_ID:
            return step.patient_id
        if column == self.ACCESSION:
            return step.accession
        if column == self.PROCEDURE:
            return step.description
        if column == self.STATUS:
            return status_text(step.status)
        if column == self.QUERIED:
            asked = self._queried.get(step.accession) if step.accession else None
            return f"{asked.calling_aet}, {clock_text(asked.time, self._today())}" if asked else ""
        if column == self.PERFORMED:
            report = self.report(step)
            if report is not None:  # the modality's own word: started, and ended if it has
                done = f" \N{EN DASH} {report.end[-5:]}" if report.end else ""
                return f"{report.start[-5:] or '?'}{done} ({report.status.lower()})"
            seen = self._tracker.performed(step)
            return clock_text(seen, self._today()) if seen is not None else ""
        if column == self.FILE:
            return step.entry.name if step.index == 0 else f"{step.entry.name} (step {step.index + 1})"
        return ""

    def _tooltip(self, step: DayStep, column: int) -> str | None:
        if column == self.QUERIED:
            return ("The modality (calling AE title) whose worklist query last returned this "
                    "entry, and when")
        if column == self.PERFORMED:
            report = self.report(step)
            if report is not None:
                where = report.performing_ae or report.station or "the modality"
                return (f"MPPS from {where}: started {report.start or 'at an unknown time'}"
                        + (f", ended {report.end}" if report.end else "")
                        + f" ({report.status.lower()})")
            return ("When this window saw the step take its present status (no MPPS report "
                    "from the modality)")
        if column == self.STATUS and step.status not in STATUS_LOOK:
            return f"Status in the file: {step.status}"
        return None
