"""OB/GYN values (LMP from the due date, pregnancy status) and names in several scripts."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from wldesk.core.editing.document import load_document, new_document
from wldesk.core.editing.entries import (
    JAPANESE_CHARSET,
    KOREAN_CHARSET,
    name_charset,
    name_in_scripts,
    new_entry,
    save_new_entry,
)
from wldesk.core.editing.errors import EditError
from wldesk.core.editing.obgyn import (
    edd_from_lmp,
    lmp_from_edd,
    obgyn_template,
    pregnancy_status_value,
)


def test_lmp_is_280_days_before_the_due_date() -> None:
    assert lmp_from_edd(date(2026, 10, 8)) == date(2026, 1, 1)
    assert lmp_from_edd(date(2024, 12, 5)) == date(2024, 2, 29)  # across a leap day
    assert edd_from_lmp(lmp_from_edd(date(2027, 3, 1))) == date(2027, 3, 1)


@pytest.mark.parametrize(("text", "value"), [
    ("1", "1"), ("Not pregnant", "1"), ("no", "1"), ("possibly", "2"), ("3", "3"),
    ("Definitely  pregnant", "3"), ("yes", "3"), ("unknown", "4")])
def test_pregnancy_status_in_words(text: str, value: str) -> None:
    assert pregnancy_status_value(text) == value


@pytest.mark.parametrize("text", ["5", "0", "maybe", ""])
def test_pregnancy_status_refused(text: str) -> None:
    with pytest.raises(ValueError, match="1 not pregnant"):
        pregnancy_status_value(text)


def test_an_obgyn_entry_holds_lmp_and_pregnancy_status(tmp_path: Path) -> None:
    template = obgyn_template()
    template.LastMenstrualDate = "20260101"
    template.PregnancyStatus = 3
    ds = new_entry(template=template, patient_name="Roe^Jane", patient_id="P1",
                   station_aet="US1")
    saved = load_document(save_new_entry(new_document(ds), tmp_path)).dataset
    assert (saved.LastMenstrualDate, saved.PregnancyStatus) == ("20260101", 3)
    assert saved.ScheduledProcedureStepSequence[0].Modality == "US"
    template.LastMenstrualDate = "2026-13-01"
    with pytest.raises(EditError, match="LastMenstrualDate"):
        new_entry(template=template, patient_name="Roe^Jane", patient_id="P1",
                  station_aet="US1")


def test_names_in_several_scripts(tmp_path: Path) -> None:
    name = name_in_scripts("Yamada^Tarou", "山田^太郎", "やまだ^たろう")
    assert name == "Yamada^Tarou=山田^太郎=やまだ^たろう"
    assert name_in_scripts("Doe^John") == "Doe^John"
    assert name_in_scripts("Kim^Minsu", "金^民洙") == "Kim^Minsu=金^民洙"
    assert name_charset(name) == JAPANESE_CHARSET
    assert name_charset("Hong^Gildong=洪^吉童=홍^길동") == KOREAN_CHARSET
    assert name_charset("Müller^José") is None  # no other script: the chosen set stays
    assert name_charset("Haddad=حداد") == "ISO_IR 192"
    for text, charset in ((name, JAPANESE_CHARSET), ("Hong^Gildong=洪^吉童=홍^길동", KOREAN_CHARSET)):
        ds = new_entry(patient_name=text, patient_id="P1", modality="US", station_aet="US1",
                       requested_procedure_description="Ultrasound", charset=charset)
        saved = save_new_entry(new_document(ds), tmp_path)
        assert b"\x1b$B" in saved.read_bytes() or b"\x1b$)C" in saved.read_bytes()  # ISO 2022
        again = load_document(saved).dataset
        assert str(again.PatientName) == text and again.SpecificCharacterSet == charset.split("\\")
    with pytest.raises(EditError, match="PatientName"):  # hangul does not fit the Japanese set
        new_entry(patient_name="Hong=홍", patient_id="P1", modality="US", station_aet="US1",
                  requested_procedure_description="Ultrasound", charset=JAPANESE_CHARSET)
