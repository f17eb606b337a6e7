"""The "Test query" tab: ask the running server exactly as a modality would, and see why not.

It replaces hand-run ``findscu`` troubleshooting. The IT person fills in what the modality sends
(its calling AE title, today's date, its modality and station), runs the query over the network
against the running server (on a worker thread; results come back through a signal), and sees
the answers; for every entry of the worklist folder that is not among them, the reason in plain
words (``compile_query(...).explain``), and the files the server cannot serve at all. When the
server is not running the same explanation can be worked out locally, without the network.
"""

from __future__ import annotations

import contextlib
import shlex
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence as DicomSequence
from pynetdicom import AE
from pynetdicom.sop_class import ModalityWorklistInformationFind  # type: ignore[attr-defined]
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

from wldesk.core.net.server import status_text
from wldesk.core.query.matching import CompiledQuery, compile_query
from wldesk.core.query.values import QueryError
from wldesk.core.settings import Settings, check_ae_title
from wldesk.core.store import FolderStore, Snapshot
from wldesk.gui.controller import ServerController

DEFAULT_CALLING_AET = "TESTQUERY"
MODALITY_CHOICES = ("CT", "MR", "US", "CR", "DX", "MG", "XA", "NM", "PT", "RF", "OT")
QUERY_TIMEOUT = 10.0  # seconds, for connecting, the association and each C-FIND response
SPS_KEYWORD = "ScheduledProcedureStepSequence"
MWL = ModalityWorklistInformationFind
_PENDING = (0xFF00, 0xFF01)
_UTF8 = "ISO_IR 192"


# --- the query -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class QueryForm:
    """What the form asks: the values a modality would send. Empty text means any value."""

    calling_aet: str = DEFAULT_CALLING_AET
    date_from: date | None = None  # both None: any date
    date_to: date | None = None
    modality: str = ""
    station: str = ""
    patient_name: str = ""
    patient_id: str = ""
    accession: str = ""

    @property
    def date_value(self) -> str:
        """The Scheduled Procedure Step Start Date key: today as ``YYYYMMDD-YYYYMMDD``, like modalities."""
        if self.date_from is None and self.date_to is None:
            return ""
        low = f"{self.date_from:%Y%m%d}" if self.date_from else ""
        high = f"{self.date_to:%Y%m%d}" if self.date_to else ""
        return f"{low}-{high}"

    def top_keys(self) -> list[tuple[str, str]]:
        """The top-level keys, in the order they are sent (empty value: a return key)."""
        return [("PatientName", self.patient_name.strip()), ("PatientID", self.patient_id.strip()),
                ("PatientBirthDate", ""), ("PatientSex", ""),
                ("AccessionNumber", self.accession.strip()), ("RequestedProcedureDescription", ""),
                ("StudyInstanceUID", ""), ("RequestedProcedureID", "")]

    def step_keys(self) -> list[tuple[str, str]]:
        """The keys of the one Scheduled Procedure Step Sequence item."""
        return [("ScheduledStationAETitle", self.station.strip()),
                ("ScheduledProcedureStepStartDate", self.date_value),
                ("ScheduledProcedureStepStartTime", ""), ("Modality", self.modality.strip()),
                ("ScheduledProcedureStepDescription", ""), ("ScheduledProcedureStepID", "")]

    def needs_utf8(self) -> bool:
        return not all(value.isascii() for _, value in self.top_keys() + self.step_keys())


def build_identifier(form: QueryForm) -> Dataset:
    """The C-FIND identifier a modality sends for ``form``."""
    ds = Dataset()
    if form.needs_utf8():
        ds.SpecificCharacterSet = _UTF8
    for keyword, value in form.top_keys():
        setattr(ds, keyword, value)
    step = Dataset()
    for keyword, value in form.step_keys():
        setattr(step, keyword, value)
    ds.ScheduledProcedureStepSequence = DicomSequence([step])
    return ds


@dataclass(frozen=True)
class Target:
    """Where the running server listens, and how it treats calling AE titles."""

    host: str
    port: int
    called_aet: str
    filter_issuer_aet: bool


def connect_host(bind_address: str) -> str:
    """The address to reach a server bound to ``bind_address`` from this computer."""
    if bind_address in ("", "0.0.0.0"):
        return "127.0.0.1"
    if bind_address == "::":
        return "::1"
    return bind_address


def server_target(controller: ServerController) -> Target:
    """The running server's address and settings (the ones it started with), else the settings'."""
    server = controller.server
    settings: Settings = server.settings if server is not None else controller.settings
    port = settings.port
    if server is not None and server.is_running:
        with contextlib.suppress(RuntimeError):  # stopped meanwhile
            port = server.port
    return Target(connect_host(settings.bind_address), port, settings.ae_title,
                  settings.filter_issuer_aet)


def findscu_command(form: QueryForm, target: Target, *, windows: bool | None = None) -> str:
    """An equivalent DCMTK ``findscu`` command line, quoted for this system's shell."""
    args = ["findscu", "-W", "-aet", form.calling_aet, "-aec", target.called_aet,
            target.host, str(target.port)]
    keys: list[str] = []
    if form.needs_utf8():
        keys.append(f"SpecificCharacterSet={_UTF8}")
    keys += [f"{keyword}={value}" if value else keyword for keyword, value in form.top_keys()]
    keys += [f"{SPS_KEYWORD}[0].{keyword}={value}" if value else f"{SPS_KEYWORD}[0].{keyword}"
             for keyword, value in form.step_keys()]
    for key in keys:
        args += ["-k", key]
    if windows if windows is not None else sys.platform == "win32":
        return subprocess.list2cmdline(args)
    return shlex.join(args)


# --- running it ----------------------------------------------------------------------------------

@dataclass
class NetworkResult:
    """What the server answered; ``reached`` is False when no C-FIND could be completed."""

    reached: bool
    ok: bool
    status: str
    answers: list[Dataset] = field(default_factory=list)


def _plural(count: int, word: str, plural: str = "") -> str:
    return f"{count} {word}" if count == 1 else f"{count} {plural or word + 's'}"


def send_query(form: QueryForm, target: Target, identifier: Dataset,
               timeout: float = QUERY_TIMEOUT) -> NetworkResult:
    """Send ``identifier`` as a modality would (blocking; run it on a worker thread)."""
    ae = AE(ae_title=form.calling_aet)
    ae.add_requested_context(MWL)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
    ae.connection_timeout = timeout
    where = f"{target.host}:{target.port}"
    started = time.perf_counter()
    try:
        assoc = ae.associate(target.host, target.port, ae_title=target.called_aet)
        if assoc.is_rejected:
            primitive = assoc.acceptor.primitive
            reason = primitive.reason_str if primitive is not None else "no reason given"
            reason = reason[:1].lower() + reason[1:]
            hint = ""
            if primitive is not None and primitive.result_source == 1 and primitive.diagnostic == 3:
                hint = (f" ({form.calling_aet} is not allowed to query: add it to the known "
                        "modalities, or allow unknown modalities)")
            return NetworkResult(False, False, f"association rejected: {reason}{hint}")
        if not assoc.is_established:
            return NetworkResult(False, False, f"no association with {where}: the server did not "
                                               "answer (is it running, is the port right?)")
        answers: list[Dataset] = []
        final: Dataset | None = None
        unsupported = False
        try:
            for status, answer in assoc.send_c_find(identifier, MWL):
                if status is None or "Status" not in status:
                    return NetworkResult(False, False, f"no response from the server within {timeout:g} s "
                                                       f"after {_plural(len(answers), 'answer')}")
                code = int(status.Status)
                if code in _PENDING:
                    unsupported |= code == 0xFF01
                    if answer is not None:
                        answers.append(answer)
                else:
                    final = status
        finally:
            if assoc.is_established:
                assoc.release()
    except Exception as exc:  # anything from the network must end as a message, not a crash
        return NetworkResult(False, False, f"the query could not be sent: {exc}")
    finally:
        ae.shutdown()
    elapsed = round((time.perf_counter() - started) * 1000)
    if final is None:
        return NetworkResult(False, False, "the server ended the query without a final status")
    code = int(final.Status)
    comment = str(final.get("ErrorComment", "") or "").strip()
    count = _plural(len(answers), "answer")
    note = ", optional keys not supported (0xFF01)" if unsupported else ""
    if code in (0x0000, 0xFE00):
        return NetworkResult(True, True, f"{count}, {status_text(code)}{note}, {elapsed} ms", answers)
    failure = f"query failed: {status_text(code)}" + (f": {comment}" if comment else "")
    return NetworkResult(True, False, f"{failure} ({count} before it, {elapsed} ms)", answers)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple, MultiValue)):
        return "\\".join(str(v) for v in value)
    return str(value).strip()


def _fingerprint(ds: Dataset) -> tuple[str, ...]:
    """What identifies an answer: the request's identifiers and its steps' IDs."""
    steps = ds.get(SPS_KEYWORD) or []
    return (_text(ds.get("StudyInstanceUID")), _text(ds.get("AccessionNumber")),
            _text(ds.get("PatientID")), _text(ds.get("RequestedProcedureID")),
            *sorted(_text(step.get("ScheduledProcedureStepID")) for step in steps))


def _pretty_date(text: str) -> str:
    return f"{text[:4]}-{text[4:6]}-{text[6:8]}" if len(text) == 8 and text.isdigit() else text


def _pretty_time(text: str) -> str:
    digits = text.replace(":", "")
    return f"{digits[:2]}:{digits[2:4]}" if len(digits) >= 4 and digits[:4].isdigit() else text


ANSWER_COLUMNS = ("Patient", "Patient ID", "Accession", "Modality", "Station", "Date/time",
                  "Description")


def answer_row(ds: Dataset) -> tuple[str, ...]:
    """One row of the answers table."""
    steps = list(ds.get(SPS_KEYWORD) or [])

    def each(keyword: str) -> str:
        return "; ".join(dict.fromkeys(t for t in (_text(s.get(keyword)) for s in steps) if t))

    when = "; ".join(dict.fromkeys(
        " ".join(filter(None, (_pretty_date(_text(s.get("ScheduledProcedureStepStartDate"))),
                               _pretty_time(_text(s.get("ScheduledProcedureStepStartTime"))))))
        for s in steps))
    description = _text(ds.get("RequestedProcedureDescription"))
    step_description = each("ScheduledProcedureStepDescription")
    if step_description and step_description != description:
        description = f"{description} ({step_description})" if description else step_description
    return (_text(ds.get("PatientName")), _text(ds.get("PatientID")),
            _text(ds.get("AccessionNumber")), each("Modality"), each("ScheduledStationAETitle"),
            when.strip("; "), description)


@dataclass
class Explanation:
    """The entries of the folder compared with the query."""

    matching: list[Dataset]  # the local answers, in file name order
    others: list[tuple[str, str]]  # (file name, why it is not an answer), in file name order


def explain_entries(snapshot: Snapshot, query: CompiledQuery,
                    answers: Sequence[Dataset] | None = None) -> Explanation:
    """Why each entry of ``snapshot`` is not an answer; ``answers`` are the server's, if it was asked.

    An entry that matches here but is not among the server's answers (LimitAnswers cut it, or
    the file changed during the query) is listed with that reason.
    """
    sent = Counter(_fingerprint(a) for a in answers) if answers is not None else None
    matching: list[Dataset] = []
    others: list[tuple[str, str]] = []
    for entry in snapshot.entries:
        try:
            local = query.match(entry.node)
            reason = query.explain(entry.node) if local is None else None
        except Exception as exc:  # as in the server: one odd file never stops the others
            others.append((entry.name, f"cannot be matched ({exc})"))
            continue
        if local is None:
            others.append((entry.name, reason or "does not match this query"))
            continue
        matching.append(local)
        if sent is not None:
            key = _fingerprint(local)
            if sent[key] > 0:
                sent[key] -= 1
            else:
                others.append((entry.name, "matches this query, but the server did not send it "
                                           "(LimitAnswers, or the file changed during the query)"))
    for problem in snapshot.problems:
        others.append((problem.path.name, f"file not served: {problem.reason}"))
    others.sort(key=lambda row: row[0])
    if snapshot.folder_error:
        others.insert(0, ("(worklist folder)", f"not readable: {snapshot.folder_error}"))
    return Explanation(matching, others)


@dataclass(frozen=True)
class Outcome:
    """One run of the tab, ready for display."""

    sent: bool  # the query went over the network (False: worked out locally, or not at all)
    ok: bool
    status: str
    answers: list[tuple[str, ...]] = field(default_factory=list)
    others: list[tuple[str, str]] = field(default_factory=list)
    offer_local: bool = False  # the server could not be asked: offer the local explanation


def query_and_explain(form: QueryForm, target: Target, store: FolderStore,
                      timeout: float = QUERY_TIMEOUT) -> Outcome:
    """Ask the server, then explain every other entry (blocking; for the worker thread)."""
    identifier = build_identifier(form)
    try:
        query = compile_query(identifier, issuer_aet=form.calling_aet if target.filter_issuer_aet else None)
    except QueryError as exc:
        return Outcome(False, False, f"invalid query: {exc}")
    result = send_query(form, target, identifier, timeout)
    if not result.reached:
        return Outcome(False, False, result.status, offer_local=True)
    # The server brought the store up to date before answering: this snapshot is at least as fresh.
    explanation = explain_entries(store.snapshot(), query, result.answers)
    return Outcome(True, result.ok, result.status, [answer_row(a) for a in result.answers],
                   explanation.others)


def explain_without_network(form: QueryForm, filter_issuer_aet: bool, store: FolderStore) -> Outcome:
    """What the server would answer, worked out from the folder without the network (blocking)."""
    try:
        query = compile_query(build_identifier(form),
                              issuer_aet=form.calling_aet if filter_issuer_aet else None)
    except QueryError as exc:
        return Outcome(False, False, f"invalid query: {exc}")
    try:
        store.sync()
    except Exception as exc:
        return Outcome(False, False, f"the worklist folder could not be read: {exc}")
    explanation = explain_entries(store.snapshot(), query)
    status = (f"worked out locally, nothing was sent: "
              f"{_plural(len(explanation.matching), 'entry', 'entries')} would match this query")
    return Outcome(False, True, status, [answer_row(a) for a in explanation.matching],
                   explanation.others)


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
        if (role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal
                and 0 <= section < len(self._headers)):
            return self._headers[section]
        return None


class _Messenger(QObject):
    """Carries a worker's result to the GUI thread (a queued signal)."""

    done = Signal(object)  # Outcome


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
        self._messenger = _Messenger()  # no parent: a worker may outlive this widget
        self._messenger.done.connect(self._show_outcome)
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
        filter_issuer = server_target(self.controller).filter_issuer_aet
        store = self.controller.store
        self._start("comparing the query with the worklist folder…",
                    lambda: explain_without_network(form, filter_issuer, store))

    @Slot()
    def copy_findscu_command(self) -> None:
        form = self.form()
        command = findscu_command(form, server_target(self.controller))
        QGuiApplication.clipboard().setText(command)
        self._set_status("findscu command copied to the clipboard.", ok=True)

    def _start(self, message: str, work: Any) -> None:
        self._busy = True
        self.run_button.setEnabled(False)
        self.explain_button.setEnabled(False)
        self._set_status(message, ok=True)
        messenger = self._messenger

        def worker() -> None:
            try:
                outcome = work()
            except Exception as exc:  # never leave the tab busy
                outcome = Outcome(False, False, f"the query failed: {exc}")
            with contextlib.suppress(RuntimeError):  # the application is closing
                messenger.done.emit(outcome)

        threading.Thread(target=worker, name="wldesk-testquery", daemon=True).start()

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
