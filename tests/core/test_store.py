"""The folder store: every refresh serves exactly the complete `.wl` files on disk at that moment.

Real files in a temporary folder. The freshness tests run twice: with ``refresh()`` (a full
reconciliation) and with a started, watching store brought up to date by ``sync()`` (what a query
does). The only wrapper is a counting pass-through around the real ``read_entry`` to prove
unchanged files are not read again.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest
from watchdog.events import FileSystemEvent

import wldesk.core.store as store_module
from tests.conftest import LogWarnings
from tests.helpers.samples import (
    convert_dcmtk_samples,
    dataset_of,
    encode,
    requires_dump2dcm,
    worklist_dataset,
    write_wl,
)
from wldesk.core.events import FileProblemEvent
from wldesk.core.store import Entry, FolderStore, Snapshot
from wldesk.core.watch import is_worklist_file


class Reports:
    """The report callback: keeps every FileProblemEvent."""

    def __init__(self) -> None:
        self.events: list[FileProblemEvent] = []

    def __call__(self, event: FileProblemEvent) -> None:
        self.events.append(event)

    def problems(self, path: Path | None = None) -> list[FileProblemEvent]:
        return [e for e in self.events if not e.resolved and (path is None or e.path == path)]

    def resolved(self, path: Path | None = None) -> list[FileProblemEvent]:
        return [e for e in self.events if e.resolved and (path is None or e.path == path)]


@pytest.fixture
def reports() -> Reports:
    return Reports()


class Store:
    """A FolderStore under test; ``fresh()`` is what a query sees right now."""

    def __init__(self, folder: Path, report: Reports | None, mode: str) -> None:
        self.mode = mode
        self.inner = FolderStore(folder, report=report, watch=mode == "watch")
        if mode == "watch":
            self.inner.start()
            assert self.inner.wait_ready(10)

    def fresh(self) -> Snapshot:
        if self.mode == "refresh":
            return self.inner.refresh()
        self.inner.sync()
        return self.inner.snapshot()


class MakeStore(Protocol):
    def __call__(self, folder: Path, report: Reports | None = None) -> Store: ...


@pytest.fixture(params=["refresh", "watch"])
def make_store(request: pytest.FixtureRequest) -> Iterator[MakeStore]:
    stores: list[Store] = []

    def make(folder: Path, report: Reports | None = None) -> Store:
        stores.append(Store(folder, report, request.param))
        return stores[-1]

    yield make
    for store in stores:
        store.inner.stop()


def names(snapshot: Snapshot) -> list[str]:
    return [entry.path.name for entry in snapshot.entries]


def problem_names(snapshot: Snapshot) -> list[str]:
    return [problem.path.name for problem in snapshot.problems]


def by_name(snapshot: Snapshot) -> dict[str, Entry]:
    return {entry.path.name: entry for entry in snapshot.entries}


def bump_mtime(path: Path, seconds: int = 10) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + seconds * 1_000_000_000))


def atomic_replace(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def test_file_names() -> None:
    assert is_worklist_file("a.wl")
    assert is_worklist_file("A.WL")
    assert is_worklist_file("b.Wl")
    assert not is_worklist_file(".hidden.wl")
    assert not is_worklist_file("a.wl.tmp")
    assert not is_worklist_file("a.dcm")
    assert not is_worklist_file("wl")


def test_new_store_is_empty_until_refreshed(folder: Path) -> None:
    write_wl(folder / "a.wl", worklist_dataset())
    store = FolderStore(folder)
    assert store.snapshot().entries == ()
    assert names(store.refresh()) == ["a.wl"]
    assert names(store.snapshot()) == ["a.wl"]


def test_add_modify_delete(make_store: MakeStore, folder: Path, reports: Reports) -> None:
    store = make_store(folder, reports)
    assert store.fresh().entries == ()

    write_wl(folder / "a.wl", worklist_dataset("FIRST^VERSION"))
    snapshot = store.fresh()
    assert names(snapshot) == ["a.wl"]
    assert str(dataset_of(snapshot.entries[0]).PatientName) == "FIRST^VERSION"

    write_wl(folder / "b.wl", worklist_dataset("OTHER^PATIENT"))
    assert names(store.fresh()) == ["a.wl", "b.wl"]

    # rewritten in place (same size), with a different modification time
    before = (folder / "a.wl").stat().st_size
    write_wl(folder / "a.wl", worklist_dataset("SECOND^VERSION"))
    assert (folder / "a.wl").stat().st_size == before
    bump_mtime(folder / "a.wl")
    assert str(dataset_of(by_name(store.fresh())["a.wl"]).PatientName) == "SECOND^VERSION"

    # replaced atomically (a new inode) with content of the same size
    atomic_replace(folder / "a.wl", encode(worklist_dataset("THIRDX^VERSION")))
    assert (folder / "a.wl").stat().st_size == before
    assert str(dataset_of(by_name(store.fresh())["a.wl"]).PatientName) == "THIRDX^VERSION"

    (folder / "a.wl").unlink()
    assert names(store.fresh()) == ["b.wl"]
    (folder / "b.wl").unlink()
    assert store.fresh() == Snapshot((), ())
    assert reports.events == []


def test_same_size_rewrite_keeping_mtime_is_seen(make_store: MakeStore, folder: Path) -> None:
    """Even with the modification time put back, the change time shows the new content."""
    path = write_wl(folder / "a.wl", worklist_dataset("FIRST^VERSION"))
    store = make_store(folder)
    store.fresh()
    st = path.stat()
    path.write_bytes(encode(worklist_dataset("OTHER^VERSION")))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size
    assert str(dataset_of(store.fresh().entries[0]).PatientName) == "OTHER^VERSION"


def test_half_written_file_is_a_problem_until_complete(make_store: MakeStore, folder: Path,
                                                       reports: Reports) -> None:
    data = encode(worklist_dataset("LATE^WRITER"))
    path = folder / "late.wl"
    store = make_store(folder, reports)
    path.write_bytes(data[: data.index(b"LATE") + 3])  # cut inside the patient name

    for _ in range(4):
        snapshot = store.fresh()
        assert snapshot.entries == ()
        assert problem_names(snapshot) == ["late.wl"]
        assert "incomplete" in snapshot.problems[0].reason
    assert len(reports.problems(path)) == 1  # reported once for this version
    assert "incomplete" in reports.problems(path)[0].reason

    with open(path, "ab") as fh:  # the writer finishes the same file
        fh.write(data[data.index(b"LATE") + 3:])
    for _ in range(3):
        snapshot = store.fresh()
        assert names(snapshot) == ["late.wl"]
        assert snapshot.problems == ()
        assert str(dataset_of(snapshot.entries[0]).PatientName) == "LATE^WRITER"
    assert len(reports.problems(path)) == 1
    assert len(reports.resolved(path)) == 1


def test_growing_file_is_reported_once_per_version(make_store: MakeStore, folder: Path,
                                                   reports: Reports) -> None:
    data = encode(worklist_dataset())
    path = folder / "slow.wl"
    store = make_store(folder, reports)
    cuts = [150, 300, 400, len(data) - 3]
    for cut in cuts:
        path.write_bytes(data[:cut])
        bump_mtime(path, cut)
        for _ in range(3):
            assert store.fresh().entries == ()
    assert len(reports.problems(path)) == len(cuts)
    assert reports.resolved(path) == []


def test_problem_file_deleted_gives_a_resolved_event(make_store: MakeStore, folder: Path,
                                                     reports: Reports) -> None:
    path = folder / "bad.wl"
    path.write_bytes(b"")
    store = make_store(folder, reports)
    assert problem_names(store.fresh()) == ["bad.wl"]
    assert store.fresh().problems[0].reason == "empty file"
    path.unlink()
    for _ in range(3):
        assert store.fresh() == Snapshot((), ())
    assert len(reports.problems(path)) == 1
    assert len(reports.resolved(path)) == 1
    assert reports.resolved(path)[0].reason == "removed"


def test_good_file_turning_bad_then_good(make_store: MakeStore, folder: Path, reports: Reports) -> None:
    data = encode(worklist_dataset())
    path = folder / "a.wl"
    path.write_bytes(data)
    store = make_store(folder, reports)
    assert names(store.fresh()) == ["a.wl"]
    atomic_replace(path, data[:-5])
    snapshot = store.fresh()
    assert snapshot.entries == ()  # the old content is not served any more
    assert problem_names(snapshot) == ["a.wl"]
    atomic_replace(path, data)
    assert names(store.fresh()) == ["a.wl"]
    assert [e.resolved for e in reports.events] == [False, True]


def test_problems_and_entries_side_by_side(make_store: MakeStore, folder: Path, reports: Reports) -> None:
    write_wl(folder / "good1.wl", worklist_dataset())
    write_wl(folder / "good2.wl", worklist_dataset(), "implicit")
    (folder / "empty.wl").write_bytes(b"")
    (folder / "text.wl").write_text("PatientName=DOE\n", encoding="ascii")
    store = make_store(folder, reports)
    for _ in range(3):
        snapshot = store.fresh()
        assert names(snapshot) == ["good1.wl", "good2.wl"]
        assert problem_names(snapshot) == ["empty.wl", "text.wl"]
    assert sorted(e.path.name for e in reports.events) == ["empty.wl", "text.wl"]


def test_other_files_are_ignored(make_store: MakeStore, folder: Path, reports: Reports) -> None:
    data = encode(worklist_dataset())
    for name in ("upper.WL", "mixed.Wl", "lower.wl"):
        (folder / name).write_bytes(data)
    for name in ("notes.txt", "image.dcm", "lower.wl.tmp", "wl", ".hidden.wl", ".lower.wl.swp",
                 "lockfile"):
        (folder / name).write_bytes(b"not a worklist")
    (folder / "sub.wl").mkdir()  # a folder named like a worklist file
    write_wl(folder / "sub.wl" / "inner.wl", worklist_dataset())
    store = make_store(folder, reports)
    assert names(store.fresh()) == ["lower.wl", "mixed.Wl", "upper.WL"]
    assert store.fresh().problems == ()
    assert reports.events == []


def test_missing_folder_then_created(make_store: MakeStore, tmp_path: Path, reports: Reports,
                                     log_warnings: LogWarnings) -> None:
    folder = tmp_path / "not-yet"
    store = make_store(folder, reports)
    if store.mode == "watch":
        log_warnings.expect(r"cannot watch .*not-yet")
    for _ in range(3):
        snapshot = store.fresh()
        assert snapshot.entries == ()
        assert snapshot.folder_error is not None
        assert str(folder) in snapshot.folder_error
    assert len(reports.problems(folder)) == 1

    folder.mkdir()
    write_wl(folder / "a.wl", worklist_dataset())
    snapshot = store.fresh()
    assert snapshot.folder_error is None
    assert names(snapshot) == ["a.wl"]
    assert len(reports.resolved(folder)) == 1

    shutil.rmtree(folder)  # gone again: nothing is served from the old index
    snapshot = store.fresh()
    assert snapshot.entries == ()
    assert snapshot.folder_error is not None
    assert len(reports.problems(folder)) == 2


def test_folder_that_is_a_file(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x", encoding="ascii")
    snapshot = FolderStore(not_a_folder).refresh()
    assert snapshot.entries == ()
    assert snapshot.folder_error is not None


class CountingReads:
    """Pass-through around the real read_entry, counting the files it reads."""

    def __init__(self, real: Callable[..., Entry]) -> None:
        self.real = real
        self.paths: list[str] = []

    def __call__(self, path: Path, *args: Any, **kwargs: Any) -> Entry:
        self.paths.append(path.name)
        return self.real(path, *args, **kwargs)


def test_unchanged_files_are_not_read_again(make_store: MakeStore, folder: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    counting = CountingReads(store_module.read_entry)
    monkeypatch.setattr(store_module, "read_entry", counting)
    for number in range(5):
        write_wl(folder / f"e{number}.wl", worklist_dataset(PatientID=f"P{number}"))
    (folder / "bad.wl").write_bytes(b"\0\1\2")
    store = make_store(folder)
    store.fresh()
    assert sorted(counting.paths) == ["bad.wl", "e0.wl", "e1.wl", "e2.wl", "e3.wl", "e4.wl"]

    counting.paths.clear()
    for _ in range(5):
        assert len(store.fresh().entries) == 5
    assert counting.paths == []  # neither the good files nor the problem file were read again

    bump_mtime(folder / "e2.wl")
    write_wl(folder / "e5.wl", worklist_dataset())
    (folder / "e0.wl").unlink()
    snapshot = store.fresh()
    assert sorted(counting.paths) == ["e2.wl", "e5.wl"]
    assert names(snapshot) == ["e1.wl", "e2.wl", "e3.wl", "e4.wl", "e5.wl"]


def test_readers_of_the_folder_send_no_events(folder: Path) -> None:
    """Only changes reach the watcher: indexing (or anyone) reading files must not flood it."""
    for number in range(20):
        write_wl(folder / f"e{number}.wl", worklist_dataset(PatientID=f"P{number}"))
    store = Store(folder, None, "watch")
    try:
        watcher = store.inner._watcher
        assert watcher is not None
        seen: list[str] = []
        on_any_event = watcher.on_any_event

        def counting(event: FileSystemEvent) -> None:
            path = Path(os.fsdecode(event.src_path))
            if path.parent == folder and not path.name.startswith(".wldesk-sync"):
                seen.append(f"{event.event_type} {path.name}")
            on_any_event(event)

        watcher.on_any_event = counting  # type: ignore[method-assign]
        for path in sorted(folder.iterdir()):
            path.read_bytes()
        bump_mtime(folder / "e3.wl")
        assert len(store.fresh().entries) == 20  # the barrier: every earlier event has arrived
    finally:
        store.inner.stop()
    assert seen == ["attrib e3.wl"]  # files read 20 times: no opened / closed_no_write events


def test_entries_are_sorted_and_snapshots_immutable(make_store: MakeStore, folder: Path) -> None:
    for name in ("c.wl", "a.wl", "b.wl"):
        write_wl(folder / name, worklist_dataset())
    store = make_store(folder)
    first = store.fresh()
    (folder / "b.wl").unlink()
    second = store.fresh()
    assert names(first) == ["a.wl", "b.wl", "c.wl"]  # an earlier snapshot is not changed
    assert names(second) == ["a.wl", "c.wl"]


@requires_dump2dcm
def test_dcmtk_samples_all_served(make_store: MakeStore, folder: Path, reports: Reports) -> None:
    convert_dcmtk_samples(folder, "-e")
    snapshot = make_store(folder, reports).fresh()
    assert len(snapshot.entries) == 10
    assert snapshot.problems == ()
    assert reports.events == []
