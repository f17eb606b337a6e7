"""Pending C-FIND responses without re-encoding the same command set for every answer.

For each pending response pynetdicom builds a DIMSE message from the response primitive (a fresh
command set Dataset), encodes that command set twice (once to compute its group length, once to
send it) and then encodes the identifier: about 0.35 ms per answer, three quarters of it on the
command set. Yet every pending response of one C-FIND carries the same command set: Affected SOP
Class UID, Command Field (C-FIND-RSP), Message ID Being Responded To, Command Data Set Type and
Status (0xFF00 or 0xFF01) are all fixed for the request.

:func:`fast_pending` wraps an ``EVT_C_FIND`` handler. Each pending ``(status, identifier)`` the
handler yields is sent from the handler itself: the command set is encoded once per (request,
status) with pynetdicom's own ``C_FIND_RSP`` message class, the identifier with pynetdicom's own
``dsutils.encode`` for the negotiated transfer syntax, and both go as P-DATA primitives to the
association's ``dul.send_pdu`` - fragmented exactly as ``DIMSEMessage.encode_msg`` fragments them,
so the bytes on the wire are the ones pynetdicom would send. Everything else (the final status,
cancels, failures, warnings, pending statuses given as Datasets, identifiers that fail to encode)
is yielded to pynetdicom unchanged, which answers it its usual way.

What this relies on in pynetdicom 3.0 (all public names): ``Event.request`` / ``Event.context`` /
``Event.assoc``; ``Association.is_established``, ``Association.dimse.maximum_pdu_size`` and
``Association.dul.send_pdu``; ``dimse_primitives.C_FIND``; ``dimse_messages.C_FIND_RSP`` with
``primitive_to_message``/``encode_msg``; ``dsutils.encode``; ``pdu_primitives.P_DATA``; and that the
C-FIND handler runs on the association's own thread (so our P-DATA primitives are queued in order
with pynetdicom's); ``dul.to_provider_queue`` (documented on ``DULServiceProvider``) is read for
its length, to keep at most ``MAX_QUEUED`` primitives waiting so that a C-CANCEL still stops a
long answer. Differences from stock: no ``EVT_DIMSE_SENT`` notification (and so no
pynetdicom debug log line) for the pending responses sent here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterable, Iterator
from io import BytesIO
from typing import cast

from pydicom.dataset import Dataset
from pynetdicom import evt
from pynetdicom.dimse_messages import C_FIND_RSP
from pynetdicom.dimse_primitives import C_FIND
from pynetdicom.dsutils import encode
from pynetdicom.pdu_primitives import P_DATA


class PreEncoded:
    """A pending identifier the handler already encoded for the context's transfer syntax."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


FindResult = tuple[int | Dataset, Dataset | None]  # what pynetdicom takes
HandlerResult = tuple[int | Dataset, Dataset | PreEncoded | None]  # what a wrapped handler yields
FindHandler = Callable[[evt.Event], Iterable[HandlerResult]]

PENDING = frozenset({0xFF00, 0xFF01})
MAX_QUEUED = 64  # P-DATA primitives waiting for the DUL thread (``dul.to_provider_queue``)

# PS3.8 Annex E.2, message control header: bit 0 command (1) / data set (0), bit 1 last fragment.
_DATA = b"\x00"
_DATA_LAST = b"\x02"


def command_fragments(request: C_FIND, status: int, context_id: int, max_pdu: int) -> list[bytes]:
    """The PDVs (control header + fragment) of the command set of a pending C-FIND-RSP to
    ``request``, as pynetdicom encodes it."""
    rsp = C_FIND()
    rsp.MessageID = request.MessageID
    rsp.MessageIDBeingRespondedTo = request.MessageID
    rsp.AffectedSOPClassUID = request.AffectedSOPClassUID
    rsp.Status = status
    rsp.Identifier = BytesIO(b"\0")  # only so that Command Data Set Type says "present"
    message = C_FIND_RSP()
    message.primitive_to_message(rsp)
    return [value for pdata in message.encode_msg(context_id, max_pdu)
            for _, value in pdata.presentation_data_value_list if value[0] & 0x01]


def data_fragments(data: bytes, max_pdu: int) -> list[bytes]:
    """The PDVs of an encoded data set, as ``DIMSEMessage.encode_msg`` splits it."""
    size = max_pdu - 6 if max_pdu else len(data)
    chunks = [data[i:i + size] for i in range(0, len(data), size)]
    return [_DATA + chunk for chunk in chunks[:-1]] + [_DATA_LAST + chunks[-1]]


def fast_pending(handler: FindHandler) -> Callable[[evt.Event], Iterator[FindResult]]:
    """An ``EVT_C_FIND`` handler that sends ``handler``'s pending answers with a cached command set."""

    def wrapper(event: evt.Event) -> Iterator[FindResult]:
        assoc = event.assoc
        request = cast(C_FIND, event.request)
        context_id, _, syntax = event.context
        max_pdu = assoc.dimse.maximum_pdu_size
        commands: dict[int, list[bytes]] = {}
        results = handler(event)
        try:
            for status, identifier in results:
                if not (isinstance(status, int) and status in PENDING and identifier is not None):
                    if isinstance(identifier, PreEncoded):
                        raise TypeError("only pending answers may be pre-encoded")
                    yield status, identifier
                    continue
                if isinstance(identifier, PreEncoded):
                    data: bytes | None = identifier.data
                else:
                    data = encode(identifier, syntax.is_implicit_VR, syntax.is_little_endian,
                                  syntax.is_deflated)
                if not data:  # let pynetdicom report it (0xC312)
                    yield status, None if isinstance(identifier, PreEncoded) else identifier
                    continue
                if not assoc.is_established:  # aborted or released meanwhile
                    return
                command = commands.get(status)
                if command is None:
                    command = commands[status] = command_fragments(request, status, context_id,
                                                                   max_pdu)
                # Back-pressure: let the DUL thread send what is queued, so that a C-CANCEL is
                # seen (the handler checks between answers) while answers are still going out.
                while assoc.dul.to_provider_queue.qsize() > MAX_QUEUED and assoc.is_established:
                    time.sleep(0.0005)
                for value in (*command, *data_fragments(data, max_pdu)):
                    pdata = P_DATA()
                    pdata.presentation_data_value_list.append((context_id, value))
                    assoc.dul.send_pdu(pdata)
        finally:  # pynetdicom closes us when it stops early: pass that on to the handler
            if isinstance(results, Generator):
                results.close()

    return wrapper
