"""The Worklist tab's day view: one day's steps by modality and station, their status set by hand.

A date (today at first; previous and next day), the steps scheduled that day grouped by modality
and station AE title and ordered by time, each with its status in words and colour, the modality
whose query last returned it (the controller's ``queried``) and when this window saw it take its
status. Start, Mark done, Discontinue… (asked first) and Reset rewrite the status of the chosen
steps through the ledger, off the GUI thread (:meth:`ServerController.set_step_status`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path

from PySide6.QtCore import QDate, QModelIndex, QPoint, Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDateEdit,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from wldesk.core.store import Entry
from wldesk.gui.controller import ServerController, StatusChange
from wldesk.gui.day_model import DayModel, DayStep, StepTracker, status_text
from wldesk.gui.qtutil import error_label

# the buttons: status set, button text (with its mnemonic), what it does in words
ACTIONS = (
    ("STARTED", "St&art", "Mark the chosen steps as in progress"),
    ("COMPLETED", "Mark &done", "Mark the chosen steps as done: modalities no longer need them"),
    ("DISCONTINUED", "D&iscontinue…", "Mark the chosen steps as discontinued (asks first)"),
    ("SCHEDULED", "&Reset to scheduled", "Set the chosen steps back to scheduled"),
)


def _local_now() -> datetime:
    return datetime.now().astimezone()


def day_title(day: date) -> str:
    """``Wednesday 2 December 2026``."""
    return f"{day:%A} {day.day} {day:%B %Y}"


class DayView(QWidget):
    """The steps of one day (see the module documentation)."""

    open_entry = Signal(object)  # pathlib.Path of the entry whose step was double-clicked

    def __init__(self, controller: ServerController, parent: QWidget | None = None, *,
                 today: Callable[[], date] = date.today) -> None:
        super().__init__(parent)
        self.controller = controller
        self._today = today
        self.tracker = StepTracker(_local_now)
        self.model = DayModel(controller.queried, self.tracker, today, self,
                              performed=lambda: controller.performed)
        self._collapsed: set[tuple[str, str]] = set()
        self._entries: Sequence[Entry] = ()
        self._tracking = False  # whether snapshots are read (from the first time it shows)

        self.previous_button = QPushButton("◀ &Previous day")
        self.previous_button.setToolTip("Show the day before (Alt+P)")
        self.next_button = QPushButton("&Next day ▶")
        self.next_button.setToolTip("Show the day after (Alt+N)")
        self.today_button = QPushButton("&Today")
        self.today_button.setToolTip("Show today's steps (Alt+T)")
        self.date_edit = QDateEdit()
        self.date_edit.setCalendarPopup(True)
        self.date_edit.setDisplayFormat("ddd d MMM yyyy")
        self.date_edit.setAccessibleName("Day shown")
        self.date_edit.setDate(_qdate(today()))
        self.summary = QLabel()
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top = QHBoxLayout()
        top.addWidget(self.previous_button)
        top.addWidget(self.date_edit)
        top.addWidget(self.next_button)
        top.addWidget(self.today_button)
        top.addSpacing(12)
        top.addWidget(self.summary, 1)

        self.tree = QTreeView()
        self.tree.setModel(self.model)
        self.tree.setUniformRowHeights(True)
        self.tree.setAllColumnsShowFocus(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.tree.setAccessibleName("Steps of the day")
        self.tree.setToolTip("Double-click a step to see every element of its entry's file.")
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header = self.tree.header()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for column, width in ((DayModel.TIME, 110), (DayModel.PATIENT, 200),
                              (DayModel.PATIENT_ID, 90), (DayModel.ACCESSION, 90),
                              (DayModel.PROCEDURE, 190), (DayModel.STATUS, 100),
                              (DayModel.QUERIED, 110), (DayModel.PERFORMED, 90)):
            header.resizeSection(column, width)
        self.empty = QLabel()
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)

        self.buttons: dict[str, QPushButton] = {}
        bottom = QHBoxLayout()
        bottom.addWidget(QLabel("Chosen steps:"))
        for status, text, tip in ACTIONS:
            button = QPushButton(text)
            button.setToolTip(tip)
            button.clicked.connect(lambda _=False, s=status: self.set_status(s))
            self.buttons[status] = button
            bottom.addWidget(button)
        self.outcome = QLabel()
        self.outcome.setWordWrap(True)
        self.problem = error_label("status")
        bottom.addWidget(self.outcome, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.empty, 1)
        layout.addLayout(bottom)
        layout.addWidget(self.problem)

        self.previous_button.clicked.connect(lambda: self.show_day(self.day().toordinal() - 1))
        self.next_button.clicked.connect(lambda: self.show_day(self.day().toordinal() + 1))
        self.today_button.clicked.connect(lambda: self.show_day(self._today().toordinal()))
        self.date_edit.dateChanged.connect(lambda _: self._regroup())
        self.tree.selectionModel().selectionChanged.connect(self._update_buttons)
        self.tree.collapsed.connect(self._group_folded)
        self.tree.expanded.connect(self._group_folded)
        self.tree.doubleClicked.connect(self._double_clicked)
        self.tree.customContextMenuRequested.connect(self._context_menu)
        controller.queried_changed.connect(self.model.queries_changed)
        controller.performed_changed.connect(self.model.performed_changed)
        self._update_buttons()

    # --- the day ---------------------------------------------------------------------------

    def day(self) -> date:
        shown = self.date_edit.date()
        return date(shown.year(), shown.month(), shown.day())

    def show_day(self, day: date | int) -> None:
        """Show ``day`` (a date or its ordinal)."""
        self.date_edit.setDate(_qdate(date.fromordinal(day) if isinstance(day, int) else day))

    def set_entries(self, entries: Sequence[Entry]) -> None:
        """The folder's entries now (a new snapshot): read what changed, show the day again.

        Until the view is first shown they are only kept (reading a large folder's steps takes
        seconds a window that never shows the day view need not spend); from then on every
        snapshot is read, so that a status change is seen when it happens."""
        self._entries = entries
        if self._tracking:
            self.tracker.update(entries)
            self._regroup()

    def showEvent(self, event: QShowEvent) -> None:
        if not self._tracking:
            self._tracking = True
            self.set_entries(self._entries)
        super().showEvent(event)

    def _regroup(self) -> None:
        keys = {step.key for step in self.selected_steps()}
        current = self.model.step(self.tree.currentIndex())
        if self.model.set_groups(self.tracker.day(self.day().strftime("%Y%m%d"))):
            self._restore(keys, current.key if current is not None else None)
        count = self.model.step_count()
        title = day_title(self.day())
        self.summary.setText(f"{count} {'step' if count == 1 else 'steps'} on {title}")
        self.empty.setText(f"Nothing is scheduled on {title}.")
        self.tree.setVisible(count > 0)
        self.empty.setVisible(count == 0)
        self._update_buttons()

    def _restore(self, keys: set[tuple[str, int]], current: tuple[str, int] | None) -> None:
        """After a reset: the groups folded as they were, the same steps chosen."""
        model, tree = self.model, self.tree
        selection = tree.selectionModel()
        for number, group in enumerate(model.groups):
            parent = model.index(number, 0)
            tree.setFirstColumnSpanned(number, QModelIndex(), True)
            tree.setExpanded(parent, (group.modality, group.station) not in self._collapsed)
            if not keys and current is None:
                continue
            for row, step in enumerate(group.steps):
                if step.key in keys:
                    selection.select(model.index(row, 0, parent),
                                     selection.SelectionFlag.Select | selection.SelectionFlag.Rows)
                if step.key == current:
                    selection.setCurrentIndex(model.index(row, 0, parent),
                                              selection.SelectionFlag.NoUpdate)
        if keys and not selection.hasSelection():
            tree.setCurrentIndex(model.index(0, 0) if model.groups else QModelIndex())

    def _group_folded(self, index: QModelIndex) -> None:
        if index.isValid() and self.model.step(index) is None:
            group = self.model.groups[index.row()]
            key = (group.modality, group.station)
            if self.tree.isExpanded(index):
                self._collapsed.discard(key)
            else:
                self._collapsed.add(key)

    # --- setting a status --------------------------------------------------------------------

    def selected_steps(self) -> list[DayStep]:
        """The chosen steps (a group's row chooses none), in the view's order."""
        steps = (self.model.step(index) for index in self.tree.selectionModel().selectedRows())
        return [step for step in steps if step is not None]

    def _update_buttons(self) -> None:
        steps = self.selected_steps()
        for status, button in self.buttons.items():
            button.setEnabled(any(step.changeable_alone and step.status != status
                                  for step in steps))

    def set_status(self, status: str) -> None:
        """Set the chosen steps' status to ``status`` (Discontinue asks first)."""
        steps = [step for step in self.selected_steps() if step.status != status]
        alone = [step for step in steps if step.changeable_alone]
        if not alone:
            return
        if status == "DISCONTINUED" and not self._confirm_discontinue(alone):
            return
        # an entry's only step may lack an SPS ID: None changes every step (that one)
        targets: list[tuple[Path, str | None]] = [(step.entry.path, step.step_id or None)
                                                  for step in alone]
        skipped = len(steps) - len(alone)
        self.problem.hide()
        self.outcome.setText(f"Setting {len(alone)} {'step' if len(alone) == 1 else 'steps'} "
                             f"to {status_text(status)}…")
        self.controller.set_step_status(
            targets, status, self, lambda change: self._status_set(status, change, skipped))

    def _confirm_discontinue(self, steps: list[DayStep]) -> bool:
        count = len(steps)
        which = (f"the step of {steps[0].patient or 'this entry'}" if count == 1
                 else f"these {count} steps")
        answer = QMessageBox.question(
            self, "Discontinue",
            f"Discontinue {which}? Modalities will no longer be asked to perform "
            f"{'it' if count == 1 else 'them'}. You can set {'it' if count == 1 else 'them'} "
            f"back to scheduled with Reset to scheduled.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Yes

    def _status_set(self, status: str, change: StatusChange, skipped: int) -> None:
        count = sum(written.action == "updated" for written in change.written)
        text = f"{count} {'step' if count == 1 else 'steps'} set to {status_text(status)}."
        if skipped:
            text += (f" {skipped} {'step was' if skipped == 1 else 'steps were'} left alone: "
                     "open the entry to change a step without an SPS ID of its own.")
        self.outcome.setText(text)
        if change.problems:
            self.problem.setText("Not changed: " + "; ".join(change.problems))
        self.problem.setVisible(bool(change.problems))

    # --- keyboard, mouse -------------------------------------------------------------------

    def _double_clicked(self, index: QModelIndex) -> None:
        step = self.model.step(index)
        if step is not None:
            self.open_entry.emit(step.entry.path)

    def _context_menu(self, point: QPoint) -> None:
        if not self.selected_steps():
            return
        menu = QMenu(self)
        for status, button in self.buttons.items():
            action = menu.addAction(button.text().replace("&", ""))
            action.setEnabled(button.isEnabled())
            action.triggered.connect(lambda _=False, s=status: self.set_status(s))
        menu.exec(self.tree.viewport().mapToGlobal(point))


def _qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)
