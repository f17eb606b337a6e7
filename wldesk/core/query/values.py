"""Value matching per VR (PS3.4 C.2.2.2): single values, wildcards, ranges of dates and times."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

from pydicom.dataelem import DataElement
from pydicom.multival import MultiValue

from wldesk.core.dicom.vr import NUMERIC_VRS, describe_tag

WILDCARD_VRS = frozenset({"AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT"})
_TRAILING_ONLY_VRS = frozenset({"ST", "LT", "UT", "UC", "UR"})

ValueTest = Callable[[Any], bool]


class QueryError(ValueError):
    """The query cannot be processed (e.g. a date key that is not a date); names the attribute."""

    def __init__(self, message: str, tag: int | None = None, value: Any = None) -> None:
        super().__init__(message)
        self.tag = tag
        self.value = value

    @property
    def redacted(self) -> str:
        """The message with the offending value (possibly patient data) left out, for logs."""
        text = str(self)
        return text.replace(repr(self.value), "<redacted>") if self.value is not None else text


# --- values --------------------------------------------------------------------------------------

def element_values(elem: DataElement | None) -> list[Any]:
    """The non-empty values of an element (a multi-valued element gives each of its values)."""
    if elem is None or elem.value is None:
        return []
    raw = elem.value
    values = list(raw) if isinstance(raw, (list, MultiValue)) else [raw]
    return [v for v in values if v is not None and str(v).strip(" \0") != ""]


def normalize_text(value: Any, vr: str) -> str:
    """A text value as compared: padding removed, spaces trimmed (trailing only for long texts)."""
    text = str(value).replace("\0", "")
    return text.rstrip(" ") if vr in _TRAILING_ONLY_VRS else text.strip(" ")


def _pn_groups(value: Any) -> list[str]:
    """Normalise a person name: component groups, each with its components trimmed, case-folded."""
    groups = []
    for group in str(value).split("="):
        components = [c.strip(" ") for c in group.split("^")]
        while components and not components[-1]:
            components.pop()
        groups.append("^".join(components).casefold())
    while len(groups) > 1 and not groups[-1]:
        groups.pop()
    return groups


def _wildcard_regex(pattern: str, flags: int = 0) -> re.Pattern[str]:
    parts = ("." if ch == "?" else ".*" if ch == "*" else re.escape(ch) for ch in pattern)
    return re.compile("".join(parts), re.DOTALL | flags)


def is_universal_value(value: Any, vr: str) -> bool:
    if vr == "PN":
        return all(c in ("", "*") for g in _pn_groups(value) for c in g.split("^"))
    return normalize_text(value, vr) in ("", "*")


# --- dates and times -----------------------------------------------------------------------------

_DA_RE = re.compile(r"^(\d{4})\.?(\d{2})\.?(\d{2})$")
_TM_RE = re.compile(r"^(\d{2})(?::?(\d{2})(?::?(\d{2})(?:\.(\d{1,6}))?)?)?$")
_DT_CORE = r"\d{4}(?:\d{2}(?:\d{2}(?:\d{2}(?:\d{2}(?:\d{2}(?:\.\d{1,6})?)?)?)?)?)?(?:[+-]\d{4})?"
_DT_RE = re.compile(rf"^({_DT_CORE})?(-)?({_DT_CORE})?$")
_DAY = timedelta(days=1)
_TICK = timedelta(microseconds=1)


def parse_date(text: str) -> date | None:
    match = _DA_RE.match(text.strip())
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def parse_time(text: str) -> tuple[time, time] | None:
    """A TM value as the interval it covers: ``10`` is 10:00:00 to 10:59:59.999999."""
    match = _TM_RE.match(text.strip())
    if not match:
        return None
    hour, minute, second, fraction = match.groups()
    try:
        low = time(int(hour), int(minute or 0), int(min(int(second or 0), 59)),
                   int((fraction or "0").ljust(6, "0")))
    except ValueError:
        return None
    if fraction is not None:
        span = timedelta(microseconds=10 ** (6 - len(fraction)))
    else:
        span = timedelta(seconds=1 if second else 60 if minute else 3600)
    high = (datetime.combine(date.min, low) + span - _TICK).time()
    return low, high


def parse_datetime(text: str) -> tuple[datetime, datetime] | None:
    """A DT value as the interval it covers; a UTC offset suffix is ignored."""
    core = re.sub(r"[+-]\d{4}$", "", text.strip()) if len(text.strip()) > 4 else text.strip()
    if not re.fullmatch(r"\d{4}(\d{2}){0,5}(\.\d{1,6})?", core):
        return None
    digits, _, fraction = core.partition(".")
    parts = [int(digits[:4])] + [int(digits[i:i + 2]) for i in range(4, len(digits), 2)]
    fields = parts[1:]
    year, month, day, hour, minute, second = parts + [1, 1, 0, 0, 0][len(fields):]
    try:
        low = datetime(year, month, day, hour, minute, second,
                       int(fraction.ljust(6, "0")) if fraction else 0)
    except ValueError:
        return None
    if fraction:
        high = low + timedelta(microseconds=10 ** (6 - len(fraction))) - _TICK
    elif len(fields) == 0:
        high = low.replace(year=low.year + 1) - _TICK if low.year < 9999 else datetime.max
    elif len(fields) == 1:
        high = (low.replace(day=28) + timedelta(days=4)).replace(day=1) - _TICK
    else:
        span = {2: _DAY, 3: timedelta(hours=1), 4: timedelta(minutes=1), 5: timedelta(seconds=1)}
        high = low + span[len(fields)] - _TICK
    return low, high


Bounds = tuple[Any, Any]  # (low or None, high or None), both inclusive


def _range_parts(text: str) -> tuple[str, str | None]:
    """Split ``a-b`` / ``a-`` / ``-b`` / ``a`` into (a, b) with b None for a single value."""
    if "-" not in text:
        return text, None
    low, _, high = text.partition("-")
    return low, high


def range_form(text: str) -> tuple[bool, bool, bool]:
    """(is a range, has a lower bound, has an upper bound) of a DA/TM key value."""
    low, high = _range_parts(text.strip())
    return high is not None, bool(low), high is None or bool(high)


def _interval_bounds(text: str, tag: int, parse: Callable[[str], tuple[Any, Any] | None],
                     expected: str) -> Bounds:
    """Bounds of a single value (the interval it covers) or of a range ``a-b``, ``a-``, ``-b``."""
    low_text, high_text = _range_parts(text.strip())

    def one(part: str) -> tuple[Any, Any] | None:
        if not part:
            return None
        value = parse(part)
        if value is None:
            raise QueryError(f"{describe_tag(tag)}: {text!r} is not {expected}", tag, text)
        return value

    low = one(low_text)
    if high_text is None:
        return (low[0], low[1]) if low else (None, None)
    high = one(high_text)
    return (low[0] if low else None, high[1] if high else None)


def _date_interval(text: str) -> tuple[date, date] | None:
    day = parse_date(text)
    return None if day is None else (day, day)


def date_bounds(text: str, tag: int) -> Bounds:
    return _interval_bounds(text, tag, _date_interval,
                            "a date or date range (YYYYMMDD, YYYYMMDD-YYYYMMDD)")


def time_bounds(text: str, tag: int) -> Bounds:
    return _interval_bounds(text, tag, parse_time, "a time or time range (HHMMSS, HHMM-HHMM)")


def _datetime_bounds(text: str, tag: int) -> Bounds:
    match = _DT_RE.match(text.strip())
    if not match or not (match[1] or match[3]):
        raise QueryError(f"{describe_tag(tag)}: {text!r} is not a date-time or date-time range",
                         tag, text)
    low = parse_datetime(match[1]) if match[1] else None
    high = parse_datetime(match[3]) if match[3] else None
    if (match[1] and low is None) or (match[3] and high is None):
        raise QueryError(f"{describe_tag(tag)}: {text!r} is not a date-time or date-time range",
                         tag, text)
    if not match[2]:
        return (low[0], low[1]) if low else (None, None)
    return (low[0] if low else None, high[1] if high else None)


def in_bounds(point: Any, bounds: Bounds) -> bool:
    low, high = bounds
    return (low is None or point >= low) and (high is None or point <= high)


def entity_date(value: Any) -> date | None:
    return parse_date(str(value))


def entity_time(value: Any) -> time | None:
    parsed = parse_time(str(value))
    return parsed[0] if parsed else None


def _entity_datetime(value: Any) -> datetime | None:
    parsed = parse_datetime(str(value))
    return parsed[0] if parsed else None


# --- value tests per VR --------------------------------------------------------------------------

def value_test(value: Any, vr: str, tag: int) -> ValueTest:
    """A test of one entity value against one (non-universal) key value."""
    if vr == "DA":
        bounds = date_bounds(str(value), tag)
        return lambda v: (d := entity_date(v)) is not None and in_bounds(d, bounds)
    if vr == "TM":
        bounds = time_bounds(str(value), tag)
        if bounds[0] is not None and bounds[1] is not None and bounds[0] > bounds[1]:
            return lambda v: False  # PS3.4: a time range does not cross midnight
        return lambda v: (t := entity_time(v)) is not None and in_bounds(t, bounds)
    if vr == "DT":
        bounds = _datetime_bounds(str(value), tag)
        return lambda v: (d := _entity_datetime(v)) is not None and in_bounds(d, bounds)
    if vr == "PN":
        key_groups = _pn_groups(value)
        regexes = [_wildcard_regex(g) for g in key_groups]
        if len(regexes) == 1:  # one group asked: any group of the entity name may match it
            return lambda v: any(regexes[0].fullmatch(g) for g in _pn_groups(v))
        def groups_match(v: Any) -> bool:
            groups = _pn_groups(v)
            groups += [""] * (len(regexes) - len(groups))
            return all(not key or rx.fullmatch(g)
                       for key, rx, g in zip(key_groups, regexes, groups, strict=False))
        return groups_match
    if vr in NUMERIC_VRS:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise QueryError(f"{describe_tag(tag)}: {value!r} is not a number", tag, value) from None
        def numeric(v: Any) -> bool:
            try:
                return float(v) == number
            except (TypeError, ValueError):
                return False
        return numeric
    if isinstance(value, bytes):
        return lambda v: v == value
    key = normalize_text(value, vr)
    if vr == "UI":
        return lambda v: normalize_text(v, vr) == key
    if vr in WILDCARD_VRS and ("*" in key or "?" in key):
        regex = _wildcard_regex(key)
        return lambda v: regex.fullmatch(normalize_text(v, vr)) is not None
    return lambda v: normalize_text(v, vr) == key
