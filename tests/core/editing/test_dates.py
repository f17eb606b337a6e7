"""Dates and times as spreadsheets write them: the documented rule, ambiguous dates refused."""

from __future__ import annotations

import pytest

from wldesk.core.editing.dates import (
    DateError,
    locale_date_order,
    parse_date,
    parse_time,
    system_date_order,
)


@pytest.mark.parametrize(("text", "order", "expected"), [
    ("20260331", "auto", "20260331"),
    ("2026-03-31", "MDY", "20260331"),
    ("2026/3/1", "DMY", "20260301"),
    ("31.03.2026", "MDY", "20260331"),  # dots are always day first
    ("1.2.2026", "auto", "20260201"),
    ("31/03/2026", "DMY", "20260331"),
    ("03/31/2026", "MDY", "20260331"),
    ("03/04/2026", "DMY", "20260403"),
    ("03/04/2026", "MDY", "20260304"),
    ("3-4-2026", "DMY", "20260403"),
    (" 31/03/2026 ", "auto", "20260331"),  # only one reading: taken whatever the order
    ("03/31/2026", "auto", "20260331"),
    ("05/05/2026", "auto", "20260505"),  # the same date either way
])
def test_dates_the_documented_ways(text: str, order: str, expected: str,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LC_ALL", "LC_TIME", "LANG"):
        monkeypatch.delenv(name, raising=False)
    assert parse_date(text, order) == expected


@pytest.mark.parametrize(("text", "order", "reason"), [
    ("03/04/2026", "auto", "could be day first or month first"),
    ("31/03/2026", "MDY", "not a real date"),
    ("2026-02-30", "auto", "not a real date"),
    ("03/04/26", "DMY", "two-digit year"),
    ("tomorrow", "auto", "not a date"),
    ("2026-03-31T10:00", "auto", "not a date"),
    ("", "auto", "not a date"),
])
def test_dates_refused_with_the_reason(text: str, order: str, reason: str,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LC_ALL", "LC_TIME", "LANG"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(DateError, match=reason):
        parse_date(text, order)


def test_the_computers_date_order_comes_from_its_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    assert locale_date_order("en_US.UTF-8") == "MDY"
    assert locale_date_order("en_GB.UTF-8") == "DMY"
    assert locale_date_order("de_DE@euro") == "DMY"
    assert locale_date_order("ja_JP.UTF-8") is None  # year first: no rule for NN/NN/YYYY
    assert locale_date_order("C.UTF-8") is None
    assert locale_date_order("POSIX") is None
    for name in ("LC_ALL", "LC_TIME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    assert system_date_order() == "MDY"
    assert parse_date("03/04/2026") == "20260304"
    monkeypatch.setenv("LC_TIME", "fr_FR.UTF-8")
    assert parse_date("03/04/2026") == "20260403"


@pytest.mark.parametrize(("text", "expected"), [
    ("09:30", "093000"), ("9:30", "093000"), ("09:30:15", "093015"), ("0930", "093000"),
    ("093015", "093015"), ("9.30", "093000"), ("2:05 PM", "140500"), ("12:00 am", "000000"),
    ("3 pm", "150000"), ("23:59", "235900"),
])
def test_times(text: str, expected: str) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize("text", ["24:00", "9", "13:00 PM", "09:60", "noon", "", "9:3"])
def test_times_refused(text: str) -> None:
    with pytest.raises(DateError):
        parse_time(text)
