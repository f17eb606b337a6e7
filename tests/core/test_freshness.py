"""Freshness with folder events: every change made before a sync is in the index after it."""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.samples import write_entry
from wldesk.core.dicom.model import SPS_SEQUENCE
from wldesk.core.dicom.wlfile import parse_bytes
from wldesk.core.events import FileProblemEvent
from wldesk.core.store import FolderStore


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[tuple[FolderStore, list[FileProblemEvent]]]:
    events: list[FileProblemEvent] = []
    store = FolderStore(tmp_path, report=events.append, reconcile_seconds=3600)
    store.start()
    assert store.wait_ready(10)
    assert store.mode == "watching"
    yield store, events
    store.stop()


def accessions(store: FolderStore) -> list[str]:
    store.sync()
    return sorted(str(e.node.value(0x00080050)) for e in store.candidates())


def test_add_change_replace_delete_are_seen_by_the_next_sync(
        watched: tuple[FolderStore, list[FileProblemEvent]], tmp_path: Path) -> None:
    store, _ = watched
    assert accessions(store) == []
    path = write_entry(tmp_path, "a.wl", accession="A1")
    assert accessions(store) == ["A1"]
    stat = path.stat()
    write_entry(tmp_path, "a.wl", accession="A2")  # same size, rewritten in place
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # even with the old mtime
    assert accessions(store) == ["A2"]
    write_entry(tmp_path, "tmp.part", accession="A3")
    os.replace(tmp_path / "tmp.part", path)  # atomic replace
    assert accessions(store) == ["A3"]
    os.rename(path, tmp_path / "b.wl")
    assert accessions(store) == ["A3"]
    assert [e.name for e in store.candidates()] == ["b.wl"]
    (tmp_path / "b.wl").unlink()
    assert accessions(store) == []


def test_many_files_written_quickly(watched: tuple[FolderStore, list[FileProblemEvent]],
                                    tmp_path: Path) -> None:
    store, _ = watched
    for number in range(200):
        write_entry(tmp_path, f"{number}.wl", accession=f"A{number:03}")
    assert accessions(store) == [f"A{n:03}" for n in range(200)]


def test_file_held_open_by_its_writer_is_not_read_until_closed(
        watched: tuple[FolderStore, list[FileProblemEvent]], tmp_path: Path) -> None:
    store, events = watched
    full = write_entry(tmp_path, "full.tmp", accession="A1").read_bytes()
    target = tmp_path / "slow.wl"
    with open(target, "wb") as fh:
        fh.write(full[:200])
        fh.flush()
        assert accessions(store) == []
        fh.write(full[200:])
        fh.flush()
        assert accessions(store) == []  # complete, but its writer is not done with it
        assert store.snapshot().problems == ()
    assert accessions(store) == ["A1"]
    assert events == []  # never read half-written: no problem to report


def before_the_steps(data: bytes) -> int:
    """Where the Scheduled Procedure Step Sequence starts in an explicit little endian file."""
    return data.index(b"\x40\x00\x00\x01SQ")


def test_rewritten_in_place_serves_the_previous_version_until_closed(
        watched: tuple[FolderStore, list[FileProblemEvent]], tmp_path: Path) -> None:
    store, events = watched
    target = write_entry(tmp_path, "a.wl", accession="OLD")
    new = write_entry(tmp_path, "new.tmp", accession="NEW").read_bytes()
    cut = before_the_steps(new)
    assert parse_bytes(new[:cut]).node.get(SPS_SEQUENCE) is None  # a valid entry without steps
    assert accessions(store) == ["OLD"]
    with open(target, "r+b") as fh:
        fh.truncate(0)
        fh.write(new[:cut])
        fh.flush()
        for _ in range(3):
            assert accessions(store) == ["OLD"]
        fh.write(new[cut:])
        fh.flush()
        assert accessions(store) == ["OLD"]
    assert accessions(store) == ["NEW"]
    (entry,) = store.candidates()
    assert entry.node.get(SPS_SEQUENCE) is not None
    assert events == []


def test_files_linked_or_moved_in_are_served_at_once(
        watched: tuple[FolderStore, list[FileProblemEvent]], tmp_path: Path,
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """A hard link (how wldesk creates a new entry) and a file moved in from another folder raise
    a "created" event and no close: they are complete files, not files being written."""
    store, _ = watched
    staging = tmp_path_factory.mktemp("staging")
    os.link(write_entry(staging, "a.wl", accession="A1"), tmp_path / "a.wl")
    assert accessions(store) == ["A1"]
    os.replace(write_entry(staging, "b.wl", accession="B1"), tmp_path / "b.wl")
    assert accessions(store) == ["A1", "B1"]
    os.replace(write_entry(staging, "b.wl", accession="B2"), tmp_path / "b.wl")
    assert accessions(store) == ["A1", "B2"]
    assert not store.has_pending()


def test_a_writer_that_never_closes_is_served_after_the_settle_time(tmp_path: Path) -> None:
    store = FolderStore(tmp_path, reconcile_seconds=3600, settle_seconds=2.0)
    store.start()
    try:
        assert store.wait_ready(10)
        write_entry(tmp_path, "a.wl", accession="OLD")
        new = write_entry(tmp_path, "new.tmp", accession="NEW").read_bytes()
        assert accessions(store) == ["OLD"]
        with open(tmp_path / "a.wl", "r+b") as fh:
            fh.truncate(0)
            fh.write(new)
            fh.flush()
            assert accessions(store) == ["OLD"]
            assert store.has_pending()  # held: the next sync looks at it again
            seen = {"OLD"}
            deadline = time.monotonic() + 30
            while seen != {"OLD", "NEW"} and time.monotonic() < deadline:
                seen.update(accessions(store))
                time.sleep(0.05)
            assert seen == {"OLD", "NEW"}
            assert accessions(store) == ["NEW"]
            assert not store.has_pending()
    finally:
        store.stop()


def test_queries_wait_for_the_first_indexing(tmp_path: Path) -> None:
    for number in range(300):
        write_entry(tmp_path, f"{number}.wl", accession=f"A{number:03}")
    store = FolderStore(tmp_path)
    store.start()
    try:
        assert len(accessions(store)) == 300  # sync() before the first scan ends still sees all
    finally:
        store.stop()


def test_folder_removed_and_recreated(watched: tuple[FolderStore, list[FileProblemEvent]],
                                      tmp_path: Path) -> None:
    store, _ = watched
    write_entry(tmp_path, "a.wl", accession="A1")
    assert accessions(store) == ["A1"]
    for item in tmp_path.iterdir():
        item.unlink()
    tmp_path.rmdir()
    store.sync()
    assert store.folder_error is not None
    tmp_path.mkdir()
    write_entry(tmp_path, "b.wl", accession="B1")
    assert accessions(store) == ["B1"]
    assert store.snapshot().folder_error is None
    assert store.mode == "watching"
    write_entry(tmp_path, "c.wl", accession="C1")
    assert accessions(store) == ["B1", "C1"]


@pytest.mark.expect_log_warnings(r"Inotify queue overflowed")
def test_lost_events_make_the_next_sync_relist(
        watched: tuple[FolderStore, list[FileProblemEvent]], tmp_path: Path) -> None:
    store, _ = watched
    write_entry(tmp_path, "a.wl", accession="A1")
    assert accessions(store) == ["A1"]
    # what watchdog logs when the kernel's inotify queue overflowed and events were dropped
    logging.getLogger("watchdog.observers.inotify_c").warning(
        "Inotify queue overflowed; filesystem events were lost")
    watcher = store._watcher
    assert watcher is not None
    assert watcher.rescan
    assert accessions(store) == ["A1"]
    assert not watcher.take()[1]


def test_watched_changes_need_no_full_listing(
        watched: tuple[FolderStore, list[FileProblemEvent]], tmp_path: Path) -> None:
    store, _ = watched
    scans = store.full_scans
    for number in range(3):
        write_entry(tmp_path, f"{number}.wl", accession=f"A{number}")
        assert len(accessions(store)) == number + 1
    (tmp_path / "0.wl").unlink()
    assert accessions(store) == ["A1", "A2"]
    assert store.full_scans == scans


def test_folder_replaced_between_two_syncs_is_watched_again(tmp_path: Path) -> None:
    """Removed and made again with no query in between: the new folder is watched, not the old."""
    folder = tmp_path / "worklists"
    folder.mkdir()
    inner = FolderStore(folder, reconcile_seconds=3600)
    inner.start()
    try:
        assert inner.wait_ready(10)
        write_entry(folder, "old.wl", accession="OLD")
        assert accessions(inner) == ["OLD"]
        shutil.rmtree(folder)
        folder.mkdir()
        write_entry(folder, "a.wl", accession="A1")
        assert accessions(inner) == ["A1"]
        scans = inner.full_scans
        write_entry(folder, "b.wl", accession="B1")
        assert accessions(inner) == ["A1", "B1"]  # through the new watch: no listing needed
        assert inner.full_scans == scans
        assert inner.mode == "watching"

        folder.rename(tmp_path / "moved-away")  # moved away: no deletion event for the folder
        folder.mkdir()
        write_entry(folder, "c.wl", accession="C1")
        assert accessions(inner) == ["C1"]
        scans = inner.full_scans
        write_entry(folder, "d.wl", accession="D1")
        assert accessions(inner) == ["C1", "D1"]
        assert inner.full_scans == scans
    finally:
        inner.stop()


def _renamed_back_while_syncing(store: FolderStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                when: str) -> tuple[list[str], list[str]]:
    """``a`` renamed to ``b`` before a sync, and back to ``a`` (or deleted: ``when`` ends with
    "-delete") by the time that sync reads ``b`` (``when="read"``), looks at it (``"stat"``)
    or looks at ``a`` (``"stat-old-name"``): the names served after that sync and the next."""
    a, b = tmp_path / "entry0000012.wl", tmp_path / "renamed-entry0000012.wl"
    write_entry(tmp_path, a.name, accession="A12")
    write_entry(tmp_path, "other.wl", accession="A99")
    assert accessions(store) == ["A12", "A99"]
    os.rename(a, b)
    done: list[bool] = []

    target = a if when.startswith("stat-old-name") else b

    def rename_back_first(path: str | os.PathLike[str]) -> None:
        if not done and os.fspath(path) in (str(target), target.name):
            done.append(True)  # in the middle of the sync (a real race):
            if when.endswith("-delete"):
                b.unlink()
            else:
                os.rename(b, a)  # the rename back

    if when.startswith("read"):
        real_read = store._read

        def read(name: str, version: int) -> object:
            rename_back_first(name)
            return real_read(name, version)
        monkeypatch.setattr(store, "_read", read)
    else:
        real_stat = os.stat

        def stat(path: str | os.PathLike[str], *, follow_symlinks: bool = True) -> os.stat_result:
            rename_back_first(path)
            return real_stat(path, follow_symlinks=follow_symlinks)
        monkeypatch.setattr(os, "stat", stat)
    store.sync()  # the query's sync
    monkeypatch.undo()
    assert done  # the race happened
    during = sorted(e.name for e in store.snapshot().entries)
    store.sync()  # the next query's
    after = sorted(e.name for e in store.snapshot().entries)
    return during, after


@pytest.mark.parametrize("when", ["read", "stat", "stat-old-name"])
def test_file_renamed_and_back_during_a_sync_is_not_lost(
        watched: tuple[FolderStore, list[FileProblemEvent]], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, when: str) -> None:
    store, events = watched
    during, after = _renamed_back_while_syncing(store, tmp_path, monkeypatch, when)
    assert len(during) == 2 and "other.wl" in during  # under one name or the other, once
    assert after == ["entry0000012.wl", "other.wl"]
    assert store.snapshot().problems == ()
    assert [e for e in events if not e.resolved] == []  # no problem reported for the rename


@pytest.mark.parametrize("when", ["read-delete", "stat-delete"])
def test_file_renamed_then_deleted_during_a_sync_is_gone_after_the_next(
        watched: tuple[FolderStore, list[FileProblemEvent]], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, when: str) -> None:
    store, events = watched
    during, after = _renamed_back_while_syncing(store, tmp_path, monkeypatch, when)
    assert during == ["other.wl", "renamed-entry0000012.wl"]  # deleted after the query began
    assert after == ["other.wl"]
    assert store.snapshot().problems == () and not store.has_pending()
    assert [e for e in events if not e.resolved] == []
