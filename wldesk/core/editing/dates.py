"""Dates and times as spreadsheets and people write them, turned into DICOM's DA and TM values.

The rule for dates (:func:`parse_date`):

- ``YYYYMMDD`` and ``YYYY-MM-DD`` (also ``YYYY/MM/DD`` and ``YYYY.MM.DD``) are always understood.
- ``DD.MM.YYYY`` (dots) is always day first, as everywhere dots are written.
- ``NN/NN/YYYY`` and ``NN-NN-YYYY`` are day first or month first by the date order: ``DMY``
  (31/03/2024), ``MDY`` (03/31/2024), or the computer's (:func:`system_date_order`). When the
  order is not known (a computer set to no country, or to one writing the year first) such a date
  is accepted only when it can be read one way (31/03/2024); 03/04/2024 is refused with the reason,
  never guessed.
- Two-digit years are refused: 03/04/24 could be any century.
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
from datetime import date

DATE_ORDERS = ("auto", "DMY", "MDY")
"""The values of a date order: the computer's, day first, month first."""

# Countries writing the month first (CLDR's short date patterns M/d/y)
_MONTH_FIRST = frozenset({"US", "PR", "PH", "FM", "MH", "PW", "GU", "AS", "VI", "UM", "BZ"})
# Countries writing the year first: their day and month order after it is no rule for NN/NN/YYYY
_YEAR_FIRST = frozenset({"CN", "JP", "KR", "KP", "TW", "HU", "LT", "MN", "SE", "CA", "IR", "ZA"})


class DateError(ValueError):
    """A text that is not a date, or not one date only; the message says why."""


def system_date_order() -> str | None:
    """``DMY`` or ``MDY`` as this computer writes dates (Windows: the user's regional format;
    elsewhere: the country of LC_ALL, LC_TIME or LANG), None when it does not tell."""
    if sys.platform == "win32":
        buffer = ctypes.create_unicode_buffer(8)
        # LOCALE_NAME_USER_DEFAULT (NULL), LOCALE_IDATE: 0 month-day-year, 1 day-month-year
        if ctypes.windll.kernel32.GetLocaleInfoEx(None, 0x21, buffer, 8):
            return {"0": "MDY", "1": "DMY"}.get(buffer.value)
        return None
    for name in ("LC_ALL", "LC_TIME", "LANG"):
        value = os.environ.get(name, "")
        if value:
            return locale_date_order(value)
    return None


def locale_date_order(locale_name: str) -> str | None:
    """The date order of a POSIX locale name such as ``en_US.UTF-8`` (None: C, POSIX, no country,
    or a country writing the year first)."""
    match = re.match(r"[A-Za-z]{2,3}_([A-Za-z]{2})", locale_name)
    if not match:
        return None
    country = match.group(1).upper()
    if country in _MONTH_FIRST:
        return "MDY"
    return None if country in _YEAR_FIRST else "DMY"


def _real(year: int, month: int, day: int, text: str) -> str:
    try:
        return date(year, month, day).strftime("%Y%m%d")
    except ValueError:
        raise DateError(f"{text!r} is not a real date") from None


def parse_date(text: str, order: str = "auto") -> str:
    """The DA value (YYYYMMDD) of ``text`` written as the module documentation says; ``order``
    is one of :data:`DATE_ORDERS`. Raises :class:`DateError` saying why otherwise."""
    value = text.strip()
    if order not in DATE_ORDERS:
        raise ValueError(f"unknown date order {order!r}")
    if match := re.fullmatch(r"(\d{4})(\d{2})(\d{2})", value):
        return _real(int(match[1]), int(match[2]), int(match[3]), value)
    if match := re.fullmatch(r"(\d{4})([-/.])(\d{1,2})\2(\d{1,2})", value):
        return _real(int(match[1]), int(match[3]), int(match[4]), value)
    if match := re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{4})", value):
        return _real(int(match[3]), int(match[2]), int(match[1]), value)
    match = re.fullmatch(r"(\d{1,2})([/-])(\d{1,2})\2(\d{2}|\d{4})", value)
    if not match:
        raise DateError(f"{value!r} is not a date: write it as YYYY-MM-DD, e.g. 2026-03-31")
    if len(match[4]) == 2:
        raise DateError(f"{value!r} has a two-digit year: write the year in full")
    first, second, year = int(match[1]), int(match[3]), int(match[4])
    known = system_date_order() if order == "auto" else order
    if known is None:
        if first > 12 >= second:
            known = "DMY"
        elif second > 12 >= first:
            known = "MDY"
        elif first != second:
            raise DateError(
                f"{value!r} could be day first or month first: write it as YYYY-MM-DD, or set "
                "the date order in Settings")
        else:
            known = "DMY"  # 03/03/2024 is the same date either way
    day, month = (first, second) if known == "DMY" else (second, first)
    return _real(year, month, day, value)


def parse_time(text: str) -> str:
    """The TM value (HHMMSS) of ``text``: ``HH:MM``, ``HH:MM:SS``, ``HHMM``, ``HHMMSS`` or ``H.MM``,
    optionally followed by AM or PM. Raises :class:`DateError` saying why otherwise."""
    value = text.strip()
    match = re.fullmatch(r"(\d{1,2})(?:[:.](\d{2})(?:[:.](\d{2}))?)?\s*([AaPp][Mm])?", value) \
        or re.fullmatch(r"(\d{2})(\d{2})(\d{2})?()", value)
    if not match or (match[2] is None and not match[4]):
        raise DateError(f"{value!r} is not a time: write it as HH:MM, e.g. 09:30")
    hour, minute, second = int(match[1]), int(match[2] or 0), int(match[3] or 0)
    half = (match[4] or "").upper()
    if half:
        if not 1 <= hour <= 12:
            raise DateError(f"{value!r} is not a time: with AM or PM the hour is 1 to 12")
        hour = hour % 12 + (12 if half == "PM" else 0)
    if hour > 23 or minute > 59 or second > 59:
        raise DateError(f"{value!r} is not a time of day")
    return f"{hour:02d}{minute:02d}{second:02d}"
