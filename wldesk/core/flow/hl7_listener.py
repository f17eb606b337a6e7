"""The HL7 v2 channel: an MLLP listener that takes orders from a RIS (``hl7_port``, 0 = off).

MLLP frames each message as ``<VT> message <FS><CR>``; bytes before a ``<VT>`` are skipped. A
connection may send many messages, one after the other, each answered by its ACK
(:mod:`wldesk.core.flow.hl7_orders`) before the next is read. A frame larger than
:data:`MAX_MESSAGE` or a connection silent for :data:`IDLE_SECONDS` is closed; nothing a sender
sends stops the listener.

Each message and its outcome are kept, for support ("what did the RIS send?"), as one JSON line in
the daily file ``<state folder>/hl7/YYYY-MM-DD.jsonl`` for ``hl7_keep_days`` days (pruned at start
and when a day begins).
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import socket
import socketserver
import threading
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

from wldesk.core import paths
from wldesk.core.audit import file_name, prune
from wldesk.core.events import EventBus, InputEvent
from wldesk.core.flow.hl7_mapping import HL7Mapping, load_mapping
from wldesk.core.flow.hl7_orders import CHANNEL, Outcome, build_ack, handle
from wldesk.core.flow.ledger import Ledger
from wldesk.core.settings import Settings, check_ae_title

log = logging.getLogger(__name__)

START, END, CR = b"\x0b", b"\x1c", b"\r"
MAX_MESSAGE = 4 * 1024 * 1024
"""The largest message taken (4 MiB): orders are a few kilobytes."""
IDLE_SECONDS = 300.0
"""A connection that sends nothing for this long is closed (the RIS connects again)."""


def hl7_dir() -> Path:
    """Where the messages received are kept: the state folder's ``hl7``."""
    return paths.state_dir() / "hl7"


class MessageKeeper:
    """The messages received and their outcomes, one JSON line each, in daily files."""

    def __init__(self, folder: Path, days: int) -> None:
        self.folder = folder
        self.days = days
        self._lock = threading.Lock()
        self._pruned_on: date | None = None

    def prune(self) -> None:
        today = date.today()
        if self._pruned_on == today:
            return
        self._pruned_on = today
        try:
            prune(self.folder, self.days, today)
        except OSError as exc:
            log.warning("the kept HL7 messages in %s cannot be cleaned up: %s", self.folder,
                        exc.strerror or exc)

    def keep(self, raw: bytes, outcome: Outcome, address: str) -> None:
        if self.days <= 0:
            return
        record: dict[str, Any] = {
            "time": datetime.now().astimezone().isoformat(timespec="milliseconds"),
            "address": address, "source": outcome.source, "type": outcome.message_type,
            "control_id": outcome.control_id, "ack": outcome.ack_code, "reason": outcome.reason,
            "outcome": [{"action": e.action, "order": e.order, "file": e.file, "detail": e.detail}
                        for e in outcome.events]}
        try:
            record["message"] = raw.decode("utf-8")
        except UnicodeDecodeError:
            record["message_base64"] = base64.b64encode(raw).decode("ascii")
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            self.prune()
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.folder / file_name(date.today()),
                             os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0),
                             0o600)
                try:
                    os.write(fd, line)
                finally:
                    os.close(fd)
            except OSError as exc:
                log.warning("an HL7 message could not be kept in %s: %s", self.folder,
                            exc.strerror or exc)


def read_frames(sock: socket.socket, on_frame: Callable[[bytes], None]) -> None:
    """Read MLLP frames from ``sock`` and call ``on_frame(payload)`` for each, until the peer
    closes, is idle too long or sends a frame too large."""
    buffer = b""
    while True:
        start = buffer.find(START)
        if start < 0:
            buffer = b""
        elif start:
            buffer = buffer[start:]
        end = buffer.find(END + CR) if buffer else -1
        if end >= 0:
            payload, buffer = buffer[1:end], buffer[end + 2:]
            on_frame(payload)
            continue
        if len(buffer) > MAX_MESSAGE:
            log.info("HL7: a message larger than %d bytes from %s: connection closed", MAX_MESSAGE,
                     sock.getpeername()[0])
            return
        try:
            data = sock.recv(65536)
        except (TimeoutError, OSError):
            return
        if not data:
            return
        buffer += data


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(IDLE_SECONDS)
        address = self.client_address[0]
        channel = self.server.channel

        def on_frame(payload: bytes) -> None:
            outcome = channel.receive(payload, address)
            sock.sendall(START + outcome.ack + END + CR)

        # OSError: the sender went away while its ACK was sent
        with channel.track(sock), contextlib.suppress(OSError):
            read_frames(sock, on_frame)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = os.name != "nt"
    channel: HL7Listener


class HL7Listener:
    """The MLLP listener on ``host``:``port`` writing through ``ledger``."""

    def __init__(self, host: str, port: int, ledger: Ledger, mapping: HL7Mapping, *,
                 bus: EventBus, keeper: MessageKeeper) -> None:
        self.host, self.port = host, port
        self.ledger, self.mapping, self.bus, self.keeper = ledger, mapping, bus, keeper
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def receive(self, payload: bytes, address: str) -> Outcome:
        """One message: handled, kept, its events sent; never raises for what was sent."""
        try:
            outcome = handle(payload, self.ledger, self.mapping, address)
        except Exception:  # a bug must cost one message, never the listener
            log.exception("HL7: a message from %s could not be handled", address)
            text = build_ack([], "AE", "wldesk could not handle the message", 207)
            outcome = Outcome("AE", text.encode("ascii"), "", "", address, "internal error",
                              [InputEvent(CHANNEL, "failed", address,
                                          detail="wldesk could not handle the message")])
        self.keeper.keep(payload, outcome, address)
        for event in outcome.events:
            self.bus.emit(event)
        return outcome

    @contextlib.contextmanager
    def track(self, sock: socket.socket) -> Iterator[None]:
        """While active, :meth:`stop` closes ``sock`` (a connection being served)."""
        with self._lock:
            self._open.add(sock)
        try:
            yield
        finally:
            with self._lock:
                self._open.discard(sock)

    def start(self) -> None:
        self.keeper.prune()
        server = _Server((self.host, self.port), _Handler, bind_and_activate=True)
        server.channel = self
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="wldesk-hl7",
                                        kwargs={"poll_interval": 0.2}, daemon=True)
        self._thread.start()
        log.info("HL7 (MLLP) listener on %s:%d", self.host, self.port)

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        with self._lock:
            for sock in list(self._open):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread is not None:
            self._thread.join()
        log.info("HL7 listener on port %d stopped", self.port)


def make_channel(settings: Settings, ledger: Ledger, bus: EventBus) -> HL7Listener:
    """The HL7 channel of ``settings`` (made when ``hl7_port`` turns it on: see
    ``services.make_hl7``); ValueError when the mapping file is unusable, so that the channel is
    reported and not started."""
    mapping = load_mapping(settings.hl7_mapping_file, settings.hl7_fallback_station, check_ae_title)
    return HL7Listener(settings.hl7_bind_address or "0.0.0.0", settings.hl7_port, ledger, mapping,
                       bus=bus, keeper=MessageKeeper(hl7_dir(), settings.hl7_keep_days))

