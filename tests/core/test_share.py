"""Folders whose events cannot be trusted (network shares, FUSE mounts) are listed per query.

A bindfs mount stands for the share: changes made in its source folder, behind the mount, raise no
events on the mount, as changes made on a share by another computer.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom.dataset import Dataset

from tests.helpers.bindfs import bindfs_missing, bindfs_mount
from tests.helpers.inprocess import Running
from tests.helpers.samples import write_entry
from wldesk.core.share import fresh_stat, is_remote_type, mount_type, relist_reason
from wldesk.core.store import FolderStore

needs_bindfs = pytest.mark.skipif(bindfs_missing() is not None, reason=str(bindfs_missing()))


@pytest.fixture
def share(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(source, mount): the folder behind the mount, and the mount the server serves."""
    source = tmp_path / "source"
    source.mkdir()
    with bindfs_mount(source, tmp_path / "mount") as mount:
        yield source, mount


def test_file_system_types() -> None:
    assert is_remote_type("fuse") and is_remote_type("fuse.sshfs") and is_remote_type("fuseblk")
    assert is_remote_type("nfs4") and is_remote_type("cifs") and is_remote_type("smb3")
    assert not is_remote_type("ext4") and not is_remote_type("tmpfs") and not is_remote_type("xfs")


def test_mount_type_reads_the_mount_holding_the_folder(tmp_path: Path) -> None:
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(
        "22 1 0:1 / / rw - ext4 /dev/sda1 rw\n"
        "40 22 0:999 / /mnt/my\\040share rw,relatime - cifs //server/share rw\n")
    # the folder's own device is on no listed mount: the longest mount point holding it
    assert mount_type(tmp_path, mountinfo) == "ext4"
    assert mount_type(Path("/"), mountinfo) == "ext4"
    assert mount_type(tmp_path, tmp_path / "missing") is None


@needs_bindfs
def test_auto_detects_the_fuse_mount_and_trusts_a_local_folder(
        share: tuple[Path, Path], tmp_path: Path) -> None:
    source, mount = share
    fstype = mount_type(mount)
    assert fstype is not None and fstype.startswith("fuse")
    reason = relist_reason(mount)
    assert reason == f"folder on a {fstype} file system: changes made by other computers raise no events"
    assert relist_reason(source) is None
    assert mount_type(source) == mount_type(tmp_path)
    # the setting forces either way
    assert relist_reason(mount, "trust") is None
    assert relist_reason(source, "relist") == "folder_events is set to relist"


@needs_bindfs
@pytest.mark.parametrize("folder_events", ["auto", "relist"])
def test_store_lists_a_share_per_query(share: tuple[Path, Path], folder_events: str,
                                       caplog: pytest.LogCaptureFixture) -> None:
    source, mount = share
    write_entry(source, "a.wl", accession="A1")
    caplog.set_level(logging.INFO, logger="wldesk.core.store")
    store = FolderStore(mount, reconcile_seconds=3600, folder_events=folder_events)
    store.start()
    try:
        assert store.wait_ready(10)
        assert store.mode == "reconciling"
        assert store.relist_reason is not None
        lines = [r.getMessage() for r in caplog.records if "each query lists" in r.getMessage()]
        assert len(lines) == 1 and f"{mount}: {store.relist_reason}; each query lists" in lines[0]
        assert lines[0].endswith(" for 1 files)")
        write_entry(source, "b.wl", accession="B1")
        store.sync()
        assert sorted(e.name for e in store.candidates()) == ["a.wl", "b.wl"]
    finally:
        store.stop()


@needs_bindfs
def test_trust_keeps_watching_the_share(share: tuple[Path, Path]) -> None:
    _source, mount = share
    store = FolderStore(mount, reconcile_seconds=3600, folder_events="trust")
    store.start()
    try:
        assert store.wait_ready(10)
        assert store.mode == "watching" and store.relist_reason is None
    finally:
        store.stop()


def test_relist_forced_on_a_local_folder(tmp_path: Path) -> None:
    write_entry(tmp_path, "a.wl", accession="A1")
    store = FolderStore(tmp_path, reconcile_seconds=3600, folder_events="relist")
    store.start()
    try:
        assert store.wait_ready(10)
        assert store.mode == "reconciling"
        (tmp_path / "a.wl").unlink()
        store.sync()
        assert store.candidates() == []
    finally:
        store.stop()


def test_fresh_stat_is_stat(tmp_path: Path) -> None:
    path = write_entry(tmp_path, "a.wl")
    fresh, plain = fresh_stat(str(path)), os.stat(path)
    for field in ("st_mode", "st_ino", "st_dev", "st_nlink", "st_size", "st_mtime_ns", "st_ctime_ns"):
        assert getattr(fresh, field) == getattr(plain, field), field
    assert fresh.st_mtime == plain.st_mtime
    with pytest.raises(FileNotFoundError):
        fresh_stat(str(tmp_path / "missing.wl"))


@needs_bindfs
def test_fresh_stat_sees_a_rewrite_behind_the_mount(share: tuple[Path, Path]) -> None:
    """stat on the mount shows cached attributes for a while; fresh_stat does not."""
    source, mount = share
    (source / "a.wl").write_bytes(b"x" * 100)
    before = os.stat(mount / "a.wl")
    (source / "a.wl").write_bytes(b"y" * 150)
    assert fresh_stat(str(mount / "a.wl")).st_size == 150
    assert before.st_size == 100


def _query() -> Dataset:
    query = Dataset()
    query.AccessionNumber = ""
    query.PatientName = ""
    return query


@needs_bindfs
def test_every_remote_change_is_seen_by_the_next_query(share: tuple[Path, Path]) -> None:
    """15 changes made behind the mount (adds, rewrites, deletes), each queried at once."""
    source, mount = share
    expected: dict[str, str] = {}
    for number in range(20):
        name = f"e{number:02}.wl"
        write_entry(source, name, accession=f"ACC{number:02}")
        expected[name] = f"ACC{number:02}"
    running = Running(mount)
    running.server.start()
    try:
        assert running.server.store.wait_ready(10)
        assert running.server.store.mode == "reconciling"

        def served() -> dict[str, str]:
            answers, statuses = running.find(_query())
            assert statuses[-1] == 0x0000
            return {str(a.AccessionNumber): str(a.AccessionNumber) for a in answers}

        assert set(served()) == set(expected.values())
        for change in range(15):
            kind = ("add", "rewrite", "delete")[change % 3]
            if kind == "add":
                name = f"new{change:02}.wl"
                write_entry(source, name, accession=f"NEW{change:02}")
                expected[name] = f"NEW{change:02}"
            elif kind == "rewrite":  # in place, same size
                name = sorted(expected)[change]
                stat = (source / name).stat()
                accession = f"R{change:02}" + expected[name][3:]
                write_entry(source, name, accession=accession)
                os.utime(source / name, ns=(stat.st_atime_ns, stat.st_mtime_ns))
                expected[name] = accession
            else:
                name = sorted(expected)[change]
                (source / name).unlink()
                del expected[name]
            assert set(served()) == set(expected.values()), f"change {change + 1} ({kind} {name})"
    finally:
        running.server.stop()
