"""The ledger: one entry per order whoever writes it, rewrites that keep the other bytes,
archives instead of deletes."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset

from tests.helpers.samples import worklist_dataset, write_entry
from wldesk.core.editing.document import load_document, save_document
from wldesk.core.editing.entries import archive_folder
from wldesk.core.flow.ledger import REWRITE_PATIENCE, Ledger, LedgerError, OrderKey, dataset_key
from wldesk.core.flow.status import set_step_status, step_status


def order(accession: str = "ACC1", step: str = "SPS1", **values: object) -> Dataset:
    ds = worklist_dataset("MÜLLER^HANS", SpecificCharacterSet="ISO_IR 192",
                          AccessionNumber=accession, **values)
    ds.ScheduledProcedureStepSequence[0].ScheduledProcedureStepID = step
    return ds


def wl_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.wl"))


def test_an_order_is_created_once_and_updated_in_place(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    first = ledger.put(order())
    assert (first.action, first.path.name, first.key) == ("created", "ACC1_SPS1.wl",
                                                          OrderKey("ACC1", "SPS1"))
    assert ledger.put(order()).action == "unchanged"  # the same message again
    changed = ledger.put(order(PatientName="MÜLLER^HANS^PETER"))
    assert (changed.action, changed.path) == ("updated", first.path)
    assert wl_files(tmp_path) == ["ACC1_SPS1.wl"]
    assert load_document(first.path).dataset.PatientName == "MÜLLER^HANS^PETER"
    # another step of the same accession is another order
    assert ledger.put(order(step="SPS2")).path.name == "ACC1_SPS2.wl"
    assert ledger.find(OrderKey("ACC1")) == [tmp_path / "ACC1_SPS1.wl", tmp_path / "ACC1_SPS2.wl"]
    with pytest.raises(LedgerError, match="exists already"):
        ledger.put(order(), update=False)


def test_entries_of_other_programs_are_found_and_their_other_bytes_kept(tmp_path: Path) -> None:
    path = write_entry(tmp_path, "from-ris-export.wl", accession="R77")
    private = load_document(path)
    private.dataset.add_new(0x00091010, "LO", "kept as it is")
    save_document(private, path)
    ledger = Ledger(tmp_path)
    [found] = ledger.find(OrderKey("R77", "S-R77"))
    assert found == path
    written = ledger.update(OrderKey("R77"), lambda ds: _rename(ds, "NEW^NAME"))
    assert [w.action for w in written] == ["updated"]
    doc = load_document(path)
    assert doc.dataset.PatientName == "NEW^NAME" and doc.dataset[0x00091010].value == "kept as it is"
    assert ledger.update(OrderKey("R77"), lambda ds: _rename(ds, "NEW^NAME"))[0].action == "unchanged"


def _rename(ds: Dataset, name: str) -> bool:
    if ds.PatientName == name:
        return False
    ds.PatientName = name
    return True


def test_archiving_moves_every_step_and_deletes_nothing(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    ledger.put(order(step="SPS1"))
    ledger.put(order(step="SPS2"))
    ledger.put(order(accession="OTHER"))
    archived = ledger.archive(OrderKey("ACC1"))
    assert sorted(w.path.name for w in archived) == ["ACC1_SPS1.wl", "ACC1_SPS2.wl"]
    assert all(w.path.parent == archive_folder(tmp_path) and w.path.exists() for w in archived)
    assert wl_files(tmp_path) == ["OTHER_SPS1.wl"]
    assert ledger.archive(OrderKey("ACC1")) == []


def test_unreadable_files_and_orders_without_accession(tmp_path: Path) -> None:
    (tmp_path / "ACC1_SPS1.wl").write_bytes(b"being written by someone else")
    ledger = Ledger(tmp_path)
    assert ledger.find(OrderKey("ACC1")) == []
    written = ledger.put(order())
    assert written.path.name == "ACC1_SPS1-2.wl"  # the unreadable file is left alone
    assert (tmp_path / "ACC1_SPS1.wl").read_bytes() == b"being written by someone else"
    anonymous = ledger.put(order(accession=""))
    assert anonymous.action == "created" and anonymous.key == OrderKey("", "SPS1")
    assert ledger.put(order(accession="")).path != anonymous.path  # cannot be told apart
    assert ledger.find(OrderKey("")) == []


def test_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="does not exist"):
        Ledger(tmp_path / "gone").put(order())


def test_the_same_order_from_many_threads_makes_one_entry(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    errors: list[BaseException] = []

    def send(number: int) -> None:
        try:
            ledger.put(order(PatientID=f"P{number % 3}"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert wl_files(tmp_path) == ["ACC1_SPS1.wl"]
    assert dataset_key(load_document(tmp_path / "ACC1_SPS1.wl").dataset) == OrderKey("ACC1", "SPS1")


def test_a_patients_entries_are_found_and_updated_by_patient_id(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    one = ledger.put(order("ACC1", PatientID="P1")).path
    two = ledger.put(order("ACC2", PatientID="P1")).path
    ledger.put(order("ACC3", PatientID="P2"))
    assert ledger.find_patient("P1") == [one, two] and ledger.find_patient("") == []

    def rename(ds: Dataset) -> bool:
        if ds.AccessionNumber == "ACC2":
            return False
        ds.PatientName = "MEIER^HANS"
        return True

    written = ledger.update_patient("P1", rename)
    assert [(w.action, w.path, w.key) for w in written] == [
        ("updated", one, OrderKey("ACC1", "SPS1")), ("unchanged", two, OrderKey("ACC2", "SPS1"))]
    assert str(load_document(one).dataset.PatientName) == "MEIER^HANS"
    assert str(load_document(two).dataset.PatientName) == "MÜLLER^HANS"


def test_a_whole_entry_is_replaced_and_an_entry_archived_by_its_file(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    path = ledger.put(order(PatientID="P1")).path
    other = ledger.put(order("ACC2")).path
    replacement = order()
    del replacement.PatientID
    assert ledger.replace(path, replacement).action == "updated"
    assert "PatientID" not in load_document(path).dataset  # what the new one lacks is gone
    with pytest.raises(LedgerError, match=r"ACC2_SPS1\.wl"):  # another entry's order
        ledger.replace(path, order("ACC2"))
    assert load_document(path).dataset.AccessionNumber == "ACC1"
    moved = ledger.archive_file(other)
    assert (moved.action, moved.key, moved.path) == ("archived", OrderKey("ACC2", "SPS1"),
                                                      archive_folder(tmp_path) / "ACC2_SPS1.wl")
    with pytest.raises(LedgerError, match="not in the worklist folder"):
        ledger.archive_file(other)
    with pytest.raises(LedgerError, match="not in the worklist folder"):
        ledger.replace(other, order("ACC2"))


def test_problem_files_are_listed(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    ledger.put(order())
    (tmp_path / "broken.wl").write_bytes(b"not DICOM")
    (tmp_path / ".hidden.wl").write_bytes(b"not DICOM either")
    assert ledger.problem_files() == [tmp_path / "broken.wl"]


def test_an_entry_is_updated_by_its_file_whatever_its_order(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    path = write_entry(tmp_path, "no-accession.wl", accession="")
    before = path.read_bytes()

    def describe(ds: Dataset) -> bool:
        ds.RequestedProcedureDescription = "Changed"
        return True

    assert ledger.find(OrderKey("")) == []  # no order key to find it by
    written = ledger.update_file(path, describe)
    assert (written.action, written.path) == ("updated", path)
    assert load_document(path).dataset.RequestedProcedureDescription == "Changed"
    assert path.read_bytes() != before
    assert ledger.update_file(path, lambda _ds: False).action == "unchanged"
    path.unlink()
    with pytest.raises(LedgerError, match="not in the worklist folder"):
        ledger.update_file(path, describe)


def test_find_where_and_update_where_go_by_the_entries_facts(tmp_path: Path) -> None:
    first = write_entry(tmp_path, "a1.wl", accession="A1")
    second = write_entry(tmp_path, "a2.wl", accession="A2")
    study_uid = str(dcmread(second).StudyInstanceUID)
    ledger = Ledger(tmp_path)
    assert ledger.find_where(lambda facts: facts.study_uid == study_uid) == [second]
    assert ledger.find_where(lambda facts: "S-A1" in facts.step_ids) == [first]
    assert ledger.find_where(lambda facts: facts.requested_procedure_id == "RP-A2") == [second]
    before = first.read_bytes()
    [written] = ledger.update_where(lambda facts: facts.study_uid == study_uid,
                                    set_step_status("STARTED"))
    assert (written.action, written.path) == ("updated", second)
    assert step_status(dcmread(second)) == "STARTED"
    assert first.read_bytes() == before


def test_every_ledger_of_a_folder_shares_its_lock(tmp_path: Path) -> None:
    assert Ledger(tmp_path).lock is Ledger(tmp_path / ".." / tmp_path.name).lock
    assert Ledger(tmp_path).lock is not Ledger(tmp_path / "other").lock


def _ris_rewrites(path: Path, description: str) -> None:
    """A RIS writing the folder itself: a whole new version of the entry (no step status), written
    next to it and renamed over it."""
    ds = dcmread(path)
    ds.RequestedProcedureDescription = description
    for item in ds.ScheduledProcedureStepSequence:
        if "ScheduledProcedureStepStatus" in item:
            del item.ScheduledProcedureStepStatus
    temporary = path.with_name(".ris-temp")
    ds.save_as(temporary, enforce_file_format=True)
    os.replace(temporary, path)


def test_a_file_another_program_replaces_during_a_rewrite_keeps_both_changes(
        tmp_path: Path) -> None:
    path = write_entry(tmp_path, "a1.wl", accession="A1")
    ledger = Ledger(tmp_path)
    completed = set_step_status("COMPLETED")
    calls = []

    def change(ds: Dataset) -> bool:
        calls.append(str(ds.RequestedProcedureDescription))
        if len(calls) == 1:  # the RIS writes its version after the ledger read the file
            _ris_rewrites(path, "Changed by the RIS")
        return completed(ds)

    [written] = ledger.update(OrderKey("A1"), change)
    assert written.action == "updated"
    assert calls == ["Exam", "Changed by the RIS"]  # the change made again on the RIS's version
    final = dcmread(path)
    assert final.RequestedProcedureDescription == "Changed by the RIS"
    assert step_status(final) == "COMPLETED"


def test_a_file_that_keeps_changing_during_a_rewrite_is_left_to_its_writer(
        tmp_path: Path) -> None:
    path = write_entry(tmp_path, "a1.wl", accession="A1")
    completed = set_step_status("COMPLETED")
    calls = []

    def change(ds: Dataset) -> bool:
        calls.append(1)
        _ris_rewrites(path, f"Version {len(calls)}")
        return completed(ds)

    started = time.monotonic()
    with pytest.raises(LedgerError) as refused:
        Ledger(tmp_path).update_file(path, change)
    assert str(refused.value) == (f"a1.wl kept changing on disk while it was rewritten "
                                  f"({len(calls)} attempts in 2 s): not changed")
    assert REWRITE_PATIENCE <= time.monotonic() - started < REWRITE_PATIENCE + 2
    assert len(calls) > 1
    final = dcmread(path)
    assert final.RequestedProcedureDescription == f"Version {len(calls)}"  # the RIS's last
    assert step_status(final) == ""
