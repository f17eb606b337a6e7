"""A worklist folder on a "network share": a bindfs (FUSE) mount whose source folder is changed
behind it, as a RIS on another computer changes a share. No folder events reach the mount.

For each way of keeping the index fresh (``folder_events`` = trust: go by the events, wrong here
but fast; relist: list the folder per query, what ``auto`` picks on such a mount), it starts
wldesk on the mount, makes 15 changes in the source folder (adds, in-place rewrites, deletes),
each followed at once by one C-FIND for the changed accession number, and counts the changes the
query saw. Then it times idle queries. Prints a side-by-side table.

    PYTHONPATH=. python3 benchmarks/share_bench.py --files 2000
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pydicom.dataset import Dataset
from pynetdicom import AE
from pynetdicom.sop_class import ModalityWorklistInformationFind  # type: ignore[attr-defined]

from tests.helpers.bindfs import bindfs_missing, bindfs_mount
from tests.helpers.ports import free_port
from tests.helpers.samples import write_entry
from wldesk.core.libraries import configure_libraries
from wldesk.core.net.scu import find
from wldesk.core.net.server import WorklistServer
from wldesk.core.settings import Settings


def query(port: int, accession: str) -> tuple[int, float]:
    """One C-FIND for ``accession`` as a modality makes it: (answers, ms for the whole association)."""
    started = time.perf_counter()
    ae = AE(ae_title="BENCH")
    ae.add_requested_context(ModalityWorklistInformationFind)
    assoc = ae.associate("127.0.0.1", port, ae_title="WLDESK")
    assert assoc.is_established
    identifier = Dataset()
    identifier.AccessionNumber = accession
    identifier.PatientName = ""
    try:
        result = find(assoc, identifier)
    finally:
        assoc.release()
    assert result.final_status == 0x0000, result.final_status
    return len(result.answers), (time.perf_counter() - started) * 1000


def run(mode: str, source: Path, mount: Path, files: int, idle: int) -> dict[str, float]:
    for name in os.listdir(source):
        os.unlink(source / name)
    for number in range(files):
        write_entry(source, f"e{number:05}.wl", accession=f"ACC{number:05}")
    settings = Settings(database=str(mount), port=free_port(), bind_address="127.0.0.1",
                        folder_events=mode)
    server = WorklistServer(settings)
    server.start()
    in_query: list[float] = []  # what each query spent bringing the index up to date
    store, sync = server.store, server.store.sync

    def timed_sync() -> None:
        started = time.perf_counter()
        sync()
        in_query.append((time.perf_counter() - started) * 1000)

    store.sync = timed_sync  # type: ignore[method-assign]
    try:
        assert server.store.wait_ready(120)
        query(settings.port, "ACC00000")  # warm up
        seen, change_ms = 0, []
        for change in range(15):
            kind = ("add", "rewrite", "delete")[change % 3]
            number = 100 + change * 7
            if kind == "add":
                write_entry(source, f"new{change:02}.wl", accession=f"NEW{change:02}")
                accession, expected = f"NEW{change:02}", 1
            elif kind == "rewrite":  # in place, same size, same modification time
                path = source / f"e{number:05}.wl"
                before = path.stat()
                write_entry(source, path.name, accession=f"RW{change:02}{number:03}")
                os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
                accession, expected = f"RW{change:02}{number:03}", 1
            else:
                (source / f"e{number:05}.wl").unlink()
                accession, expected = f"ACC{number:05}", 0
            answers, ms = query(settings.port, accession)
            seen += answers == expected
            change_ms.append(ms)
        idle_ms = [query(settings.port, f"ACC{n:05}")[1] for n in range(1, idle + 1)]
        during = statistics.median(in_query)
        sync_ms = []
        for _ in range(idle):
            started = time.perf_counter()
            sync()  # the same with no association running: a barrier, or the listing
            sync_ms.append((time.perf_counter() - started) * 1000)
        return {"seen": seen, "change_ms": statistics.median(change_ms),
                "idle_ms": statistics.median(idle_ms), "sync_ms": statistics.median(sync_ms),
                "in_query_ms": during}
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--idle", type=int, default=25, help="idle queries timed per mode")
    args = parser.parse_args()
    if (missing := bindfs_missing()) is not None:
        print(f"cannot run: {missing}", file=sys.stderr)
        return 2
    configure_libraries()
    logging.basicConfig(level=logging.WARNING)
    results = {}
    with tempfile.TemporaryDirectory(prefix="wldesk-share-") as tmp:
        source = Path(tmp) / "source"
        source.mkdir()
        with bindfs_mount(source, Path(tmp) / "mount") as mount:
            for mode in ("trust", "relist"):
                results[mode] = run(mode, source, mount, args.files, args.idle)
    print(f"\n{args.files} files behind a bindfs mount, 15 changes made behind it "
          f"(5 adds, 5 in-place rewrites, 5 deletes), one C-FIND right after each\n")
    print("| folder_events | changes seen by the next query | query ms, idle | query ms, right "
          "after a change | freshness (barrier or listing) in a query, ms | the same alone, ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for mode, r in results.items():
        label = "trust (events; wrong here)" if mode == "trust" else "relist (auto on this mount)"
        print(f"| {label} | {r['seen']:.0f}/15 | {r['idle_ms']:.1f} | {r['change_ms']:.1f} "
              f"| {r['in_query_ms']:.1f} | {r['sync_ms']:.1f} |")
    print("\nmedians; a query is a whole association (associate, C-FIND for one accession "
          "number, release) from a pynetdicom SCU in this process")
    return 0


if __name__ == "__main__":
    sys.exit(main())
