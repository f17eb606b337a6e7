"""The modality doctor's figures in plain words: one view per AE title, for ``wldesk modalities``
and the Modalities tab (:mod:`wldesk.core.net.doctor` keeps the figures)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from wldesk.core.net.doctor import REDACTED, Figures, redact_keys
from wldesk.core.settings import Settings

PLAIN_KEYS = {
    "Modality": "modality",
    "ScheduledProcedureStepStartDate": "scheduled date",
    "ScheduledProcedureStepStartTime": "scheduled time",
    "ScheduledStationAETitle": "station",
    "ScheduledStationName": "station name",
    "ScheduledProcedureStepLocation": "location",
    "ScheduledPerformingPhysicianName": "performing physician",
    "ScheduledProcedureStepStatus": "step status",
    "ScheduledProcedureStepID": "step ID",
    "PatientName": "patient name",
    "PatientID": "patient ID",
    "AccessionNumber": "accession number",
    "RequestedProcedureID": "requested procedure ID",
}
"""How a query key is named in words (others by their keyword), in the order they are said."""

DATE_KEYS = frozenset({"ScheduledProcedureStepStartDate", "StudyDate", "PatientBirthDate"})


def _date(text: str) -> str:
    return f"{text[:4]}-{text[4:6]}-{text[6:]}" if len(text) == 8 and text.isdigit() else text


def _date_value(value: str) -> str:
    """``20261202`` -> ``2026-12-02``; a range ``a-b`` as ``a to b`` (one day once)."""
    if "-" not in value:
        return _date(value)
    low, _, high = value.partition("-")
    if low == high:
        return _date(low)
    if not low:
        return f"up to {_date(high)}"
    if not high:
        return f"from {_date(low)}"
    return f"{_date(low)} to {_date(high)}"


def keys_in_words(keys: dict[str, str]) -> str:
    """``Modality CT, scheduled date 2026-12-02, station CT1``: the keys that carry a value."""
    parts = []
    order = list(PLAIN_KEYS)
    for name, value in sorted(keys.items(), key=lambda item: (
            order.index(item[0]) if item[0] in PLAIN_KEYS else len(order))):
        if not value:
            continue
        shown = _date_value(value) if name in DATE_KEYS and value != REDACTED else value
        parts.append(f"{PLAIN_KEYS.get(name, name)} {shown}")
    text = ", ".join(parts)
    return text[:1].upper() + text[1:] if text else "All entries (no key with a value)"


def when(stamp: str) -> str:
    """An ISO time of the figures as this computer's local time, to the second."""
    try:
        return datetime.fromisoformat(stamp).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError):
        return str(stamp)


def _count(n: int, word: str, words: str = "") -> str:
    return f"{n} {word if n == 1 else words or word + 's'}"


@dataclass(frozen=True)
class ModalityView:
    """One AE title as the doctor says it: table cells and detail lines."""

    ae_title: str
    name: str  # the known modality's name, "" for an unknown AE title
    known: bool
    last_association: str
    last_query: str
    answers: str
    status: str
    queries_today: str
    attention: str  # the most useful line for "why does it see nothing?", "" when all is well
    details: tuple[tuple[str, str], ...]
    last_keys: dict[str, str] = field(default_factory=dict)  # the last query's keys (redacted)


def _record_view(aet: str, known_name: str | None, record: dict[str, Any] | None, *,
                 since: str | None, today: str, redact: bool) -> ModalityView:
    record = record or {}
    assoc = record.get("last_association") or None
    query = record.get("last_query") or None
    details: list[tuple[str, str]] = [
        ("Known modality", known_name if known_name is not None
         else "no: unknown AE title, not in the known modalities")]
    last_association = (f"{when(assoc['time'])} from {assoc.get('address', '?')}"
                        if isinstance(assoc, dict) and "time" in assoc else "")
    details.append(("Last association", last_association or "none"))
    keys: dict[str, str] = {}
    last_query = answers = status = ""
    attention = ""
    if isinstance(query, dict):
        keys = dict(query.get("keys") or {})
        if redact:
            keys = redact_keys(keys)
        last_query = f"{when(query.get('time', ''))}: {keys_in_words(keys)}"
        answers = (f"{query.get('returned', 0)} sent of "
                   f"{_count(int(query.get('matches', 0)), 'match', 'matches')}"
                   if query.get("returned") != query.get("matches")
                   else str(query.get("returned", 0)))
        if query.get("withheld"):
            answers += f" ({_count(int(query['withheld']), 'entry', 'entries')} withheld by its " \
                       "profile's strict rules)"
        status = str(query.get("status_text", ""))
        details += [("Last query", last_query), ("Answers sent", answers),
                    ("Final status", status),
                    ("Duration", f"{float(query.get('duration_ms', 0)):.1f} ms")]
        if int(query.get("returned", 0)) == 0 and query.get("status") == 0:
            attention = "last query matched no entry"
        elif query.get("status") not in (0, 0xFE00):
            attention = f"last query failed: {status}"
    else:
        never = (f"never queried since {when(since)[:10]}" if since
                 else "never queried (no figures kept yet)")
        details.append(("Last query", never))
        attention = never
    count = int(record.get("queries_today", 0)) if record.get("queries_day") == today else 0
    details.append(("Queries today", str(count)))
    if record.get("queries"):
        details.append(("Queries in all", str(record["queries"])))
    rejections = [r for r in record.get("rejections", []) if isinstance(r, dict)]
    for rejection in reversed(rejections):
        times = int(rejection.get("count", 1))
        repeat = f" ({times} times, the last)" if times > 1 else ""
        details.append(("Refused", f"{when(rejection.get('time', ''))}{repeat}: "
                                   f"{rejection.get('reason', '')}"))
    if rejections:
        latest = rejections[-1]
        refused_last = not isinstance(assoc, dict) or str(latest.get("time", "")) >= str(
            assoc.get("time", ""))
        if refused_last or not attention:
            attention = f"refused: {latest.get('reason', '')}"
    other = record.get("called_other")
    if isinstance(other, dict):
        note = (f"called AE title {other.get('called_aet') or '(none)'} while this server is "
                f"{other.get('server_aet', '?')} (accepted: the called AE title is not checked)")
        details.append(("Note", f"{when(other.get('time', ''))}: {note}"))
        attention = attention or note
    return ModalityView(
        ae_title=aet, name=known_name or "", known=known_name is not None,
        last_association=last_association, last_query=last_query, answers=answers,
        status=status, queries_today=str(count), attention=attention, details=tuple(details),
        last_keys=keys)


def modality_views(figures: Figures | None, settings: Settings, today: str) -> list[ModalityView]:
    """Every known modality (in the settings' order), then every other AE title that called.

    ``today`` is the ISO date "queries today" counts; values of patient keys are hidden when the
    settings redact patient data (whatever was kept)."""
    titles = figures.titles if figures is not None else {}
    created = figures.created if figures is not None else None
    redact = settings.redact_patient_data
    views = []
    for known in settings.modalities:
        record = titles.get(known.ae_title)
        since = record.get("first_seen") if record else created
        views.append(_record_view(known.ae_title, known.name, record, since=since, today=today,
                                  redact=redact))
    known_titles = {m.ae_title for m in settings.modalities}
    for aet in sorted(set(titles) - known_titles):
        views.append(_record_view(aet, None, titles[aet], since=titles[aet].get("first_seen"),
                                  today=today, redact=redact))
    return views


def report_text(views: list[ModalityView]) -> str:
    """The views as ``wldesk modalities`` prints them: one block per AE title."""
    if not views:
        return "No known modalities, and no AE title has called yet.\n"
    blocks = []
    for view in views:
        head = f"{view.ae_title} — {view.name}" if view.known else f"{view.ae_title} (unknown)"
        lines = [head] + [f"  {label}: {text}" for label, text in view.details[1:]]
        if not view.known:
            lines.insert(1, f"  {view.details[0][0]}: {view.details[0][1]}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"
