"""An entry's values as the Worklist tab's table and day view show them."""

from __future__ import annotations

from collections.abc import Sequence

from wldesk.core.dicom.model import SPS_SEQUENCE
from wldesk.core.dicom.node import Node, values_of

PATIENT_NAME = 0x00100010
SPS_START_TIME = 0x00400003
SPS_START_DATE = 0x00400002
SPS_DESCRIPTION = 0x00400007
REQUESTED_PROCEDURE_DESCRIPTION = 0x00321060


def texts(node: Node, tag: int) -> list[str]:
    """The non-empty text values of ``tag`` (none for a sequence or binary value)."""
    found = node.get(tag)
    if found is None or found[0] == "SQ":
        return []
    return [str(v).strip() for v in values_of(found[1]) if not isinstance(v, bytes)]


def step_items(node: Node) -> tuple[Node, ...]:
    """The items of the entry's Scheduled Procedure Step Sequence."""
    found = node.get(SPS_SEQUENCE)
    return found[1] if found is not None and found[0] == "SQ" else ()


def unique(values: Sequence[str]) -> list[str]:
    """The non-empty ``values`` once each, in their order."""
    return list(dict.fromkeys(v for v in values if v))


def readable_name(raw: str) -> str:
    """``DOE^JOHN^^DR^JR`` -> ``DOE, DR JOHN, JR``; each non-empty component group, " = " between."""
    shown = []
    for group in raw.split("="):
        parts = [p.strip() for p in group.split("^")] + [""] * 5
        family, given, middle, prefix, suffix = parts[:5]
        first = " ".join(p for p in (prefix, given, middle) if p)
        text = f"{family}, {first}" if family and first else family or first
        if suffix:
            text = f"{text}, {suffix}" if text else suffix
        if text:
            shown.append(text)
    return " = ".join(shown)


def scheduled_text(date: str, time: str) -> str:
    """``20261127`` + ``103000`` -> ``2026-11-27 10:30`` (what cannot be read is kept as it is)."""
    date, time = date.strip(), time.strip()
    day = f"{date[:4]}-{date[4:6]}-{date[6:]}" if len(date) == 8 and date.isdigit() else date
    digits = time.replace(":", "").split(".")[0]
    if digits.isdigit() and len(digits) >= 2:
        clock = f"{digits[:2]}:{(digits[2:4] or '00').ljust(2, '0')}"
    else:
        clock = time
    return f"{day} {clock}".strip()
