"""A C-FIND as an SCU that loses no answer, on an association made with pynetdicom.

pynetdicom 3.0.4's ``Association.send_c_find`` can lose an answer of a fast server. To keep its
reactor thread from taking responses off the DIMSE queue, it clears ``_reactor_checkpoint`` and
waits for ``_is_paused``; but ``_is_paused`` can still be True from before the reactor's last
``wait()`` returned. The reactor then runs one more loop, takes the first C-FIND-RSP that is already
queued, finds it is not a request ("Received unexpected C-FIND service message") and drops it. Only
a server that answers within that window (about a millisecond) triggers it, on an association used
for more than one request. See docs/integrators.md.

:func:`find` collects the responses from the public ``EVT_DIMSE_RECV`` event instead, which
pynetdicom triggers for every decoded DIMSE message, in order, on the DUL thread and before the
message is queued: no reactor can take an answer from there. It also keeps the reactor away from
the queue, so that pynetdicom logs nothing: it pauses the reactor as pynetdicom's own ``send_*``
methods do, puts a harmless ``(None, None)`` item on the queue ahead of the request (the one loop
the reactor may still run takes that item, or nothing), and when the final response is queued
removes the query's responses and that item from the queue before the reactor runs again.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom import evt
from pynetdicom.association import Association
from pynetdicom.dimse_messages import C_FIND_RSP
from pynetdicom.dimse_primitives import C_FIND
from pynetdicom.dsutils import decode, encode
from pynetdicom.sop_class import ModalityWorklistInformationFind  # type: ignore[attr-defined]

PENDING = (0xFF00, 0xFF01)
_NO_DATA_SET = 0x0101
_QUEUED_WAIT = 1.0  # seconds to wait for the DUL thread to queue the final response
_message_ids = itertools.count(1)
_ids_lock = threading.Lock()


def next_message_id() -> int:
    """A Message ID for the next request of this process (1 to 65535, then again from 1)."""
    with _ids_lock:
        return (next(_message_ids) - 1) % 0xFFFF + 1


@dataclass
class FindResult:
    """The responses to one C-FIND request.

    ``final_status`` is None when no final response came: ``timed_out`` says whether the peer was
    silent for the timeout (the association is then aborted, as pynetdicom does), otherwise the
    association ended (aborted, released, connection closed) before the query did.
    """

    answers: list[Dataset] = field(default_factory=list)
    final_status: int | None = None
    status: Dataset | None = None  # the final status: Status, ErrorComment, OffendingElement ...
    unsupported_keys: bool = False  # a Pending 0xFF01 came: optional keys not supported
    timed_out: bool = False
    cancelled: bool = False  # a C-CANCEL was sent
    undecodable: int = 0  # pending answers whose identifier could not be decoded
    statuses: list[int] = field(default_factory=list)  # every response's status, in order

    @property
    def error_comment(self) -> str:
        if self.status is None:
            return ""
        return str(self.status.get("ErrorComment", "") or "").strip()


class _Collector:
    """Receives the C-FIND responses to one Message ID on the DUL thread."""

    def __init__(self, msg_id: int) -> None:
        self.msg_id = msg_id
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.responses: list[tuple[Dataset, bytes | None]] = []
        self.final = False
        self.ended = False
        self.last = time.monotonic()

    def on_recv(self, event: evt.Event) -> None:
        message = event.message
        if not isinstance(message, C_FIND_RSP):
            return
        command = message.command_set
        if command is None or command.get("MessageIDBeingRespondedTo") != self.msg_id:
            return
        data: bytes | None = None
        if command.get("CommandDataSetType") != _NO_DATA_SET and message.data_set is not None:
            data = message.data_set.getvalue()
        with self.lock:
            self.responses.append((command, data))
            self.last = time.monotonic()
            if int(command.Status) not in PENDING:
                self.final = True
        self.wake.set()

    def on_end(self, event: evt.Event) -> None:
        self.ended = True
        self.wake.set()


def _context(assoc: Association, model: str) -> Any:
    for context in assoc.accepted_contexts:
        if context.abstract_syntax == model and context.as_scu is not False:
            return context
    raise ValueError(f"no accepted presentation context for {model} on this association")


def _ours(item: Any, msg_id: int) -> bool:
    """Whether a DIMSE queue item is the absorbing item or a response to ``msg_id``."""
    primitive = item[1]
    return primitive is None or (isinstance(primitive, C_FIND) and not primitive.is_valid_request
                                 and primitive.MessageIDBeingRespondedTo == msg_id)


def _final_queued(assoc: Association, msg_id: int) -> bool:
    queue = assoc.dimse.msg_queue
    with queue.mutex:
        items = list(queue.queue)
    return any(isinstance(p, C_FIND) and p.MessageIDBeingRespondedTo == msg_id
               and p.Status is not None and p.Status not in PENDING for _, p in items)


def _purge(assoc: Association, msg_id: int, *, final: bool) -> None:
    """Take this query's responses and the absorbing item off the DIMSE queue; with ``final``,
    after the DUL thread has queued the final response (it does so right after the event)."""
    deadline = time.monotonic() + _QUEUED_WAIT
    while (final and not _final_queued(assoc, msg_id) and assoc.is_established
           and time.monotonic() < deadline):
        time.sleep(0.0002)
    queue = assoc.dimse.msg_queue
    with queue.mutex:
        kept = [item for item in queue.queue if not _ours(item, msg_id)]
        queue.queue.clear()
        queue.queue.extend(kept)


def find(assoc: Association, identifier: Dataset, model: str = ModalityWorklistInformationFind,
         *, msg_id: int | None = None, timeout: float | None = None, priority: int = 2,
         cancel: threading.Event | None = None) -> FindResult:
    """Send a C-FIND request on ``assoc`` and return every answer and the final status.

    Blocking. ``timeout``: the longest silence between two responses (default: the
    association's DIMSE timeout; None or 0 with none set: wait as long as the association lasts);
    on a timeout the association is aborted. When ``cancel`` is set during the query, a C-CANCEL is
    sent and the answers that still come are collected until the final status (usually Cancel,
    0xFE00). Raises ValueError when ``assoc`` has no context for ``model`` and RuntimeError when it
    is not established; everything after the request is sent ends in the result.
    """
    if not assoc.is_established:
        raise RuntimeError("the association is not established")
    context = _context(assoc, model)
    syntax = context.transfer_syntax[0]
    data = encode(identifier, syntax.is_implicit_VR, syntax.is_little_endian, syntax.is_deflated)
    if data is None:
        raise ValueError("the identifier cannot be encoded")
    msg_id = msg_id if msg_id is not None else next_message_id()
    request = C_FIND()
    request.MessageID = msg_id
    request.AffectedSOPClassUID = model
    request.Priority = priority
    request.Identifier = BytesIO(data)
    if timeout is None:
        timeout = assoc.dimse_timeout
    collector = _Collector(msg_id)
    ends: list[tuple[evt.EventType, Callable[[evt.Event], None]]] = [
        (evt.EVT_ABORTED, collector.on_end), (evt.EVT_RELEASED, collector.on_end),
        (evt.EVT_CONN_CLOSE, collector.on_end)]
    handlers = [(evt.EVT_DIMSE_RECV, collector.on_recv), *ends]
    for event, handler in handlers:
        assoc.bind(event, handler)
    checkpoint: threading.Event | None = getattr(assoc, "_reactor_checkpoint", None)
    result = FindResult()
    try:
        if checkpoint is not None:
            checkpoint.clear()  # pause the reactor, as pynetdicom's send_* do
        assoc.dimse.msg_queue.put((None, None))  # what the reactor's last loop may take instead
        assoc.dimse.send_msg(request, context.context_id)
        while True:
            with collector.lock:
                final, last = collector.final, collector.last
            if final:
                break
            if collector.ended or not assoc.is_established:
                break
            if cancel is not None and cancel.is_set() and not result.cancelled:
                result.cancelled = True
                assoc.send_c_cancel(msg_id, context.context_id)
            if timeout and time.monotonic() - last > timeout:
                result.timed_out = True
                break
            collector.wake.wait(0.05)
            collector.wake.clear()
        if result.timed_out:
            assoc.abort()
    finally:
        if assoc.is_established:  # also when sending failed: no (None, None) may stay queued
            _purge(assoc, msg_id, final=collector.final)
        for event, handler in handlers:
            assoc.unbind(event, handler)
        if checkpoint is not None:
            checkpoint.set()
    with collector.lock:
        responses = list(collector.responses)
    for command, raw in responses:
        code = int(command.Status)
        result.statuses.append(code)
        if code in PENDING:
            result.unsupported_keys |= code == 0xFF01
            if raw is None:
                continue
            try:
                with assoc.lock:
                    result.answers.append(decode(BytesIO(raw), syntax.is_implicit_VR,
                                                 syntax.is_little_endian, syntax.is_deflated))
            except Exception:
                result.undecodable += 1
            continue
        status = Dataset()
        status.Status = code
        for keyword in ("OffendingElement", "ErrorComment", "ErrorID"):
            if keyword in command:
                setattr(status, keyword, command[keyword].value)
        result.status, result.final_status = status, code
        break
    return result
