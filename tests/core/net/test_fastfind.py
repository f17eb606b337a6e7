"""fast_pending over real sockets: same bytes on the wire as pynetdicom, same answers and statuses."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from pydicom.dataset import Dataset
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)
from pynetdicom import AE, evt
from pynetdicom.dimse_messages import C_FIND_RSP
from pynetdicom.dimse_primitives import C_FIND
from pynetdicom.dsutils import encode
from pynetdicom.sop_class import ModalityWorklistInformationFind  # type: ignore[attr-defined]
from pynetdicom.transport import ThreadedAssociationServer

from tests.conftest import LogWarnings
from wldesk.core.net.fastfind import (
    BUSY_SPELL,
    IDLE_POLL,
    BatchingDUL,
    FastPath,
    HandlerResult,
    PreEncoded,
    command_fragments,
    fast_pending,
)
from wldesk.core.net.reactor import WaitingDUL
from wldesk.core.net.scu import find as scu_find
from wldesk.core.net.transport import start_server

MWL = ModalityWorklistInformationFind
ALL_SYNTAXES = [ImplicitVRLittleEndian, ExplicitVRLittleEndian, ExplicitVRBigEndian,
                DeflatedExplicitVRLittleEndian]
TIMEOUT = 10.0
Result = tuple[int | Dataset, Dataset | None]
Handler = Callable[[evt.Event], Iterator[Result]]


def answer(index: int) -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientName = f"MÜLLER^ZOË{index}"
    ds.PatientID = f"ID{index}"
    ds.AccessionNumber = f"A{index:03d}"
    return ds


def pending(count: int, status: int = 0xFF00) -> Handler:
    def handler(event: evt.Event) -> Iterator[Result]:
        for index in range(count):
            yield status, answer(index)
    return handler


def pre_encoded(count: int, status: int, syntax: str) -> Callable[[evt.Event], Iterator[HandlerResult]]:
    """Like :func:`pending`, with the answers encoded for ``syntax`` as the server encodes them."""
    uid = UID(syntax)

    def handler(event: evt.Event) -> Iterator[HandlerResult]:
        for index in range(count):
            data = encode(answer(index), uid.is_implicit_VR, uid.is_little_endian, uid.is_deflated)
            assert data
            yield status, PreEncoded(data)
    return handler


def serve(handler: Handler, sent: list[bytes] | None = None
          ) -> tuple[AE, ThreadedAssociationServer]:
    ae = AE(ae_title="WLDESK")
    ae.add_supported_context(MWL)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = TIMEOUT
    handlers: list[evt.EventHandlerType] = [(evt.EVT_C_FIND, handler)]
    if sent is not None:
        handlers.append((evt.EVT_DATA_SENT, lambda event: sent.append(bytes(event.data))))
    return ae, start_server(ae, ("127.0.0.1", 0), handlers)


def find(server: ThreadedAssociationServer, syntax: str = ImplicitVRLittleEndian,
         max_pdu: int = 16382) -> tuple[list[Dataset], list[Dataset]]:
    ae = AE(ae_title="MODALITY")
    ae.add_requested_context(MWL, [syntax])
    ae.maximum_pdu_size = max_pdu
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = TIMEOUT
    assoc = ae.associate("127.0.0.1", server.server_address[1], ae_title="WLDESK")
    assert assoc.is_established
    query = Dataset()
    query.PatientName = ""
    try:
        result = scu_find(assoc, query, msg_id=1)  # the same bytes for every query
    finally:
        assoc.release()
    assert result.status is not None, "no response from the server"
    statuses = []
    for code in result.statuses[:-1]:
        status = Dataset()
        status.Status = code
        statuses.append(status)
    return result.answers, [*statuses, result.status]


@pytest.mark.parametrize("status", [0xFF00, 0xFF01])
@pytest.mark.parametrize("message_id", [1, 0xFFFF])
@pytest.mark.parametrize("sop_class", [MWL, "1.2.840.10008.5.1.4.31.1"])  # an odd-length UID too
@pytest.mark.parametrize("max_pdu", [0, 40, 16382])
def test_command_set_as_pynetdicom_encodes_it(status: int, message_id: int, sop_class: str,
                                              max_pdu: int) -> None:
    request = C_FIND()
    request.MessageID = message_id
    request.AffectedSOPClassUID = sop_class
    rsp = C_FIND()
    rsp.MessageIDBeingRespondedTo = message_id
    rsp.AffectedSOPClassUID = sop_class
    rsp.Status = status
    rsp.Identifier = io.BytesIO(b"\0")
    message = C_FIND_RSP()
    message.primitive_to_message(rsp)
    stock = [value for pdata in message.encode_msg(1, max_pdu)
             for _, value in pdata.presentation_data_value_list if value[0] & 0x01]
    assert command_fragments(request, status, max_pdu) == stock


@pytest.mark.parametrize("syntax", [ImplicitVRLittleEndian, ExplicitVRLittleEndian,
                                    ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian])
@pytest.mark.parametrize("max_pdu", [0, 40])
def test_same_bytes_as_pynetdicom(syntax: str, max_pdu: int) -> None:
    """With a 40-byte PDU limit both the command set and the identifiers are fragmented."""
    results = {}
    for name, handler in (("stock", pending(5, 0xFF01)), ("fast", fast_pending(pending(5, 0xFF01)))):
        sent: list[bytes] = []
        ae, server = serve(handler, sent)
        try:
            found, statuses = find(server, syntax, max_pdu)
        finally:
            ae.shutdown()
        assert [int(s.Status) for s in statuses] == [0xFF01] * 5 + [0x0000]
        assert [str(ds.PatientName) for ds in found] == [f"MÜLLER^ZOË{i}" for i in range(5)]
        results[name] = sent
    assert b"".join(results["fast"]) == b"".join(results["stock"])
    # Writes: association, one per PDU (stock: 5 x command, data at least) or one per batch
    # (batches of 1, 2 and 2 answers), final response, release.
    assert len(results["stock"]) >= 3 + 10
    assert len(results["fast"]) == 3 + 3


def test_many_answers() -> None:
    ae, server = serve(fast_pending(pending(1000)))
    try:
        found, statuses = find(server)
    finally:
        ae.shutdown()
    assert [str(ds.AccessionNumber) for ds in found] == [f"A{i:03d}" for i in range(1000)]
    assert [int(s.Status) for s in statuses] == [0xFF00] * 1000 + [0x0000]


def test_other_statuses_go_through_pynetdicom_and_the_handler_is_closed() -> None:
    closed = threading.Event()

    def handler(event: evt.Event) -> Iterator[Result]:
        try:
            yield 0xFF00, answer(0)
            warning = Dataset()
            warning.Status = 0xFF01
            yield warning, answer(1)  # a pending status as a Dataset: pynetdicom sends it
            yield 0xFF00, answer(2)
            failure = Dataset()
            failure.Status = 0xC000
            failure.ErrorComment = "disk on fire"
            yield failure, None
            yield 0xFF00, answer(3)  # never asked for: pynetdicom stops after a failure
        finally:
            closed.set()

    ae, server = serve(fast_pending(handler))
    try:
        found, statuses = find(server)
        assert closed.wait(TIMEOUT)
    finally:
        ae.shutdown()
    assert [int(s.Status) for s in statuses] == [0xFF00, 0xFF01, 0xFF00, 0xC000]
    assert statuses[-1].ErrorComment == "disk on fire"
    assert [str(ds.PatientID) for ds in found] == ["ID0", "ID1", "ID2"]


@pytest.mark.expect_log_warnings(r"Failed encoding the response")
def test_empty_identifier_is_reported_by_pynetdicom() -> None:
    def handler(event: evt.Event) -> Iterator[Result]:
        yield 0xFF00, answer(0)
        yield 0xFF00, Dataset()  # encodes to nothing

    ae, server = serve(fast_pending(handler))
    try:
        found, statuses = find(server)
    finally:
        ae.shutdown()
    assert [int(s.Status) for s in statuses] == [0xFF00, 0xC312]
    assert len(found) == 1


def test_no_answers() -> None:
    ae, server = serve(fast_pending(pending(0)))
    try:
        found, statuses = find(server)
    finally:
        ae.shutdown()
    assert found == []
    assert [int(s.Status) for s in statuses] == [0x0000]


@pytest.mark.expect_log_warnings(r"wldesk\.core\.net\.reactor: associations poll as in stock "
                                 r"pynetdicom: .*\(AttributeError: the DUL has no event_queue\)")
def test_idle_association_falls_back_to_pynetdicoms_pace(monkeypatch: pytest.MonkeyPatch,
                                                         log_warnings: LogWarnings) -> None:
    """Where the association's threads cannot wait for work (wldesk.core.net.reactor fails open), a
    busy association's DUL polls every 0.1 ms; one that has been quiet, at pynetdicom's 1 ms."""
    def cannot_wait(dul: WaitingDUL) -> None:
        raise AttributeError("the DUL has no event_queue")

    monkeypatch.setattr(WaitingDUL, "wait_for_work", cannot_wait)
    ae, server = serve(fast_pending(pending(3)))
    try:
        client = AE(ae_title="MODALITY")
        client.add_requested_context(MWL)
        assoc = client.associate("127.0.0.1", server.server_address[1], ae_title="WLDESK")
        assert assoc.is_established
        try:
            [accepted] = server.active_associations
            assert isinstance(accepted.dul, BatchingDUL)
            time.sleep(BUSY_SPELL * 4)
            assert accepted.dul._run_loop_delay == IDLE_POLL
            quiet_since = accepted.dul._active
            query = Dataset()
            query.PatientName = ""
            statuses = scu_find(assoc, query).statuses
            assert statuses == [0xFF00] * 3 + [0x0000]
            assert accepted.dul._active > quiet_since  # busy again: the next BUSY_SPELL polls fast
        finally:
            assoc.release()
    finally:
        ae.shutdown()
    assert sum("associations poll" in r.getMessage() for r in log_warnings.records) == 1


@pytest.mark.expect_log_warnings(r"wldesk\.core\.net\.fastfind: fast answer path off: an association "
                                 r"came without wldesk's batching DUL .*pynetdicom's standard path")
@pytest.mark.parametrize("syntax", [ImplicitVRLittleEndian, ExplicitVRLittleEndian,
                                    ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian])
def test_without_a_batching_dul_the_answers_go_through_pynetdicom(
        syntax: str, log_warnings: LogWarnings) -> None:
    """Under pynetdicom's own server (no BatchingDUL) fast_pending fails open: pynetdicom sends
    the same answers, pre-encoded ones included, as it would without fast_pending; one warning."""
    results = {}
    fast_path = FastPath()
    for name, handler in (("stock", pending(5, 0xFF01)),
                          ("fail-open", fast_pending(pre_encoded(5, 0xFF01, syntax), fast_path))):
        sent: list[bytes] = []
        ae = AE(ae_title="WLDESK")
        ae.add_supported_context(MWL, ALL_SYNTAXES)
        server = ae.start_server(
            ("127.0.0.1", 0), block=False,
            evt_handlers=[(evt.EVT_C_FIND, handler),
                          (evt.EVT_DATA_SENT, lambda event, sent=sent: sent.append(bytes(event.data)))])
        assert server is not None
        try:
            for _ in range(2):
                found, statuses = find(server, syntax)
                assert [int(s.Status) for s in statuses] == [0xFF01] * 5 + [0x0000]
                assert [str(ds.PatientName) for ds in found] == [f"MÜLLER^ZOË{i}" for i in range(5)]
        finally:
            ae.shutdown()
        results[name] = sent
    assert b"".join(results["fail-open"]) == b"".join(results["stock"])
    assert not fast_path.is_on and not fast_path.used
    assert len(log_warnings.records) == 1  # once, not once per query
