"""HL7 v2 orders to worklist entries: the mapping (the default one and a site's JSON file), the
character sets of MSH-18, and an order's fields read from a parsed message.

Fields are named ``SEG-F`` or ``SEG-F.C`` or ``SEG-F.C.S`` (segment, field, component and
sub-component, counted from 1 as HL7 counts them; always the first repetition). Each target of
the mapping lists such fields in order: the first one that has a value is taken. The default
mapping (:data:`DEFAULT_FIELDS`) follows IHE's radiology orders (RAD-2/RAD-4: accession in OBR-18
or IPC-1, requested procedure ID in OBR-19 or IPC-2, SPS ID in OBR-20 or IPC-4, modality in
OBR-24 or IPC-5); ``docs/integration.md`` has the table and the file format.

A message's order groups are its ORC segments: the n-th ORC goes with the n-th OBR, TQ1, IPC and
ZDS segment; PID, PV1 and MSH are the message's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import hl7

from wldesk.core.fileio import read_json_object
from wldesk.core.flow.status import SPS_STATUSES

# --- the mapping ---------------------------------------------------------------------------------

DEFAULT_FIELDS: dict[str, tuple[str, ...]] = {
    "patient_id": ("PID-3.1",),
    "issuer_of_patient_id": ("PID-3.4",),
    "patient_name": ("PID-5",),  # XPN: family^given^middle^suffix^prefix, turned into PN
    "birth_date": ("PID-7.1",),
    "sex": ("PID-8",),
    "referring_physician": ("PV1-8",),  # XCN: id^family^given^middle^suffix^prefix
    "requesting_physician": ("ORC-12", "OBR-16"),
    "placer_order_number": ("ORC-2.1", "OBR-2.1"),
    "filler_order_number": ("ORC-3.1", "OBR-3.1"),
    "accession_number": ("IPC-1.1", "OBR-18", "ORC-3.1", "OBR-3.1", "ORC-2.1", "OBR-2.1"),
    "requested_procedure_id": ("IPC-2", "OBR-19"),
    "study_instance_uid": ("IPC-3", "ZDS-1.1"),
    "step_id": ("IPC-4", "OBR-20"),
    "procedure_code": ("OBR-4",),  # CE: code^text^coding scheme
    "modality": ("IPC-5", "OBR-24"),
    "station": ("IPC-9", "ORC-18.1"),
    "start": ("TQ1-7.1", "OBR-27.4.1", "ORC-7.4.1"),
    "order_status": ("ORC-5",),
}
"""Each target and the fields it is read from, first value wins."""

DEFAULT_ORDER_STATUS: dict[str, str] = {
    "SC": "SCHEDULED", "IP": "STARTED", "A": "STARTED", "CM": "COMPLETED",
    "DC": "DISCONTINUED", "CA": "DISCONTINUED",
    # the DICOM defined terms themselves, as some RIS send them
    "SCHEDULED": "SCHEDULED", "ARRIVED": "ARRIVED", "READY": "READY", "STARTED": "STARTED",
    "COMPLETED": "COMPLETED", "DISCONTINUED": "DISCONTINUED",
}
"""ORC-5 order status (HL7 table 0038) to Scheduled Procedure Step Status (0040,0020)."""


_FIELD_RE = re.compile(r"^([A-Z][A-Z0-9]{2})-([1-9][0-9]{0,2})(?:\.([1-9][0-9]?))?(?:\.([1-9][0-9]?))?$")
_MODALITY_RE = re.compile(r"^[A-Z0-9_]{1,16}$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
GROUP_SEGMENTS = frozenset({"ORC", "OBR", "TQ1", "IPC", "ZDS"})


class MappingError(ValueError):
    """A message that cannot become an entry with this mapping: ``reason`` in plain words and the
    HL7 error code (table 0357: 101 required field missing, 102 data type error, 103 table value
    not found, 207 application error) for the ACK's ERR segment."""

    def __init__(self, reason: str, code: int = 101) -> None:
        super().__init__(reason)
        self.code = code


@dataclass(frozen=True)
class FieldPath:
    segment: str
    field: int
    component: int = 1
    subcomponent: int = 1

    @classmethod
    def parse(cls, text: str) -> FieldPath:
        found = _FIELD_RE.match(text.strip().upper())
        if found is None:
            raise ValueError(f"{text!r} is not a field such as PID-5 or OBR-4.2")
        seg, number, comp, sub = found.groups()
        return cls(seg, int(number), int(comp or 1), int(sub or 1))

    def __str__(self) -> str:
        return f"{self.segment}-{self.field}.{self.component}.{self.subcomponent}"


@dataclass(frozen=True)
class HL7Mapping:
    """How messages become entries: the fields of each target, ORC-5 to SPS status, the station
    AE title of a modality, the modality of a service code (OBR-24 values that are no DICOM
    modality, e.g. "RAD": "CR"), and the fallback station."""

    fields: dict[str, tuple[FieldPath, ...]]
    order_status: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ORDER_STATUS))
    station_by_modality: dict[str, str] = field(default_factory=dict)
    modality_by_code: dict[str, str] = field(default_factory=dict)
    fallback_station: str = "ANY"


def _text_map(data: Any, where: str, check: Any = None) -> dict[str, str]:
    if not isinstance(data, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise ValueError(f"{where} must be an object of texts, e.g. {{\"CT\": \"CT01\"}}")
    result = {k.strip().upper(): v.strip() for k, v in data.items()}
    if check is not None:
        for key, value in result.items():
            try:
                check(value)
            except ValueError as exc:
                raise ValueError(f"{where}.{key}: {exc}") from None
    return result


def _check_status(value: str) -> str:
    if value not in SPS_STATUSES:
        raise ValueError(f"{value!r} is not one of {', '.join(SPS_STATUSES)}")
    return value


def _check_modality(value: str) -> str:
    if not _MODALITY_RE.match(value):
        raise ValueError(f"{value!r} is not a modality such as CT, MR or US")
    return value


def load_mapping(path: str, fallback_station: str, check_station: Any) -> HL7Mapping:
    """The default mapping, overridden by the JSON file ``path`` (empty: none). Raises
    ValueError with a plain reason (naming the file and the key) when the file is unusable."""
    fields = {name: tuple(FieldPath.parse(p) for p in paths) for name, paths in DEFAULT_FIELDS.items()}
    mapping = HL7Mapping(fields=fields, fallback_station=fallback_station)
    if not path.strip():
        return mapping
    where = f"the HL7 mapping file {path}"
    data = read_json_object(path, "the HL7 mapping file")
    unknown = set(data) - {"fields", "order_status", "station_by_modality", "modality_by_code"}
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} (known: fields, "
                         "order_status, station_by_modality, modality_by_code)")
    given = data.get("fields", {})
    if not isinstance(given, dict):
        raise ValueError(f"{where}: fields must be an object")
    for name, paths in given.items():
        if name not in DEFAULT_FIELDS:
            raise ValueError(f"{where}: fields.{name} is not a target (targets: "
                             f"{', '.join(DEFAULT_FIELDS)})")
        listed = [paths] if isinstance(paths, str) else paths
        if not isinstance(listed, list) or not all(isinstance(p, str) for p in listed):
            raise ValueError(f"{where}: fields.{name} must be a field or a list of fields")
        try:
            fields[name] = tuple(FieldPath.parse(p) for p in listed)
        except ValueError as exc:
            raise ValueError(f"{where}: fields.{name}: {exc}") from None
    status = dict(DEFAULT_ORDER_STATUS)
    status.update(_text_map(data.get("order_status", {}), f"{where}: order_status", _check_status))
    return HL7Mapping(
        fields=fields, order_status=status,
        station_by_modality=_text_map(data.get("station_by_modality", {}),
                                      f"{where}: station_by_modality", check_station),
        modality_by_code=_text_map(data.get("modality_by_code", {}), f"{where}: modality_by_code",
                                   _check_modality),
        fallback_station=fallback_station)


# --- character sets (MSH-18) ---------------------------------------------------------------------

HL7_CHARSETS: dict[str, tuple[str, str]] = {
    "ASCII": ("ascii", "ISO_IR 100"),
    "8859/1": ("latin_1", "ISO_IR 100"),
    "8859/2": ("iso8859_2", "ISO_IR 101"),
    "8859/3": ("iso8859_3", "ISO_IR 109"),
    "8859/4": ("iso8859_4", "ISO_IR 110"),
    "8859/5": ("iso8859_5", "ISO_IR 144"),
    "8859/6": ("iso8859_6", "ISO_IR 127"),
    "8859/7": ("iso8859_7", "ISO_IR 126"),
    "8859/8": ("iso8859_8", "ISO_IR 138"),
    "8859/9": ("iso8859_9", "ISO_IR 148"),
    "8859/15": ("iso8859_15", "ISO_IR 192"),
    "UNICODE UTF-8": ("utf-8", "ISO_IR 192"),
    "UNICODE": ("utf-8", "ISO_IR 192"),
    "UTF-8": ("utf-8", "ISO_IR 192"),
}
"""MSH-18 (HL7 table 0211) to the Python codec that reads the message and the Specific Character
Set of the entries made from it."""


@dataclass(frozen=True)
class Decoded:
    text: str
    codec: str  # how the ACK is encoded
    charset: str  # the entries' SpecificCharacterSet
    msh18: str


def raw_msh_fields(raw: bytes) -> list[bytes]:
    """MSH's fields as bytes, ``[b"MSH", b"^~\\&", MSH-3, ...]`` (MSH-n at index n-1); [] when the
    message does not start with an MSH segment."""
    first = raw.lstrip(b"\r\n").split(b"\r", 1)[0].split(b"\n", 1)[0]
    if len(first) < 8 or not first.startswith(b"MSH"):
        return []
    separator = first[3:4]
    return [b"MSH", *first[4:].split(separator)] if separator.isascii() and separator not in (
        b"\r", b"\n") else []


def decode(raw: bytes) -> Decoded:
    """The message as text, read in the character set MSH-18 names (none: UTF-8, else Windows
    Latin-1, as RIS send it without saying). Raises MappingError (code 103) for a character set
    wldesk does not know or bytes that are not in it."""
    fields = raw_msh_fields(raw)
    msh18 = ""
    if len(fields) > 17:
        msh18 = fields[17].split(fields[1][1:2] or b"~")[0].decode("ascii", "replace").strip()
    if not msh18:
        try:
            return Decoded(raw.decode("utf-8"), "utf-8", "ISO_IR 192", "")
        except UnicodeDecodeError:
            return Decoded(raw.decode("cp1252", "replace"), "cp1252", "ISO_IR 100", "")
    known = HL7_CHARSETS.get(msh18.upper())
    if known is None:
        raise MappingError(f"the character set {msh18!r} (MSH-18) is not supported; use one of "
                           f"{', '.join(HL7_CHARSETS)}", 103)
    codec, charset = known
    try:
        return Decoded(raw.decode(codec), codec, charset, msh18)
    except UnicodeDecodeError as exc:
        raise MappingError(f"the message has bytes that are not {msh18} (MSH-18) at byte "
                           f"{exc.start}", 103) from None


# --- reading a parsed message --------------------------------------------------------------------


def value(message: hl7.Message, path: FieldPath, group: int = 1) -> str:
    """The text of ``path`` in ``message`` ("" when absent); order segments of ``group``.
    MappingError when it holds a control character (no DICOM text may)."""
    number = group if path.segment in GROUP_SEGMENTS else 1
    try:
        segments = message.segments(path.segment)
        if number > len(segments):
            return ""
        found = segments[number - 1].extract_field(number, path.field, 1, path.component,
                                                   path.subcomponent)
    except (KeyError, IndexError, AttributeError, TypeError):
        return ""
    text = str(found).strip()
    if _CONTROL_RE.search(text):
        raise MappingError(f"{path.segment}-{path.field} holds a control character", 102)
    return "" if text == hl7.NULL else text


def components(message: hl7.Message, path: FieldPath, group: int, count: int) -> list[str]:
    """Components 1..``count`` of the field of ``path`` (its own component number ignored)."""
    return [value(message, FieldPath(path.segment, path.field, number), group)
            for number in range(1, count + 1)]


def first(message: hl7.Message, paths: tuple[FieldPath, ...], group: int = 1) -> str:
    for path in paths:
        text = value(message, path, group)
        if text:
            return text
    return ""


def first_field(message: hl7.Message, paths: tuple[FieldPath, ...],
                group: int = 1) -> FieldPath | None:
    """The first of ``paths`` whose field has a value (in any component)."""
    for path in paths:
        if any(components(message, path, group, 6)):
            return path
    return None


def person_name(message: hl7.Message, paths: tuple[FieldPath, ...], group: int, *,
                xcn: bool) -> str:
    """A PN value (Family^Given^Middle^Prefix^Suffix) from an XPN field (family^given^middle^
    suffix^prefix) or, with ``xcn``, an XCN field (id^family^given^middle^suffix^prefix)."""
    path = first_field(message, paths, group)
    if path is None:
        return ""
    parts = components(message, path, group, 6)
    if xcn:
        parts = parts[1:]
    family, given, middle, suffix, prefix = (parts + [""] * 5)[:5]
    return "^".join([family, given, middle, prefix, suffix]).rstrip("^")


def hl7_date_time(text: str, what: str) -> tuple[str, str]:
    """DICOM date and time (``YYYYMMDD``, ``HHMMSS``) of an HL7 TS/DTM; MappingError (102) when it
    is none."""
    digits = re.match(r"^(\d{8})(\d{2,6})?", text)
    if digits is None:
        raise MappingError(f"{what} {text!r} is not a date and time (YYYYMMDD[HHMM[SS]])", 102)
    day, clock = digits[1], (digits[2] or "")
    clock = (clock + "000000")[:6] if len(clock) % 2 == 0 else clock[:-1].ljust(6, "0")
    return day, clock


def modality_of(text: str, mapping: HL7Mapping) -> str:
    """The DICOM modality of an OBR-24/IPC-5 value ("" when it is none)."""
    code = text.strip().upper()
    code = mapping.modality_by_code.get(code, code)
    return code if _MODALITY_RE.match(code) else ""
