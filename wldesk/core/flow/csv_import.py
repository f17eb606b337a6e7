"""CSV import: a spreadsheet's rows turned into worklist entries, all or each row's reason.

A file is read whole first (:func:`read_csv`): its text (UTF-8 with or without a byte order mark,
UTF-16 with one, else Windows-1252), its separator (the one of ``,`` ``;`` and tab that the header
line holds most of), its columns (header names mapped to DICOM keywords, :data:`DEFAULT_HEADERS`
and a mapping file the site edits) and every row as the entry it makes or the reasons it cannot.
Nothing is written until then; a file that cannot be read as a whole writes nothing. Then
:func:`import_rows` writes the good rows through the ledger: a row whose Accession Number (and
Scheduled Procedure Step ID, when given) is in the folder already updates that entry with the
row's values (its IDs and Study Instance UID stay), so importing a file twice makes no second
entry. Each row is an ``InputEvent`` (channel ``CSV``, source the file name); :func:`report_text`
says what became of every row. The drop folder (:mod:`wldesk.core.flow.dropfolder`) and the
window's File > Import CSV both go through these functions.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pydicom.datadict import dictionary_VR, keyword_dict
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence

from wldesk.core.editing.dates import parse_date, parse_time
from wldesk.core.editing.entries import new_entry
from wldesk.core.editing.errors import EditError
from wldesk.core.editing.obgyn import pregnancy_status_value
from wldesk.core.editing.values import set_element_text, text_of
from wldesk.core.events import EventBus, InputEvent
from wldesk.core.fileio import read_json_object
from wldesk.core.flow.ledger import Ledger, LedgerError, OrderKey

CHANNEL = "CSV"
MAX_CSV_BYTES = 20 * 2**20
"""A larger file is refused (a day's orders are a few kilobytes)."""
MAX_FIELD_CHARS = 64 * 1024
"""A longer cell is refused with its row (no worklist value is that long)."""

DEFAULT_HEADERS: dict[str, str] = {
    "Patient name": "PatientName", "Name": "PatientName", "Patient": "PatientName",
    "Patient ID": "PatientID", "MRN": "PatientID",
    "Birth date": "PatientBirthDate", "Date of birth": "PatientBirthDate",
    "DOB": "PatientBirthDate",
    "Sex": "PatientSex", "Gender": "PatientSex",
    "Accession": "AccessionNumber", "Accession number": "AccessionNumber",
    "Accession no": "AccessionNumber",
    "Modality": "Modality",
    "Station": "ScheduledStationAETitle", "Station AE title": "ScheduledStationAETitle",
    "AE title": "ScheduledStationAETitle",
    "Station name": "ScheduledStationName",
    "Date": "ScheduledProcedureStepStartDate", "Exam date": "ScheduledProcedureStepStartDate",
    "Scheduled date": "ScheduledProcedureStepStartDate",
    "Appointment date": "ScheduledProcedureStepStartDate",
    "Time": "ScheduledProcedureStepStartTime", "Exam time": "ScheduledProcedureStepStartTime",
    "Scheduled time": "ScheduledProcedureStepStartTime",
    "Appointment time": "ScheduledProcedureStepStartTime",
    "Description": "RequestedProcedureDescription", "Procedure": "RequestedProcedureDescription",
    "Exam": "RequestedProcedureDescription",
    "Step description": "ScheduledProcedureStepDescription",
    "Procedure ID": "RequestedProcedureID", "Step ID": "ScheduledProcedureStepID",
    "Referring physician": "ReferringPhysicianName", "Referrer": "ReferringPhysicianName",
    "Performing physician": "ScheduledPerformingPhysicianName",
    "Priority": "RequestedProcedurePriority",
    "Location": "ScheduledProcedureStepLocation",
    "Weight": "PatientWeight",
    "LMP": "LastMenstrualDate", "Last menstrual date": "LastMenstrualDate",
    "Pregnancy status": "PregnancyStatus",
}
"""Spreadsheet headers wldesk understands without a mapping file (compared without case, spaces
and punctuation); every DICOM keyword (``PatientName``) is understood as well."""

SPS_KEYWORDS = frozenset({
    "Modality", "ScheduledStationAETitle", "ScheduledStationName",
    "ScheduledProcedureStepLocation", "ScheduledProcedureStepStartDate",
    "ScheduledProcedureStepStartTime", "ScheduledPerformingPhysicianName",
    "ScheduledProcedureStepDescription", "ScheduledProcedureStepID",
    "ScheduledProcedureStepStatus", "CommentsOnTheScheduledProcedureStep",
    "RequestedContrastAgent", "PreMedication"})
"""Keywords that go into the Scheduled Procedure Step item; every other one at the top level."""

_ENTRY_ARGUMENTS = {
    "PatientName": "patient_name", "PatientID": "patient_id", "PatientBirthDate": "birth_date",
    "PatientSex": "sex", "AccessionNumber": "accession_number",
    "RequestedProcedureID": "requested_procedure_id",
    "RequestedProcedureDescription": "requested_procedure_description",
    "ReferringPhysicianName": "referring_physician", "RequestedProcedurePriority": "priority",
    "Modality": "modality", "ScheduledStationAETitle": "station_aet",
    "ScheduledProcedureStepStartDate": "scheduled_date",
    "ScheduledProcedureStepStartTime": "scheduled_time",
    "ScheduledProcedureStepDescription": "step_description",
    "ScheduledProcedureStepID": "step_id"}
_SEXES = {"m": "M", "male": "M", "f": "F", "female": "F", "o": "O", "other": "O"}
_KEYWORDS = {keyword.casefold(): keyword for keyword in keyword_dict}


def header_key(header: str) -> str:
    """How headers are compared: without case, spaces and punctuation."""
    return re.sub(r"[\W_]+", "", header.casefold())


def _keyword(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{where}: expected a DICOM keyword such as \"PatientName\" or \"\"")
    if value == "":
        return ""
    keyword = _KEYWORDS.get(value.strip().casefold())
    if keyword is None:
        raise ValueError(f"{where}: {value!r} is not a DICOM keyword")
    if dictionary_VR(keyword) in ("SQ", "OB", "OW", "OF", "OD", "OL", "OV", "UN"):
        raise ValueError(f"{where}: {keyword} cannot be filled from a CSV cell")
    return keyword


def load_mapping(path: str | Path | None) -> dict[str, str]:
    """The header mapping: :data:`DEFAULT_HEADERS` with the file at ``path`` on top (a JSON object
    of header → DICOM keyword; a header mapped to "" is not imported). No ``path``: the default.
    Raises ValueError naming the file and what is wrong with it."""
    mapping = {header_key(header): keyword for header, keyword in DEFAULT_HEADERS.items()}
    if not path:
        return mapping
    document = read_json_object(path, "the CSV mapping file")  # {"Header": "DICOM keyword"}
    for header, keyword in document.items():
        mapping[header_key(header)] = _keyword(keyword, f"{path}: {header!r}")
    return mapping


def column_keyword(header: str, mapping: dict[str, str]) -> str | None:
    """The DICOM keyword of the column ``header`` (None: the column is not imported)."""
    key = header_key(header)
    if key in mapping:
        return mapping[key] or None
    return _KEYWORDS.get(header.strip().casefold())


def decode_csv(data: bytes) -> tuple[str, str]:
    """The text of a CSV file and the name of its encoding; ValueError when it is none wldesk
    reads."""
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", errors="strict"), "UTF-8 with byte order mark"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError:
            raise ValueError("the file starts as UTF-16 but is not UTF-16 text") from None
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError:
        raise ValueError("the file is neither UTF-8 nor Windows-1252 text: save it from the "
                         "spreadsheet as \"CSV UTF-8\"") from None


def _separator(text: str) -> str:
    first = text.split("\n", 1)[0]
    counts = {sep: first.count(sep) for sep in (",", ";", "\t")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def convert(keyword: str, text: str, date_order: str = "auto") -> str:
    """A cell's text as the value of ``keyword``: dates and times the way spreadsheets write them,
    "Family, Given" names as Family^Given, Male/Female as M/F, pregnancy status in words; other
    text as it is. Raises ValueError (a date or time it cannot read: ``DateError``) saying why."""
    vr = dictionary_VR(keyword)
    if vr == "DA":
        return parse_date(text, date_order)
    if vr == "TM":
        return parse_time(text)
    if vr == "PN" and "^" not in text and text.count(",") == 1:
        family, given = text.split(",")
        return f"{family.strip()}^{given.strip()}"
    if keyword == "PatientSex":
        return _SEXES.get(text.strip().casefold(), text)
    if keyword == "PregnancyStatus":
        return pregnancy_status_value(text)
    return text


@dataclass
class Row:
    """One row of a CSV file: its number as a spreadsheet shows it (the header is row 1), its
    values by keyword (converted), and the entry it makes, or why it cannot."""

    number: int
    values: dict[str, str]
    entry: Dataset | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def key(self) -> OrderKey:
        return OrderKey(self.values.get("AccessionNumber", "").strip(),
                        self.values.get("ScheduledProcedureStepID", "").strip())


@dataclass
class CsvFile:
    """A CSV file read whole (see :func:`read_csv`); ``error`` says why it could not be."""

    name: str
    encoding: str = ""
    separator: str = ","
    columns: list[tuple[str, str | None]] = field(default_factory=list)  # header, keyword
    rows: list[Row] = field(default_factory=list)
    error: str = ""


def row_entry(values: dict[str, str]) -> Dataset:
    """The worklist entry of a row's converted ``values`` (keyword → text), made by
    :func:`~wldesk.core.editing.entries.new_entry` (IDs and Study Instance UID generated);
    :class:`EditError` lists every problem. A row needs an Accession Number: it is what makes the
    same row imported again update its entry instead of making a second one."""
    errors: list[str] = []
    if not values.get("AccessionNumber", "").strip():
        errors.append("no accession number: each row needs one, so that importing it again "
                      "does not make a second entry")
    template, step = Dataset(), Dataset()
    arguments: dict[str, str] = {}
    for keyword, text in values.items():
        if keyword in _ENTRY_ARGUMENTS:
            arguments[_ENTRY_ARGUMENTS[keyword]] = text
            continue
        try:
            set_element_text(step if keyword in SPS_KEYWORDS else template, keyword, text)
        except EditError as exc:
            errors.append(str(exc))
    template.ScheduledProcedureStepSequence = DicomSequence([step])
    try:
        entry = new_entry(template=template, **arguments)  # type: ignore[arg-type]
    except EditError as exc:
        errors.append(str(exc))
    if errors:
        raise EditError("; ".join(dict.fromkeys(errors)))
    return entry


def _row(number: int, cells: list[str], columns: list[tuple[str, str | None]],
         date_order: str) -> Row:
    row = Row(number, {})
    extra = [cell for cell in cells[len(columns):] if cell.strip()]
    if extra:
        row.problems.append(f"{len(cells)} cells, but the header names {len(columns)} columns")
    for (header, keyword), cell in zip(columns, cells, strict=False):
        text = cell.strip()
        if keyword is None or not text:
            continue
        if len(text) > MAX_FIELD_CHARS:
            row.problems.append(f"{header}: {len(text)} characters, far too long for a value")
            continue
        try:
            row.values[keyword] = convert(keyword, text, date_order)
        except ValueError as exc:
            row.problems.append(f"{header}: {exc}")
    if not row.problems:
        try:
            row.entry = row_entry(row.values)
        except EditError as exc:
            row.problems.append(str(exc))
    return row


def read_csv(data: bytes, name: str, mapping: dict[str, str],
             date_order: str = "auto") -> CsvFile:
    """The CSV file ``data`` (called ``name``) read whole, each row checked; nothing is written."""
    found = CsvFile(name)
    if len(data) > MAX_CSV_BYTES:
        found.error = f"the file has {len(data):,} bytes; wldesk imports files up to " \
                      f"{MAX_CSV_BYTES // 2**20} MB"
        return found
    try:
        text, found.encoding = decode_csv(data)
    except ValueError as exc:
        found.error = str(exc)
        return found
    found.separator = _separator(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=found.separator)
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            found.error = "the file has no header row naming its columns"
            return found
        found.columns = [(cell.strip(), column_keyword(cell, mapping)) for cell in header]
        if not any(keyword for _header, keyword in found.columns):
            found.error = "no column has a header wldesk knows (e.g. \"Patient name\", " \
                          "\"Accession\"): see the CSV mapping in the documentation"
            return found
        for number, cells in enumerate(reader, start=2):
            if any(cell.strip() for cell in cells):
                found.rows.append(_row(number, cells, found.columns, date_order))
    except csv.Error as exc:
        found.rows = []
        found.error = f"line {reader.line_num} cannot be read as CSV ({exc}); nothing was imported"
    return found


@dataclass(frozen=True)
class Outcome:
    """What became of one row: created, updated, unchanged, refused or failed; the file written
    (its name) or the reason."""

    row: int
    action: str
    file: str = ""
    reason: str = ""


def _update_with(values: dict[str, str]) -> Callable[[Dataset], bool]:
    def change(ds: Dataset) -> bool:
        steps = ds.get("ScheduledProcedureStepSequence")
        if not steps:
            ds.ScheduledProcedureStepSequence = steps = DicomSequence([Dataset()])
        changed = False
        for keyword, text in values.items():
            target = steps[0] if keyword in SPS_KEYWORDS else ds
            if text_of(target, keyword) != text:
                set_element_text(target, keyword, text)
                changed = True
        return changed
    return change


def _write(row: Row, ledger: Ledger) -> Outcome:
    assert row.entry is not None
    try:
        with ledger.lock:
            if ledger.find(row.key):
                written = ledger.update(row.key, _update_with(row.values))
                actions = {w.action for w in written}
                action = "updated" if "updated" in actions else "unchanged"
                return Outcome(row.number, action, ", ".join(w.path.name for w in written))
            done = ledger.put(row.entry, update=False, found=[])
            return Outcome(row.number, done.action, done.path.name)
    except (LedgerError, EditError) as exc:
        return Outcome(row.number, "failed", reason=str(exc))
    except OSError as exc:
        return Outcome(row.number, "failed", reason=f"cannot write: {exc.strerror or exc}")


def import_rows(found: CsvFile, ledger: Ledger, bus: EventBus | None = None) -> list[Outcome]:
    """Write every good row of ``found`` through ``ledger`` (see the module documentation); the
    outcome of each row, also sent to ``bus`` as an ``InputEvent``. The events' details name the
    columns at fault, never their values (they are logged and audited as they are)."""
    outcomes = []
    for row in found.rows:
        if row.problems:
            outcome = Outcome(row.number, "refused", reason="; ".join(row.problems))
        else:
            outcome = _write(row, ledger)
        outcomes.append(outcome)
        if bus is not None:
            detail = f"row {row.number}" + (f": {outcome.reason.split(':')[0]}"
                                             if outcome.reason else "")
            bus.emit(InputEvent(CHANNEL, outcome.action, found.name, str(row.key),
                                outcome.file, detail))
    if bus is not None and found.error:
        bus.emit(InputEvent(CHANNEL, "refused", found.name, detail=found.error))
    return outcomes


def report_text(found: CsvFile, outcomes: list[Outcome], now: datetime | None = None) -> str:
    """The import report: how the file was read, its columns, and each row → entry file or
    reason."""
    moment = (now or datetime.now()).strftime("%Y-%m-%d %H:%M:%S")
    lines = [f"wldesk import of {found.name}, {moment}"]
    if found.error:
        return "\n".join([*lines, f"Not imported: {found.error}", ""])
    separator = {"\t": "tabs"}.get(found.separator, f'"{found.separator}"')
    lines.append(f"Read as {found.encoding}, separated by {separator}, {len(found.rows)} rows.")
    lines.append("Columns: " + ", ".join(f'"{header}" → {keyword or "not imported"}'
                                        for header, keyword in found.columns))
    for outcome in outcomes:
        what = f"{outcome.action} {outcome.file}" if outcome.file else outcome.action
        lines.append(f"row {outcome.row}: {what}" + (f": {outcome.reason}" if outcome.reason
                                                     else ""))
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.action] = counts.get(outcome.action, 0) + 1
    lines.append("Summary: " + (", ".join(f"{n} {action}" for action, n in counts.items())
                                or "no rows"))
    return "\n".join(lines) + "\n"
