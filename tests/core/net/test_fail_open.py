"""The fast answer path fails open: when pynetdicom's association cannot take wldesk's batching DUL,
the real server still answers every query, through pynetdicom's standard path, and says so once.

The failure is simulated where a pynetdicom change would show it: the swap in transport.py raises
(as ``__class__`` assignment does once pynetdicom's DUL gets ``__slots__``), or pynetdicom's
associations are built with a DUL class of their own. The server itself is not mocked.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pynetdicom.association
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE
from pynetdicom.association import Association
from pynetdicom.dsutils import encode
from pynetdicom.dul import DULServiceProvider
from pynetdicom.sop_class import ModalityWorklistInformationFind  # type: ignore[attr-defined]

from tests.conftest import LogWarnings
from tests.helpers.dcmtk import dcmtk_tool, run_findscu
from tests.helpers.ports import free_port
from tests.helpers.samples import write_entry
from wldesk.core.net.fastfind import BatchingDUL
from wldesk.core.net.scu import find as scu_find
from wldesk.core.net.server import WorklistServer
from wldesk.core.settings import Settings

MWL = ModalityWorklistInformationFind
ENTRIES = 40
OFF = r"wldesk\.core\.net\.fastfind: fast answer path off: .*pynetdicom's standard path"
SWAP_FAILED = (r"wldesk could not attach its answer batching to a pynetdicom 3\.\d+\.\d+ association "
               r"\(TypeError: __class__ assignment: 'BatchingDUL' object layout differs")


def broken_install(cls: type[BatchingDUL], assoc: Association) -> None:
    """What the swap does once pynetdicom's DULServiceProvider has ``__slots__``."""
    raise TypeError("__class__ assignment: 'BatchingDUL' object layout differs from "
                    "'DULServiceProvider'")


@pytest.fixture
def swap_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    # the swap point: transport's EVT_CONN_OPEN handler calls BatchingDUL.install
    monkeypatch.setattr(BatchingDUL, "install", classmethod(broken_install))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "worklists"
    path.mkdir()
    for number in range(ENTRIES):
        write_entry(path, f"{number:02}.wl", accession=f"A{number:02}",
                    modality="CT" if number % 2 else "MR", patient=f"MÜLLER^ZOË{number:02}")
    return path


@pytest.fixture
def server(folder: Path) -> Iterator[WorklistServer]:
    running = WorklistServer(Settings(database=str(folder), port=free_port(),
                                      bind_address="127.0.0.1"))
    running.start()
    assert running.store.wait_ready(20)
    yield running
    running.stop()


def query(modality: str = "") -> Dataset:
    ds = Dataset()
    ds.PatientName = ""
    ds.PatientID = ""
    ds.AccessionNumber = ""
    step = Dataset()
    step.Modality = modality
    step.ScheduledStationAETitle = ""
    step.ScheduledProcedureStepStartDate = ""
    ds.ScheduledProcedureStepSequence = Sequence([step])
    return ds


def find(server: WorklistServer, ds: Dataset, syntax: str = ImplicitVRLittleEndian,
         calling: str = "MODALITY", queries: int = 1) -> list[tuple[list[Dataset], list[int]]]:
    """``queries`` C-FINDs on one association, with pynetdicom as the modality."""
    ae = AE(ae_title=calling)
    ae.add_requested_context(MWL, [syntax])
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 20
    assoc = ae.associate("127.0.0.1", server.port, ae_title="WLDESK")
    assert assoc.is_established
    results = []
    try:
        for _ in range(queries):
            result = scu_find(assoc, ds)
            assert result.final_status is not None, "no response from the server"
            results.append((result.answers, result.statuses))
    finally:
        assoc.release()
    return results


def accessions(answers: list[Dataset]) -> list[str]:
    return sorted(str(a.AccessionNumber) for a in answers)


def fast_path_warnings(log_warnings: LogWarnings) -> list[str]:
    return [r.getMessage() for r in log_warnings.records if "fast answer path off" in r.getMessage()]


# --- the swap fails -------------------------------------------------------------------------------

@pytest.mark.expect_log_warnings(OFF)
@pytest.mark.parametrize("syntax", [ImplicitVRLittleEndian, ExplicitVRLittleEndian])
def test_when_the_swap_fails_every_query_is_answered_and_it_is_logged_once(
        swap_fails: None, server: WorklistServer, syntax: str, log_warnings: LogWarnings) -> None:
    for calling in ("CT1", "CT2", "MR1"):  # three associations, two queries each
        for answers, statuses in find(server, query(), syntax, calling, queries=2):
            assert statuses == [0xFF00] * ENTRIES + [0x0000]
            assert accessions(answers) == [f"A{n:02}" for n in range(ENTRIES)]
            assert sorted(str(a.PatientName) for a in answers) == [
                f"MÜLLER^ZOË{n:02}" for n in range(ENTRIES)]
    [warning] = fast_path_warnings(log_warnings)  # once per server, not per query
    assert re.search(SWAP_FAILED, warning), warning
    assert not server.fast_path.is_on and not server.fast_path.used
    assert server.fast_path.off_reason is not None
    assert server.fast_path.off_reason in warning


def test_the_answers_are_the_ones_the_fast_path_sends(folder: Path, log_warnings: LogWarnings,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    found: dict[str, list[bytes | None]] = {}
    for path in ("fast", "fail-open"):
        if path == "fail-open":
            log_warnings.expect(OFF)
            monkeypatch.setattr(BatchingDUL, "install", classmethod(broken_install))
        running = WorklistServer(Settings(database=str(folder), port=free_port(),
                                          bind_address="127.0.0.1"))
        running.start()
        try:
            [(answers, statuses)] = find(running, query("CT"))
            assert statuses == [0xFF00] * (ENTRIES // 2) + [0x0000]
            assert running.fast_path.is_on == (path == "fast")
            assert running.fast_path.used == (path == "fast")
        finally:
            running.stop()
        # every element as received (pydicom writes back what it has not decoded as it came)
        found[path] = [encode(ds, True, True) for ds in answers]
    assert len(found["fast"]) == ENTRIES // 2
    assert found["fail-open"] == found["fast"]


@pytest.mark.expect_log_warnings(
    r"fast answer path off: wldesk could not attach its answer batching to a pynetdicom .* "
    r"\(TypeError: the association's DUL is a .*NewDUL, not pynetdicom's DULServiceProvider\)")
def test_a_pynetdicom_with_a_dul_of_its_own_is_answered(
        monkeypatch: pytest.MonkeyPatch, server: WorklistServer) -> None:
    class NewDUL(DULServiceProvider):
        """A later pynetdicom's DUL class."""

    monkeypatch.setattr(pynetdicom.association, "DULServiceProvider", NewDUL)
    [(answers, statuses)] = find(server, query("MR"))
    assert statuses == [0xFF00] * (ENTRIES // 2) + [0x0000]
    assert accessions(answers) == [f"A{n:02}" for n in range(0, ENTRIES, 2)]
    assert not server.fast_path.is_on


def test_with_the_fast_path_on_nothing_is_logged(server: WorklistServer) -> None:
    [(answers, statuses)] = find(server, query())
    assert statuses[-1] == 0x0000 and len(answers) == ENTRIES
    assert server.fast_path.is_on and server.fast_path.used


# --- concurrency ------------------------------------------------------------------------------------

@pytest.mark.expect_log_warnings(OFF)
def test_concurrent_clients_with_the_fast_path_off_get_every_answer(
        swap_fails: None, server: WorklistServer, tmp_path: Path, log_warnings: LogWarnings) -> None:
    """Six clients at once (DCMTK's findscu where installed, else pynetdicom), each three queries."""
    use_findscu = dcmtk_tool("findscu") is not None
    dump = tmp_path / "query.dump"
    dump.write_text("(0010,0010) PN []\n(0008,0050) SH []\n(0040,0100) SQ (Sequence)\n"
                    "(fffe,e000) -\n(0008,0060) CS []\n(fffe,e00d) -\n(fffe,e0dd) -\n")
    results: dict[int, list[list[str]]] = {}
    errors: list[BaseException] = []

    def client(index: int) -> None:
        try:
            rounds = []
            for _ in range(3):
                if use_findscu:
                    result = run_findscu(server.port, dump, "WLDESK", f"FINDSCU{index}")
                    assert result.returncode == 0 and result.final_status == "Success", \
                        result.describe()
                    rounds.append(accessions(result.answers))
                else:
                    [(answers, statuses)] = find(server, query(), calling=f"MOD{index}")
                    assert statuses[-1] == 0x0000
                    rounds.append(accessions(answers))
            results[index] = rounds
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(index,)) for index in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    everything = [f"A{n:02}" for n in range(ENTRIES)]
    assert results == {index: [everything] * 3 for index in range(6)}
    assert len(fast_path_warnings(log_warnings)) == 1
