"""Logging: stderr plus a rotating file in the platformdirs log dir, and core events as log lines."""

from __future__ import annotations

import hashlib
import logging
import logging.handlers
import sys
from collections.abc import Collection
from pathlib import Path

from wldesk.core.events import (
    AssociationEvent,
    Event,
    FileProblemEvent,
    InputEvent,
    QueryEvent,
    ServerEvent,
)

REDACTED = "<redacted>"
FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
log = logging.getLogger("wldesk")

# Query keys whose values are not patient data; every other value is hidden when redacting.
NOT_PATIENT_DATA = frozenset({
    "Modality", "ScheduledStationAETitle", "ScheduledStationName", "ScheduledProcedureStepLocation",
    "ScheduledProcedureStepStartDate", "ScheduledProcedureStepStartTime",
    "ScheduledProcedureStepEndDate", "ScheduledProcedureStepEndTime", "ScheduledProcedureStepStatus",
    "QueryRetrieveLevel", "RequestedProcedurePriority", "StudyDate", "StudyTime",
})


def setup_logging(log_file: Path | None, level: int = logging.INFO) -> None:
    """Log to stderr and, when given, to ``log_file`` (1 MB, 5 rotations)."""
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    formatter = logging.Formatter(FORMAT)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(level)
    console.setFormatter(formatter)
    root.addHandler(console)
    if log_file is not None:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            handler = logging.handlers.RotatingFileHandler(
                log_file, maxBytes=1_000_000, backupCount=5, encoding="utf-8")
        except OSError as exc:
            log.warning("cannot write the log file %s (%s); logging to the console only",
                        log_file, exc.strerror or exc)
        else:
            handler.setLevel(level)
            handler.setFormatter(formatter)
            root.addHandler(handler)
    logging.getLogger("pynetdicom").setLevel(logging.WARNING)


def file_label(path: Path, redact: bool) -> str:
    """How log lines name a worklist file: its path, or with ``redact`` (file names are often
    the patient's name) a neutral id, the first 8 hex digits of the SHA-256 of its name
    (``wldesk check`` lists the files by name)."""
    if not redact or path.suffix.lower() != ".wl":  # the folder itself is not patient data
        return str(path)
    return f"file #{hashlib.sha256(path.name.encode('utf-8', 'surrogateescape')).hexdigest()[:8]}"


def shown_value(name: str, value: str, redact: bool, invalid: Collection[str] = ()) -> str:
    """The query key ``name``'s ``value`` as the logs, the audit log and the window show it: with
    ``redact``, :data:`REDACTED` unless it is a scheduling key (:data:`NOT_PATIENT_DATA`); an
    ``invalid`` key's value is redacted even then (a name typed into a date is not a date)."""
    hidden = name not in NOT_PATIENT_DATA or name in invalid
    return REDACTED if value and redact and hidden else value


def format_keys(keys: dict[str, str], redact: bool, invalid: Collection[str] = ()) -> str:
    """The query's keys for a log line, values shown as :func:`shown_value` says."""
    parts = []
    for name, value in keys.items():
        shown = shown_value(name, value, redact, invalid)
        parts.append(f"{name}={shown!r}" if shown else name)
    return " ".join(parts) or "(no keys)"


def status_with_code(status: int, text: str) -> str:
    """A final status as text, always with its code (``Success (0x0000)``; some texts explain
    the status in words only)."""
    code = f"0x{status:04X}"
    text = text or code
    return text if code in text.upper().replace("0X", "0x") else f"{text} [{code}]"


def input_text(event: InputEvent) -> str:
    """``HL7 from RIS (10.0.0.5): created ACC1/SPS1 (ACC1_SPS1.wl): no modality, OT used``."""
    what = " ".join(part for part in (event.action, event.order) if part)
    where = f" ({event.file})" if event.file else ""
    why = f": {event.detail}" if event.detail else ""
    return f"{event.channel} from {event.source}: {what}{where}{why}"


def describe(event: Event, redact: bool) -> tuple[int, str]:
    """A log level and one line for an event."""
    if isinstance(event, AssociationEvent):
        peer = f"{event.calling_aet or '?'} ({event.address}:{event.port})"
        if event.kind == "requested":
            return logging.INFO, f"association #{event.association_id} requested by {peer} " \
                                 f"for {event.called_aet!r}"
        reason = f": {event.reason}" if event.reason else ""
        level = logging.WARNING if event.kind in ("rejected", "aborted") else logging.INFO
        return level, f"association #{event.association_id} {event.kind} ({peer}){reason}"
    if isinstance(event, QueryEvent):
        unsupported = (f"; not used for matching: {', '.join(event.unsupported_keys)}"
                       if event.unsupported_keys else "")
        if event.profile:
            unsupported += f"; profile: {event.profile}"
        if event.sent_last:
            unsupported += f"; sent last (strict rules): {' | '.join(event.sent_last)}"
        if event.withheld:
            unsupported += f"; withheld (strict rules): {' | '.join(event.withheld)}"
        level = logging.INFO if event.status in (0x0000, 0xFE00) else logging.WARNING
        text = event.redacted_status_text if redact and event.redacted_status_text \
            else event.status_text
        return level, (
            f"query #{event.association_id} from {event.calling_aet} ({event.address}): "
            f"{format_keys(event.keys, redact, event.invalid_keys)} -> {event.files_considered} "
            f"files, {event.matches} matches, {event.returned} sent, {event.duration_ms:.1f} ms, "
            f"{text}{unsupported}")
    if isinstance(event, FileProblemEvent):
        name = file_label(event.path, redact)
        if event.resolved:
            return logging.INFO, f"{name}: {event.reason}"
        return logging.WARNING, f"{name}: skipped: {event.reason}"
    if isinstance(event, InputEvent):
        return (logging.WARNING if event.problem else logging.INFO), input_text(event)
    assert isinstance(event, ServerEvent)
    return {"failed": logging.ERROR, "rolled_back": logging.WARNING}.get(event.kind, logging.INFO), \
        event.message


class EventLogger:
    """An event subscriber writing one log line per event."""

    def __init__(self, redact: bool) -> None:
        self.redact = redact

    def __call__(self, event: Event) -> None:
        level, message = describe(event, self.redact)
        log.log(level, "%s", message)
