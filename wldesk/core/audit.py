"""The query audit log: every query (and every refused association) as one JSON line in a daily
file, kept for ``audit_days`` days, and read back for a period as CSV.

It answers "the technician says the list was empty at 9:05" days later, on a headless server too.
The files are ``<audit folder>/YYYY-MM-DD.jsonl`` (:func:`wldesk.core.paths.audit_dir`), one per
local date, each line a JSON object::

    {"time": "2026-12-02T09:05:13.120+01:00", "kind": "query", "calling_aet": "CT1",
     "address": "10.0.0.7", "keys": {"PatientName": "", "Modality": "CT"}, "matches": 2,
     "sent": 2, "withheld": 0, "status": 0, "status_text": "Success", "duration_ms": 12.5}

(``kind`` "rejected": an association refused, with its reason as ``status_text``.) With
``redact_patient_data`` on, the values of patient keys are written as ``<redacted>`` (the rule of
the log file: :func:`wldesk.core.logs.shown_value`).

Writing never holds up a query: :class:`AuditLog` is an event subscriber that puts the line on a
queue, and one thread appends. Each line goes to the file with one ``write`` of the whole line to
a file opened for appending, so a crash leaves at most a torn last line (the reader skips it, with
a note), and two programs writing the same day (``wldesk serve`` and a window on another port)
add whole lines after each other: on POSIX an ``O_APPEND`` write is placed at the end atomically;
on Windows the C runtime moves to the end before each write, so two lines written at the same
instant could overlap, and the reader skips any line it cannot read rather than stop. When the
folder cannot be written (disk full, no permission) one warning is logged, queries go on being
answered, and the lines are kept (up to :data:`MAX_PENDING`) and written when it works again.

Deleting is right here and only here: a day's file is deleted once its date is more than
``audit_days`` days before today (at start and at each new day); only files named like a day's
audit file are touched.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
import queue
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sized
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from io import TextIOWrapper
from pathlib import Path
from typing import Any, TextIO

from wldesk.core.events import AssociationEvent, Event, InputEvent, QueryEvent
from wldesk.core.fileio import atomic_open
from wldesk.core.logs import input_text, shown_value, status_with_code

log = logging.getLogger(__name__)

FILE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})\.jsonl$")
MAX_PENDING = 10_000
"""Lines kept in memory while the folder cannot be written; older ones are then lost (counted)."""
RETRY_SECONDS = 30.0
"""How often lines that could not be written are tried again."""
IDLE_SECONDS = 60.0
"""How often an idle writer looks whether a new day began (and old files are due)."""

CSV_COLUMNS = ("Time", "Calling AE", "IP", "Query keys", "Matches", "Sent", "Withheld", "Status",
               "Duration (ms)")

_STOP = object()
_WAKE = object()


def _now() -> datetime:
    return datetime.now().astimezone()


def file_name(day: date) -> str:
    return f"{day.isoformat()}.jsonl"


def _file_day(name: str) -> date | None:
    """The date of an audit file's name, or None for any other file."""
    found = FILE_RE.match(name)
    if found is None:
        return None
    try:
        return date(int(found[1]), int(found[2]), int(found[3]))
    except ValueError:
        return None


def _count(value: object) -> int:
    """How many answers were withheld: the event's number, or how many it names."""
    if isinstance(value, int):
        return value
    return len(value) if isinstance(value, Sized) else 0


def record_of(event: Event, redact: bool) -> dict[str, Any] | None:
    """The audit line of ``event`` (a JSON object), or None for an event that is not audited."""
    if isinstance(event, QueryEvent):
        text = event.redacted_status_text if redact and event.redacted_status_text \
            else event.status_text
        return {"time": event.time.isoformat(timespec="milliseconds"), "kind": "query",
                "calling_aet": event.calling_aet, "address": event.address,
                "keys": {name: shown_value(name, value, redact, event.invalid_keys)
                         for name, value in event.keys.items()},
                "matches": event.matches, "sent": event.returned,
                # the strict profiles' entries held back (an event of before them has none)
                "withheld": _count(getattr(event, "withheld", 0)),
                "status": event.status, "status_text": text,
                "duration_ms": round(event.duration_ms, 3)}
    if isinstance(event, AssociationEvent) and event.kind == "rejected":
        return {"time": event.time.isoformat(timespec="milliseconds"), "kind": "rejected",
                "calling_aet": event.calling_aet, "address": event.address,
                "status_text": event.reason}
    if isinstance(event, InputEvent):  # an order that came in: the channel stands as the caller
        return {"time": event.time.isoformat(timespec="milliseconds"), "kind": "entry",
                "calling_aet": event.channel, "address": event.source,
                "keys": {"order": event.order} if event.order else {},
                "status_text": input_text(event)}
    return None


class AuditLog:
    """An event subscriber appending the audit lines to the daily files of ``folder``, with one
    writer thread (:meth:`start`, :meth:`stop`). ``days`` and ``redact`` may change while it runs
    (:meth:`set_days`, :attr:`redact`)."""

    def __init__(self, folder: Path, days: int, redact: bool) -> None:
        self.folder = Path(folder)
        self.redact = redact
        self._days = days
        self._queue: queue.Queue[object] = queue.Queue()
        self._pending: list[tuple[date, bytes]] = []
        self._torn: set[Path] = set()  # files whose last write was cut short: end that line first
        self._failing = False
        self._lost = 0
        self._pruned_on: date | None = None
        self._thread: threading.Thread | None = None

    @property
    def days(self) -> int:
        return self._days

    def set_days(self, days: int) -> None:
        """Keep ``days`` days from now on (0: write nothing); old files go at the next wake."""
        if days != self._days:
            self._days = days
            self._pruned_on = None
            self._queue.put(_WAKE)  # wake the writer to delete what is now too old

    def __call__(self, event: Event) -> None:
        if self._days <= 0:
            return
        record = record_of(event, self.redact)
        if record is not None:
            day = event.time.astimezone().date()
            line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
            self._queue.put((day, line.encode("utf-8")))

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="wldesk-audit", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Write what is queued (one last try when the folder cannot be written) and stop."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
            thread.join()

    def flush(self) -> None:
        """Wait until every line queued so far has been written (or kept for a retry)."""
        if self._thread is not None:
            self._queue.join()

    # --- the writer thread ----------------------------------------------------------------------

    def _run(self) -> None:
        stopping = False
        while not stopping:
            items = []
            with contextlib.suppress(queue.Empty):
                items.append(self._queue.get(
                    timeout=RETRY_SECONDS if self._pending else IDLE_SECONDS))
            while True:  # the rest of a burst, written in one go
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            for got in items:
                if got is _STOP:
                    stopping = True
                elif isinstance(got, tuple):
                    self._pending.append(got)
            self._prune_if_due()
            self._write_pending()
            for _got in items:
                self._queue.task_done()

    def _trouble(self, what: str, exc: OSError) -> None:
        if not self._failing:
            self._failing = True
            log.warning("cannot %s the audit log in %s (%s); queries are still answered, "
                        "and writing is tried again every %d seconds", what, self.folder,
                        exc.strerror or exc, RETRY_SECONDS)

    def _write_pending(self) -> None:
        if not self._pending:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            by_day: dict[date, list[bytes]] = {}
            for day, line in self._pending:
                by_day.setdefault(day, []).append(line)
            for day, lines in by_day.items():
                self._append(self.folder / file_name(day), lines)
                self._pending = [p for p in self._pending if p[0] != day]
        except OSError as exc:
            self._trouble("write", exc)
            if len(self._pending) > MAX_PENDING:
                self._lost += len(self._pending) - MAX_PENDING
                del self._pending[:-MAX_PENDING]
            return
        if self._failing:
            self._failing = False
            log.info("the audit log in %s is written again", self.folder)
        if self._lost:
            log.warning("%d queries are missing from the audit log: it could not be written for "
                        "too long", self._lost)
            self._lost = 0

    def _append(self, path: Path, lines: list[bytes]) -> None:
        """Each line with one write to the end of ``path``: whole lines, or a torn last one."""
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0),
                     0o644)
        try:
            if path in self._torn:
                os.write(fd, b"\n")  # ends the piece a full disk left, so the next line is whole
                self._torn.discard(path)
            for line in lines:
                written = os.write(fd, line)
                if written < len(line):
                    self._torn.add(path)
                    raise OSError(28, "the disk is full")
        finally:
            os.close(fd)

    def _prune_if_due(self) -> None:
        today = _now().date()
        if self._pruned_on == today:
            return
        try:
            prune(self.folder, self._days, today)
        except OSError as exc:
            self._trouble("clean up", exc)
            return
        self._pruned_on = today


def prune(folder: Path, days: int, today: date) -> list[Path]:
    """Delete the audit files of ``folder`` dated more than ``days`` days before ``today`` (every
    one with 0); no other file. The files deleted."""
    if not folder.is_dir():
        return []
    oldest = today - timedelta(days=days)
    deleted = []
    for path in sorted(folder.iterdir()):
        day = _file_day(path.name)
        if day is not None and (days <= 0 or day < oldest) and path.is_file():
            path.unlink()
            deleted.append(path)
    if deleted:
        log.info("audit log: deleted %d day(s) older than %d days", len(deleted), days)
    return deleted


# --- reading --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditRecord:
    """One line of the audit log."""

    time: datetime
    kind: str  # query, rejected
    calling_aet: str
    address: str
    keys: dict[str, str] = field(default_factory=dict)
    matches: int = 0
    sent: int = 0
    withheld: int = 0
    status: int = 0
    status_text: str = ""
    duration_ms: float = 0.0

    @classmethod
    def from_json(cls, data: Any) -> AuditRecord:
        """Raises ValueError (or KeyError, TypeError) for a line that is not an audit line."""
        if not isinstance(data, dict):
            raise ValueError("not an object")
        time = datetime.fromisoformat(data["time"])
        if time.tzinfo is None:
            raise ValueError("a time without its offset")
        keys = data.get("keys", {})
        if not isinstance(keys, dict):
            raise ValueError("keys is not an object")
        return cls(time=time, kind=str(data["kind"]), calling_aet=str(data["calling_aet"]),
                   address=str(data["address"]), keys={str(k): str(v) for k, v in keys.items()},
                   matches=int(data.get("matches", 0)), sent=int(data.get("sent", 0)),
                   withheld=int(data.get("withheld", 0)), status=int(data.get("status", 0)),
                   status_text=str(data.get("status_text", "")),
                   duration_ms=float(data.get("duration_ms", 0.0)))


def _local(moment: datetime) -> datetime:
    """``moment`` with its offset (a naive one is this computer's local time)."""
    return moment.astimezone()


def read_period(folder: Path, start: datetime, end: datetime,
                note: Callable[[str], None] = lambda text: None) -> Iterator[AuditRecord]:
    """The audit lines of ``folder`` from ``start`` to ``end`` (both included, to the second),
    oldest first; read one day's file at a time, so a year of them is never in memory at once.
    A line that cannot be read (a torn last line after a crash) is skipped and ``note`` says so."""
    start, end = _local(start), _local(end)
    until = end.replace(microsecond=0) + timedelta(seconds=1)
    if not folder.is_dir() or until <= start:
        return
    # a day of slack each side: a file's date is the local date where and when it was written
    first, last = start.date() - timedelta(days=1), end.date() + timedelta(days=1)
    days = sorted((day, path) for path in folder.iterdir()
                  if (day := _file_day(path.name)) is not None and first <= day <= last)
    for _day, path in days:
        found = [r for r in _read_file(path, note) if start <= r.time < until]
        found.sort(key=lambda r: r.time)
        yield from found


def _read_file(path: Path, note: Callable[[str], None]) -> Iterator[AuditRecord]:
    try:
        stream = path.open("rb")
    except OSError as exc:
        note(f"{path}: cannot be read ({exc.strerror or exc}); skipped")
        return
    with stream:
        for number, raw in enumerate(stream, 1):
            if not raw.strip():
                continue
            if not raw.endswith(b"\n"):
                note(f"{path}: the last line is incomplete (wldesk was stopped while writing it, "
                     f"or is writing it now); skipped")
                return
            try:
                yield AuditRecord.from_json(json.loads(raw))
            except (ValueError, KeyError, TypeError):
                note(f"{path}: line {number} cannot be read; skipped")


def query_keys_text(keys: dict[str, str]) -> str:
    """``PatientName=DOE*; Modality=CT``: the keys the query gave a value."""
    return "; ".join(f"{name}={value}" for name, value in keys.items() if value)


def csv_row(record: AuditRecord) -> list[str]:
    time = record.time.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    if record.kind == "rejected":
        why = f": {record.status_text}" if record.status_text else ""
        return [time, record.calling_aet, record.address, "", "", "", "", f"association refused{why}",
                ""]
    if record.kind == "entry":
        return [time, record.calling_aet, record.address, query_keys_text(record.keys), "", "", "",
                record.status_text, ""]
    return [time, record.calling_aet, record.address,
            query_keys_text(record.keys) or "(all entries)",  # a query with no value: everything
            str(record.matches), str(record.sent), str(record.withheld),
            status_with_code(record.status, record.status_text), f"{record.duration_ms:.1f}"]


def write_csv(records: Iterable[AuditRecord], out: TextIO) -> int:
    """Write :data:`CSV_COLUMNS` and one row per record to ``out``; how many rows."""
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    count = 0
    for record in records:
        writer.writerow(csv_row(record))
        count += 1
    return count


def export_csv(folder: Path, start: datetime, end: datetime, path: Path,
               note: Callable[[str], None] = lambda text: None) -> int:
    """The audit lines of the period as a CSV file (UTF-8 with a BOM, so that spreadsheet programs
    read names right), written atomically; how many rows. Raises OSError when it cannot."""
    with atomic_open(path) as raw:
        text = TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        try:
            count = write_csv(read_period(folder, start, end, note), text)
            text.flush()
        finally:
            text.detach()
    return count
