"""One HL7 v2 message in, its ACK out: what an order (ORM^O01, OMI^O23) or a patient update
(ADT^A08, ADT^A31) does to the worklist folder, through the ledger.

ORC-1 says what to do: NW makes the entry (or rewrites it: an order is known by its accession
number and SPS ID, so the same NW twice makes one entry), XO changes it, CA and DC move it to
``archive/``, SC sets its SPS Status from ORC-5; any other order control is acknowledged and
ignored. ADT^A08/A31 rewrite the patient's name, birth date and sex in each open entry (not
COMPLETED or DISCONTINUED) of that Patient ID.

Every message gets an ACK: AA, AE with the reason in MSA-3 and ERR when the message cannot become
an entry (a missing or wrong field) or the entry cannot be written, AR when the message cannot be
read at all. :func:`handle` never raises for what a sender sends.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime

import hl7
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence

from wldesk.core.editing.document import load_document
from wldesk.core.editing.entries import new_entry
from wldesk.core.editing.errors import EditError
from wldesk.core.editing.values import set_element_text
from wldesk.core.events import InputEvent
from wldesk.core.flow.hl7_mapping import (
    Decoded,
    FieldPath,
    HL7Mapping,
    MappingError,
    components,
    decode,
    first,
    hl7_date_time,
    modality_of,
    person_name,
    raw_msh_fields,
)
from wldesk.core.flow.ledger import Ledger, OrderKey, Written
from wldesk.core.flow.status import FINAL_STATUSES, set_step_status, step_status

log = logging.getLogger(__name__)

CHANNEL = "HL7"
ORDER_MESSAGES = frozenset({"ORM^O01", "OMI^O23"})
PATIENT_UPDATES = frozenset({"ADT^A08", "ADT^A31"})
ORDER_CONTROL = FieldPath("ORC", 1)
_SEX = {"M": "M", "F": "F", "O": "O", "A": "O", "N": "O", "X": "O", "U": ""}


class Rejected(Exception):
    """A message that cannot be read at all: ACK with AR."""


@dataclass
class Outcome:
    """What became of one message: its ACK (bytes, encoded as the message was) and the events."""

    ack_code: str
    ack: bytes
    control_id: str
    message_type: str
    source: str
    reason: str = ""
    events: list[InputEvent] = field(default_factory=list)


# --- the ACK -------------------------------------------------------------------------------------


def escape(text: str, separators: str) -> str:
    """``text`` with HL7's escape sequences for the message's separators (field, component,
    repetition, escape, sub-component)."""
    full = (separators + "|^~\\&"[len(separators):])[:5]
    fs, cs, rs, es, ss = full[0], full[1], full[2], full[3], full[4]
    out = text.replace(es, f"{es}E{es}")
    for char, code in ((fs, "F"), (cs, "S"), (rs, "R"), (ss, "T")):
        out = out.replace(char, f"{es}{code}{es}")
    return out.replace("\r", " ").replace("\n", " ")


def build_ack(msh: list[str], code: str, reason: str = "", error_code: int = 0) -> str:
    """The ACK of a message whose MSH fields are ``msh`` (``msh[n-1]`` is MSH-n): sender and
    receiver swapped, MSH-10 echoed in MSA-2, MSH-18 kept; AE/AR carry ``reason`` in MSA-3 and ERR."""
    fields = msh + [""] * (19 - len(msh))
    separators = (fields[0] if len(fields[0]) == 1 else "|") + (fields[1] or "^~\\&")
    fs = separators[0]
    comp = separators[1] if len(separators) > 1 else "^"
    trigger = fields[8].split(comp)[1] if comp in fields[8] else ""
    now = datetime.now().strftime("%Y%m%d%H%M%S")
    control = hl7.generate_message_control_id()
    header = ["MSH", fields[1] or "^~\\&", fields[4], fields[5], fields[2], fields[3], now, "",
              f"ACK{comp}{trigger}{comp}ACK" if trigger else "ACK", control, fields[10] or "P",
              fields[11] or "2.5", "", "", "", "", "", fields[17]]
    segments = [fs.join(header).rstrip(fs),
                fs.join(["MSA", code, fields[9], escape(reason, separators)]).rstrip(fs)]
    if code != "AA":
        names = {100: "Segment sequence error", 101: "Required field missing",
                 102: "Data type error", 103: "Table value not found",
                 200: "Unsupported message type", 207: "Application internal error"}
        number = error_code or 207
        segments.append(fs.join(["ERR", "", "", f"{number}{comp}{names.get(number, '')}{comp}HL70357",
                                 "E", "", "", "", escape(reason, separators)]))
    return "\r".join(segments) + "\r"


# --- building an entry ---------------------------------------------------------------------------


@dataclass
class Order:
    """One order group of a message, read with the mapping."""

    control: str
    key: OrderKey
    given_step_id: bool
    flags: list[str]
    dataset: Dataset | None = None  # for NW and XO
    status: str = ""


def _read_order(message: hl7.Message, group: int, mapping: HL7Mapping, decoded: Decoded,
                message_time: str) -> Order:
    f = mapping.fields
    control = first(message, (ORDER_CONTROL,), group).upper()
    accession = first(message, f["accession_number"], group)
    step_id = first(message, f["step_id"], group)
    flags: list[str] = []
    status_code = first(message, f["order_status"], group).upper()
    status = ""
    if status_code:
        status = mapping.order_status.get(status_code, "")
        if not status and control == "SC":
            raise MappingError(f"the order status {status_code!r} (ORC-5) is not one the mapping "
                               "knows", 103)
    if not accession:
        raise MappingError("the order has no accession number (OBR-18, IPC-1 or an order "
                           "number)")
    order = Order(control, OrderKey(accession, step_id), bool(step_id), flags, status=status)
    if control not in ("NW", "XO"):
        return order
    modality = modality_of(first(message, f["modality"], group), mapping)
    if not modality:
        modality = "OT"
        flags.append("no modality: OT")
    station = first(message, f["station"], group) or mapping.station_by_modality.get(modality, "")
    if not station:
        station = mapping.fallback_station
        flags.append(f"no station: {station}")
    start = first(message, f["start"], group)
    if not start:
        start = message_time or datetime.now().strftime("%Y%m%d%H%M%S")
        flags.append("no start time: the message's time")
    day, clock = hl7_date_time(start, "the start date and time")
    code_path = f["procedure_code"][0] if f["procedure_code"] else None
    code, text, scheme = (components(message, code_path, group, 3) if code_path else ["", "", ""])
    birth = first(message, f["birth_date"], group)[:8]
    try:
        ds = new_entry(
            patient_name=person_name(message, f["patient_name"], group, xcn=False),
            patient_id=first(message, f["patient_id"], group),
            birth_date=birth, sex=_SEX.get(first(message, f["sex"], group).upper()[:1], ""),
            accession_number=accession,
            requested_procedure_id=first(message, f["requested_procedure_id"], group) or None,
            requested_procedure_description=text or code or None,
            referring_physician=person_name(message, f["referring_physician"], group, xcn=True),
            modality=modality, station_aet=station, scheduled_date=day, scheduled_time=clock,
            step_description=text or code or None, step_id=step_id or None,
            charset=decoded.charset)
        _optional(ds, "IssuerOfPatientID", first(message, f["issuer_of_patient_id"], group))
        _optional(ds, "PlacerOrderNumberImagingServiceRequest",
                  first(message, f["placer_order_number"], group))
        _optional(ds, "FillerOrderNumberImagingServiceRequest",
                  first(message, f["filler_order_number"], group))
        _optional(ds, "RequestingPhysician",
                  person_name(message, f["requesting_physician"], group, xcn=True))
        _optional(ds, "StudyInstanceUID", first(message, f["study_instance_uid"], group))
    except EditError as exc:
        raise MappingError(f"the order cannot be an entry: {exc}", 102) from None
    if code:
        item = Dataset()
        item.CodeValue = code
        item.CodingSchemeDesignator = scheme or "L"
        item.CodeMeaning = text or code
        ds.RequestedProcedureCodeSequence = DicomSequence([item])
    if status:
        ds.ScheduledProcedureStepSequence[0].ScheduledProcedureStepStatus = status
    order.dataset = ds
    return order


def _optional(ds: Dataset, keyword: str, text: str) -> None:
    if text:
        set_element_text(ds, keyword, text)


# --- what an order does --------------------------------------------------------------------------


def _write_order(ledger: Ledger, order: Order) -> list[Written]:
    """NW or XO: the entry of ``order`` made, or rewritten keeping what the message does not say
    (its Study Instance UID, generated IDs and SPS Status stay as they are)."""
    ds = order.dataset
    assert ds is not None
    with ledger.lock:
        existing = ledger.find(order.key)
        if not existing:
            return [ledger.put(ds, found=existing)]
        old = load_document(existing[0]).dataset
        steps = old.get("ScheduledProcedureStepSequence") or ()
        new_step = ds.ScheduledProcedureStepSequence[0]
        if not order.given_step_id and steps:
            new_step.ScheduledProcedureStepID = steps[0].get("ScheduledProcedureStepID", "")
        if not order.status and step_status(old):
            new_step.ScheduledProcedureStepStatus = step_status(old)
        for keyword in ("StudyInstanceUID", "RequestedProcedureID"):
            if keyword in old:
                ds[keyword] = old[keyword]
        return [ledger.put(ds, found=existing)]




def _order_events(ledger: Ledger, order: Order, source: str) -> list[InputEvent]:
    detail = "; ".join(order.flags)
    if order.control in ("NW", "XO"):
        written = _write_order(ledger, order)
    elif order.control in ("CA", "DC"):
        written = ledger.archive(order.key)
    elif order.control == "SC":
        if not order.status:
            raise MappingError("a status change (SC) without an order status (ORC-5)")
        written = ledger.update(order.key, set_step_status(order.status))
        detail = f"status {order.status}"
    else:
        return [InputEvent(CHANNEL, "ignored", source, str(order.key),
                           detail=f"order control {order.control or '(none)'} (ORC-1) changes "
                                  "nothing in the worklist")]
    if not written:
        return [InputEvent(CHANNEL, "ignored", source, str(order.key),
                           detail=f"{order.control}: no entry of this order in the worklist")]
    return [InputEvent(CHANNEL, w.action, source, str(w.key), w.path.name,
                       f"{order.control}; {detail}" if detail else order.control) for w in written]


def _patient_update(message: hl7.Message, ledger: Ledger, mapping: HL7Mapping,
                    source: str) -> list[InputEvent]:
    f = mapping.fields
    patient_id = first(message, f["patient_id"])
    if not patient_id:
        raise MappingError("the patient update has no patient ID (PID-3)")
    values = {"PatientName": person_name(message, f["patient_name"], 1, xcn=False),
              "PatientBirthDate": first(message, f["birth_date"])[:8],
              "PatientSex": _SEX.get(first(message, f["sex"]).upper()[:1], "")}
    checked = Dataset()
    try:
        for keyword, text in values.items():
            if text:  # an empty field leaves the value as it is
                set_element_text(checked, keyword, text)
    except EditError as exc:
        raise MappingError(f"the patient update cannot be written: {exc}", 102) from None

    def change(ds: Dataset) -> bool:
        if step_status(ds) in FINAL_STATUSES:
            return False
        changed = False
        for elem in checked:
            if elem.tag not in ds or ds[elem.tag].value != elem.value:
                ds[elem.tag] = elem
                changed = True
        return changed

    written = ledger.update_patient(patient_id, change)
    if not written:
        return [InputEvent(CHANNEL, "ignored", source,
                           detail="patient update: the patient has no entry in the worklist")]
    return [InputEvent(CHANNEL, w.action, source, str(w.key), w.path.name, "patient update")
            for w in written]


# --- one message ---------------------------------------------------------------------------------


_SEGMENT_RE = re.compile(r"^[A-Z][A-Z0-9]{2}(?:[^A-Za-z0-9]|$)")


def segments_of(text: str) -> str:
    """The message's segments joined by CR (CR LF and LF taken as CR, empty lines dropped), for
    python-hl7; Rejected when a segment has no name."""
    segments = [s for s in re.split(r"\r\n|\r|\n", text) if s.strip()]
    for number, segment in enumerate(segments, start=1):
        if not _SEGMENT_RE.match(segment):
            raise Rejected(f"segment {number} does not start with a segment name such as PID")
    return "\r".join(segments)


def _source(msh: list[str], address: str, comp: str) -> str:
    sender = "/".join(part.split(comp)[0] for part in msh[2:4] if part.split(comp)[0])
    return f"{sender} ({address})" if sender else address


def handle(raw: bytes, ledger: Ledger, mapping: HL7Mapping, address: str) -> Outcome:
    """Do what the message ``raw`` (without MLLP framing) asks and say how it went."""
    raw_fields = raw_msh_fields(raw)
    msh = [part.decode("latin_1") for part in raw_fields]
    comp = msh[1][:1] if len(msh) > 1 and msh[1] else "^"
    source = _source(msh, address, comp)
    message_type = "^".join(msh[8].split(comp)[:2]) if len(msh) > 8 else ""
    codec = "latin_1"

    def outcome(code: str, reason: str = "", error: int = 0,
                events: list[InputEvent] | None = None) -> Outcome:
        text = build_ack(msh, code, reason, error)
        ack = text.encode(codec, "replace")
        return Outcome(code, ack, msh[9] if len(msh) > 9 else "", message_type, source, reason,
                       events or [])

    if not raw_fields:
        reason = "not an HL7 v2 message: it does not start with an MSH segment"
        return outcome("AR", reason, 100, [InputEvent(CHANNEL, "refused", source, detail=reason)])
    try:
        decoded = decode(raw)
        codec = decoded.codec
        text = segments_of(decoded.text)
        try:
            message = hl7.parse(text)
            msh = [part.decode("utf-8") for part in raw_msh_fields(decoded.text.encode("utf-8"))]
        except Exception as exc:  # python-hl7 raises many kinds on broken input
            raise Rejected(f"the message cannot be read: {type(exc).__name__}") from None
    except (MappingError, Rejected) as exc:
        reason = str(exc)
        return outcome("AR", reason, getattr(exc, "code", 100),
                       [InputEvent(CHANNEL, "refused", source, detail=reason)])
    if message_type not in ORDER_MESSAGES | PATIENT_UPDATES:
        if message_type.startswith("ADT^"):
            return outcome("AA", events=[InputEvent(
                CHANNEL, "ignored", source, detail=f"{message_type} changes nothing in the worklist")])
        reason = (f"the message type {message_type or '(none)'} (MSH-9) is not taken: wldesk takes "
                  "ORM^O01, OMI^O23, ADT^A08 and ADT^A31")
        return outcome("AR", reason, 200, [InputEvent(CHANNEL, "refused", source, detail=reason)])
    events: list[InputEvent] = []
    try:
        if message_type in PATIENT_UPDATES:
            events += _patient_update(message, ledger, mapping, source)
        else:
            try:
                groups = len(message.segments("ORC"))
            except KeyError:
                raise MappingError("the order has no ORC segment", 100) from None
            message_time = msh[6] if len(msh) > 6 else ""
            for group in range(1, groups + 1):
                order = _read_order(message, group, mapping, decoded, message_time)
                events += _order_events(ledger, order, source)
    except MappingError as exc:
        reason = str(exc)
        events.append(InputEvent(CHANNEL, "refused", source, detail=reason))
        return outcome("AE", reason, exc.code, events)
    except (EditError, OSError) as exc:
        reason = f"the entry could not be written: {exc}"
        events.append(InputEvent(CHANNEL, "failed", source, detail=reason))
        return outcome("AE", reason, 207, events)
    return outcome("AA", events=events)

