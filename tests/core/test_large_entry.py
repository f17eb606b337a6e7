"""A stray huge file named .wl is refused from its size, without being read (found by
benchmarks/reliability_folder.py: a 200 MB non-DICOM .wl made each query that noticed it wait
1.4 s and kept 200 MB in the server's memory)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.helpers.samples import write_entry
from wldesk.core.dicom.wlfile import WorklistFileError
from wldesk.core.store import MAX_ENTRY_BYTES, read_entry


def _rss_kib() -> int:
    status = Path("/proc/self/status")
    if not status.exists():
        return 0
    line = next(line for line in status.read_text().splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1])


def test_a_200_mb_file_is_refused_without_being_read(tmp_path: Path) -> None:
    big = tmp_path / "big.wl"
    with open(big, "wb") as f:
        f.write(b"not a DICOM file\n")
        f.truncate(200 * 2**20)  # sparse: no disk space taken
    before = _rss_kib()
    start = time.monotonic()
    with pytest.raises(WorklistFileError, match=r"too large for a worklist entry \(200 MiB"):
        read_entry(big)
    assert time.monotonic() - start < 0.5
    assert _rss_kib() - before < 50 * 1024


def test_an_ordinary_entry_is_still_read(tmp_path: Path) -> None:
    path = write_entry(tmp_path, "entry.wl", accession="BIG1")
    assert path.stat().st_size < MAX_ENTRY_BYTES
    assert read_entry(path).name == "entry.wl"
