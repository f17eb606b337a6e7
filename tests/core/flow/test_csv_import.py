"""CSV import without a folder to watch: reading a file whole (encodings, separators, the header
mapping, each row's problems), writing its good rows idempotently, and the report."""

from __future__ import annotations

import json
from pathlib import Path

import pydicom
import pytest

from wldesk.core.events import EventBus, InputEvent
from wldesk.core.flow.csv_import import (
    DEFAULT_HEADERS,
    column_keyword,
    import_rows,
    load_mapping,
    read_csv,
    report_text,
)
from wldesk.core.flow.ledger import Ledger

HEADER = "Patient name;Patient ID;Birth date;Sex;Accession;Modality;Station;Date;Time;Description"
GOOD = "Müller, José;P1;31.12.1970;male;A1;CT;CT1;2026-05-01;09:30;CT head"


def csv_bytes(*rows: str, header: str = HEADER, encoding: str = "utf-8") -> bytes:
    return ("\r\n".join([header, *rows]) + "\r\n").encode(encoding)


@pytest.fixture
def mapping() -> dict[str, str]:
    return load_mapping(None)


@pytest.mark.parametrize(("encoding", "prefix", "named"), [
    ("utf-8", b"", "UTF-8"), ("utf-8", b"\xef\xbb\xbf", "UTF-8 with byte order mark"),
    ("cp1252", b"", "Windows-1252"), ("utf-16", b"", "UTF-16")])
def test_encodings(encoding: str, prefix: bytes, named: str, mapping: dict[str, str]) -> None:
    found = read_csv(prefix + csv_bytes(GOOD, encoding=encoding), "a.csv", mapping)
    assert (found.error, found.encoding) == ("", named)
    assert found.rows[0].values["PatientName"] == "Müller^José"


@pytest.mark.parametrize("separator", [",", ";", "\t"])
def test_separators_and_quoting(separator: str, mapping: dict[str, str]) -> None:
    header = HEADER.replace(";", separator)
    row = GOOD.replace("Müller, José", '"Müller, José"').replace(";", separator).replace(
        "CT head", '"CT head; with ""contrast"""')
    found = read_csv(csv_bytes(row, header=header), "a.csv", mapping)
    assert found.separator == separator and not found.rows[0].problems
    assert found.rows[0].values["RequestedProcedureDescription"] == 'CT head; with "contrast"'


def test_a_row_becomes_an_entry(mapping: dict[str, str]) -> None:
    found = read_csv(csv_bytes(GOOD, header=HEADER + ";Notes") + b"", "a.csv", mapping)
    assert found.columns[-1] == ("Notes", None)
    entry = found.rows[0].entry
    assert entry is not None
    assert (str(entry.PatientName), entry.PatientID, entry.PatientBirthDate, entry.PatientSex,
            entry.AccessionNumber) == ("Müller^José", "P1", "19701231", "M", "A1")
    step = entry.ScheduledProcedureStepSequence[0]
    assert (step.Modality, step.ScheduledStationAETitle, step.ScheduledProcedureStepStartDate,
            step.ScheduledProcedureStepStartTime) == ("CT", "CT1", "20260501", "093000")
    assert entry.RequestedProcedureDescription == "CT head"


def test_every_default_header_and_dicom_keywords_are_understood(mapping: dict[str, str]) -> None:
    header = ";".join(["PatientName", "patient_id", "ACCESSION NO.", "Modality",
                       "ScheduledStationAETitle", "Exam date", "LMP", "Pregnancy status", "Exam"])
    found = read_csv(csv_bytes("Roe^Jane;P2;A2;US;US1;20260501;2026-04-01;possibly;OB scan",
                               header=header), "a.csv", mapping)
    assert [k for _h, k in found.columns] == [
        "PatientName", "PatientID", "AccessionNumber", "Modality", "ScheduledStationAETitle",
        "ScheduledProcedureStepStartDate", "LastMenstrualDate", "PregnancyStatus",
        "RequestedProcedureDescription"]
    entry = found.rows[0].entry
    assert entry is not None and entry.LastMenstrualDate == "20260401"
    assert entry.PregnancyStatus == 2
    assert found.rows[0].problems == []
    for header, keyword in DEFAULT_HEADERS.items():
        assert column_keyword(header.upper(), mapping) == keyword


def test_a_mapping_file_adds_and_drops_headers(tmp_path: Path) -> None:
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps({"Nom": "PatientName", "Description": "",
                                "Salle": "scheduledstationaetitle"}), encoding="utf-8")
    mapping = load_mapping(path)
    found = read_csv(csv_bytes("Doe^J;A1;CT1;x", header="Nom;Accession;Salle;Description"),
                     "a.csv", mapping)
    assert [k for _h, k in found.columns] == ["PatientName", "AccessionNumber",
                                              "ScheduledStationAETitle", None]
    for content, reason in (("[1]", "must hold a JSON object"), ("{", "not JSON"),
                            ('{"A": "NoSuchKeyword"}', "not a DICOM keyword"),
                            ('{"A": "ScheduledProcedureStepSequence"}', "cannot be filled"),
                            ('{"A": 3}', "expected a DICOM keyword")):
        path.write_text(content, encoding="utf-8")
        with pytest.raises(ValueError, match=reason):
            load_mapping(path)
    with pytest.raises(ValueError, match="cannot be read"):
        load_mapping(tmp_path / "missing.json")


def test_bad_rows_say_why_and_make_no_entry(mapping: dict[str, str]) -> None:
    found = read_csv(csv_bytes(
        GOOD,
        "Roe^Jane;P2;03/04/1980;F;A2;MR;MR1;2026-05-01;10:00;MR knee",  # ambiguous birth date
        ";P3;;;;CT;CT1;2026-05-01;10:00;CT",  # no name, no accession
        "Poe^Ed;P4;;;A4;CT;A_STATION_TITLE_TOO_LONG;2026-05-01;25:00;CT",
        "Loe^Al;P5;;;A5;CT;CT1;2026-05-01;10:00;CT;extra",
        ";;;;;;;;;",  # an empty row is no row
    ), "a.csv", mapping)
    assert [r.number for r in found.rows] == [2, 3, 4, 5, 6]
    problems = ["; ".join(r.problems) for r in found.rows]
    assert problems[0] == ""
    assert "Birth date" in problems[1] and "day first or month first" in problems[1]
    assert "no accession number" in problems[2] and "PatientName" in problems[2]
    assert "Time" in problems[3]
    assert "11 cells" in problems[4]
    assert [r.entry is not None for r in found.rows] == [True, False, False, False, False]


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "no header row"), (b"\n\n", "no header row"),
    (b"Colour;Shape\nred;round\n", "no column has a header wldesk knows"),
    (b"\x81\x8d\x8f\x90\x9d\xff\xfe", "neither UTF-8 nor Windows-1252"),
    (b'Accession,Patient name\n"A1,"unterminated\n' + b"x" * 200_000, "cannot be read as CSV"),
])
def test_files_that_cannot_be_read(data: bytes, reason: str, mapping: dict[str, str]) -> None:
    found = read_csv(data, "bad.csv", mapping)
    assert reason in found.error and not found.rows
    assert f"Not imported: {found.error}" in report_text(found, import_rows(found, Ledger(".")))


def test_rows_are_written_once_and_updated_by_accession(tmp_path: Path,
                                                        mapping: dict[str, str]) -> None:
    ledger = Ledger(tmp_path)
    bus = EventBus()
    events: list[InputEvent] = []
    bus.subscribe(lambda e: events.append(e) if isinstance(e, InputEvent) else None)
    data = csv_bytes(GOOD, "Bad^Row;P9;;;A9;CT;CT1;2026-05-01;99:99;CT")
    first = import_rows(read_csv(data, "day.csv", mapping), ledger, bus)
    assert [(o.row, o.action, o.file) for o in first] == [(2, "created", "A1_"
            + pydicom.dcmread(tmp_path / first[0].file).ScheduledProcedureStepSequence[0]
            .ScheduledProcedureStepID + ".wl"), (3, "refused", "")]
    uid = pydicom.dcmread(tmp_path / first[0].file).StudyInstanceUID
    again = import_rows(read_csv(data, "day.csv", mapping), ledger, bus)
    assert [o.action for o in again] == ["unchanged", "refused"]
    moved = import_rows(read_csv(csv_bytes(GOOD.replace("09:30", "11:00")), "day.csv", mapping),
                        ledger, bus)
    assert [(o.action, o.file) for o in moved] == [("updated", first[0].file)]
    assert [p.name for p in tmp_path.iterdir()] == [first[0].file]
    ds = pydicom.dcmread(tmp_path / first[0].file)
    assert ds.StudyInstanceUID == uid
    assert ds.ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartTime == "110000"
    assert [(e.channel, e.action, e.source, e.order) for e in events][:2] == [
        ("CSV", "created", "day.csv", "A1"), ("CSV", "refused", "day.csv", "A9")]
    assert "Time" in events[1].detail and "99" not in events[1].detail  # no values in the log
    report = report_text(read_csv(data, "day.csv", mapping), first)
    assert f"row 2: created {first[0].file}" in report
    assert "row 3: refused: Time: '99:99' is not a time" in report
    assert "Summary: 1 created, 1 refused" in report
