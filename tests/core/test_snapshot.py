"""The index snapshot: a restarted server answers from it, never with a stale entry."""

from __future__ import annotations

import gc
import io
import json
import logging
import os
import pickle
import threading
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.uid import ExplicitVRBigEndian

from tests.helpers.inprocess import Running
from tests.helpers.samples import name_query, write_entry
from wldesk.core.dicom.node import Layout, LayoutCache, Node
from wldesk.core.snapshot import load, snapshot_path, snapshot_pickler
from wldesk.core.store import Entry


def served(folder: Path) -> tuple[list[str], list[Entry]]:
    """Start a server on ``folder``, ask for every entry once, stop it (which saves the snapshot):
    the accession numbers of the first answers, and the entries the store held."""
    run = Running(folder)
    run.server.start()
    try:
        answers, _ = run.find(name_query(""))
        entries = list(run.server.store.snapshot().entries)
    finally:
        run.server.stop()
    return sorted(str(a.AccessionNumber) for a in answers), entries


def snapshot_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "wldesk.core.snapshot"]


def test_files_changed_added_or_removed_while_stopped_are_served_as_they_are_now(
        folder: Path, caplog: pytest.LogCaptureFixture) -> None:
    for accession in ("A1", "B1", "C1"):
        write_entry(folder, f"{accession.lower()}.wl", accession=accession)
    assert served(folder)[0] == ["A1", "B1", "C1"]
    assert snapshot_path(folder).is_file()
    # while wldesk is not running: A1 becomes A9 in place, same size, same modification time
    changed = folder / "a1.wl"
    before = changed.stat()
    data = changed.read_bytes()
    with open(changed, "r+b") as fh:
        fh.write(data.replace(b"A1", b"A9"))
    os.utime(changed, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = changed.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == \
        (before.st_size, before.st_mtime_ns, before.st_ino)
    (folder / "b1.wl").unlink()
    write_entry(folder, "d1.wl", accession="D1")
    caplog.clear()
    with caplog.at_level(logging.INFO):
        assert served(folder)[0] == ["A9", "C1", "D1"]
    assert snapshot_records(caplog) == []  # the snapshot was used
    with caplog.at_level(logging.INFO):
        assert served(folder)[0] == ["A9", "C1", "D1"]  # and saved again as it is now
    assert snapshot_records(caplog) == []


def corrupt(path: Path, other: Path) -> None:
    path.write_bytes(path.read_bytes()[:-40] + b"\xff\x00 not a pickle\n")


def truncated(path: Path, other: Path) -> None:
    path.write_bytes(path.read_bytes()[:-40])


def garbage(path: Path, other: Path) -> None:
    path.write_bytes(os.urandom(5000))


def another_format(path: Path, other: Path) -> None:
    lines = path.read_bytes().split(b"\n", 1)
    header = json.loads(lines[0])
    header["format"] = 1
    path.write_bytes(json.dumps(header).encode() + b"\n" + lines[1])


def another_folder(path: Path, other: Path) -> None:
    write_entry(other, "x1.wl", accession="X1")
    served(other)
    path.write_bytes(snapshot_path(other).read_bytes())


def with_entries(path: Path, *pickled: Any) -> None:
    """The snapshot's header, then ``pickled`` as its stream."""
    header = path.read_bytes().split(b"\n", 1)[0]
    path.write_bytes(header + b"\n" + b"".join(pickle.dumps(item) for item in pickled))


class Marker:
    """Unpickled, it would create a file: the loader must never call it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.path,))


def names_a_function(path: Path, other: Path) -> None:
    with_entries(path, [("a1.wl", 1, (), (), Marker(other / "touched"))], None)


def values_that_do_not_fit_their_layout(path: Path, other: Path) -> None:
    layout = Layout((0x00080050, 0x00100010), ("SH", "PN"))
    buffer = io.BytesIO()
    pickler = snapshot_pickler(buffer)
    pickler.dump([("a1.wl", 1, (), (), Node(layout, ("A1",)))])
    pickler.dump(None)
    header = path.read_bytes().split(b"\n", 1)[0]
    path.write_bytes(header + b"\n" + buffer.getvalue())


def a_sequence_holding_text(path: Path, other: Path) -> None:
    layout = Layout((0x00080050, 0x00400100), ("SH", "SQ"))
    buffer = io.BytesIO()
    pickler = snapshot_pickler(buffer)
    pickler.dump([("a1.wl", 1, (), (), Node(layout, ("A1", ("not an item",))))])
    pickler.dump(None)
    header = path.read_bytes().split(b"\n", 1)[0]
    path.write_bytes(header + b"\n" + buffer.getvalue())


class Rebuilt:
    """Pickled, a node made from checked values and then given others (the BUILD instruction)."""

    def __init__(self, layout: Layout, values: tuple[Any, ...], later: tuple[Any, ...]) -> None:
        self.layout, self.values, self.later = layout, values, later

    def __reduce__(self) -> tuple[Any, ...]:
        return (Node, (self.layout, self.values), (None, {"values": self.later}))


def values_changed_after_the_check(path: Path, other: Path) -> None:
    layout = Layout((0x00080050, 0x00100010), ("SH", "PN"))
    buffer = io.BytesIO()
    pickler = snapshot_pickler(buffer)
    pickler.dump([("a1.wl", 1, (), (), Rebuilt(layout, ("A1", "DOE^JOHN"), ("A1",)))])
    pickler.dump(None)
    header = path.read_bytes().split(b"\n", 1)[0]
    path.write_bytes(header + b"\n" + buffer.getvalue())


def not_entries(path: Path, other: Path) -> None:
    with_entries(path, {"a1.wl": 1}, None)


@pytest.mark.parametrize("spoil", [corrupt, truncated, garbage, another_format, another_folder,
                                   names_a_function, values_that_do_not_fit_their_layout,
                                   a_sequence_holding_text, values_changed_after_the_check,
                                   not_entries])
def test_an_unusable_snapshot_is_ignored_and_said_once(
        folder: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, spoil: Any) -> None:
    for accession in ("A1", "B1"):
        write_entry(folder, f"{accession.lower()}.wl", accession=accession)
    served(folder)
    write_entry(folder, "c1.wl", accession="C1")
    other = tmp_path / "other"
    other.mkdir()
    spoil(snapshot_path(folder), other)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        assert served(folder)[0] == ["A1", "B1", "C1"]
    records = snapshot_records(caplog)
    assert len(records) == 1, [r.getMessage() for r in records]
    assert records[0].levelno == logging.INFO
    assert "indexing every file" in records[0].getMessage()
    assert not (other / "touched").exists()  # nothing the snapshot names was called


def flat(node: Node) -> list[Any]:
    return [(tag, vr, [flat(item) for item in value] if vr == "SQ" else (type(value), value))
            for tag, vr, value in node]


def write_varied(folder: Path, count: int) -> None:
    """``count`` entries of several shapes, character sets, value types and encodings."""
    names = ["DOE^JOHN", "MÜLLER^HANS", "山田^太郎", "O'NEIL^ANN", ""]
    for i in range(count):
        charset = ("ISO_IR 192", None, "ISO_IR 100")[i % 3]
        patient = names[i % len(names)] if charset == "ISO_IR 192" else names[i % 2]
        path = write_entry(folder, f"e{i:03}.wl", charset=charset, patient=patient,
                           accession=f"ACC{i}", modality=("CT", "MR", "US")[i % 3],
                           station=f"ST{i % 7}", date=f"202611{1 + i % 28:02}")
        if i % 10 == 0:  # numbers, bytes, several values; big endian (read through pydicom)
            ds = pydicom.dcmread(path)
            ds.PatientWeight = "72.50"
            ds.OtherPatientIDs = ["X1", "X2"]
            ds.add_new(0x00280010, "US", 512)
            ds.add_new(0x00189087, "FD", [0.5, 1.25])
            ds.add_new(0x00091010, "OB", b"\x00\x01binary")
            ds.add_new(0x00100021, "LO", "")
            if i % 20 == 0:
                ds.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
                pydicom.dcmwrite(path, ds, implicit_vr=False, little_endian=False,
                                 force_encoding=True)
            else:
                ds.save_as(path, enforce_file_format=True)
    (folder / "broken.wl").write_bytes(b"not DICOM")


def test_answers_from_the_snapshot_are_those_of_a_fresh_index(folder: Path) -> None:
    write_varied(folder, 200)
    fresh_answers, fresh = served(folder)
    assert len(fresh) == 200
    snapshot_path(folder).rename(folder.parent / "kept.jsonl")
    query = name_query("")
    query.PatientWeight = ""
    query.OtherPatientIDs = ""
    query.PatientID = ""

    def full_answers() -> list[dict[str, Any]]:
        run = Running(folder)
        run.server.start()
        try:
            answers, _ = run.find(query)
        finally:
            run.server.stop()
        return sorted((a.to_json_dict() for a in answers), key=lambda d: json.dumps(d, sort_keys=True))

    expected = full_answers()  # a fresh index (no snapshot)
    (folder.parent / "kept.jsonl").replace(snapshot_path(folder))
    assert full_answers() == expected
    from_snapshot_answers, from_snapshot = served(folder)
    assert from_snapshot_answers == fresh_answers
    assert [(e.name, e.version, e.charset, e.notes, flat(e.node)) for e in from_snapshot] == \
        [(e.name, e.version, e.charset, e.notes, flat(e.node)) for e in fresh]


def test_modalities_asking_at_once_at_start_all_get_the_folder_as_it_is_now(folder: Path) -> None:
    """Eight modalities ask again and again from the moment the restarted server listens: every
    answer holds exactly the entries on disk now (changed, removed and added while it was
    stopped), none from the snapshot's past."""
    for number in range(60):
        write_entry(folder, f"e{number:02d}.wl", accession=f"E{number:02d}")
    assert len(served(folder)[0]) == 60 and snapshot_path(folder).is_file()
    for number in range(10):  # rewritten with another accession number
        write_entry(folder, f"e{number:02d}.wl", accession=f"X{number:02d}")
    for number in range(10, 15):
        (folder / f"e{number:02d}.wl").unlink()
    for number in range(5):
        write_entry(folder, f"n{number}.wl", accession=f"N{number}")
    expected = sorted([f"X{n:02d}" for n in range(10)] + [f"E{n:02d}" for n in range(15, 60)]
                      + [f"N{n}" for n in range(5)])
    run = Running(folder)
    run.server.start()
    seen: list[list[str]] = []
    errors: list[BaseException] = []

    def modality() -> None:
        try:
            for _ in range(5):
                answers, _statuses = run.find(name_query(""))
                seen.append(sorted(str(a.AccessionNumber) for a in answers))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=modality) for _ in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        run.server.stop()
    assert errors == []
    assert len(seen) == 40
    assert all(answer == expected for answer in seen)


def test_loading_leaves_nothing_for_the_cyclic_collector(folder: Path) -> None:
    """The index is frozen out of the cyclic collector once built: whatever the load left in
    cycles would then never be freed (it was the loader and its memo, ~20 MB at 100,000)."""
    for i in range(300):
        write_entry(folder, f"e{i:03}.wl", accession=f"ACC{i}")
    served(folder)
    collecting = gc.isenabled()
    gc.disable()
    try:
        gc.collect()
        rows = load(snapshot_path(folder), folder, LayoutCache())
        assert rows is not None and len(rows) == 300
        assert gc.collect() < 50  # without releasing the loader: over 600 (two per entry)
    finally:
        if collecting:
            gc.enable()
