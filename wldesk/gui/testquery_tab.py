"""The "Test query" tab: ask the running server exactly as a modality would, and see why not.

It replaces hand-run ``findscu`` troubleshooting. The IT person fills in what the modality sends
(its calling AE title, today's date, its modality and station), runs the query over the network
against the running server (on a worker thread: :func:`wldesk.gui.tasks.run_in_background`), and
sees the answers; for every entry of the worklist folder that is not among them, the reason in
plain words, and the files the server cannot serve at all. When the server is not running the
same explanation can be worked out locally, without the network. The query, its sending and the
explanation are :mod:`wldesk.core.net.probe`; this module holds the widgets.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QDate,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QDateEdit,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from wldesk.core.net.doctor import REDACTED
from wldesk.core.net.probe import (
    ANSWER_COLUMNS,
    DEFAULT_CALLING_AET,
    Outcome,
    QueryForm,
    Target,
    connect_host,
    explain_without_network,
    findscu_command,
    query_and_explain,
)
from wldesk.core.settings import Settings, check_ae_title
from wldesk.gui.controller import ServerController
from wldesk.gui.qtutil import column_title
from wldesk.gui.tasks import run_in_background

MODALITY_CHOICES = ("CT", "MR", "US", "CR", "DX", "MG", "XA", "NM", "PT", "RF", "OT")


def server_target(controller: ServerController) -> Target:
    """The running server's address and settings (the ones it started with), else the settings'."""
    server = controller.server
    settings: Settings = server.settings if server is not None else controller.settings
    port = settings.port
    if server is not None and server.is_running:
        with contextlib.suppress(RuntimeError):  # stopped meanwhile
            port = server.port
    return Target(connect_host(settings.bind_address), port, settings.ae_title,
                  settings.filter_issuer_aet, settings.hidden_statuses)


# --- Qt --------------------------------------------------------------------------------------------

class RowsModel(QAbstractTableModel):
    """A read-only table of text rows (the full text is also the tool tip)."""

    def __init__(self, headers: Sequence[str], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._headers = tuple(headers)
        self._rows: list[tuple[str, ...]] = []

    def set_rows(self, rows: Iterable[Sequence[str]]) -> None:
        self.beginResetModel()
        self._rows = [tuple(row) for row in rows]
        self.endResetModel()

    def rows(self) -> list[tuple[str, ...]]:
        return list(self._rows)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self._headers)

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        if not 0 <= index.column() < len(row):
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return row[index.column()]
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        return column_title(self._headers, section, orientation, role)


def _to_date(value: QDate) -> date:
    return date(value.year(), value.month(), value.day())


def _table(model: RowsModel) -> QTableView:
    view = QTableView()
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setWordWrap(False)
    view.verticalHeader().setVisible(False)
    view.horizontalHeader().setStretchLastSection(True)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    return view


class TestQueryTab(QWidget):
    """Ask the running server as a modality would; see the answers and why the others are not."""

    __test__ = False  # not a pytest test class, despite its name

    finished = Signal(object)  # Outcome, once it is shown

    def __init__(self, controller: ServerController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self._busy = False
        self.last_outcome: Outcome | None = None

        # The form.
        self.calling_aet = QComboBox()
        self.calling_aet.setEditable(True)
        self.calling_aet.setToolTip("The AE title the query comes from: pick the modality to "
                                    "impersonate, or type any title.")
        self._fill_calling_aets(controller.settings)

        self.date_today = QRadioButton("Today")
        self.date_range = QRadioButton("From")
        self.date_any = QRadioButton("Any date")
        self.date_today.setChecked(True)
        self._date_group = QButtonGroup(self)
        for button in (self.date_today, self.date_range, self.date_any):
            self._date_group.addButton(button)
        today = QDate.currentDate()
        self.date_from = QDateEdit(today)
        self.date_to = QDateEdit(today)
        for date_edit in (self.date_from, self.date_to):
            date_edit.setCalendarPopup(True)
            date_edit.setDisplayFormat("yyyy-MM-dd")
        dates = QHBoxLayout()
        dates.addWidget(self.date_today)
        dates.addWidget(self.date_range)
        dates.addWidget(self.date_from)
        dates.addWidget(QLabel("to"))
        dates.addWidget(self.date_to)
        dates.addWidget(self.date_any)
        dates.addStretch(1)
        self.date_range.toggled.connect(self._update_dates)
        self._update_dates()

        self.modality = QComboBox()
        self.modality.setEditable(True)
        self.modality.addItems(["", *MODALITY_CHOICES])
        modality_edit = self.modality.lineEdit()
        if modality_edit is not None:
            modality_edit.setPlaceholderText("any")
        self.station = QLineEdit()
        self.station.setPlaceholderText("any (the modality's own AE title if it sends one)")
        self.patient_name = QLineEdit()
        self.patient_name.setPlaceholderText("any; wildcards * and ?, e.g. DOE*")
        self.patient_id = QLineEdit()
        self.patient_id.setPlaceholderText("any")
        self.accession = QLineEdit()
        self.accession.setPlaceholderText("any")

        form = QFormLayout()
        form.addRow("Calling AE title", self.calling_aet)
        form.addRow("Scheduled date", dates)
        form.addRow("Modality", self.modality)
        form.addRow("Station AE title", self.station)
        form.addRow("Patient name", self.patient_name)
        form.addRow("Patient ID", self.patient_id)
        form.addRow("Accession number", self.accession)

        # Actions and status.
        self.run_button = QPushButton("Run query")
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self.run_query)
        self.explain_button = QPushButton("Explain locally")
        self.explain_button.setToolTip("Compare the query with the worklist folder without the "
                                       "network (works when the server is not running).")
        self.explain_button.clicked.connect(self.explain_locally)
        self.explain_button.setVisible(False)
        self.copy_button = QPushButton("Copy as findscu command")
        self.copy_button.setToolTip("Put an equivalent DCMTK findscu command line on the clipboard.")
        self.copy_button.clicked.connect(self.copy_findscu_command)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.explain_button)
        buttons.addStretch(1)
        buttons.addWidget(self.copy_button)

        self.target_label = QLabel()
        self.status_label = QLabel("Fill in what the modality sends, then run the query.")
        for label in (self.target_label, self.status_label):
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        # Results.
        self.answers_model = RowsModel(ANSWER_COLUMNS, self)
        self.answers_view = _table(self.answers_model)
        self.answers_box = QGroupBox("Answers")
        answers_layout = QVBoxLayout(self.answers_box)
        answers_layout.addWidget(self.answers_view)
        self.others_model = RowsModel(("File", "Why it is not an answer"), self)
        self.others_view = _table(self.others_model)
        self.others_box = QGroupBox("Entries that did not match")
        others_layout = QVBoxLayout(self.others_box)
        others_layout.addWidget(self.others_view)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.answers_box)
        splitter.addWidget(self.others_box)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.target_label)
        layout.addWidget(self.status_label)
        layout.addWidget(splitter, 1)

        for edit in (self.station, self.patient_name, self.patient_id, self.accession):
            edit.returnPressed.connect(self.run_query)
        controller.state_changed.connect(self._on_state_changed)
        controller.settings_changed.connect(self._on_settings_changed)
        self._on_state_changed(controller.state, controller.message)

    # --- form ------------------------------------------------------------------------------------

    def _fill_calling_aets(self, settings: Settings) -> None:
        current = self.calling_aet.currentText().strip() or DEFAULT_CALLING_AET
        self.calling_aet.clear()
        self.calling_aet.addItem(DEFAULT_CALLING_AET)
        for known in settings.modalities:
            if self.calling_aet.findText(known.ae_title) < 0:
                self.calling_aet.addItem(known.ae_title)
                self.calling_aet.setItemData(self.calling_aet.count() - 1, known.name,
                                             Qt.ItemDataRole.ToolTipRole)
        self.calling_aet.setCurrentText(current)

    def impersonate(self, calling_aet: str, keys: dict[str, str]) -> None:
        """Fill the form as ``calling_aet`` asked: its last query's ``keys`` (keyword -> value;
        a value hidden by redaction, and the keys the form has no field for, are left out)."""
        def value(name: str) -> str:
            text = keys.get(name, "")
            return "" if text == REDACTED else text

        self.calling_aet.setCurrentText(calling_aet)
        day = value("ScheduledProcedureStepStartDate")
        low, _, high = day.partition("-") if "-" in day else (day, "", day)
        dates = [QDate.fromString(d, "yyyyMMdd") for d in (low, high)]
        if not day or not any(d.isValid() for d in dates):
            self.date_any.setChecked(True)
        elif low == high == date.today().strftime("%Y%m%d"):
            self.date_today.setChecked(True)
        else:
            self.date_range.setChecked(True)
            self.date_from.setDate(dates[0] if dates[0].isValid() else dates[1])
            self.date_to.setDate(dates[1] if dates[1].isValid() else dates[0])
        self.modality.setCurrentText(value("Modality"))
        self.station.setText(value("ScheduledStationAETitle"))
        self.patient_name.setText(value("PatientName"))
        self.patient_id.setText(value("PatientID"))
        self.accession.setText(value("AccessionNumber"))

    def _update_dates(self) -> None:
        ranged = self.date_range.isChecked()
        self.date_from.setEnabled(ranged)
        self.date_to.setEnabled(ranged)

    def form(self) -> QueryForm:
        """The query as filled in now (today is today's date at this moment)."""
        date_from: date | None = None
        date_to: date | None = None
        if self.date_today.isChecked():
            date_from = date_to = date.today()
        elif self.date_range.isChecked():
            low, high = (_to_date(self.date_from.date()), _to_date(self.date_to.date()))
            date_from, date_to = min(low, high), max(low, high)
        return QueryForm(calling_aet=self.calling_aet.currentText().strip(), date_from=date_from,
                         date_to=date_to, modality=self.modality.currentText().strip(),
                         station=self.station.text().strip(),
                         patient_name=self.patient_name.text().strip(),
                         patient_id=self.patient_id.text().strip(),
                         accession=self.accession.text().strip())

    def _checked_form(self) -> QueryForm | None:
        form = self.form()
        try:
            check_ae_title(form.calling_aet)
            if form.station:
                check_ae_title(form.station.replace("*", "A").replace("?", "A"))
        except ValueError as exc:
            self._set_status(f"cannot query: {exc}", ok=False)
            return None
        return form

    # --- actions -----------------------------------------------------------------------------------

    @Slot()
    def run_query(self) -> None:
        """Send the query to the running server on a worker thread."""
        if self._busy:
            return
        form = self._checked_form()
        if form is None:
            return
        if self.controller.state != "running":
            self._clear_results()
            self.explain_button.setVisible(True)
            self._set_status(f"server not running ({self.controller.state}): the query was not "
                             "sent. “Explain locally” compares it with the worklist folder "
                             "without the network.", ok=False)
            return
        target = server_target(self.controller)
        server = self.controller.server
        # The store the server answers from (the controller's, unless the server made its own).
        store = server.store if server is not None else self.controller.store
        self._start(f"asking {target.called_aet} at {target.host}:{target.port} as "
                    f"{form.calling_aet}…", lambda: query_and_explain(form, target, store))

    @Slot()
    def explain_locally(self) -> None:
        """Work out what the server would answer from the folder, without the network."""
        if self._busy:
            return
        form = self._checked_form()
        if form is None:
            return
        target = server_target(self.controller)
        store = self.controller.store
        self._start("comparing the query with the worklist folder…",
                    lambda: explain_without_network(form, target.filter_issuer_aet, store,
                                                    target.hidden_statuses))

    @Slot()
    def copy_findscu_command(self) -> None:
        form = self.form()
        command = findscu_command(form, server_target(self.controller))
        QGuiApplication.clipboard().setText(command)
        self._set_status("findscu command copied to the clipboard.", ok=True)

    def _start(self, message: str, work: Callable[[], Outcome]) -> None:
        self._busy = True
        self.run_button.setEnabled(False)
        self.explain_button.setEnabled(False)
        self._set_status(message, ok=True)
        run_in_background(self, work, self._show_outcome, self._show_failure, name="wldesk-testquery")

    def _show_failure(self, exc: Exception) -> None:
        self._show_outcome(Outcome(False, False, f"the query failed: {exc}"))  # never left busy

    @Slot(object)
    def _show_outcome(self, outcome: Outcome) -> None:
        self._busy = False
        self.run_button.setEnabled(True)
        self.explain_button.setEnabled(True)
        self.last_outcome = outcome
        self.explain_button.setVisible(outcome.offer_local or not outcome.sent)
        if outcome.offer_local:
            self._clear_results()
            self._set_status(f"{outcome.status}. “Explain locally” compares the query with the "
                             "worklist folder without the network.", ok=False)
        else:
            local = not outcome.sent
            self.answers_box.setTitle(
                f"Entries that would match, worked out locally ({len(outcome.answers)})" if local
                else f"Answers ({len(outcome.answers)})")
            self.others_box.setTitle(f"Entries that did not match ({len(outcome.others)})")
            self.answers_model.set_rows(outcome.answers)
            self.others_model.set_rows(outcome.others)
            self.answers_view.resizeColumnsToContents()
            self.others_view.resizeColumnToContents(0)
            self._set_status(outcome.status, ok=outcome.ok)
        self.finished.emit(outcome)

    def _clear_results(self) -> None:
        self.answers_model.set_rows([])
        self.others_model.set_rows([])
        self.answers_box.setTitle("Answers")
        self.others_box.setTitle("Entries that did not match")

    def _set_status(self, text: str, *, ok: bool) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet("" if ok else "color: #b00020;")

    # --- controller ------------------------------------------------------------------------------

    @Slot(str, str)
    def _on_state_changed(self, state: str, message: str) -> None:
        if state == "running":
            target = server_target(self.controller)
            self.target_label.setText(f"Queries go to {target.called_aet} at {target.host}:"
                                      f"{target.port}" + (" (FilterIssuerAet on)"
                                                          if target.filter_issuer_aet else ""))
        else:
            self.target_label.setText(f"The server is {state}: “Run query” cannot reach it; "
                                      "“Explain locally” still works.")
        offered = self.last_outcome is not None and self.last_outcome.offer_local
        self.explain_button.setVisible(state != "running" or offered)

    @Slot(object)
    def _on_settings_changed(self, settings: Settings) -> None:
        self._fill_calling_aets(settings)
        self._on_state_changed(self.controller.state, self.controller.message)
