"""The query audit log: real queries over real sockets into the daily files, periods read back as
CSV, retention, redaction, torn lines and a folder that cannot be written."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pynetdicom import AE
from pynetdicom.sop_class import ModalityWorklistInformationFind  # type: ignore[attr-defined]

from tests.helpers.ports import free_port
from tests.helpers.samples import name_query, write_entry
from wldesk import cli
from wldesk.core import paths
from wldesk.core.audit import (
    CSV_COLUMNS,
    AuditLog,
    AuditRecord,
    csv_row,
    export_csv,
    file_name,
    prune,
    read_period,
    record_of,
)
from wldesk.core.events import EventBus, InputEvent
from wldesk.core.logs import REDACTED
from wldesk.core.net.scu import find as scu_find
from wldesk.core.net.server import WorklistServer
from wldesk.core.settings import KnownModality, Settings


class Served:
    """An in-process server whose events go to an audit log."""

    def __init__(self, folder: Path, audit_folder: Path, *, redact: bool = False) -> None:
        self.audit = AuditLog(audit_folder, days=30, redact=redact)
        bus = EventBus()
        bus.subscribe(self.audit)
        self.settings = Settings(database=str(folder), port=free_port(), bind_address="127.0.0.1",
                                 allow_unknown_modalities=False,
                                 modalities=(KnownModality("CT", "CT1"),))
        self.server = WorklistServer(self.settings, bus)

    def find(self, pattern: str, calling: str = "CT1") -> int:
        """One C-FIND for PatientName ``pattern`` and Modality CT: how many answers."""
        ae = AE(ae_title=calling)
        ae.add_requested_context(ModalityWorklistInformationFind)
        assoc = ae.associate("127.0.0.1", self.server.port, ae_title="WLDESK")
        if not assoc.is_established:
            return -1
        try:
            return len(scu_find(assoc, name_query(pattern, Modality="CT")).answers)
        finally:
            assoc.release()


@pytest.fixture
def worklists(tmp_path: Path) -> Path:
    folder = tmp_path / "worklists"
    folder.mkdir()
    write_entry(folder, "a.wl", patient="MÜLLER^HANS", accession="A1")
    write_entry(folder, "b.wl", patient="ØDEGÅRD^ÅSE", accession="A2")
    write_entry(folder, "c.wl", patient="DOE^JOHN", accession="A3", modality="MR")
    return folder


@pytest.fixture
def served(worklists: Path, tmp_path: Path) -> Iterator[Served]:
    run = Served(worklists, tmp_path / "audit")
    run.audit.start()
    run.server.start()
    yield run
    run.server.stop()
    run.audit.stop()


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def line(when: datetime, aet: str = "CT1", **more: Any) -> str:
    record = {"time": when.isoformat(timespec="milliseconds"), "kind": "query",
              "calling_aet": aet, "address": "10.0.0.7", "keys": {"PatientName": "", "Modality": "CT"},
              "matches": 1, "sent": 1, "withheld": 0, "status": 0, "status_text": "Success",
              "duration_ms": 2.5, **more}
    return json.dumps(record, ensure_ascii=False) + "\n"


def local(*args: int) -> datetime:
    return datetime(*args).astimezone()  # type: ignore[arg-type]


@pytest.mark.expect_log_warnings(
    r"Association Rejected|Result: Rejected Permanent|Calling AE title not recognised")
def test_queries_and_refusals_land_in_the_days_file(served: Served, tmp_path: Path) -> None:
    assert served.find("MÜLLER*") == 1
    assert served.find("") == 2
    assert served.find("", calling="CT9") == -1  # not a known modality: refused
    served.audit.flush()
    today = datetime.now().astimezone().date()
    path = tmp_path / "audit" / file_name(today)
    records = lines(path)
    assert [r["kind"] for r in records] == ["query", "query", "rejected"]
    first = records[0]
    assert first["calling_aet"] == "CT1" and first["address"] == "127.0.0.1"
    assert first["keys"]["PatientName"] == "MÜLLER*" and first["keys"]["Modality"] == "CT"
    assert (first["matches"], first["sent"], first["withheld"]) == (1, 1, 0)
    assert (first["status"], first["status_text"]) == (0, "Success (0x0000)")
    assert first["duration_ms"] > 0
    when = datetime.fromisoformat(first["time"])
    assert when.utcoffset() is not None and when.date() == today
    assert records[1]["matches"] == 2
    refused = records[2]
    assert refused["calling_aet"] == "CT9" and "not a known modality" in refused["status_text"]

    # the period's export: the CSV opens with the columns, names intact
    target = tmp_path / "export.csv"
    start = datetime.combine(today, datetime.min.time())
    assert export_csv(tmp_path / "audit", start, datetime.now(), target) == 3
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0] == list(CSV_COLUMNS)
    assert rows[1][1:4] == ["CT1", "127.0.0.1", "PatientName=MÜLLER*; Modality=CT"]
    assert rows[1][4:8] == ["1", "1", "0", "Success (0x0000)"]
    assert rows[1][0] == when.strftime("%Y-%m-%d %H:%M:%S")
    assert rows[2][3] == "Modality=CT" and rows[2][4] == "2"
    assert rows[3][1] == "CT9" and rows[3][7].startswith("association refused: ")


def test_redaction_keeps_patient_values_out(worklists: Path, tmp_path: Path) -> None:
    run = Served(worklists, tmp_path / "audit", redact=True)
    run.audit.start()
    run.server.start()
    try:
        assert run.find("MÜLLER*") == 1
        run.audit.redact = False  # the setting changed while running: the next query shows it
        assert run.find("DOE*") == 0
    finally:
        run.server.stop()
        run.audit.stop()
    path = tmp_path / "audit" / file_name(datetime.now().astimezone().date())
    text = path.read_text(encoding="utf-8")
    assert "MÜLLER" not in text
    first, second = lines(path)
    assert first["keys"]["PatientName"] == REDACTED and first["keys"]["Modality"] == "CT"
    assert second["keys"]["PatientName"] == "DOE*"


def test_a_period_holds_exactly_its_queries(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "audit"
    folder.mkdir()
    times = [local(2026, 11, 30, 23, 59, 59), local(2026, 12, 1, 8, 0, 0),
             local(2026, 12, 1, 9, 5, 30), local(2026, 12, 1, 10, 0, 0, 900_000),
             local(2026, 12, 1, 10, 0, 1), local(2026, 12, 2, 0, 0, 0)]
    for number, when in enumerate(times):
        with (folder / file_name(when.date())).open("a", encoding="utf-8") as out:
            out.write(line(when, aet=f"AE{number}"))
    # two programs appended to the same day: the lines are read in time order all the same
    with (folder / file_name(date(2026, 12, 1))).open("a", encoding="utf-8") as out:
        out.write(line(local(2026, 12, 1, 8, 30), aet="LATE"))
    found = read_period(folder, datetime(2026, 12, 1, 8, 0), datetime(2026, 12, 1, 10, 0))
    assert [r.calling_aet for r in found] == ["AE1", "LATE", "AE2", "AE3"]
    assert [r.calling_aet for r in read_period(folder, datetime(2026, 11, 1),
                                               datetime(2026, 12, 31))] == \
        ["AE0", "AE1", "LATE", "AE2", "AE3", "AE4", "AE5"]
    assert list(read_period(folder, datetime(2026, 12, 3), datetime(2026, 12, 4))) == []

    # the command line answers the same on a headless server
    monkeypatch.setattr(paths, "audit_dir", lambda: folder)
    code = cli.main(["audit", "--from", "2026-12-01T08:00", "--to", "2026-12-01T10:00"])
    assert code == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == list(CSV_COLUMNS)
    assert [r[1] for r in rows[1:]] == ["AE1", "LATE", "AE2", "AE3"]
    assert rows[3][0] == "2026-12-01 09:05:30"
    target = tmp_path / "day.csv"
    assert cli.main(["audit", "--from", "2026-12-01", "--to", "2026-12-01", "--csv",
                     str(target)]) == 0  # a date alone: the whole day
    assert [r[1] for r in csv.reader(io.StringIO(target.read_text(encoding="utf-8-sig")))] == \
        ["Calling AE", "AE1", "LATE", "AE2", "AE3", "AE4"]
    assert "5 lines written" in capsys.readouterr().err
    assert cli.main(["audit", "--from", "2026-12-02", "--to", "2026-12-01"]) == cli.EXIT_USAGE
    assert "--from is after --to" in capsys.readouterr().err
    assert cli.main(["audit", "--from", "9:05"]) == cli.EXIT_USAGE
    assert "not a date and time" in capsys.readouterr().err


def test_a_torn_or_unreadable_line_is_skipped_with_a_note(tmp_path: Path) -> None:
    folder = tmp_path / "audit"
    folder.mkdir()
    path = folder / file_name(date(2026, 12, 1))
    path.write_text(line(local(2026, 12, 1, 9, 0), aet="GOOD1") + "{not json\n"
                    + line(local(2026, 12, 1, 9, 1), aet="GOOD2")
                    + line(local(2026, 12, 1, 9, 2), aet="TORN")[:40], encoding="utf-8")
    notes: list[str] = []
    found = list(read_period(folder, datetime(2026, 12, 1), datetime(2026, 12, 2), notes.append))
    assert [r.calling_aet for r in found] == ["GOOD1", "GOOD2"]
    assert notes == [f"{path}: line 2 cannot be read; skipped",
                     f"{path}: the last line is incomplete (wldesk was stopped while writing it, "
                     f"or is writing it now); skipped"]


def test_retention_deletes_only_old_audit_files(tmp_path: Path) -> None:
    folder = tmp_path / "audit"
    folder.mkdir()
    today = datetime.now().astimezone().date()
    for age in (0, 1, 30, 31, 400):
        (folder / file_name(today - timedelta(days=age))).write_text("", encoding="utf-8")
    others = [folder / "notes.txt", folder / "2020-01-01.jsonl.bak", folder / "2020-13-01.jsonl",
              folder / "modalities.json"]
    for other in others:
        other.write_text("keep me", encoding="utf-8")
    audit = AuditLog(folder, days=30, redact=False)
    audit.start()  # deletes at start
    audit.flush()
    audit.stop()
    kept = sorted(p.name for p in folder.iterdir())
    assert kept == sorted([file_name(today - timedelta(days=age)) for age in (0, 1, 30)]
                          + [p.name for p in others])
    assert prune(folder, 0, today) == sorted(folder / file_name(today - timedelta(days=age))
                                             for age in (0, 1, 30))
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in others)


def test_no_audit_log_with_zero_days(worklists: Path, tmp_path: Path) -> None:
    run = Served(worklists, tmp_path / "audit")
    run.audit.set_days(0)
    run.audit.start()
    run.server.start()
    try:
        assert run.find("") == 2
    finally:
        run.server.stop()
        run.audit.stop()
    assert not (tmp_path / "audit").exists()


@pytest.mark.expect_log_warnings(r"cannot write the audit log in .*; queries are still answered")
def test_an_unwritable_folder_keeps_the_server_answering(worklists: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file where the folder should be", encoding="utf-8")
    run = Served(worklists, blocker / "audit")
    run.audit.start()
    run.server.start()
    try:
        for _ in range(3):
            assert run.find("") == 2
        run.audit.flush()
        blocker.unlink()  # the folder can be made again: the lines kept are written with the next
        assert run.find("MÜLLER*") == 1
        run.audit.flush()
    finally:
        run.server.stop()
        run.audit.stop()
    path = blocker / "audit" / file_name(datetime.now().astimezone().date())
    assert [r["matches"] for r in lines(path)] == [2, 2, 2, 1]


def test_orders_from_channels_are_audited() -> None:
    event = InputEvent("REST", "archived", "127.0.0.1", "ACC1/SPS1", "ACC1_SPS1.wl",
                       "DELETE /worklists/ACC1_SPS1")
    record = AuditRecord.from_json(json.loads(json.dumps(record_of(event, redact=True))))
    assert csv_row(record)[1:] == [
        "REST", "127.0.0.1", "order=ACC1/SPS1", "", "", "",
        "REST from 127.0.0.1: archived ACC1/SPS1 (ACC1_SPS1.wl): DELETE /worklists/ACC1_SPS1", ""]


def test_a_query_without_values_is_exported_as_all_entries() -> None:
    record = AuditRecord(time=datetime.now().astimezone(), kind="query", calling_aet="US1",
                         address="10.0.0.9", keys={"PatientName": "", "Modality": ""},
                         matches=4, sent=4)
    assert csv_row(record)[1:5] == ["US1", "10.0.0.9", "(all entries)", "4"]
