"""Values of a dataset as the text a person types and reads, and their checks against the VR (PS3.5 6.2)
and the character set.

What the user types for an element becomes one through :func:`element_from_text`: the element, or
the reasons it cannot be one.
"""

from __future__ import annotations

import calendar
import re
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pydicom import config as pydicom_config
from pydicom.datadict import dictionary_VM, dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence as DicomSequence
from pydicom.tag import BaseTag, Tag

from wldesk.core.check import missing_keys
from wldesk.core.dicom.charsets import can_encode, charset_terms, is_default
from wldesk.core.dicom.node import Node
from wldesk.core.dicom.vr import (
    BINARY_VRS,
    FLOAT_VRS,
    INT_RANGES,
    KNOWN_VRS,
    SINGLE_VALUED_VRS,
    SPECIFIC_CHARACTER_SET,
    STRING_VRS,
    TEXT_VRS,
    attribute_name,
    tag_text,
)
from wldesk.core.editing.errors import EditError

_MAX_LENGTH = {"AE": 16, "CS": 16, "SH": 16, "LO": 64, "ST": 1024, "LT": 10240, "UT": 2**32 - 2,
               "UR": 2**32 - 2, "DS": 16, "IS": 12, "UI": 64, "AS": 4}
_VR_NAMES = {"AE": "an AE title", "CS": "a code string", "SH": "a short string", "LO": "a long string",
             "ST": "a short text", "LT": "a long text", "UT": "an unlimited text",
             "UC": "an unlimited characters value", "UR": "a URI", "DS": "a decimal number",
             "IS": "a whole number", "UI": "a UID", "AS": "an age", "PN": "a person name"}


# ----------------------------------------------------------------------------------------------
# Values as text


def _resolve_tag(key: int | str | BaseTag) -> BaseTag:
    if isinstance(key, str):
        found = tag_for_keyword(key)
        if found is None:
            try:
                return Tag(key)
            except (ValueError, OverflowError):
                raise EditError(f"unknown attribute {key!r}") from None
        return Tag(found)
    return Tag(key)


def _dictionary_vr(tag: BaseTag) -> str | None:
    """The VR of a new element of ``tag``: the dictionary's (the first of "US or SS"), LO for a
    private creator, UN for other private tags; None when the dictionary does not know ``tag``."""
    if tag.is_private:
        return "LO" if tag.is_private_creator else "UN"
    try:
        vr = dictionary_VR(tag)
    except KeyError:
        return None
    return vr.split(" or ")[0]


def parse_key(text: str) -> BaseTag:
    """The tag the user means by ``text``: a keyword (``PatientWeight``) or a tag
    (``(0010,1030)``, ``0010,1030``, ``00101030``); :class:`EditError` says why not."""
    stripped = text.strip()
    word = stripped.split()[0] if stripped else ""
    found = tag_for_keyword(word)
    if found is not None:
        return Tag(found)
    try:
        return Tag(_parse_at(stripped))
    except ValueError:
        raise EditError(f"{stripped or 'nothing'!r} is neither a DICOM keyword (e.g. PatientWeight) "
                        "nor a tag (e.g. (0010,1030))") from None


def new_element(tag: BaseTag) -> DataElement:
    """An empty element of ``tag`` to add to a dataset (an empty sequence for SQ), with the VR
    :func:`_dictionary_vr` gives; :class:`EditError` for tags that cannot be added to a worklist
    dataset."""
    if tag.group == 0x0002:
        raise EditError(f"{tag_text(tag)} belongs to the file meta information, not the dataset")
    if tag.group == 0xFFFE:
        raise EditError("items and delimiters are not elements; use Add item on a sequence")
    if tag.element == 0:
        raise EditError("group lengths are computed when the file is written")
    vr = _dictionary_vr(tag)
    if vr is None:
        raise EditError(f"{tag_text(tag)} is not in the DICOM data dictionary")
    if vr == "SQ":
        return DataElement(tag, "SQ", DicomSequence([]))
    return DataElement(tag, vr, value_from_text(vr, ""))


_WORD_FORMATS = {"OW": "<H", "OF": "<f", "OD": "<d", "OL": "<I", "OV": "<Q"}
"""The binary VRs other than bytes, and the :mod:`struct` format of one of their values."""


def element_text(elem: DataElement | None) -> str:
    """The value of ``elem`` as the editor shows it: several values separated by a backslash,
    person names as ``Family^Given``, tags as ``(gggg,eeee)``, binary values as hexadecimal
    (OB/UN bytes ``01\\ff``, OW words ``0201``); "" for an empty or absent element or a sequence."""
    if elem is None or elem.VR == "SQ" or elem.value is None:
        return ""
    value = elem.value
    vr = elem.VR
    if vr in ("OB", "UN") or (isinstance(value, bytes) and vr not in BINARY_VRS):
        return "\\".join(f"{b:02x}" for b in bytes(value))
    if vr in BINARY_VRS:
        fmt = _WORD_FORMATS[vr]
        size = struct.calcsize(fmt)
        raw = bytes(value)
        numbers = [struct.unpack_from(fmt, raw, i)[0] for i in range(0, len(raw) - size + 1, size)]
        if vr == "OW":
            return "\\".join(f"{n:04x}" for n in numbers)
        return "\\".join(_number_text(n, vr) for n in numbers)
    values = list(value) if isinstance(value, (MultiValue, list, tuple)) else [value]
    if vr == "AT":
        return "\\".join(f"({int(t) >> 16:04x},{int(t) & 0xFFFF:04x})" for t in values)
    return "\\".join(_number_text(v, vr) for v in values)


LARGE_VALUE = 64 * 1024
"""A value longer than this (bytes of binary data, characters of text) is large: the editor shows
it abbreviated and read-only, and the text exports leave it out. Binary values as text are three
characters a byte (a 200 MB OB value would be 600 MB of hexadecimal text)."""
PREVIEW_BYTES = 16
"""Binary values longer than this are shown as their size and their first bytes."""
_OPEN, _CLOSE = "\u2039", "\u203a"  # single angle quotation marks around an abbreviated value


def value_size(elem: DataElement) -> int:
    """The size of ``elem``'s value without turning it into text: bytes of a binary value,
    characters of a text (several values counted with their separators); 0 for a sequence."""
    value = elem.value
    if value is None or elem.VR == "SQ":
        return 0
    if isinstance(value, (bytes, bytearray, str)):
        return len(value)
    if isinstance(value, (MultiValue, list, tuple)):
        return sum(len(str(v)) for v in value) + max(len(value) - 1, 0)
    return len(str(value))


def is_large(elem: DataElement) -> bool:
    """True when ``elem``'s value is over :data:`LARGE_VALUE` (see there)."""
    return value_size(elem) > LARGE_VALUE


def size_text(count: int) -> str:
    """A number of bytes as people read it: "512 bytes", "1.5 KB", "200.0 MB" (decimal units)."""
    if count < 1000:
        return f"{count} byte" + ("" if count == 1 else "s")
    size = float(count)
    for unit in ("KB", "MB", "GB"):
        size /= 1000
        if size < 1000 or unit == "GB":
            break
    return f"{size:.1f} {unit}"


def _is_binary(elem: DataElement) -> bool:
    return elem.VR in BINARY_VRS or isinstance(elem.value, (bytes, bytearray))


def value_preview(elem: DataElement | None, limit: int = 200) -> str:
    """The value of ``elem`` as a table shows it, never turning a long value into text: a binary
    value longer than :data:`PREVIEW_BYTES` as its size and first bytes between single angle
    quotation marks (e.g. "200.0 MB of OB data: 00 01 02 03 ..."), a text longer than ``limit``
    characters cut there (with the size of a large one); otherwise :func:`element_text`."""
    if elem is None or elem.VR == "SQ" or elem.value is None:
        return ""
    if _is_binary(elem):
        data = elem.value
        if len(data) <= PREVIEW_BYTES:
            return element_text(elem)
        head = bytes(memoryview(data)[:PREVIEW_BYTES]).hex(" ")
        return f"{_OPEN}{size_text(len(data))} of {elem.VR} data: {head} …{_CLOSE}"
    text = element_text(elem)
    if len(text) <= limit:
        return text
    if len(text) > LARGE_VALUE:
        return f"{text[:limit]}… {_OPEN}{len(text):,} characters{_CLOSE}"
    return text[:limit] + "…"


def large_values(ds: Dataset, prefix: str = "") -> list[str]:
    """Where ``ds`` (sequence items included) has a large value (:func:`is_large`), and how large,
    e.g. ``(0011,2000): 200.0 MB of OB data``."""
    found = []
    for elem in ds:
        if elem.VR == "SQ":
            for number, item in enumerate(elem.value or (), start=1):
                found += large_values(item, f"{element_where(prefix, elem)} item {number}: ")
        elif is_large(elem):
            what = f"{elem.VR} data" if _is_binary(elem) else f"{elem.VR} text"
            found.append(f"{element_where(prefix, elem)}: {size_text(value_size(elem))} of {what}")
    return found


def text_of(ds: Dataset, key: int | str | BaseTag) -> str:
    """:func:`element_text` of the element ``key`` (keyword or tag) of ``ds`` ("" when absent)."""
    tag = _resolve_tag(key)
    return element_text(ds[tag]) if tag in ds else ""


def _number_text(value: Any, vr: str) -> str:
    if value is None:
        return ""
    if vr in ("FL", "OF") and isinstance(value, float):
        return f"{value:.9g}"  # enough digits to give back the same 32-bit float
    if vr in ("FD", "OD") and isinstance(value, float):
        return repr(value)  # the shortest text giving back the same 64-bit float
    return str(value)


def _binary_format_reason(vr: str) -> str:
    if vr == "OW":
        return "OW values are hexadecimal words separated by a backslash, e.g. 0201\\0403"
    return f"{vr} values are hexadecimal bytes separated by a backslash, e.g. 01\\ff"


def _hex_values(text: str, digits: int, vr: str) -> list[int]:
    values = []
    for part in (p.strip() for p in text.split("\\")):
        if not re.fullmatch(f"[0-9a-fA-F]{{1,{digits}}}", part):
            raise ValueError(_binary_format_reason(vr))
        values.append(int(part, 16))
    return values


def binary_value_problem(vr: str, data: bytes) -> str | None:
    """Why ``data`` cannot be the value of a binary element of ``vr`` (OB and UN take any bytes,
    OW, OF, OD, OL and OV a whole number of their words), or None when it can."""
    size = struct.calcsize(_WORD_FORMATS[vr]) if vr in _WORD_FORMATS else 1
    if len(data) % size:
        return (f"{vr} values are {size}-byte words; {size_text(len(data))} is not a whole number "
                "of them")
    return None


def value_from_text(vr: str, text: str) -> Any:
    """The pydicom value for ``text`` typed for an element of ``vr`` (the inverse of
    :func:`element_text`); raises ValueError when the text cannot be converted. Text VRs are
    taken as given (see :func:`validate_value` for the checks)."""
    if text == "":
        return "" if vr in STRING_VRS else None
    if vr in SINGLE_VALUED_VRS:
        return text
    if vr in STRING_VRS:
        parts = text.split("\\")
        return parts[0] if len(parts) == 1 else parts
    if vr in ("OB", "UN"):
        return bytes(_hex_values(text, 2, vr))
    if vr == "OW":
        return b"".join(struct.pack(_WORD_FORMATS["OW"], w) for w in _hex_values(text, 4, vr))
    parts = text.split("\\")
    if vr in ("OF", "OD", "OL", "OV"):
        try:
            numbers: list[Any] = [float(p) if vr in ("OF", "OD") else int(p) for p in parts]
            return b"".join(struct.pack(_WORD_FORMATS[vr], n) for n in numbers)
        except (ValueError, struct.error):
            raise ValueError(f"{vr} values are numbers separated by a backslash") from None
    if vr in INT_RANGES:
        ints = [int(p.strip()) for p in parts]
        return ints[0] if len(ints) == 1 else ints
    if vr in FLOAT_VRS:
        floats = [float(p.strip()) for p in parts]
        return floats[0] if len(floats) == 1 else floats
    if vr == "AT":
        tags = [_parse_at(p) for p in parts]
        return tags[0] if len(tags) == 1 else tags
    raise ValueError(f"cannot set a value of VR {vr} from text")


def _parse_at(text: str) -> int:
    match = re.fullmatch(r"\s*\(?\s*([0-9a-fA-F]{4})\s*,?\s*([0-9a-fA-F]{4})\s*\)?\s*", text)
    if not match:
        raise ValueError("a tag is (gggg,eeee) in hexadecimal, e.g. (0010,0010)")
    return int(match.group(1), 16) << 16 | int(match.group(2), 16)


@dataclass(frozen=True)
class Parsed:
    """What a text typed for an element gives: the ``element``, or (None and) the ``problems``
    that keep it from being one."""

    element: DataElement | None
    problems: tuple[str, ...] = ()

    @property
    def reason(self) -> str | None:
        """The problems in one line, or None when there is an element."""
        return "; ".join(self.problems) if self.problems else None


def element_from_text(ds: Dataset, key: int | str | BaseTag, text: str, vr: str | None = None, *,
                      charset: Dataset | None = None, check: bool = True) -> Parsed:
    """The element ``key`` (keyword or tag) of ``ds`` holding ``text`` as the user typed it, or
    why it cannot be (reasons that do not name the attribute or where it is).

    The VR is ``vr``, else the element's in ``ds``, else the dictionary's. With ``check``, the
    text must fit the VR and the number of values the attribute allows (:func:`validate_element`)
    and, when ``charset`` is given (the dataset at the top of the file, whose Specific Character
    Set applies to ``ds``), that character set; SpecificCharacterSet itself in ``charset`` must be
    able to carry every text value there (:func:`encoding_problems`). A sequence never takes text.
    """
    tag = _resolve_tag(key)
    existing = ds.get(tag)
    chosen = vr or (existing.VR if existing is not None else _dictionary_vr(tag) or "UN")
    if check or chosen == "SQ":
        reason = validate_element(tag, text, chosen)
        if reason is not None:
            return Parsed(None, (reason,))
    if check and charset is not None:
        problems = _charset_problems(charset, text, tag, ds, chosen)
        if problems:
            return Parsed(None, tuple(problems))
    try:
        value = value_from_text(chosen, text)
    except ValueError as exc:
        return Parsed(None, (str(exc),))
    return Parsed(DataElement(tag, chosen, value, validation_mode=pydicom_config.IGNORE))


def _charset_problems(charset: Dataset, text: str, tag: BaseTag, ds: Dataset, vr: str) -> list[str]:
    """What keeps ``text`` from being the value of ``tag`` in ``ds`` as far as the character set
    of ``charset`` (the top-level dataset) goes."""
    if int(tag) == SPECIFIC_CHARACTER_SET and ds is charset:
        probe = Dataset()  # the dataset as it would be with the new character set
        for elem in charset:
            if int(elem.tag) != SPECIFIC_CHARACTER_SET:
                probe.add(elem)
        if text:
            probe.add(DataElement(SPECIFIC_CHARACTER_SET, "CS", value_from_text("CS", text)))
        return encoding_problems(probe)
    if vr in TEXT_VRS and text and not text.isascii():
        name = attribute_name(tag)
        parts = [text] if vr in SINGLE_VALUED_VRS else text.split("\\")
        problems = encoding_problems(charset, [(name, part) for part in parts])
        return [problems[0].removeprefix(f"{name}: ")] if problems else []
    return []


def set_element_text(ds: Dataset, key: int | str | BaseTag, text: str, vr: str | None = None, *,
                     check: bool = True) -> DataElement:
    """Set the element ``key`` (keyword or tag) of ``ds`` from the text the user typed, creating
    it when absent (:func:`element_from_text`, with ``check`` the VR checks but not the character
    set's); otherwise :class:`EditError` names the attribute and says why. Returns the element
    set."""
    tag = _resolve_tag(key)
    parsed = element_from_text(ds, tag, text, vr, check=check)
    if parsed.element is None:
        raise EditError(f"{keyword_for_tag(tag) or tag}: {parsed.reason}")
    ds[tag] = parsed.element
    return ds[tag]


# ----------------------------------------------------------------------------------------------
# Validation

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]")  # not TAB LF FF CR ESC
_TEXT_CONTROL = re.compile(r"[\x00-\x1a\x1c-\x1f\x7f]")  # in one-line strings: ESC only
_DA = "a date is YYYYMMDD, e.g. 20261127"
_TM = "a time is HHMMSS, HHMM or HH (24-hour clock, optional fraction .ffffff), e.g. 143000 or 1430"
_DT = ("a date and time is YYYYMMDDHHMMSS (later parts optional, optional fraction .ffffff and "
       "offset +HHMM), e.g. 20261127143000")


def _check_date(text: str) -> str | None:
    if not re.fullmatch(r"\d{8}", text):
        return _DA
    year, month, day = int(text[:4]), int(text[4:6]), int(text[6:])
    if year < 1 or not 1 <= month <= 12:
        return f"{text} is not a real date: {_DA}"
    days = calendar.monthrange(year, month)[1]
    if not 1 <= day <= days:
        return (f"{text} is not a real date: {calendar.month_name[month]} {year} has {days} days")
    return None


def date_value(text: str) -> str | None:
    """The DA value (YYYYMMDD) of a real date written YYYYMMDD or YYYY-MM-DD (spaces around it
    ignored), or None when ``text`` is not one."""
    match = re.fullmatch(r"(\d{4})(?:(\d{2})(\d{2})|-(\d{1,2})-(\d{1,2}))", text.strip())
    if not match:
        return None
    year, month, day = match.group(1), match.group(2) or match.group(4), match.group(3) or match.group(5)
    value = f"{year}{int(month):02d}{int(day):02d}"
    return value if _check_date(value) is None else None


def _check_time(text: str, what: str = _TM) -> str | None:
    match = re.fullmatch(r"(\d{2})(\d{2})?(\d{2})?(\.\d{1,6})?", text)
    if not match or (match.group(4) and not match.group(3)):
        return what
    hours, minutes, seconds = (int(g) if g else 0 for g in match.group(1, 2, 3))
    if hours > 23:
        return f"{text}: hours go from 00 to 23"
    if minutes > 59:
        return f"{text}: minutes go from 00 to 59"
    if seconds > 60:
        return f"{text}: seconds go from 00 to 59"
    return None


def _check_datetime(text: str) -> str | None:
    match = re.fullmatch(r"(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\.\d{1,6})?([+-]\d{4})?",
                         text)
    if not match:
        return _DT
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    if fraction and not second:
        return _DT
    if month and not 1 <= int(month) <= 12:
        return f"{text}: months go from 01 to 12"
    if day:
        reason = _check_date(year + month + day)
        if reason:
            return reason
    if hour:
        reason = _check_time(hour + (minute or "") + (second or "") + (fraction or ""))
        if reason:
            return reason
    if offset and not (-1200 <= int(offset) <= 1400 and int(offset[-2:]) < 60):
        return f"{text}: the UTC offset must be between -1200 and +1400"
    return None


def _check_number(text: str, vr: str) -> str | None:
    stripped = text.strip(" ")
    if vr == "IS":
        if not re.fullmatch(r"[+-]?\d+", stripped):
            return "a whole number, e.g. 42 or -7"
        if not -(2**31) <= int(stripped) <= 2**31 - 1:
            return "a whole number from -2147483648 to 2147483647"
    elif not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", stripped):
        return "a decimal number, e.g. 72.5, -3 or 1e-3"
    return None


def _check_uid(text: str) -> str | None:
    if not re.fullmatch(r"[0-9.]+", text):
        return "a UID has only digits and dots, e.g. 1.2.840.10008.5.1.4.31"
    for component in text.split("."):
        if not component:
            return "a UID is numbers separated by single dots, e.g. 1.2.840.10008.5.1.4.31"
        if len(component) > 1 and component.startswith("0"):
            return f"the UID component {component} has a leading zero (not allowed)"
    return None


def _check_person_name(text: str) -> str | None:
    groups = text.split("=")
    if len(groups) > 3:
        return "a person name has at most 3 groups separated by = (alphabetic=ideographic=phonetic)"
    for group in groups:
        if len(group.split("^")) > 5:
            return ("a person name has at most 5 parts separated by ^ "
                    "(family^given^middle^prefix^suffix)")
        if len(group) > 64:
            return "each group of a person name has at most 64 characters"
    if _TEXT_CONTROL.search(text):
        return "a person name cannot contain line breaks or control characters"
    return None


def _check_one(vr: str, text: str) -> str | None:
    """The reason one value (no backslash for multi-valued VRs) is invalid for ``vr``."""
    limit = _MAX_LENGTH.get(vr)
    if limit is not None and len(text) > limit:
        name = _VR_NAMES.get(vr, f"a {vr} value")
        return f"{name} has at most {limit} characters ({len(text)} given)"
    if vr == "DA":
        return _check_date(text)
    if vr == "TM":
        return _check_time(text)
    if vr == "DT":
        return _check_datetime(text)
    if vr == "PN":
        return _check_person_name(text)
    if vr == "CS":
        if not re.fullmatch(r"[A-Z0-9 _]*", text):
            return ("a code string has only upper-case letters A-Z, digits, spaces and "
                    "underscores, e.g. CT or ROUTINE")
        return None
    if vr == "AE":
        if not text.isascii() or _TEXT_CONTROL.search(text):
            return "an AE title has only plain ASCII letters, digits and symbols"
        if not text.strip(" "):
            return "an AE title cannot be only spaces"
        return None
    if vr == "AS":
        return None if re.fullmatch(r"\d{3}[DWMY]", text) else \
            "an age is three digits and D, W, M or Y (days, weeks, months, years), e.g. 045Y"
    if vr in ("DS", "IS"):
        return _check_number(text, vr)
    if vr == "UI":
        return _check_uid(text)
    if vr in ("SH", "LO", "UC"):
        if _TEXT_CONTROL.search(text):
            return "line breaks and control characters are not allowed here"
        return None
    if vr in ("ST", "LT", "UT"):
        return "control characters are not allowed (line breaks and tabs are)" \
            if _CONTROL.search(text) else None
    if vr == "UR":
        return "a URI cannot start with a space" if text.startswith(" ") else None
    if vr in INT_RANGES:
        low, high = INT_RANGES[vr]
        if not re.fullmatch(r"\s*[+-]?\d+\s*", text) or not low <= int(text) <= high:
            return f"a whole number from {low} to {high}"
        return None
    if vr in FLOAT_VRS or vr in ("OF", "OD"):
        try:
            float(text)
        except ValueError:
            return "a number, e.g. 1.5 or -2e-3"
        return None
    if vr in ("OL", "OV"):
        return None if re.fullmatch(r"\s*\d+\s*", text) else "a whole number, 0 or more"
    if vr in ("OB", "UN", "OW"):
        digits = 4 if vr == "OW" else 2
        if not re.fullmatch(f"[0-9a-fA-F]{{1,{digits}}}", text.strip()):
            return _binary_format_reason(vr)
        return None
    if vr == "AT":
        try:
            _parse_at(text)
        except ValueError as exc:
            return str(exc)
        return None
    return None


def validate_value(vr: str, text: str) -> str | None:
    """The reason ``text`` is not a valid value for ``vr``, in plain words, or None when it is.

    An empty text is valid (an empty value). Several values are separated by a backslash and each
    is checked, except for LT, ST, UT and UR, whose single value may contain backslashes.
    """
    vr = vr.upper()
    if vr not in KNOWN_VRS:
        return f"unknown value representation {vr!r}"
    if vr == "SQ":
        return "a sequence holds items, not a text value"
    if text == "":
        return None
    if vr in SINGLE_VALUED_VRS:
        return _check_one(vr, text)
    parts = text.split("\\")
    for number, part in enumerate(parts, start=1):
        if part == "" and vr not in STRING_VRS:
            return f"value {number} is empty (two backslashes in a row?)"
        reason = _check_one(vr, part)
        if reason is not None:
            return reason if len(parts) == 1 else f"value {number} ({part!r}): {reason}"
    return None


def _max_vm(tag: BaseTag) -> int | None:
    try:
        vm = dictionary_VM(tag)
    except KeyError:
        return None
    if "n" in vm:
        return None
    try:
        return int(vm.split("-")[-1])
    except ValueError:
        return None


def validate_element(key: int | str | BaseTag, text: str, vr: str | None = None) -> str | None:
    """:func:`validate_value` for the attribute ``key`` (keyword or tag), also checking the number
    of values the dictionary allows (e.g. Patient ID holds one value, so no backslash)."""
    tag = _resolve_tag(key)
    chosen = vr or _dictionary_vr(tag) or "UN"
    reason = validate_value(chosen, text)
    if reason is not None or text == "" or chosen in SINGLE_VALUED_VRS or chosen in BINARY_VRS:
        return reason
    count = len(text.split("\\"))
    limit = _max_vm(tag) if not tag.is_private else None
    if limit is not None and count > limit:
        if limit == 1:
            return "this attribute holds one value; a backslash (\\) separates values"
        return f"this attribute holds at most {limit} values ({count} given)"
    return None


@dataclass(frozen=True)
class ValueProblem:
    """A value that does not fit its VR: where (e.g. ``ScheduledProcedureStepSequence item 1:
    Modality``), the path of (tag, item index) steps to it, and the reason."""

    where: str
    path: tuple[tuple[int, int], ...]  # ((sequence tag, item index), ...) then (tag, -1)
    reason: str


def value_problems(ds: Dataset) -> list[ValueProblem]:
    """Every value of ``ds`` (sequence items included) that does not fit its VR or the number of
    values its attribute allows; group lengths and binary values are not checked."""
    found: list[ValueProblem] = []
    _collect_value_problems(ds, "", (), found)
    return found


def _collect_value_problems(ds: Dataset, prefix: str, path: tuple[tuple[int, int], ...],
                            found: list[ValueProblem]) -> None:
    for elem in ds:
        tag = elem.tag
        if tag.element == 0:
            continue
        if elem.VR == "SQ":
            for index, item in enumerate(elem.value or ()):
                _collect_value_problems(item, f"{element_where(prefix, elem)} item {index + 1}: ",
                                        (*path, (int(tag), index)), found)
            continue
        if elem.VR in BINARY_VRS or elem.VR not in KNOWN_VRS:
            continue
        reason = validate_element(tag, element_text(elem), elem.VR)
        if reason is not None:
            found.append(ValueProblem(element_where(prefix, elem), (*path, (int(tag), -1)), reason))


def worklist_problems(ds: Dataset) -> list[str]:
    """What makes modalities (and wlmscpfs) drop this entry: missing or empty keys of PS3.4 Table
    K.6-1, in plain words ([] when the entry is complete)."""
    return missing_keys(Node.from_dataset(ds))

def element_where(prefix: str, elem: DataElement) -> str:
    name = elem.keyword or tag_text(elem.tag)
    return f"{prefix}{name}"


# ----------------------------------------------------------------------------------------------
# What the character set can carry


def element_texts(elem: DataElement, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(where, text) of every text value in ``elem`` (sequences included)."""
    if elem.VR == "SQ":
        for number, item in enumerate(elem.value or (), start=1):
            for child in item:
                yield from element_texts(child, f"{element_where(prefix, elem)} item {number}: ")
    elif elem.VR in TEXT_VRS and elem.value is not None:
        values = elem.value if isinstance(elem.value, (list, MultiValue)) else [elem.value]
        for value in values:
            if str(value):
                yield element_where(prefix, elem), str(value)


def _charset_name(terms: Sequence[str]) -> str:
    shown = "\\".join(terms)
    return shown if shown.strip() else "the default character set (ASCII)"


def unwritable_character(text: str, terms: Sequence[str]) -> str | None:
    """The first character of ``text`` that the character set ``terms`` (defined terms, see
    :func:`wldesk.core.dicom.charsets.is_valid`) cannot carry; None when all of them fit."""
    terms = terms if any(terms) else [""]
    default = is_default(terms)
    if text.isascii() or (not default and can_encode([text], terms)):
        return None
    return next((c for c in text if not c.isascii() and (default or not can_encode([c], terms))),
                text[0])


def encoding_problems(ds: Dataset, texts: Sequence[tuple[str, str]] | None = None) -> list[str]:
    """Text that ``ds``'s Specific Character Set cannot carry: one message per value, naming the
    attribute and the first character that does not fit. ``texts`` restricts the check to some
    (where, text) pairs; by default every text value of ``ds`` is checked."""
    terms = charset_terms(ds.get("SpecificCharacterSet"))
    terms = terms if any(terms) else [""]
    if texts is None:
        texts = [pair for elem in ds for pair in element_texts(elem)]
    if not can_encode([], terms):
        if any(not text.isascii() for _, text in texts):
            return [f"SpecificCharacterSet (0008,0005) {_charset_name(terms)} is not a character "
                    "set wldesk knows; use ISO_IR 192 (UTF-8)"]
        return []
    problems = []
    for where, text in texts:
        bad = unwritable_character(text, terms)
        if bad is None:
            continue
        problems.append(f"{where}: the character {bad!r} (U+{ord(bad):04X}) cannot be written in "
                        f"{_charset_name(terms)}; change SpecificCharacterSet to ISO_IR 192 "
                        "(UTF-8) or remove the character")
    return problems
