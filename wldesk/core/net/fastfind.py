"""Pending C-FIND responses without pynetdicom's per-answer overhead.

For each pending response stock pynetdicom builds a DIMSE message from the response primitive (a
fresh command set Dataset), encodes that command set twice (once to compute its group length,
once to send it), encodes the identifier, and hands every PDU to its DUL thread, which takes one
PDU per turn of its reactor loop and sleeps 1 ms whenever it finds nothing to do: about 0.35 ms
of encoding per answer, and answers that leave in a trickle. Yet every pending response of one
C-FIND carries the same command set: Affected SOP Class UID, Command Field (C-FIND-RSP), Message
ID Being Responded To, Command Data Set Type and Status (0xFF00 or 0xFF01) are fixed for the
request.

:func:`fast_pending` wraps an ``EVT_C_FIND`` handler. Each pending ``(status, identifier)`` the
handler yields is sent from the handler itself: the command set (five fixed elements and their
group length) is encoded once per (request, status), the identifier with pynetdicom's own
``dsutils.encode`` for the negotiated transfer syntax (or taken as the handler encoded it, see
:class:`PreEncoded`), both fragmented exactly as ``DIMSEMessage.encode_msg`` fragments them and
framed as the P-DATA-TF PDUs pynetdicom would send, one PDV per PDU: the bytes on the wire are
the ones stock pynetdicom sends. Everything else (the final status, cancels, failures, warnings,
pending statuses given as Datasets, identifiers that fail to encode) is yielded to pynetdicom
unchanged, which answers it its usual way.

The association's DUL is a :class:`BatchingDUL` (:func:`wldesk.core.net.transport.start_server`
installs it on every accepted connection): the PDUs of several answers go to it as one batch
that it writes with one socket write, in its turn among the other queued primitives: the first
answer alone, so that the peer starts on it at once, then batches doubling up to
``BATCH_ANSWERS`` answers or ``BATCH_BYTES`` bytes. At most ``MAX_QUEUED`` primitives wait for
the DUL thread, so that a C-CANCEL (the handler checks between answers) still stops a long answer.

The fast path fails open. When an association has no BatchingDUL (a pynetdicom release whose
association or DUL is built differently, so that the swap failed; or a server other than
``start_server``), the handler's answers go to pynetdicom as the ``(status, identifier)`` pairs
it expects (pre-encoded identifiers decoded back into datasets) and it sends them its usual way:
the same answers, only slower for long worklists. :class:`FastPath` records that for one server
and logs it once, as a warning.

What this relies on in pynetdicom 3.0 (pinned below 3.1): ``Event.request`` / ``Event.context`` /
``Event.assoc``; ``Association.is_established``, ``Association.dimse.maximum_pdu_size`` and
``Association.dul``; that the C-FIND handler runs on the association's own thread (so what we
queue is ordered with what pynetdicom queues); ``DULServiceProvider.send_pdu`` and its
``to_provider_queue`` (read for its length); ``dsutils.encode``; and, for :class:`BatchingDUL`, the
DUL's ``_send``, ``_process_recv_primitive``, ``_is_transport_event`` and ``_run_loop_delay``
(see there). Differences from stock: no ``EVT_DIMSE_SENT`` / ``EVT_PDU_SENT`` notifications (and
so no pynetdicom debug log lines) for the pending responses sent here; ``EVT_DATA_SENT`` reports
a batch as one write.
"""

from __future__ import annotations

import logging
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from io import BytesIO
from typing import cast

import pynetdicom
from pydicom.dataset import Dataset
from pynetdicom import evt
from pynetdicom.association import Association
from pynetdicom.dimse_primitives import C_FIND
from pynetdicom.dsutils import decode, encode
from pynetdicom.dul import DULServiceProvider
from pynetdicom.pdu import P_DATA_TF, _PDUType
from pynetdicom.pdu_primitives import P_DATA

log = logging.getLogger(__name__)


class PreEncoded:
    """A pending identifier the handler already encoded for the context's transfer syntax."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


FindResult = tuple[int | Dataset, Dataset | None]  # what pynetdicom takes
HandlerResult = tuple[int | Dataset, Dataset | PreEncoded | None]  # what a wrapped handler yields
FindHandler = Callable[[evt.Event], Iterable[HandlerResult]]

PENDING = frozenset({0xFF00, 0xFF01})
MAX_QUEUED = 4  # primitives (batches) waiting for the DUL thread (``dul.to_provider_queue``)
BATCH_ANSWERS = 64  # most answers in one batch written by a BatchingDUL
BATCH_BYTES = 64 * 1024  # a batch is written once it holds this many bytes

BUSY_POLL = 0.0001  # seconds a BatchingDUL sleeps between idle turns while the association is busy
IDLE_POLL = 0.001  # ... and once it has been quiet for BUSY_SPELL (pynetdicom's own delay)
BUSY_SPELL = 0.05

# PS3.8 Annex E.2, message control header: bit 0 command (1) / data set (0), bit 1 last fragment.
_DATA = b"\x00"
_DATA_LAST = b"\x02"
_COMMAND = b"\x01"
_COMMAND_LAST = b"\x03"
_PDU_HEADER = struct.Struct(">BBLLB")  # PS3.8 9.3.5: type 04, reserved, length; PDV item length, context


class FastPath:
    """Whether one server's fast answer path works: on until an association comes without a
    :class:`BatchingDUL`; then off, with one warning in the log and the reason kept here."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.off_reason: str | None = None
        self.used = False  # a query's answers went out through the fast path

    @property
    def is_on(self) -> bool:
        return self.off_reason is None

    def turn_off(self, reason: str) -> None:
        """Record why the fast path is off; the first time, log it (a warning, for the IT person)."""
        with self._lock:
            if self.off_reason is not None:
                return
            self.off_reason = reason
        log.warning("fast answer path off: %s; answers go out through pynetdicom's standard path "
                    "(the same answers, slower for long worklists)", reason)


class BatchingDUL(DULServiceProvider):
    """pynetdicom's DUL service provider with two additions for fast answers.

    * :meth:`send_pdus` queues a batch of ready-made P-DATA-TF PDUs that the DUL writes with one
      socket write, in its turn among the primitives queued before and after it. The batch's turn
      is held in the queue by a P-DATA primitive without any PDV: pynetdicom turns it into a
      P-DATA-TF without PDV items (never valid on the wire, so pynetdicom never sends one) and
      hands it to ``_send``, which writes the batch instead.
    * Between turns with nothing to do pynetdicom's reactor sleeps ``_run_loop_delay`` (1 ms);
      one association exchange (request, a few answers, release) pays that sleep at every step.
      While the association has been busy within the last ``BUSY_SPELL`` seconds the delay is
      ``BUSY_POLL`` instead; an idle association polls at pynetdicom's pace.

    :meth:`install` turns the DUL of a new association into a BatchingDUL (the class adds
    behaviour, not state that ``__init__`` would have set up), before its thread starts.
    """

    _batches: deque[bytes]
    _active: float

    @classmethod
    def install(cls, assoc: Association) -> None:
        """Make ``assoc``'s DUL a BatchingDUL; raises (and changes nothing) when it is not
        pynetdicom's own DULServiceProvider, or cannot be changed."""
        dul = assoc.dul
        if isinstance(dul, cls):
            return
        if type(dul) is not DULServiceProvider:
            raise TypeError(f"the association's DUL is a {type(dul).__module__}."
                            f"{type(dul).__qualname__}, not pynetdicom's DULServiceProvider")
        dul.__class__ = cls
        assert isinstance(dul, BatchingDUL)
        dul._batches = deque()
        dul._active = time.monotonic()
        dul._run_loop_delay = BUSY_POLL  # the peer's A-ASSOCIATE-RQ is on its way

    def send_pdus(self, data: bytes) -> None:
        """Queue ``data`` (whole encoded P-DATA-TF PDUs) to be written after what is queued."""
        self._batches.append(data)
        self.send_pdu(P_DATA())

    def _send(self, pdu: _PDUType) -> None:
        if isinstance(pdu, P_DATA_TF) and not pdu.presentation_data_value_items:
            data = self._batches.popleft()
            if self.socket is not None:  # else the association is gone: so is the batch
                self.socket.send(data)
            return
        super()._send(pdu)

    def _pace(self, active: bool) -> bool:
        now = time.monotonic()
        if active:
            self._active = now
        self._run_loop_delay = BUSY_POLL if now - self._active < BUSY_SPELL else IDLE_POLL
        return active

    def _process_recv_primitive(self) -> bool:
        return self._pace(super()._process_recv_primitive())

    def _is_transport_event(self) -> bool:
        return self._pace(super()._is_transport_event())


def _pdu(context_id: int, pdv: bytes) -> bytes:
    """One P-DATA-TF PDU carrying one PDV, encoded as pynetdicom encodes it."""
    return _PDU_HEADER.pack(0x04, 0, len(pdv) + 5, len(pdv) + 1, context_id) + pdv


def _command_element(element: int, value: bytes) -> bytes:
    """One group 0000 element, implicit VR little endian (PS3.7 6.3.1)."""
    return struct.pack("<HHL", 0x0000, element, len(value)) + value


def command_fragments(request: C_FIND, status: int, max_pdu: int) -> list[bytes]:
    """The PDVs (control header + fragment) of the command set of a pending C-FIND-RSP to
    ``request``, as pynetdicom encodes it (PS3.7 Table 9.3-2, elements in tag order)."""
    uid = str(request.AffectedSOPClassUID).encode("ascii")
    body = b"".join((
        _command_element(0x0002, uid + b"\0" * (len(uid) % 2)),  # Affected SOP Class UID
        _command_element(0x0100, struct.pack("<H", 0x8020)),  # Command Field: C-FIND-RSP
        _command_element(0x0120, struct.pack("<H", request.MessageID)),  # Message ID Being Resp. To
        _command_element(0x0800, struct.pack("<H", 0x0001)),  # Command Data Set Type: present
        _command_element(0x0900, struct.pack("<H", status)),  # Status
    ))
    return _fragments(_command_element(0x0000, struct.pack("<L", len(body))) + body, max_pdu,
                      _COMMAND, _COMMAND_LAST)


def _fragments(data: bytes, max_pdu: int, header: bytes, last: bytes) -> list[bytes]:
    """``data`` split as ``DIMSEMessage.encode_msg`` splits it, each part behind its PDV
    message control header."""
    size = max_pdu - 6 if max_pdu else len(data)
    chunks = [data[i:i + size] for i in range(0, len(data), size)]
    return [header + chunk for chunk in chunks[:-1]] + [last + chunks[-1]]


def data_fragments(data: bytes, max_pdu: int) -> list[bytes]:
    """The PDVs of an encoded data set, as ``DIMSEMessage.encode_msg`` splits it."""
    return _fragments(data, max_pdu, _DATA, _DATA_LAST)


class _Sender:
    """Collects the PDUs of pending answers into batches for a :class:`BatchingDUL`."""

    def __init__(self, assoc: Association, dul: BatchingDUL, context_id: int, max_pdu: int) -> None:
        self.assoc = assoc
        self.dul = dul
        self.context_id = context_id
        self.max_pdu = max_pdu
        self.pdus: list[bytes] = []  # one item per answer: its PDUs
        self.size = 0
        self.flush_at = 1

    def framed(self, pdvs: Iterable[bytes]) -> bytes:
        """``pdvs`` as P-DATA-TF PDUs, one PDV each."""
        return b"".join(_pdu(self.context_id, value) for value in pdvs)

    def send(self, command: bytes, data: bytes) -> bool:
        """Add one answer (its command set already framed, its data set's PDVs framed here);
        False once the association has ended."""
        pdus = command + self.framed(data_fragments(data, self.max_pdu))
        self.pdus.append(pdus)
        self.size += len(pdus)
        if len(self.pdus) >= self.flush_at or self.size >= BATCH_BYTES:
            self.flush_at = min(self.flush_at * 2, BATCH_ANSWERS)
            return self.flush()
        return True

    def flush(self) -> bool:
        """Queue the collected PDUs; False once the association has ended."""
        # Back-pressure: let the DUL thread send what is queued, so that a C-CANCEL is seen
        # (the handler checks between answers) while answers are still going out.
        while self.dul.to_provider_queue.qsize() > MAX_QUEUED and self.assoc.is_established:
            time.sleep(0.0005)
        if not self.assoc.is_established:
            return False
        if self.pdus:
            self.dul.send_pdus(b"".join(self.pdus))
            self.pdus.clear()
            self.size = 0
            time.sleep(0)  # let the DUL thread take the GIL and the batch, rather than in 5 ms
        return True


def fast_pending(handler: FindHandler, fast_path: FastPath | None = None
                 ) -> Callable[[evt.Event], Iterator[FindResult]]:
    """An ``EVT_C_FIND`` handler that sends ``handler``'s pending answers with a cached command set.

    On an association without a :class:`BatchingDUL` the answers go through pynetdicom's standard
    path instead, and ``fast_path`` (one per server; without it, one for this handler) is turned
    off, which logs it once.
    """
    state = fast_path if fast_path is not None else FastPath()

    def wrapper(event: evt.Event) -> Iterator[FindResult]:
        dul = getattr(event.assoc, "dul", None)
        if isinstance(dul, BatchingDUL):
            state.used = True
            return _fast(handler, event, dul)
        state.turn_off(f"an association came without wldesk's batching DUL (its DUL is a "
                       f"{type(dul).__qualname__}, pynetdicom {pynetdicom.__version__})")
        return _standard(handler, event)

    return wrapper


def _standard(handler: FindHandler, event: evt.Event) -> Iterator[FindResult]:
    """``handler``'s results as pynetdicom takes them: pre-encoded identifiers decoded again."""
    syntax = event.context.transfer_syntax
    results = handler(event)
    try:
        for status, identifier in results:
            if isinstance(identifier, PreEncoded):
                if not (isinstance(status, int) and status in PENDING):
                    raise TypeError("only pending answers may be pre-encoded")
                # Empty: pynetdicom reports it (0xC312), as on the fast path.
                yield status, decode(BytesIO(identifier.data), syntax.is_implicit_VR,
                                     syntax.is_little_endian, syntax.is_deflated) \
                    if identifier.data else None
            else:
                yield status, identifier
    finally:  # pynetdicom closes us when it stops early: pass that on to the handler
        if isinstance(results, Generator):
            results.close()


def _fast(handler: FindHandler, event: evt.Event, dul: BatchingDUL) -> Iterator[FindResult]:
    """``handler``'s pending answers sent here through ``dul``; everything else yielded."""
    assoc = event.assoc
    request = cast(C_FIND, event.request)
    context_id, _, syntax = event.context
    max_pdu = assoc.dimse.maximum_pdu_size
    commands: dict[int, bytes] = {}  # status -> its command set, framed
    sender = _Sender(assoc, dul, context_id, max_pdu)
    results = handler(event)
    try:
        for status, identifier in results:
            if not (isinstance(status, int) and status in PENDING and identifier is not None):
                if isinstance(identifier, PreEncoded):
                    raise TypeError("only pending answers may be pre-encoded")
                if not sender.flush():
                    return
                yield status, identifier
                continue
            if isinstance(identifier, PreEncoded):
                data: bytes | None = identifier.data
            else:
                data = encode(identifier, syntax.is_implicit_VR, syntax.is_little_endian,
                              syntax.is_deflated)
            if not data:  # let pynetdicom report it (0xC312)
                if not sender.flush():
                    return
                yield status, None if isinstance(identifier, PreEncoded) else identifier
                continue
            command = commands.get(status)
            if command is None:
                command = commands[status] = sender.framed(
                    command_fragments(request, status, max_pdu))
            if not sender.send(command, data):
                return  # aborted or released meanwhile
        sender.flush()  # pynetdicom sends the final Success itself
    finally:  # pynetdicom closes us when it stops early: pass that on to the handler
        if isinstance(results, Generator):
            results.close()
