"""The shaping of answers by a profile, without the network: transliteration, strict dates and times,
the strict rules' verdict on an entry, and the preview of the Settings tab."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom.sequence import Sequence

from tests.helpers.samples import step, worklist_dataset, write_wl
from wldesk.core.dicom.node import Node
from wldesk.core.dicom.wlfile import parse_bytes
from wldesk.core.profile import Profile
from wldesk.core.query.profiles import preview, transliterate
from wldesk.core.query.strict import normal_date, normal_time, strict_problems


@pytest.mark.parametrize(("text", "charset", "expected"), [
    ("Müller", "ascii", "Muller"), ("Ødegård", "ascii", "Odegard"), ("Straße", "ascii", "Strasse"),
    ("Müller", "ISO_IR 100", "Müller"), ("Łukasz José", "ISO_IR 100", "Lukasz José"),
    ("山田^太郎", "ascii", "ShanTian^TaiLang"), ("Łukasz", "ISO_IR 192", "Łukasz"),
    ("\ue000", "ascii", "U+E000"),  # no transliteration: never dropped
    ("a\uff3cb", "ascii", "a/b"),  # a fullwidth backslash must not split the value
])
def test_transliteration(text: str, charset: str, expected: str) -> None:
    assert transliterate(text, charset) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("0930", "093000"), ("09", "090000"), ("093015.123", "093015"), ("09:30", "093000"),
    ("235960", "235959"), ("2460", None), ("9h30", None), ("", None),
])
def test_normal_time(text: str, expected: str | None) -> None:
    assert normal_time(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("20240102", "20240102"), ("2024.01.02", "20240102"), ("2024-01-02", "20240102"),
    ("20240230", None), ("2024012", None),
])
def test_normal_date(text: str, expected: str | None) -> None:
    assert normal_date(text) == expected


def node_of(tmp_path: Path, **values: object) -> tuple[Node, tuple[str, ...]]:
    values.setdefault("SpecificCharacterSet", "ISO_IR 192")
    path = write_wl(tmp_path / "e.wl", worklist_dataset("Łukasz^José", **values))
    parsed = parse_bytes(path.read_bytes())
    return parsed.node, parsed.charset


def test_strict_problems_name_each_rule_without_values(tmp_path: Path) -> None:
    node, _ = node_of(tmp_path, PatientID=None, PatientBirthDate="1970-13-01",
                      ScheduledProcedureStepSequence=Sequence([
                          step(), step(ScheduledStationAETitle=None,
                                       ScheduledProcedureStepStartTime="later")]))
    assert strict_problems(node) == (
        "no PatientID", "step 2 has no ScheduledStationAETitle",
        "step 2 ScheduledProcedureStepStartTime is not a time", "PatientBirthDate is not a date")
    good, _ = node_of(tmp_path)
    assert strict_problems(good) == ()


def test_preview_shows_the_answer_in_the_profiles_charset_and_why_it_is_late(
        tmp_path: Path) -> None:
    node, charset = node_of(tmp_path, RequestedProcedureID=None)
    plain = preview(node, charset, Profile())
    assert plain.verdict == "Sent." and "[Łukasz^José]" in plain.text()
    assert "(0008,0005) CS [ISO_IR 192]" in plain.text()
    strict = preview(node, charset, Profile(charset="ascii", strict=True))
    assert "(0010,0010) PN [Lukasz^Jose]  # PatientName" in strict.text()
    assert "(0008,0005)" not in strict.text() and "[093000]" in strict.text()
    assert "(0010,21C0) US (empty)  # PregnancyStatus" in strict.text()  # requested, filled empty
    assert strict.verdict == ("Sent after every entry that passes the strict rules, because of: "
                              "no RequestedProcedureID.")
    held = preview(node, charset, Profile(strict=True, withhold_invalid=True))
    assert held.answers == () and held.text() == ""
    assert held.verdict.startswith("Withheld: a strict modality would refuse it")
