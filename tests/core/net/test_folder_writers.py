"""Writers changing the folder while modalities query: a real server, real pynetdicom clients on
their own threads, real files. Every query is timed against what the writer had done when it
started and when it ended, and its answers are checked against that."""

from __future__ import annotations

import itertools
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydicom.dataset import Dataset
from pynetdicom import AE
from pynetdicom.sop_class import ModalityWorklistInformationFind  # type: ignore[attr-defined]

from tests.helpers.dcmtk import dcmtk_tool, run_findscu
from tests.helpers.ports import free_port
from tests.helpers.samples import name_query, write_entry
from wldesk.core.net.scu import find as scu_find
from wldesk.core.net.server import WorklistServer
from wldesk.core.settings import Settings


@dataclass(frozen=True)
class Answered:
    """One C-FIND: when it started and ended, its final status, each answer's accession number and
    whether the answer carried its scheduled step with a modality."""

    start: float
    end: float
    status: int
    answers: tuple[tuple[str, bool], ...]
    client: str = "pynetdicom"

    def accessions(self) -> list[str]:
        return sorted(accession for accession, _complete in self.answers)


def complete(identifier: Dataset) -> bool:
    steps = identifier.get("ScheduledProcedureStepSequence") or []
    return len(steps) == 1 and steps[0].get("Modality") == "CT"


FINDSCU_QUERY = ("(0010,0010) PN []\n(0008,0050) SH []\n(0040,0100) SQ (Sequence)\n(fffe,e000) -\n"
                 "(0008,0060) CS []\n(0040,0001) AE []\n(fffe,e00d) -\n(fffe,e0dd) -\n")


def find_with_findscu(port: int, calling: str, query: Path) -> Answered:
    """The same query sent by DCMTK's findscu, the answers it wrote read back."""
    start = time.monotonic()
    result = run_findscu(port, query, "WLDESK", calling)
    end = time.monotonic()
    status = 0x0000 if result.returncode == 0 and result.final_status == "Success" else -1
    return Answered(start, end, status, tuple((str(a.AccessionNumber), complete(a))
                                              for a in result.answers), "findscu")


def find(port: int, calling: str) -> Answered:
    ae = AE(ae_title=calling)
    ae.add_requested_context(ModalityWorklistInformationFind)
    start = time.monotonic()
    assoc = ae.associate("127.0.0.1", port, ae_title="WLDESK")
    assert assoc.is_established
    try:
        result = scu_find(assoc, name_query())
    finally:
        assoc.release()
    assert result.final_status is not None, "no final response from the server"
    answers = tuple((str(a.AccessionNumber), complete(a)) for a in result.answers)
    return Answered(start, time.monotonic(), result.final_status, answers)


class Modalities:
    """Client threads querying the server over and over until stopped: pynetdicom, and DCMTK's
    findscu as one of them where it is installed."""

    def __init__(self, port: int, count: int, findscu_query: Path) -> None:
        self.port = port
        findscu_query.write_text(FINDSCU_QUERY, encoding="ascii")
        self._findscu_query = findscu_query if dcmtk_tool("findscu") is not None else None
        self.answered: list[Answered] = []
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(f"MOD{n}", n == 0), daemon=True)
                         for n in range(count)]

    def _run(self, calling: str, dcmtk: bool) -> None:
        try:
            while not self._stop.is_set():
                if dcmtk and self._findscu_query is not None:
                    answered = find_with_findscu(self.port, calling, self._findscu_query)
                else:
                    answered = find(self.port, calling)
                with self._lock:
                    self.answered.append(answered)
        except BaseException as exc:
            self.errors.append(exc)

    def __enter__(self) -> Modalities:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def started_since(self, moment: float) -> int:
        """How many queries that started at ``moment`` or later have been answered."""
        with self._lock:
            return sum(answered.start >= moment for answered in self.answered)

    def check_clients(self) -> None:
        """No client failed, and findscu did query where it is installed."""
        assert self.errors == []
        if self._findscu_query is not None:
            assert any(answered.client == "findscu" for answered in self.answered)

    def wait_for_queries_since(self, moment: float, count: int) -> None:
        self.wait_for(lambda: self.started_since(moment) >= count)

    def wait_for(self, condition: Callable[[], bool], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert condition()


@pytest.fixture
def server(folder: Path) -> Iterator[WorklistServer]:
    settings = Settings(database=str(folder), port=free_port(), bind_address="127.0.0.1")
    running = WorklistServer(settings)
    running.start()
    yield running
    running.stop()


def before_the_steps(data: bytes) -> int:
    """Where the Scheduled Procedure Step Sequence starts in an explicit little endian file."""
    return data.index(b"\x40\x00\x00\x01SQ")


def test_file_rewritten_in_place_is_served_old_until_its_writer_closes_it(
        server: WorklistServer, folder: Path, tmp_path: Path) -> None:
    """A writer truncates an entry and writes it again in two steps (first a valid entry without
    its scheduled step), holding it open between them and after them until queries have come, ten
    times over, while four modalities query: never an answer from the partial file, the previous
    version while it is open, the new one once it is closed; no entry ever missing."""
    for number in range(20):
        write_entry(folder, f"other{number:02}.wl", accession=f"O{number:02}")
    target = write_entry(folder, "rewritten.wl", accession="V00")
    staging = tmp_path / "staging"
    staging.mkdir()
    versions = [write_entry(staging, f"{n}.wl", accession=f"V{n:02}").read_bytes()
                for n in range(11)]
    others = [f"O{number:02}" for number in range(20)]
    # (version, truncated at, closed at)
    writes: list[tuple[int, float, float]] = [(0, 0.0, 0.0)]

    with Modalities(server.port, 4, tmp_path / "query.dump") as modalities:
        modalities.wait_for(lambda: len(modalities.answered) >= 8)
        for version in range(1, 11):
            data = versions[version]
            cut = before_the_steps(data)
            with open(target, "r+b") as fh:
                fh.truncate(0)
                truncated = time.monotonic()
                fh.write(data[:cut])
                fh.flush()
                modalities.wait_for_queries_since(truncated, 2)
                fh.write(data[cut:])
                fh.flush()
                modalities.wait_for_queries_since(truncated, 4)
            closed = time.monotonic()
            writes.append((version, truncated, closed))
            modalities.wait_for_queries_since(closed, 2)
        last = find(server.port, "LAST")
    modalities.check_clients()
    assert last.accessions() == sorted([*others, "V10"])

    answered = modalities.answered
    held_open_seen = 0
    for query in answered:
        assert query.status == 0x0000
        assert all(complete for _accession, complete in query.answers), query  # never partial
        accessions = query.accessions()
        assert accessions[:20] == others  # no entry missing
        (served,) = accessions[20:]
        version = int(served[1:])
        for (before, _t, closed), (after, truncated, _c) in itertools.pairwise(writes):
            if closed <= query.start and query.end <= truncated:
                assert version == before, (query, writes)  # closed before it: served
            if truncated <= query.start and query.end <= writes[after][2]:
                assert version == before, (query, writes)  # still open: the previous version
                held_open_seen += 1
    assert held_open_seen >= 10  # queries did run while the writer held the file open


def test_folder_deleted_and_recreated_while_modalities_query(
        server: WorklistServer, folder: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """``rm -rf`` the folder, make it again and copy 60 files back while four modalities query:
    once the copy is done every query gets all 60 (well before the 30 s reconciliation), and no
    query that started after the deletion gets an entry from before it."""
    for number in range(60):
        write_entry(folder, f"{number:02}.wl", accession=f"OLD{number:02}")
    staging = tmp_path / "staging"
    staging.mkdir()
    for number in range(60):
        write_entry(staging, f"{number:02}.wl", accession=f"NEW{number:02}")
    new = [f"NEW{number:02}" for number in range(60)]

    with Modalities(server.port, 4, tmp_path / "query.dump") as modalities:
        modalities.wait_for(lambda: len(modalities.answered) >= 8)
        while folder.exists():  # a query's barrier file can land in it meanwhile, as with rm -rf
            shutil.rmtree(folder, ignore_errors=True)
        removed = time.monotonic()
        time.sleep(0.2)
        folder.mkdir()
        made = time.monotonic()
        for number in range(60):
            shutil.copy(staging / f"{number:02}.wl", folder)
            if number % 10 == 9:
                time.sleep(0.02)
        copied = time.monotonic()
        count = len(modalities.answered)
        modalities.wait_for(lambda: len(modalities.answered) >= count + 20)
    modalities.check_clients()

    answered = modalities.answered
    for query in answered:
        if query.start >= removed:
            assert not [a for a in query.accessions() if a.startswith("OLD")], query
        if query.start >= copied:
            assert query.status == 0x0000
            assert query.accessions() == new, query
    first_all = min(q.end for q in answered if q.status == 0 and q.accessions() == new)
    assert first_all - copied <= 2.0
    with capsys.disabled():
        print(f"\n  all 60 served {first_all - made:.3f} s after the folder was made again, "
              f"{first_all - copied:.3f} s after the copy ended (copy took {copied - made:.3f} s);"
              f" {sum(q.start >= copied for q in answered)} queries after the copy, all complete")


def test_settle_time_setting_serves_a_file_its_writer_keeps_open(folder: Path, tmp_path: Path) -> None:
    """A writer that wrote a whole entry but keeps it open: the server serves the previous version,
    then the new one once it has been unchanged for the configured settle time."""
    settings = Settings(database=str(folder), port=free_port(), bind_address="127.0.0.1",
                        settle_seconds=1)
    running = WorklistServer(settings)
    running.start()
    try:
        target = write_entry(folder, "a.wl", accession="OLD")
        new = write_entry(tmp_path, "new.wl", accession="NEW").read_bytes()
        assert find(running.port, "MOD").accessions() == ["OLD"]
        with open(target, "r+b") as fh:
            fh.truncate(0)
            fh.write(new)
            fh.flush()
            written = time.monotonic()
            served = [find(running.port, "MOD")]
            while served[-1].accessions() != ["NEW"] and time.monotonic() < written + 30:
                served.append(find(running.port, "MOD"))
            assert served[-1].accessions() == ["NEW"]
            assert {tuple(s.accessions()) for s in served[:-1]} <= {("OLD",)}
            assert served[-1].end - written >= 0.9  # not before the settle time
    finally:
        running.stop()
