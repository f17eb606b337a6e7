"""The MPPS SCP over real sockets: pynetdicom as the modality's MPPS SCU, DCMTK's findscu as its
worklist query; the entries' step status follows and each instance is kept."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid
from pynetdicom import AE
from pynetdicom.association import Association
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    ModalityPerformedProcedureStep,
    ModalityWorklistInformationFind,
    Verification,
)

from tests.helpers.dcmtk import dcmtk_tool, run_findscu
from tests.helpers.inprocess import Running
from tests.helpers.mpps import finished, performed, send_mpps
from tests.helpers.processes import WldeskServe
from tests.helpers.samples import write_entry
from wldesk.core.events import EventBus
from wldesk.core.flow.ledger import Ledger
from wldesk.core.flow.mpps import FINAL, make_mpps
from wldesk.core.flow.mpps_records import mpps_dir, records_for
from wldesk.core.flow.status import step_status
from wldesk.core.settings import Settings

MPPS = ModalityPerformedProcedureStep


class Mpps(Running):
    """An in-process server with MPPS, as a modality's MPPS SCU sees it (calling AE CT1)."""

    def __init__(self, folder: Path, **settings: Any) -> None:
        super().__init__(folder, with_mpps=True, **settings)

    def associate(self, *contexts: str) -> Association:  # type: ignore[override]
        ae = AE(ae_title="CT1")
        for context in contexts or (MPPS,):
            ae.add_requested_context(context)
        assoc = ae.associate("127.0.0.1", self.server.port, ae_title="WLDESK")
        assert assoc.is_established
        return assoc

    def create(self, uid: str | None, ds: Dataset) -> Dataset:
        return send_mpps(self.server.port, uid, ds)

    def set(self, uid: str, ds: Dataset) -> Dataset:
        return send_mpps(self.server.port, uid, ds, create=False)


def without_status(path: Path) -> Dataset:
    """The entry with its step status taken out: what must not change."""
    ds = dcmread(path)
    for step in ds.ScheduledProcedureStepSequence:
        if "ScheduledProcedureStepStatus" in step:
            del step.ScheduledProcedureStepStatus
    return ds


def key_of(path: Path) -> tuple[str, str, str]:
    ds = dcmread(path)
    return (ds.AccessionNumber, ds.ScheduledProcedureStepSequence[0].ScheduledProcedureStepID,
            ds.StudyInstanceUID)


@pytest.fixture
def mpps(folder: Path) -> Iterator[Mpps]:
    run = Mpps(folder)
    run.server.start()
    yield run
    run.server.stop()


QUERY = ("(0008,0050) SH []\n(0040,0100) SQ\n(fffe,e000) -\n(0008,0060) CS []\n"
         "(0040,0020) CS [{status}]\n(fffe,e00d) -\n(fffe,e0dd) -\n")


def findscu_statuses(mpps: Mpps, tmp: Path, status: str) -> list[tuple[str, str]]:
    """What DCMTK's findscu gets when it asks for the steps of ``status``."""
    query = tmp / "query.dump"
    query.write_text(QUERY.format(status=status), encoding="ascii")
    result = run_findscu(mpps.server.port, query, "WLDESK")
    assert result.final_status == "Success", result.describe()
    return sorted((a.AccessionNumber, a.ScheduledProcedureStepSequence[0]
                   .ScheduledProcedureStepStatus) for a in result.answers)


def findscu_accessions(mpps: Mpps, tmp: Path) -> list[str]:
    """What DCMTK's findscu gets when its query has no SPS Status key at all."""
    query = tmp / "query.dump"
    query.write_text(QUERY.replace("(0040,0020) CS [{status}]\n", ""), encoding="ascii")
    assert "(0040,0020)" not in query.read_text(encoding="ascii")
    result = run_findscu(mpps.server.port, query, "WLDESK")
    assert result.final_status == "Success", result.describe()
    return sorted(a.AccessionNumber for a in result.answers)


def test_the_step_status_follows_n_create_and_n_set(mpps: Mpps, folder: Path,
                                                    tmp_path: Path) -> None:
    if dcmtk_tool("findscu") is None:
        pytest.skip("DCMTK's findscu is needed")
    entry = write_entry(folder, "a1.wl", accession="A1")
    other = write_entry(folder, "a2.wl", accession="A2")
    before, other_bytes = without_status(entry), other.read_bytes()
    uid = generate_uid()

    assert mpps.create(uid, performed(key_of(entry))).Status == 0x0000
    assert step_status(dcmread(entry)) == "STARTED"
    assert without_status(entry) == before
    assert other.read_bytes() == other_bytes
    assert findscu_statuses(mpps, tmp_path, "STARTED") == [("A1", "STARTED")]
    assert mpps.inputs() == [("updated", "A1/S-A1", "a1.wl", "IN PROGRESS → STARTED")]

    assert mpps.set(uid, finished()).Status == 0x0000
    assert step_status(dcmread(entry)) == "COMPLETED"
    assert without_status(entry) == before
    assert findscu_statuses(mpps, tmp_path, "COMPLETED") == [("A1", "COMPLETED")]
    # hidden from what modalities ask for by default: an empty SPS Status key, or none at all
    assert findscu_statuses(mpps, tmp_path, "") == [("A2", "")]
    assert findscu_accessions(mpps, tmp_path) == ["A2"]
    assert mpps.inputs()[-1] == ("updated", "A1/S-A1", "a1.wl", "COMPLETED → COMPLETED")

    kept = json.loads((mpps_dir() / f"{uid}.json").read_text(encoding="utf-8"))
    assert kept["00400252"]["Value"] == ["COMPLETED"]  # Performed Procedure Step Status
    assert kept["00080018"]["Value"] == [uid]
    [record] = records_for("A1", "S-A1", "")
    assert (record.uid, record.status, record.start, record.end, record.station,
            record.performing_ae) == (uid, "COMPLETED", "2026-12-02 09:05", "2026-12-02 09:30",
                                      "CT room 1", "CT1")
    assert records_for("A2", "", "") == []
    assert [r.uid for r in records_for("", "", key_of(entry)[2])] == [uid]


def test_discontinued(mpps: Mpps, folder: Path) -> None:
    entry = write_entry(folder, "a1.wl", accession="A1")
    uid = generate_uid()
    assert mpps.create(uid, performed(key_of(entry))).Status == 0x0000
    assert mpps.set(uid, finished("DISCONTINUED")).Status == 0x0000
    assert step_status(dcmread(entry)) == "DISCONTINUED"


def test_an_n_set_after_completed_is_refused(mpps: Mpps, folder: Path) -> None:
    entry = write_entry(folder, "a1.wl", accession="A1")
    uid = generate_uid()
    mpps.create(uid, performed(key_of(entry)))
    mpps.set(uid, finished())
    kept = (mpps_dir() / f"{uid}.json").read_bytes()
    status = mpps.set(uid, finished("DISCONTINUED"))
    assert status.Status == 0x0110
    assert status.ErrorComment == FINAL
    assert step_status(dcmread(entry)) == "COMPLETED"
    assert (mpps_dir() / f"{uid}.json").read_bytes() == kept
    assert mpps.inputs()[-1][0] == "refused"


def test_an_n_set_of_an_unknown_instance_is_refused(mpps: Mpps) -> None:
    assert mpps.set(generate_uid(), finished()).Status == 0x0112
    assert mpps.inputs()[-1][0] == "refused"


def test_n_create_rules(mpps: Mpps, folder: Path) -> None:
    entry = write_entry(folder, "a1.wl", accession="A1")
    uid = generate_uid()
    assert mpps.create(uid, performed(key_of(entry), status="COMPLETED")).Status == 0x0106
    assert step_status(dcmread(entry)) == ""
    assert not (mpps_dir() / f"{uid}.json").exists()
    assert mpps.create(uid, performed(key_of(entry))).Status == 0x0000
    assert mpps.create(uid, performed(key_of(entry))).Status == 0x0111  # duplicate
    no_steps = performed(key_of(entry))
    del no_steps.ScheduledStepAttributesSequence
    assert mpps.create(generate_uid(), no_steps).Status == 0x0120
    assert [a for a, *_ in mpps.inputs()] == ["refused", "updated", "refused", "refused"]


def test_an_n_create_without_a_uid_gets_one(mpps: Mpps, folder: Path) -> None:
    entry = write_entry(folder, "a1.wl", accession="A1")
    assert mpps.create(None, performed(key_of(entry))).Status == 0x0000
    [record] = records_for("A1", "", "")
    assert record.status == "IN PROGRESS"


def test_an_n_set_may_not_change_the_scheduled_steps(mpps: Mpps, folder: Path) -> None:
    entry = write_entry(folder, "a1.wl", accession="A1")
    uid = generate_uid()
    mpps.create(uid, performed(key_of(entry)))
    change = finished()
    change.ScheduledStepAttributesSequence = performed(("A9", "S-A9", generate_uid())
                                                       ).ScheduledStepAttributesSequence
    status = mpps.set(uid, change)
    assert status.Status == 0x0106
    assert status.AttributeIdentifierList == 0x00400270
    assert step_status(dcmread(entry)) == "STARTED"
    # the same station sent again is no change; an intermediate N-SET keeps it in progress
    same = Dataset()
    same.PerformedStationAETitle = "CT1"
    same.PerformedSeriesSequence = Sequence([Dataset()])
    assert mpps.set(uid, same).Status == 0x0000
    assert step_status(dcmread(entry)) == "STARTED"


def test_an_mpps_for_no_entry_is_kept_as_unscheduled(mpps: Mpps, folder: Path) -> None:
    entry = write_entry(folder, "a1.wl", accession="A1")
    before = entry.read_bytes()
    uid = generate_uid()
    assert mpps.create(uid, performed(("", "", generate_uid()))).Status == 0x0000
    assert mpps.set(uid, finished()).Status == 0x0000
    assert entry.read_bytes() == before
    action, _, file, detail = mpps.inputs()[0]
    assert (action, file) == ("unchanged", "")
    assert detail.startswith("unscheduled: no entry matches")
    assert (mpps_dir() / f"{uid}.json").is_file()


def test_a_grouped_mpps_updates_every_entry(mpps: Mpps, folder: Path) -> None:
    first = write_entry(folder, "a1.wl", accession="A1")
    second = write_entry(folder, "a2.wl", accession="A2")
    third = write_entry(folder, "a3.wl", accession="A3")
    uid = generate_uid()
    assert mpps.create(uid, performed(key_of(first), key_of(second))).Status == 0x0000
    assert [step_status(dcmread(p)) for p in (first, second, third)] == ["STARTED", "STARTED", ""]
    assert mpps.set(uid, finished()).Status == 0x0000
    assert [step_status(dcmread(p)) for p in (first, second, third)] == [
        "COMPLETED", "COMPLETED", ""]
    assert sorted(f for _, _, f, _ in mpps.inputs()) == ["a1.wl", "a1.wl", "a2.wl", "a2.wl"]


def test_with_mpps_off_it_is_not_offered(folder: Path) -> None:
    run = Mpps(folder, mpps=False)
    run.server.start()
    try:
        ae = AE(ae_title="CT1")
        for context in (MPPS, ModalityWorklistInformationFind, Verification):
            ae.add_requested_context(context)
        assoc = ae.associate("127.0.0.1", run.server.port, ae_title="WLDESK")
        assert assoc.is_established
        accepted = {str(cx.abstract_syntax) for cx in assoc.accepted_contexts}
        assoc.release()
        assert accepted == {ModalityWorklistInformationFind, Verification}
    finally:
        run.server.stop()


def test_with_mpps_on_its_context_is_accepted(mpps: Mpps) -> None:
    assoc = mpps.associate(MPPS, ModalityWorklistInformationFind, Verification)
    accepted = {str(cx.abstract_syntax) for cx in assoc.accepted_contexts}
    assoc.release()
    assert accepted == {MPPS, ModalityWorklistInformationFind, Verification}


def test_a_status_change_racing_with_a_ris_never_leaves_a_mixed_file(
        mpps: Mpps, folder: Path) -> None:
    entry = write_entry(folder, "a1.wl", accession="A1")
    original = dcmread(entry)
    ris = Ledger(folder)
    descriptions = [f"Exam {n}" for n in range(30)]
    stop = threading.Event()
    seen: set[bytes] = set()  # each state of the file read during the race

    def rewrite() -> None:
        for text in descriptions:
            order = Dataset()  # the order A1 (any step) with a new description
            order.AccessionNumber = "A1"
            order.RequestedProcedureDescription = text
            ris.put(order)

    def watch() -> None:
        while not stop.is_set():
            seen.add(entry.read_bytes())

    threads = [threading.Thread(target=rewrite), threading.Thread(target=watch)]
    for thread in threads:
        thread.start()
    uids = [generate_uid() for _ in range(5)]
    for uid in uids:  # each MPPS: STARTED, then COMPLETED
        assert mpps.create(uid, performed(key_of(entry))).Status == 0x0000
        assert mpps.set(uid, finished()).Status == 0x0000
    threads[0].join()
    stop.set()
    threads[1].join()
    assert len(seen) > 3
    statuses, texts = set(), set()
    for data in seen:
        ds = dcmread(io.BytesIO(data))
        statuses.add(step_status(ds))
        texts.add(str(ds.RequestedProcedureDescription))
        # every state read is one whole version: the original but for these two values
        ds.RequestedProcedureDescription = original.RequestedProcedureDescription
        for step in ds.ScheduledProcedureStepSequence:
            if "ScheduledProcedureStepStatus" in step:
                del step.ScheduledProcedureStepStatus
        assert ds == original
    assert statuses <= {"", "STARTED", "COMPLETED"}
    assert texts <= {"Exam", *descriptions}
    final = dcmread(entry)
    assert final.RequestedProcedureDescription == descriptions[-1]
    assert step_status(final) == "COMPLETED"


RIS_PROGRAM = """
import os, sys, time
from pydicom import dcmread
path, count = sys.argv[1], int(sys.argv[2])
ds = dcmread(path)
for n in range(count):  # each version written next to the entry and renamed over it
    ds.RequestedProcedureDescription = f"RIS {n}"
    ds.save_as(path + ".tmp", enforce_file_format=True)
    os.replace(path + ".tmp", path)
    time.sleep(0.02)  # a busy RIS: a new version every ~20 ms
"""


def test_a_status_change_racing_with_a_ris_program_writing_the_file_loses_neither(
        mpps: Mpps, folder: Path) -> None:
    entry = write_entry(folder, "a1.wl", accession="A1")
    original = dcmread(entry)
    stop = threading.Event()
    seen: set[bytes] = set()

    def watch() -> None:
        while not stop.is_set():
            seen.add(entry.read_bytes())

    watcher = threading.Thread(target=watch)
    watcher.start()
    ris = subprocess.Popen([sys.executable, "-c", RIS_PROGRAM, str(entry), "100"])
    try:
        while ris.poll() is None:  # MPPS messages for as long as the RIS writes
            uid = generate_uid()
            assert mpps.create(uid, performed(key_of(entry))).Status == 0x0000
            assert mpps.set(uid, finished()).Status == 0x0000
    finally:
        assert ris.wait(timeout=60) == 0
        stop.set()
        watcher.join()
    assert len(seen) > 3
    for data in seen:  # every state read is one whole version
        ds = dcmread(io.BytesIO(data))
        ds.RequestedProcedureDescription = original.RequestedProcedureDescription
        for step in ds.ScheduledProcedureStepSequence:
            if "ScheduledProcedureStepStatus" in step:
                del step.ScheduledProcedureStepStatus
        assert ds == original
    assert dcmread(entry).RequestedProcedureDescription == "RIS 99"  # its last version kept
    assert not [i for i in mpps.inputs() if i[0] == "failed"]


def test_wldesk_serve_takes_mpps(folder: Path, tmp_path: Path) -> None:
    entry = write_entry(folder, "a1.wl", accession="A1")
    with WldeskServe(folder, home=tmp_path / "home") as served:
        assert send_mpps(served.port, generate_uid(), performed(key_of(entry))).Status == 0
        assert step_status(dcmread(entry)) == "STARTED"


def test_old_records_are_pruned_at_start(folder: Path) -> None:
    mpps_dir().mkdir(parents=True)
    old, new = mpps_dir() / "1.2.3.json", mpps_dir() / "1.2.4.json"
    for path in (old, new):
        path.write_text("{}", encoding="utf-8")
    a_while_ago = time.time() - 8 * 86400
    os.utime(old, (a_while_ago, a_while_ago))
    make_mpps(Settings(database=str(folder), mpps_keep_days=7), EventBus())
    assert not old.exists()
    assert new.exists()
    assert make_mpps(Settings(database=str(folder), mpps=False), EventBus()) is None
