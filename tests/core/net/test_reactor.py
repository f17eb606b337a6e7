"""Associations whose threads wait for work instead of polling (wldesk/core/net/reactor.py), with
real clients over real sockets against the real server: many at once, each doing C-ECHO and C-FIND;
releases, aborts and dropped connections in the middle of an association; an association idle for
longer than the threads' longest wait; and the fallback to pynetdicom's own polling loops when
pynetdicom's association is not as expected.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pynetdicom import AE
from pynetdicom.association import Association
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    ModalityWorklistInformationFind,
    Verification,
)

from tests.conftest import LogWarnings
from tests.helpers.ports import free_port
from tests.helpers.rawdicom import (
    A_ASSOCIATE_AC,
    A_RELEASE_RP,
    RELEASE_RQ,
    VERIFICATION,
    associate_rq,
    connect,
    echo_rq,
    echo_status,
    read_pdu,
)
from tests.helpers.samples import write_entry
from wldesk.core.net.reactor import MAX_WAIT, WaitingAssociation, WaitingDUL
from wldesk.core.net.scu import find as scu_find
from wldesk.core.net.server import WorklistServer
from wldesk.core.settings import Settings

ENTRIES = 30
CLIENTS = 24
EVERYTHING = [f"A{n:02}" for n in range(ENTRIES)]
POLLING = (r"wldesk\.core\.net\.reactor: associations poll as in stock pynetdicom: wldesk could "
           r"not make a pynetdicom 3\.\d+\.\d+ association wait for work \(AttributeError: ")


@pytest.fixture
def server(folder: Path) -> Iterator[WorklistServer]:
    for number in range(ENTRIES):
        write_entry(folder, f"{number:02}.wl", accession=f"A{number:02}", modality="CT")
    running = WorklistServer(Settings(database=str(folder), port=free_port(),
                                      bind_address="127.0.0.1"))
    running.start()
    assert running.store.wait_ready(20)
    yield running
    running.stop()


def query() -> Dataset:
    ds = Dataset()
    ds.PatientName = ""
    ds.AccessionNumber = ""
    step = Dataset()
    step.Modality = "CT"
    ds.ScheduledProcedureStepSequence = Sequence([step])
    return ds


def associate(server: WorklistServer, calling: str) -> Association:
    ae = AE(ae_title=calling)
    ae.add_requested_context(Verification)
    ae.add_requested_context(ModalityWorklistInformationFind)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 30
    assoc = ae.associate("127.0.0.1", server.port, ae_title="WLDESK")
    assert assoc.is_established, f"{calling}: association not accepted"
    return assoc


def echo_and_find(server: WorklistServer, calling: str, queries: int = 2) -> list[list[str]]:
    """One association: C-ECHO, ``queries`` C-FINDs, release; each query's accession numbers."""
    assoc = associate(server, calling)
    try:
        status = assoc.send_c_echo()
        assert status is not None and int(status.Status) == 0x0000, f"{calling}: C-ECHO failed"
        found = []
        for _ in range(queries):
            result = scu_find(assoc, query(), timeout=30)
            assert result.statuses[-1:] == [0x0000], f"{calling}: {result.statuses[-3:]}"
            found.append(sorted(str(a.AccessionNumber) for a in result.answers))
        return found
    finally:
        assoc.release()


def run_clients(count: int, work: object) -> dict[int, object]:
    """``work(index)`` on ``count`` threads released at the same moment; their results."""
    assert callable(work)
    barrier = threading.Barrier(count)
    results: dict[int, object] = {}
    errors: list[BaseException] = []

    def client(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work(index)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    return results


def associations_end(server: WorklistServer, timeout: float = 10) -> None:
    """Every association thread of ``server`` has ended within ``timeout`` seconds."""
    assert server._server is not None
    deadline = time.monotonic() + timeout
    while server._server.active_associations and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server._server.active_associations == []


def test_many_modalities_at_once_each_echo_and_find_get_every_answer(
        server: WorklistServer) -> None:
    kinds: set[tuple[str, str]] = set()
    assert server._server is not None
    listening = server._server

    def work(index: int) -> list[list[str]]:
        assoc = associate(server, f"MOD{index:02}")
        try:
            status = assoc.send_c_echo()
            assert status is not None and int(status.Status) == 0x0000
            kinds.update((type(a).__name__, type(a.dul).__name__)
                         for a in listening.active_associations)
            found = []
            for _ in range(2):
                result = scu_find(assoc, query(), timeout=30)
                assert result.statuses[-1:] == [0x0000], result.statuses[-3:]
                found.append(sorted(str(a.AccessionNumber) for a in result.answers))
            return found
        finally:
            assoc.release()

    results = run_clients(CLIENTS, work)
    assert results == {index: [EVERYTHING, EVERYTHING] for index in range(CLIENTS)}
    assert kinds == {("WaitingAssociation", "ServerDUL")}
    associations_end(server)


def test_releases_aborts_and_dropped_connections_mid_association(
        server: WorklistServer, log_warnings: LogWarnings) -> None:
    """Clients at once: some release after a query, some abort after C-ECHO, some abort while
    their answers are on the way, some drop the connection after the A-ASSOCIATE-AC or in the
    middle of a PDU; every association ends, and the server answers the next clients in full."""
    log_warnings.allow(r"pynetdicom\.dul: The received PDU is shorter than expected")  # cut short
    # the aborting client's own reactor, given the answers that were still on the way
    log_warnings.allow(r"pynetdicom\.association: Received unexpected C-FIND service message")

    def work(index: int) -> str:
        kind = index % 5
        if kind == 0:
            assert echo_and_find(server, f"REL{index:02}", queries=1) == [EVERYTHING]
            return "released"
        if kind == 1:
            assoc = associate(server, f"ABT{index:02}")
            assoc.send_c_echo()
            assoc.abort()
            return "aborted"
        if kind == 2:
            assoc = associate(server, f"MID{index:02}")
            responses = assoc.send_c_find(query(), ModalityWorklistInformationFind)
            next(responses)  # the first answer; the rest are still coming
            assoc.abort()
            return "aborted during the answers"
        with connect(server.port, timeout=30) as sock:
            sock.sendall(associate_rq(calling=f"RAW{index:02}".encode(),
                                      abstract_syntaxes=(VERIFICATION,)))
            assert read_pdu(sock)[:1] == bytes([A_ASSOCIATE_AC])
            if kind == 4:
                sock.sendall(echo_rq()[:9])  # a PDU cut short
        return "dropped"

    results = run_clients(CLIENTS, work)
    assert len(results) == CLIENTS
    associations_end(server)
    assert run_clients(8, lambda index: echo_and_find(server, f"NEXT{index}")) == {
        index: [EVERYTHING, EVERYTHING] for index in range(8)}
    associations_end(server)


def test_an_association_idle_longer_than_the_longest_wait_is_answered(
        server: WorklistServer) -> None:
    """Raw client: A-ASSOCIATE, silence for several MAX_WAITs, C-ECHO, silence, C-ECHO, release."""
    with connect(server.port, timeout=30) as sock:
        sock.sendall(associate_rq(calling=b"QUIET", abstract_syntaxes=(VERIFICATION,)))
        assert read_pdu(sock)[:1] == bytes([A_ASSOCIATE_AC])
        for message in (1, 2):
            time.sleep(MAX_WAIT * 3)
            sock.sendall(echo_rq(message_id=message))
            assert echo_status(read_pdu(sock)) == 0x0000
        sock.sendall(RELEASE_RQ)
        assert read_pdu(sock)[:1] == bytes([A_RELEASE_RP])
    associations_end(server)


@pytest.mark.expect_log_warnings(POLLING)
def test_when_associations_cannot_wait_they_poll_and_every_client_is_answered(
        server: WorklistServer, monkeypatch: pytest.MonkeyPatch, log_warnings: LogWarnings) -> None:
    """pynetdicom's DUL without what the waiting loop relies on: the associations keep
    pynetdicom's own loops, every client gets every answer, and the log says so once."""
    def cannot_wait(dul: WaitingDUL) -> None:
        raise AttributeError("the DUL has no artim_timer")

    monkeypatch.setattr(WaitingDUL, "wait_for_work", cannot_wait)
    results = run_clients(12, lambda index: echo_and_find(server, f"POLL{index:02}"))
    assert results == {index: [EVERYTHING, EVERYTHING] for index in range(12)}
    associations_end(server)
    assert sum("associations poll" in r.getMessage() for r in log_warnings.records) == 1


@pytest.mark.expect_log_warnings(POLLING)
def test_an_association_of_another_class_is_left_to_poll(
        server: WorklistServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pynetdicom whose associations are not its Association class (as a future release might
    build them) keeps its own loop: answered all the same."""
    from wldesk.core.net import reactor

    def missing(assoc: Association) -> None:
        raise AttributeError("pynetdicom 3.0.4's association has no _run_reactor")

    monkeypatch.setattr(reactor, "install", missing)
    assert echo_and_find(server, "OTHER") == [EVERYTHING, EVERYTHING]
    assert server._server is not None
    assert not any(isinstance(a, WaitingAssociation) for a in server._server.active_associations)
    associations_end(server)
