"""The CSV drop folder with a running worklist server: a file with good and bad rows dropped into
the import folder → the good rows are served (DCMTK findscu sees exactly them), the report names
each row's outcome, the file is in done/; the same file again makes no second entry."""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers.csvfuzz import malformed
from tests.helpers.dcmtk import dcmtk_tool, run_findscu
from tests.helpers.ports import free_port
from wldesk.core.check import missing_keys
from wldesk.core.events import EventBus, InputEvent
from wldesk.core.flow.dropfolder import CsvDropFolder, make_csv_drop_folder
from wldesk.core.flow.ledger import Ledger
from wldesk.core.flow.services import Channels
from wldesk.core.net.server import WorklistServer
from wldesk.core.settings import Settings
from wldesk.core.store import read_entry

DAY = "2026-05-04"
ORDERS = (
    "Patient name,Patient ID,Birth date,Sex,Accession,Modality,Station,Date,Time,Description\n"
    '"Müller, José",P1,1970-12-31,M,ACC1,CT,CT1,04.05.2026,09:30,CT head\n'
    "Roe^Jane,P2,,F,ACC2,MR,MR1,2026-05-04,10:00,MR knee\n"
    "Bad^Date,P3,31/02/1980,F,ACC3,CT,CT1,2026-05-04,10:30,CT chest\n"
    "No^Accession,P4,,,,CT,CT1,2026-05-04,11:00,CT chest\n"
    "Bad^Station,P5,,,ACC5,CT,THIS_TITLE_IS_TOO_LONG,2026-05-04,11:30,CT chest\n"
)
QUERY = ("(0008,0005) CS [ISO_IR 192]\n(0008,0050) SH []\n(0010,0010) PN []\n(0010,0020) LO []\n"
         "(0040,0100) SQ\n(fffe,e000) -\n(0008,0060) CS []\n(0040,0001) AE []\n"
         "(0040,0002) DA [20260504]\n(0040,0003) TM []\n(fffe,e00d) -\n(fffe,e0dd) -\n")


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Settings, EventBus, list[InputEvent]]]:
    folder = tmp_path / "worklists"
    folder.mkdir()
    settings = Settings(database=str(folder), port=free_port(), bind_address="127.0.0.1",
                        import_folder=str(folder / "import"), settle_seconds=1)
    bus = EventBus()
    events: list[InputEvent] = []
    bus.subscribe(lambda e: events.append(e) if isinstance(e, InputEvent) else None)
    yield settings, bus, events


def test_a_dropped_file_is_imported_served_reported_and_moved(
        setup: tuple[Settings, EventBus, list[InputEvent]], tmp_path: Path) -> None:
    if dcmtk_tool("findscu") is None or dcmtk_tool("dump2dcm") is None:
        pytest.skip("DCMTK's findscu and dump2dcm are needed to query the server")
    settings, bus, events = setup
    folder, incoming = Path(settings.database), Path(settings.import_folder)
    server = WorklistServer(settings)
    server.start()
    channels = Channels(settings, bus)
    channels.start()
    try:
        assert "CSV" in channels.running and (incoming / "done").is_dir()
        query = tmp_path / "query.dump"
        query.write_text(QUERY, encoding="ascii")
        (incoming / "orders.csv").write_text(ORDERS, encoding="utf-8")
        wait_for((incoming / "done" / "orders.report.txt").exists)
        assert not (incoming / "orders.csv").exists()
        assert (incoming / "done" / "orders.csv").read_text(encoding="utf-8") == ORDERS
        report = (incoming / "done" / "orders.report.txt").read_text(encoding="utf-8")
        lines = {line.split(":")[0]: line for line in report.splitlines()
                 if line.startswith("row ")}
        assert lines["row 2"].startswith("row 2: created ACC1_")
        assert lines["row 3"].startswith("row 3: created ACC2_")
        assert "not a real date" in lines["row 4"] and "refused" in lines["row 4"]
        assert "no accession number" in lines["row 5"]
        assert "refused" in lines["row 6"] and "ScheduledStationAETitle" in lines["row 6"]
        assert "Summary: 2 created, 3 refused" in report

        def served() -> list[tuple[str, str, str]]:
            result = run_findscu(settings.port, query, settings.ae_title)
            assert result.final_status == "Success", result.describe()
            return sorted((a.AccessionNumber, str(a.PatientName),
                           a.ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartTime)
                          for a in result.answers)

        expected = [("ACC1", "Müller^José", "093000"), ("ACC2", "Roe^Jane", "100000")]
        assert served() == expected
        assert sorted(p.name for p in folder.glob("*.wl")) == sorted(
            line.split()[3] for key, line in lines.items() if "created" in line)
        assert [(e.action, e.order) for e in events] == [
            ("created", "ACC1"), ("created", "ACC2"), ("refused", "ACC3"), ("refused", ""),
            ("refused", "ACC5")]
        assert all(e.channel == "CSV" and e.source == "orders.csv" for e in events)

        # the same file again: no duplicates, a second report beside the second copy
        (incoming / "orders.csv").write_text(ORDERS, encoding="utf-8")
        wait_for((incoming / "done" / "orders-2.report.txt").exists)
        again = (incoming / "done" / "orders-2.report.txt").read_text(encoding="utf-8")
        assert "Summary: 2 unchanged, 3 refused" in again
        assert served() == expected
        assert len(list(folder.glob("*.wl"))) == 2
    finally:
        channels.stop()
        server.stop()


def test_a_file_still_being_written_waits_for_its_writer(
        setup: tuple[Settings, EventBus, list[InputEvent]]) -> None:
    settings, bus, events = setup
    settings = dataclasses.replace(settings, settle_seconds=10)
    incoming = Path(settings.import_folder)
    channel = make_csv_drop_folder(settings, Ledger(settings.database), bus)
    assert isinstance(channel, CsvDropFolder)
    channel.start()
    try:
        with open(incoming / "slow.csv", "w", encoding="utf-8") as fh:
            first, rest = ORDERS.split("\n", 2)[:2], ORDERS.split("\n", 2)[2]
            fh.write("\n".join(first) + "\n")
            fh.flush()
            time.sleep(2)  # several looks: the writer still has it open
            assert (incoming / "slow.csv").exists() and not events
            fh.write(rest)
        wait_for((incoming / "done" / "slow.report.txt").exists)
        assert [e.order for e in events] == ["ACC1", "ACC2", "ACC3", "", "ACC5"]
    finally:
        channel.stop()


def test_the_import_is_off_without_a_folder_and_a_bad_mapping_is_reported(tmp_path: Path) -> None:
    bus = EventBus()
    events: list[InputEvent] = []
    bus.subscribe(lambda e: events.append(e) if isinstance(e, InputEvent) else None)
    settings = Settings(database=str(tmp_path))
    assert make_csv_drop_folder(settings, Ledger(tmp_path), bus) is None
    (tmp_path / "mapping.json").write_text("{", encoding="utf-8")
    channels = Channels(Settings(database=str(tmp_path), import_folder=str(tmp_path / "in"),
                                 import_mapping_file=str(tmp_path / "mapping.json")), bus)
    channels.start()
    try:
        assert "CSV" not in channels.running
        assert [(e.channel, e.action) for e in events] == [("CSV", "failed")]
        assert "not JSON" in events[0].detail
        (tmp_path / "mapping.json").write_text('{"Nom": "PatientName"}', encoding="utf-8")
        channels.apply(Settings(database=str(tmp_path), import_folder=str(tmp_path / "in"),
                                import_mapping_file=str(tmp_path / "mapping.json"),
                                import_date_order="DMY"))
        assert "CSV" in channels.running
    finally:
        channels.stop()


def test_malformed_files_in_the_drop_folder_never_stop_it(
        setup: tuple[Settings, EventBus, list[InputEvent]]) -> None:
    """Malformed files (test_csv_fuzz's kinds) dropped into the running channel: each is reported
    and moved to done/, nothing but whole entries is written, and a good file after them is
    still imported."""
    settings, bus, events = setup
    folder, incoming = Path(settings.database), Path(settings.import_folder)
    channel = make_csv_drop_folder(settings, Ledger(folder), bus)
    assert isinstance(channel, CsvDropFolder)
    channel.start()
    try:
        rng = random.Random(7)
        count = 60
        for n in range(count):
            (incoming / f"bad{n}.csv").write_bytes(malformed(rng, n))
        wait_for(lambda: len(list((incoming / "done").glob("bad*.report.txt"))) == count, 60)
        assert not list(incoming.glob("*.csv"))
        for path in folder.glob("*.wl"):
            assert missing_keys(read_entry(path).node) == [], path.name
        assert not list(folder.glob(".*"))
        (incoming / "orders.csv").write_text(ORDERS, encoding="utf-8")
        wait_for((incoming / "done" / "orders.report.txt").exists)
        report = (incoming / "done" / "orders.report.txt").read_text(encoding="utf-8")
        assert "Summary: 2 created, 3 refused" in report
        assert all(e.channel == "CSV" for e in events)
    finally:
        channel.stop()
