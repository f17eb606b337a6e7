"""What modalities see over real sockets: hidden_statuses (DCMTK findscu as the modality, and
several clients at once while the statuses change on disk), and entries that expire and are
restored."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset

from tests.core.net.test_server import accessions
from tests.helpers.dcmtk import dcmtk_tool, run_findscu
from tests.helpers.inprocess import Running
from tests.helpers.processes import WldeskServe
from tests.helpers.samples import name_query, write_entry
from wldesk.core.editing.entries import archive_folder, restore_entry
from wldesk.core.events import EventBus
from wldesk.core.flow.housekeeping import sweep
from wldesk.core.flow.ledger import Ledger, OrderKey
from wldesk.core.flow.status import set_step_status, step_status


def status_query(status: str | None) -> Dataset:
    """Patient name, accession and one step item: with an SPS Status key of ``status`` (None: no
    such key)."""
    query = name_query()
    if status is not None:
        query.ScheduledProcedureStepSequence[0].ScheduledProcedureStepStatus = status
    return query


def findscu_accessions(port: int, query: Dataset, work: Path) -> list[str]:
    path = work / "query.dcm"
    query.save_as(path, implicit_vr=False, little_endian=True, enforce_file_format=False)
    result = run_findscu(port, path, "WLDESK", "CT1")
    assert result.returncode == 0 and result.final_status == "Success", result.describe()
    return accessions(result.answers)


def test_findscu_does_not_see_a_completed_entry_unless_it_asks_for_completed(
        running: Running, folder: Path, tmp_path: Path) -> None:
    if dcmtk_tool("findscu") is None:
        pytest.skip("DCMTK findscu is not installed")
    write_entry(folder, "a.wl", accession="A1")
    write_entry(folder, "b.wl", accession="B1")
    port = running.server.port
    assert findscu_accessions(port, status_query(None), tmp_path) == ["A1", "B1"]
    Ledger(folder).update(OrderKey("B1"), set_step_status("COMPLETED"))
    assert findscu_accessions(port, status_query(None), tmp_path) == ["A1"]
    assert findscu_accessions(port, status_query(""), tmp_path) == ["A1"]  # dcm4chee #3935
    assert findscu_accessions(port, status_query("COMPLETED"), tmp_path) == ["B1"]  # #3842
    Ledger(folder).update(OrderKey("B1"), set_step_status("SCHEDULED"))
    assert findscu_accessions(port, status_query(None), tmp_path) == ["A1", "B1"]


def test_findscu_loses_an_expired_entry_and_sees_it_again_once_restored(
        running: Running, folder: Path, tmp_path: Path) -> None:
    if dcmtk_tool("findscu") is None:
        pytest.skip("DCMTK findscu is not installed")
    write_entry(folder, "past.wl", accession="P1", date="20261130", time="080000")
    write_entry(folder, "soon.wl", accession="S1", date="20261202", time="080000")
    port = running.server.port
    assert findscu_accessions(port, status_query(None), tmp_path) == ["P1", "S1"]
    moved = sweep(Ledger(folder), running.settings.replace(archive_after_hours=24), EventBus(),
                  datetime(2026, 12, 1, 8, 0))
    assert moved == 1
    assert findscu_accessions(port, status_query(None), tmp_path) == ["S1"]
    [archived] = archive_folder(folder, datetime(2026, 12, 1)).iterdir()
    restore_entry(archived, folder)
    assert findscu_accessions(port, status_query(None), tmp_path) == ["P1", "S1"]


def test_a_server_hiding_nothing_answers_every_status(folder: Path) -> None:
    write_entry(folder, "a.wl", accession="A1")
    Ledger(folder).update(OrderKey("A1"), set_step_status("COMPLETED"))
    run = Running(folder, hidden_statuses=())
    run.server.start()
    try:
        answers, _ = run.find(status_query(""))
    finally:
        run.server.stop()
    assert accessions(answers) == ["A1"]


def test_many_clients_while_statuses_change_lose_no_answer_and_get_none_wrong(
        running: Running, folder: Path) -> None:
    stable = [f"S{n}" for n in range(10)]
    flipping = [f"F{n}" for n in range(10)]
    for accession in stable + flipping:
        write_entry(folder, f"{accession}.wl", accession=accession)
    ledger = Ledger(folder)
    stop = threading.Event()
    problems: list[str] = []

    def flip() -> None:
        statuses = ("COMPLETED", "SCHEDULED", "DISCONTINUED", "STARTED")
        turn = 0
        while not stop.is_set():
            for accession in flipping:
                ledger.update(OrderKey(accession), set_step_status(statuses[turn % 4]))
            turn += 1

    def client(asked: str | None) -> None:
        query = status_query(asked or "")
        for _ in range(12):
            answers, statuses = running.find(query)
            if statuses[-1] != 0x0000:
                problems.append(f"final status 0x{statuses[-1]:04X}")
            found = accessions(answers)
            seen = {str(a.AccessionNumber): str(
                a.ScheduledProcedureStepSequence[0].ScheduledProcedureStepStatus or "")
                for a in answers}
            if len(found) != len(seen):
                problems.append(f"an entry answered twice: {found}")
            if asked is None and not set(stable) <= set(found):
                problems.append(f"stable entries lost: {sorted(set(stable) - set(found))}")
            wrong = {acc: status for acc, status in seen.items()
                     if (status in ("COMPLETED", "DISCONTINUED")) != (asked == "COMPLETED")}
            if wrong:
                problems.append(f"asked for {asked or 'any'} status, got {wrong}")

    writer = threading.Thread(target=flip)
    clients = [threading.Thread(target=client, args=(asked,))
               for asked in (None, None, None, "COMPLETED")]
    writer.start()
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join(timeout=120)
    stop.set()
    writer.join(timeout=30)
    assert not any(t.is_alive() for t in [writer, *clients])
    assert problems == []
    final, _ = running.find(status_query(""))
    shown = {acc for acc in flipping
             if step_status(dcmread(folder / f"{acc}.wl")) not in ("COMPLETED", "DISCONTINUED")}
    assert accessions(final) == sorted(set(stable) | shown)


def test_wldesk_serve_archives_at_start_and_findscu_no_longer_sees_it(
        folder: Path, tmp_path: Path) -> None:
    if dcmtk_tool("findscu") is None:
        pytest.skip("DCMTK findscu is not installed")
    write_entry(folder, "past.wl", accession="P1", modality="CT", date="20000101", time="0800")
    write_entry(folder, "kept.wl", accession="K1", modality="US", date="20000101", time="0800")
    write_entry(folder, "soon.wl", accession="S1", modality="CT", date="20991231", time="0800")
    (folder / "broken.wl").write_bytes(b"not DICOM")
    config = tmp_path / "settings.json"
    config.write_text(json.dumps({"database": str(folder), "archive_after_hours": 24,
                                  "archive_after_hours_by_modality": "US=0"}), encoding="utf-8")
    with WldeskServe(folder, extra_args=["--config", str(config)],
                     home=tmp_path / "home") as served:
        archived = folder / "archive" / f"{datetime.now():%Y-%m}" / "past.wl"
        deadline = time.monotonic() + 10
        while not archived.is_file() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert archived.is_file(), served.log_text()
        assert findscu_accessions(served.port, status_query(None), tmp_path) == ["K1", "S1"]
        assert (folder / "broken.wl").read_bytes() == b"not DICOM"
        assert ("Housekeeping from wldesk: archived P1/S-P1 (archive/"
                f"{datetime.now():%Y-%m}/past.wl): scheduled 2000-01-01 08:00, archived 24 h "
                "after (archive_after_hours)") in served.log_text()
