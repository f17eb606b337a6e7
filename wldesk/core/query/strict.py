"""The rules of modalities that validate every answer (a profile's ``strict``).

A GE CT (FIELD.md) checks each answer and, on the first one it dislikes, cancels the query and
drops everything after it. :func:`strict_problems` is the one verdict on an entry ("would a strict
modality refuse it, and why"): the server sends such entries after all the others (or withholds
them), ``wldesk check --modality`` lists them and the Settings tab's preview explains them.
:func:`shape_strictly` normalises what can be normalised in an answer: dates YYYYMMDD, times
HHMMSS, empty descriptions filled from their counterpart.

Rule texts never quote the entry's values (they may be patient data) and never contain ": ", so
that "file name: rule" can be split again at its first ": ".
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from typing import Any

from pydicom.datadict import keyword_for_tag

from wldesk.core.dicom.model import PATIENT_ID, SPS_SEQUENCE, SPS_START_DATE, STATION_AET
from wldesk.core.dicom.node import Layout, Node, values_of
from wldesk.core.query.answer import Answer

STUDY_INSTANCE_UID = 0x0020000D
REQUESTED_PROCEDURE_ID = 0x00401001
REQUESTED_PROCEDURE_DESCRIPTION = 0x00321060
SPS_START_TIME = 0x00400003
SPS_DESCRIPTION = 0x00400007
SPS_ID = 0x00400009

REQUIRED = (PATIENT_ID, STUDY_INSTANCE_UID, REQUESTED_PROCEDURE_ID)
"""Top-level keys a strict modality refuses an answer without."""
STEP_REQUIRED = (STATION_AET, SPS_START_DATE, SPS_START_TIME, SPS_ID)
"""Keys of a Scheduled Procedure Step a strict modality refuses an answer without."""

_DATE = re.compile(r"^(\d{4})[.-]?(\d{2})[.-]?(\d{2})$")
_TIME = re.compile(r"^(\d{2})(?::?(\d{2})(?::?(\d{2})(?:\.\d{1,6})?)?)?$")


def normal_date(text: str) -> str | None:
    """A DA value as YYYYMMDD (``2026.11.27`` and ``2026-11-27`` too), or None when it is no
    date."""
    match = _DATE.match(text.strip(" \0"))
    if match is None:
        return None
    try:
        date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None
    return match[1] + match[2] + match[3]


def normal_time(text: str) -> str | None:
    """A TM value as HHMMSS: ``0930`` is ``093000``, ``09`` is ``090000``, ``09:30:15.25`` is
    ``093015`` (the fraction is dropped: strict modalities want exactly six digits); None when it is
    no time."""
    match = _TIME.match(text.strip(" \0"))
    if match is None:
        return None
    hour, minute, second = match[1], match[2] or "00", match[3] or "00"
    if int(hour) > 23 or int(minute) > 59 or int(second) > 60:
        return None
    return hour + minute + ("59" if second == "60" else second)  # a leap second: the one before


_NORMAL = {"DA": normal_date, "TM": normal_time}


def _is_normal(vr: str, value: str) -> bool:
    """True when ``value`` is already YYYYMMDD (DA) or HHMMSS (TM): the common case, decided
    without the parsing above (a query of 10,000 answers asks this for each of their dates)."""
    if not (value.isdigit() and len(value) == (8 if vr == "DA" else 6)):
        return False
    if vr == "TM":
        return value[:2] < "24" and value[2:4] < "60" and value[4:] < "61"
    return normal_date(value) is not None


def _is_bad(vr: str, value: Any) -> bool:
    """True when a non-empty DA or TM value cannot be normalised."""
    for v in value if isinstance(value, tuple) else (value,):
        text = str(v)
        if not _is_normal(vr, text) and text.strip(" \0") and _NORMAL[vr](text) is None:
            return True
    return False


@lru_cache(maxsize=4096)
def _dated(layout: Layout) -> tuple[int, ...]:
    """The positions of the DA, TM and SQ elements of a layout (shared by entries of a shape)."""
    return tuple(i for i, vr in enumerate(layout.vrs) if vr in ("DA", "TM", "SQ"))


def _name(tag: int) -> str:
    return keyword_for_tag(tag) or f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def _present(node: Node, tag: int) -> bool:
    i = node.layout.index.get(tag)
    if i is None or node.layout.vrs[i] == "SQ":
        return False
    value = node.values[i]
    if isinstance(value, str):  # the common case, without values_of's list
        return bool(value.strip(" \0"))
    return bool(values_of(value))


def _bad_values(node: Node, where: str, skip: int | None = None) -> list[str]:
    """Dates and times of ``node`` (its sequences' items too, but ``skip``) that cannot be
    normalised."""
    problems = []
    layout = node.layout
    for i in _dated(layout):
        tag, vr, value = layout.tags[i], layout.vrs[i], node.values[i]
        if tag == skip:
            continue
        if vr == "SQ":
            for number, item in enumerate(value, start=1):
                problems += _bad_values(item, f"{where}{_name(tag)} item {number} ")
        elif value and _is_bad(vr, value):
            problems.append(f"{where}{_name(tag)} is not a {'date' if vr == 'DA' else 'time'}")
    return problems


def strict_problems(node: Node) -> tuple[str, ...]:
    """Why a strict modality would refuse ``node``'s answer (nothing when it would not): a missing
    PatientID, StudyInstanceUID, RequestedProcedureID, Scheduled Procedure Step, or a step's
    ScheduledStationAETitle, start date, start time or SPS ID; a date or time that cannot be
    normalised. Checked on the whole entry (every step), whatever the query asked for."""
    problems = [f"no {_name(tag)}" for tag in REQUIRED if not _present(node, tag)]
    found = node.get(SPS_SEQUENCE)
    steps = found[1] if found is not None and found[0] == "SQ" else ()
    if not steps:
        problems.append(f"no {_name(SPS_SEQUENCE)}")
    for number, step in enumerate(steps, start=1):
        where = f"step {number} " if len(steps) > 1 else ""
        missing = [_name(tag) for tag in STEP_REQUIRED if not _present(step, tag)]
        problems += [f"{where}has no {name}" if where else f"no {name}" for name in missing]
        problems += _bad_values(step, f"{where}")
    problems += _bad_values(node, "", skip=SPS_SEQUENCE)
    return tuple(problems)


def _normalised(vr: str, value: Any) -> Any:
    normal = _NORMAL[vr]
    if isinstance(value, tuple):
        return tuple(normal(str(v)) or v for v in value)
    if _is_normal(vr, str(value)):
        return value
    return normal(str(value)) or value if values_of(value) else value


def _first_text(node: Node, tag: int) -> str:
    found = values_of(node.value(tag, ""))
    return str(found[0]) if found else ""


def _step_description(node: Node) -> str:
    steps = node.value(SPS_SEQUENCE) or ()
    return next((text for text in (_first_text(step, SPS_DESCRIPTION) for step in steps) if text),
                "")


def shape_strictly(answer: Answer, node: Node) -> None:
    """Shape ``answer`` (``node``'s answer) for a strict modality, in place: dates YYYYMMDD, times
    HHMMSS, and an empty (requested) SPS Description filled from the Requested Procedure
    Description, or the other way round. Keys the query did not ask for are not added."""
    _normalise(answer)
    if not values_of(answer.value(REQUESTED_PROCEDURE_DESCRIPTION) or "") \
            and REQUESTED_PROCEDURE_DESCRIPTION in answer:
        text = _step_description(node)
        if text:
            answer.set(REQUESTED_PROCEDURE_DESCRIPTION, "LO", text)
    requested = _first_text(node, REQUESTED_PROCEDURE_DESCRIPTION)
    for step in answer.value(SPS_SEQUENCE) or () if requested else ():
        if SPS_DESCRIPTION in step and not values_of(step.value(SPS_DESCRIPTION) or ""):
            step.set(SPS_DESCRIPTION, "LO", requested)


def _normalise(answer: Answer) -> None:
    for i, (tag, vr, value) in enumerate(answer.elements):
        if vr == "SQ":
            for item in value or ():
                _normalise(item)
        elif vr in _NORMAL and value:
            answer.elements[i] = (tag, vr, _normalised(vr, value))
