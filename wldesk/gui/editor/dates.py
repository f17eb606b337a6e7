"""Dates as people type them in the editor: DICOM's YYYYMMDD, YYYY-MM-DD, or the way the computer
writes dates (its locale's short and long formats, e.g. 31/03/2024 in the United Kingdom, 3/31/24
in the United States), turned into the YYYYMMDD a DA value holds."""

from __future__ import annotations

from PySide6.QtCore import QDate, QLocale

from wldesk.core.editing.values import date_value

_FORMATS = (QLocale.FormatType.ShortFormat, QLocale.FormatType.LongFormat)
_TWO_DIGIT_YEARS_BACK = 90
"""A two-digit year (3/31/24) is taken within the 90 years before this one and the 9 after it."""


def typed_date(text: str) -> str | None:
    """The YYYYMMDD of a date typed as YYYYMMDD, YYYY-MM-DD or in the locale's short or long
    format (``QLocale()``); None when ``text`` is none of these (or not a real date)."""
    found = date_value(text)
    if found is not None:
        return found
    locale = QLocale()
    base_year = QDate.currentDate().year() - _TWO_DIGIT_YEARS_BACK
    for kind in _FORMATS:
        date = locale.toDate(text.strip(), kind, base_year)
        if date.isValid():
            return f"{date.year():04d}{date.month():02d}{date.day():02d}"
    return None


def typed_dates(text: str) -> str:
    """``text`` typed for a DA element with each of its values (separated by a backslash) that
    :func:`typed_date` understands turned into YYYYMMDD; other values are left as typed (so that
    the VR check says why they are not dates)."""
    if not text:
        return text
    return "\\".join(typed_date(part) or part for part in text.split("\\"))


def date_hint() -> str:
    """The other ways of typing a date, in the locale's own format: for messages."""
    example = QLocale().toString(QDate(2026, 11, 27), QLocale.FormatType.ShortFormat)
    return f"2026-11-27 or {example} work too"
