"""A pynetdicom association server whose accepted sockets do not stall on delayed ACKs.

Two 40 ms stalls per C-FIND come from TCP's delayed-ACK interplay (see PERFORMANCE.md):

1. Nagle's algorithm holds the server's small PDUs back until the peer ACKs the previous ones;
   ``TCP_NODELAY`` on the accepted socket removes that.
2. Many modality stacks (DCMTK's findscu among them) write a C-FIND request as several small
   writes with Nagle on *their* side, so their last segment waits for *our* ACK, which the kernel
   delays (Linux: up to 40 ms). On Linux ``TCP_QUICKACK`` makes the kernel ACK at once, but the
   flag does not stick (the kernel drops back to delayed ACKs on its own), so it is set again
   before every receive. Windows has a per-socket setting that does stick; see
   :func:`set_ack_frequency`.

The server is built through pynetdicom's public extension points, ``AE.make_server(server_class=...)``
and the overridable ``AssociationServer.get_request()``. Two things are not public API:

* :func:`start_server` appends the server to ``ae._servers``, exactly as ``AE.start_server`` does:
  ``AE.shutdown()`` stops the servers listed there and ``AssociationServer.shutdown()`` removes
  itself from it (ValueError if absent), and pynetdicom offers no other way to register one.
* With TLS, the server's ``ssl.SSLContext`` gets ``sslsocket_class = ServerSSLSocket`` (a
  documented, per-instance override in Python's ``ssl`` module: the handshake on the association's
  thread, TCP_QUICKACK on Linux) unless the context already has a custom class, which is then left
  alone (the handshake then happens on the association's thread too, at its first receive, but
  without a deadline of its own or a plain log line).

It also guards the association level, before pynetdicom negotiates: the listen backlog
(``request_queue_size``), a deadline and per-address limits for connections that have not sent
their A-ASSOCIATE-RQ (:class:`Handshakes`, through socketserver's ``verify_request`` and
``service_actions`` hooks and pynetdicom's ``EVT_CONN_OPEN`` / ``EVT_REQUESTED`` /
``EVT_CONN_CLOSE``), and AE titles pynetdicom cannot decode (:class:`ServerDUL`). These rely on
more of pynetdicom 3.0 than its public API: the acceptor's ``dul.socket.socket`` is the accepted
socket; an acceptor waits for its A-ASSOCIATE-RQ on ``dul.to_user_queue`` and ends when it gets
None; ``DULServiceProvider._decode_pdu`` decodes each whole PDU.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import socket
import ssl
import sys
import threading
import time
import unicodedata
import weakref
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from queue import Queue
from typing import Any, cast

import pynetdicom
from pynetdicom import AE, evt
from pynetdicom.association import Association
from pynetdicom.pdu import A_ABORT_RQ, _PDUType
from pynetdicom.transport import AddressInformation, AssociationServer, ThreadedAssociationServer
from pynetdicom.utils import make_target

from wldesk.core.net import reactor
from wldesk.core.net.fastfind import FastPath
from wldesk.core.net.reactor import WaitingDUL, Waits

log = logging.getLogger(__name__)

QUICKACK_PER_RECV = sys.platform == "linux"
"""True where the kernel supports TCP_QUICKACK and needs it re-armed before each receive (Linux)."""

SIO_TCP_SET_ACK_FREQUENCY = 0x98000017
"""``_WSAIOW(IOC_VENDOR, 23)`` from the Windows SDK's ``mstcpip.h``: IOC_IN 0x80000000 | IOC_VENDOR
0x18000000 | 23."""


def _quickack(sock: socket.socket) -> None:
    if sys.platform == "linux":
        with contextlib.suppress(OSError):  # closed meanwhile: the receive that follows reports it
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)


class QuickAckSocket(socket.socket):
    """A TCP socket that asks the kernel (Linux) to ACK at once before each receive."""

    __slots__ = ()

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        _quickack(self)
        return super().recv(bufsize, flags)

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        _quickack(self)
        return super().recv_into(buffer, nbytes, flags)

    def shutdown(self, how: int) -> None:
        # pynetdicom closes its socket only after a shutdown that did not fail; a peer that is gone
        # already (ENOTCONN) left the socket to the garbage collector, open until then
        with contextlib.suppress(OSError):
            super().shutdown(how)


HANDSHAKE_TIMEOUT = 10.0
"""Seconds a peer has to complete the TLS handshake."""


class ServerSSLSocket(ssl.SSLSocket):
    """:class:`ssl.SSLSocket` of an accepted connection: the TLS handshake happens on the
    association's own thread at its first receive (not on the listening thread, where one silent
    peer would hold every other connection back), with a deadline; a failed handshake is one plain
    log line naming the peer, and to pynetdicom a connection closed. On Linux TCP_QUICKACK is
    re-armed before each receive.

    Used through :attr:`ssl.SSLContext.sslsocket_class`, which the Python documentation says "can
    be overridden on instance of class in order to return a custom subclass of SSLSocket"; the
    socket is made with ``do_handshake_on_connect=False``.
    """

    _shaken = False

    def _handshake(self) -> bool:
        if self._shaken:
            return True
        self._shaken = True
        timeout = self.gettimeout()
        try:
            host, port = self.getpeername()[:2]
            peer = f"{host}:{port}"
        except OSError:
            peer = "a peer that is gone"
        self.settimeout(HANDSHAKE_TIMEOUT)
        try:
            self.do_handshake()
        except (ssl.SSLEOFError, ConnectionResetError):  # a port check: connected, then closed
            log.info("connection from %s closed without a TLS handshake", peer)
            return False
        except AttributeError:
            if getattr(self, "_sslobj", None) is not None:
                raise
            return False  # closed meanwhile (the server shutting down): ssl drops _sslobj
        except (OSError, ValueError) as exc:  # ssl.SSLError, the deadline
            reason = (getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)
                      or type(exc).__name__)
            log.warning("TLS handshake with %s failed: %s (a modality not set up for DICOM TLS, or "
                        "a certificate this server does not accept?)", peer, reason)
            return False
        finally:
            self.settimeout(timeout)
        return True

    def recv(self, buflen: int = 1024, flags: int = 0) -> bytes:
        if not self._handshake():
            return b""
        if QUICKACK_PER_RECV:
            _quickack(self)
        return super().recv(buflen, flags)

    def recv_into(self, buffer: Any, nbytes: int | None = None, flags: int = 0) -> int:
        if not self._handshake():
            return 0
        if QUICKACK_PER_RECV:
            _quickack(self)
        return super().recv_into(buffer, nbytes, flags)

    def shutdown(self, how: int) -> None:
        with contextlib.suppress(OSError):  # as QuickAckSocket.shutdown: so that it gets closed
            super().shutdown(how)


def set_ack_frequency(sock: socket.socket) -> None:
    """Windows: make TCP acknowledge every received segment at once on ``sock`` (no-op elsewhere).

    Windows has no TCP_QUICKACK socket option before Python 3.14. Its per-socket equivalent is the
    ``SIO_TCP_SET_ACK_FREQUENCY`` Winsock ioctl (``mstcpip.h``, Windows 7 / Server 2008 R2 and
    later), the per-socket form of the system-wide ``TcpAckFrequency`` registry value: how many
    segments may arrive before an ACK is sent without waiting for the delayed-ACK timer (by
    default 2, with a timer of up to 200 ms). The input is a 32-bit integer; 1 acknowledges every
    segment at once, i.e. no delayed ACKs on this socket (the value CPython 3.14 passes for
    ``setsockopt(IPPROTO_TCP, TCP_QUICKACK, 1)``). Unlike Linux's TCP_QUICKACK the setting stays
    in effect, so it is issued once per accepted socket. ``socket.ioctl`` accepts only three other
    codes, so ``WSAIoctl`` is called through ctypes. Failure costs only latency and is logged at
    debug level.

    References: Microsoft, "Winsock IOCTLs" and the ``mstcpip.h`` header of the Windows SDK
    (``#define SIO_TCP_SET_ACK_FREQUENCY _WSAIOW(IOC_VENDOR,23)``); Microsoft support article
    328890, "Registry entry to control the TCP acknowledgment (ACK) behavior" (TcpAckFrequency);
    CPython gh-123476 (Python 3.14 maps ``socket.TCP_QUICKACK`` on Windows to this very ioctl);
    dotnet/runtime#798 (set once, it stays in effect).
    """
    if sys.platform == "win32":
        import ctypes  # Windows only
        from ctypes import wintypes

        try:
            ws2_32 = ctypes.WinDLL("ws2_32", use_last_error=True)
            frequency = wintypes.DWORD(1)
            returned = wintypes.DWORD(0)
            result = ws2_32.WSAIoctl(
                ctypes.c_size_t(sock.fileno()),  # SOCKET is a UINT_PTR
                wintypes.DWORD(SIO_TCP_SET_ACK_FREQUENCY),
                ctypes.byref(frequency), ctypes.sizeof(frequency),
                None, 0, ctypes.byref(returned), None, None)
            if result != 0:
                log.debug("SIO_TCP_SET_ACK_FREQUENCY failed: WSA error %d", ctypes.get_last_error())
        except (OSError, AttributeError) as exc:
            log.debug("SIO_TCP_SET_ACK_FREQUENCY unavailable: %s", exc)


REQUEST_DEADLINE = 5.0
"""Seconds a new connection has to send its A-ASSOCIATE-RQ (a modality sends it at once)."""

PENDING_PER_ADDRESS = 48
"""Connections from one address that may wait for their A-ASSOCIATE-RQ at the same time: above a
burst of 40 associations opened at once by one host, far below the thread count that one
misbehaving host could otherwise hold."""

PENDING_TOTAL = 96
"""Connections from all addresses that may wait for their A-ASSOCIATE-RQ at the same time. The
server adds this to its limit of associations, as pynetdicom counts these connections among the
associations: they never take the places of real ones."""


@dataclass(eq=False)
class _Pending:
    sock: socket.socket
    host: str
    port: int
    since: float
    assoc: Association | None = None


class Handshakes:
    """The accepted connections whose A-ASSOCIATE-RQ has not arrived yet.

    Without this, a connection that sends nothing (or one byte) keeps its association thread for
    pynetdicom's ACSE timeout (30 s) or, once a byte has arrived, for the network timeout (the
    DUL thread blocks reading the rest of the PDU); pynetdicom counts those threads against
    ``maximum_associations``, so some 70 idle connections locked every modality out. And when
    such a peer closes, pynetdicom's DUL ends but its association thread goes on waiting for the
    A-ASSOCIATE-RQ until the ACSE timeout: the slots stayed taken after the connections closed.

    * a connection gets ``deadline`` seconds for its A-ASSOCIATE-RQ, then its socket is shut
      down (checked by the acceptor loop, every half second);
    * at most ``per_address`` such connections per peer address and ``total`` in all: one more
      closes the oldest waiting connection of that address (or, over ``total``, of the address
      with the most), so that a flood from one host does not keep the others out;
    * when a connection closes before its A-ASSOCIATE-RQ, its association thread is told at once.
    """

    def __init__(self, deadline: float = REQUEST_DEADLINE, per_address: int = PENDING_PER_ADDRESS,
                 total: int = PENDING_TOTAL) -> None:
        self.deadline = deadline
        self.per_address = per_address
        self.total = total
        self._lock = threading.Lock()
        self._pending: dict[socket.socket, _Pending] = {}  # oldest first
        self._by_assoc: weakref.WeakKeyDictionary[Association, _Pending] = \
            weakref.WeakKeyDictionary()
        self._crowded: set[str] = set()  # addresses told about in the log, until they calm down

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending)

    def admit(self, sock: socket.socket, address: tuple[str, int]) -> None:
        """A new connection: registered; the oldest of a crowd closed."""
        host, port = str(address[0]), int(address[1])
        evicted: list[_Pending] = []
        with self._lock:
            self._pending[sock] = _Pending(sock, host, port, time.monotonic())
            from_host = [p for p in self._pending.values() if p.host == host]
            if len(from_host) > self.per_address:
                evicted.append(self._evict(from_host[0]))
            if len(self._pending) > self.total:
                counts = Counter(p.host for p in self._pending.values())
                busiest = max(counts, key=lambda h: counts[h])
                evicted.append(self._evict(next(p for p in self._pending.values()
                                                if p.host == busiest)))
            told = [p.host for p in evicted if p.host not in self._crowded]
            self._crowded.update(told)
        for host in dict.fromkeys(told):
            log.warning("%s: too many connections waiting to send their A-ASSOCIATE-RQ (at most %d "
                        "per address, %d in all); closing the oldest ones", host,
                        self.per_address, self.total)
        for pending in evicted:
            _shut(pending.sock)

    def _evict(self, pending: _Pending) -> _Pending:
        del self._pending[pending.sock]
        return pending

    def _done(self, pending: _Pending) -> None:
        """Under the lock: ``pending`` is no longer waiting."""
        self._pending.pop(pending.sock, None)
        if pending.host in self._crowded and all(p.host != pending.host
                                                 for p in self._pending.values()):
            self._crowded.discard(pending.host)

    def expire(self) -> None:
        """Shut down the connections past their deadline (called by the acceptor loop)."""
        now = time.monotonic()
        with self._lock:
            late = [p for p in self._pending.values() if now - p.since >= self.deadline]
            for pending in late:
                self._done(pending)
        for pending in late:
            log.info("connection from %s:%d closed: no A-ASSOCIATE-RQ within %g s", pending.host,
                     pending.port, self.deadline)
            _shut(pending.sock)

    # --- association events -----------------------------------------------------------------

    def opened(self, event: evt.Event) -> None:
        sock = event.assoc.dul.socket.socket if event.assoc.dul.socket is not None else None
        with self._lock:
            pending = self._pending.get(sock) if sock is not None else None
            if pending is not None:
                pending.assoc = event.assoc
                self._by_assoc[event.assoc] = pending

    def requested(self, event: evt.Event) -> None:
        with self._lock:
            pending = self._by_assoc.pop(event.assoc, None)
            if pending is not None:
                self._done(pending)

    def closed(self, event: evt.Event) -> None:
        assoc = event.assoc
        with self._lock:
            pending = self._by_assoc.pop(assoc, None)
            if pending is not None:
                self._done(pending)
        queue = cast("Queue[Any]", assoc.dul.to_user_queue)
        if assoc.is_acceptor and assoc.requestor.primitive is None and queue.empty():
            # Closed before its A-ASSOCIATE-RQ: the association thread waits for one on this
            # queue (for the ACSE timeout); None is what it gets when that times out.
            queue.put(None)

    def linked(self, sock: socket.socket) -> None:
        """After ``EVT_CONN_OPEN``: a connection whose association :meth:`opened` did not find
        is no longer watched (failing open: without its association, its A-ASSOCIATE-RQ would
        go unnoticed and the deadline would end a working association)."""
        with self._lock:
            pending = self._pending.get(sock)
            if pending is None or pending.assoc is not None:
                return
            self._done(pending)
        log.debug("connection from %s:%d: its association was not found; no deadline",
                  pending.host, pending.port)

    def stop(self) -> None:
        with self._lock:
            waiting = list(self._pending.values())
            self._pending.clear()
        for pending in waiting:
            _shut(pending.sock)


def _shut(sock: socket.socket) -> None:
    """End a connection whose association thread may be blocked reading it: its read returns."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class LowLatencyAssociationServer(ThreadedAssociationServer):
    """A :class:`ThreadedAssociationServer` whose accepted sockets have TCP_NODELAY set and, on Linux,
    TCP_QUICKACK re-armed before every receive (TLS included); on Windows, ACK frequency 1."""

    request_queue_size = 128
    """The listen backlog (socketserver's default is 5). Connections the kernel cannot queue
    while the acceptor thread is busy have their SYN dropped, and the client's kernel only sends it
    again after 1, 3, 7 s: 40 associations opened at once waited seconds. The kernel caps this at
    ``net.core.somaxconn`` (Linux) / ``SOMAXCONN`` (Windows)."""

    def get_request(self) -> tuple[socket.socket, tuple[str, int]]:
        assert self.socket is not None
        client, address = self.socket.accept()
        try:
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as exc:  # e.g. the peer already reset the connection
            log.debug("TCP_NODELAY not set: %s", exc)
        set_ack_frequency(client)
        context = self.ssl_context
        if context is not None:
            if context.sslsocket_class is ssl.SSLSocket:
                context.sslsocket_class = ServerSSLSocket
            if QUICKACK_PER_RECV:
                _quickack(client)  # for the TLS handshake
            return context.wrap_socket(client, server_side=True, do_handshake_on_connect=False), address
        if QUICKACK_PER_RECV:
            client = _rebind(client)
        return client, address

    handshakes: Handshakes | None = None
    """The connections still to send their A-ASSOCIATE-RQ (set by :func:`start_server`)."""

    def verify_request(self, request: Any, client_address: Any) -> bool:
        if self.handshakes is not None:
            self.handshakes.admit(request, client_address)
        return True

    def process_request(self, request: Any, client_address: Any) -> None:
        # Setting up an association only creates it and starts its own thread: done right here
        # instead of on one more thread per connection (ThreadingMixIn's), which costs ~0.5 ms.
        AssociationServer.process_request(self, request, client_address)
        if self.handshakes is not None:
            self.handshakes.linked(request)

    def service_actions(self) -> None:
        # Not AssociationServer's, which runs a full gc.collect() every 60 connections (its
        # comment: dead associations were not collected): CPython's collector frees the
        # associations' reference cycles on its own, and that forced collection was a tenth of
        # the server's CPU time per association.
        if self.handshakes is not None:
            self.handshakes.expire()

    def server_close(self) -> None:
        super().server_close()
        if self.handshakes is not None:
            self.handshakes.stop()


def _rebind(sock: socket.socket) -> QuickAckSocket:
    """The same connection as a :class:`QuickAckSocket` (``sock`` is detached, not closed)."""
    family, kind, proto, timeout = sock.family, sock.type, sock.proto, sock.gettimeout()
    rebound = QuickAckSocket(family, kind, proto, fileno=sock.detach())
    rebound.settimeout(timeout)
    return rebound


_TITLES = (("called", 10), ("calling", 26))  # offsets in an A-ASSOCIATE-RQ PDU (PS3.8 9.3.2)
_PLACEHOLDER = b"?".ljust(16)


def ae_title_problem(raw: bytes) -> str | None:
    """Why pynetdicom cannot take ``raw`` (an A-ASSOCIATE-RQ's 16 AE title bytes), or None.

    The same rules as pynetdicom's own check (``_validators.validate_ae`` after stripping the
    padding): ASCII, not only spaces, no control character, no backslash."""
    bad = next((b for b in raw if b > 0x7E), None)
    if bad is not None:
        return f"has a byte that is not ASCII (0x{bad:02X})"
    title = raw.decode("ascii").strip()
    if not title:
        return "is empty"
    if "\\" in title:
        return "contains a backslash"
    control = next((c for c in title if unicodedata.category(c)[0] == "C"), None)
    if control is not None:
        return f"contains a control character (0x{ord(control):02X})"
    return None


def shown_title(raw: bytes) -> str:
    """An AE title's bytes as text for a log line: other than printable ASCII as ``<E9>``."""
    return "".join(chr(b) if 0x20 <= b <= 0x7E else f"<{b:02X}>" for b in raw).strip()


@dataclass(frozen=True)
class TitleProblem:
    """An AE title of an A-ASSOCIATE-RQ that pynetdicom could not decode."""

    which: str  # "called" or "calling"
    shown: str  # the bytes as text (see shown_title)
    problem: str

    def __str__(self) -> str:
        return f"{self.which} AE title '{self.shown}' {self.problem}"


class ServerDUL(WaitingDUL):
    """The DUL of the server's associations: a :class:`~wldesk.core.net.reactor.WaitingDUL` (a
    :class:`~wldesk.core.net.fastfind.BatchingDUL` whose thread waits instead of polling) that takes
    an A-ASSOCIATE-RQ with an AE title pynetdicom cannot decode (a backslash, a byte that is not
    ASCII).

    pynetdicom answers such a request with an A-ABORT and logs a traceback without the peer.
    Here the title is replaced by ``?`` before pynetdicom decodes the PDU and kept in
    :attr:`title_problems`, so that the ``EVT_REQUESTED`` handler can answer A-ASSOCIATE-RJ and
    log one line (see :func:`title_problems`). Relies on ``DULServiceProvider._decode_pdu``
    taking the whole PDU as a bytearray.
    """

    title_problems: tuple[TitleProblem, ...] = ()

    def _decode_pdu(self, bytestream: bytearray) -> tuple[_PDUType, str]:
        if bytestream[:1] == b"\x01" and len(bytestream) >= 42:
            problems = []
            for which, start in _TITLES:
                raw = bytes(bytestream[start:start + 16])
                problem = ae_title_problem(raw)
                if problem is not None:
                    problems.append(TitleProblem(which, shown_title(raw), problem))
                    bytestream[start:start + 16] = _PLACEHOLDER
            self.title_problems = tuple(problems)
        return super()._decode_pdu(bytestream)

    def run(self) -> None:
        """The DUL's thread (pynetdicom's reactor, its target since the DUL was made), which lets an
        exception of a state-machine action end the thread unhandled (pynetdicom 3.0: a P-DATA
        whose DIMSE command set has no Command Field): then, as pynetdicom does for its own read
        errors, the association is aborted (A-ABORT to the peer, its threads end), with one log
        line naming the peer instead of a thread's traceback on stderr."""
        try:
            super().run()
        except Exception as exc:
            peer = self.assoc.requestor
            log.warning("association with %s (%s:%s) aborted: pynetdicom could not handle what it "
                        "sent (%s: %s)", peer.ae_title or "?", peer.address, peer.port,
                        type(exc).__name__, exc)
            with contextlib.suppress(Exception):  # the connection may be gone already
                abort = A_ABORT_RQ()
                abort.source, abort.reason_diagnostic = 0x02, 0x00
                if self.socket is not None:
                    self.socket.send(abort.encode())
            self.assoc.is_aborted = True
            self.assoc.is_established = False
            self.assoc._kill = True
            self._kill_thread = True


def title_problems(assoc: Association) -> tuple[TitleProblem, ...]:
    """The AE titles of ``assoc``'s A-ASSOCIATE-RQ that had to be replaced by ``?``."""
    dul = assoc.dul
    return dul.title_problems if isinstance(dul, ServerDUL) else ()


def _batching_dul(fast_path: FastPath, waits: Waits) -> Callable[[evt.Event], None]:
    """The ``EVT_CONN_OPEN`` handler that swaps in the :class:`ServerDUL` and makes the
    association's threads wait instead of polling (:mod:`~wldesk.core.net.reactor`), each failing
    open."""

    def install(event: evt.Event) -> None:
        try:
            ServerDUL.install(event.assoc)  # before the association's threads start
        except Exception as exc:  # pynetdicom builds its associations differently: stock answers
            fast_path.turn_off(f"wldesk could not attach its answer batching to a pynetdicom "
                               f"{pynetdicom.__version__} association ({type(exc).__name__}: {exc})")
            return
        try:
            reactor.install(event.assoc)
        except Exception as exc:  # pynetdicom's loops differ: they poll, as they always did
            waits.turn_off(f"wldesk could not make a pynetdicom {pynetdicom.__version__} "
                           f"association wait for work ({type(exc).__name__}: {exc})")

    return install


def start_server(ae: AE, address: tuple[str, int], evt_handlers: list[evt.EventHandlerType],
                 fast_path: FastPath | None = None, *, handshakes: Handshakes | None = None,
                 ssl_context: ssl.SSLContext | None = None) -> LowLatencyAssociationServer:
    """Like ``ae.start_server(address, block=False, evt_handlers=evt_handlers)``, with a
    :class:`LowLatencyAssociationServer` whose associations get a
    :class:`~wldesk.core.net.fastfind.BatchingDUL`.

    When that cannot be installed, the association goes on with pynetdicom's own DUL and
    ``fast_path`` (the one given to :func:`~wldesk.core.net.fastfind.fast_pending`) is turned off,
    which logs it once. The server runs ``serve_forever`` on a daemon thread named
    ``AcceptorServer@<timestamp>`` and is registered with the AE, so ``server.shutdown()`` and
    ``ae.shutdown()`` both stop it. Raises OSError when the address cannot be bound, as
    ``ae.start_server`` does. With ``ssl_context`` every connection is wrapped in TLS.

    Connections that do not send their A-ASSOCIATE-RQ are limited by ``handshakes`` (a default
    :class:`Handshakes` when not given).
    """
    swap = _batching_dul(fast_path if fast_path is not None else FastPath(), Waits())
    guard = handshakes if handshakes is not None else Handshakes()
    handlers: list[evt.EventHandlerType] = [
        (evt.EVT_CONN_OPEN, swap), (evt.EVT_CONN_OPEN, guard.opened),
        (evt.EVT_REQUESTED, guard.requested), (evt.EVT_CONN_CLOSE, guard.closed), *evt_handlers]
    server = ae.make_server(address, evt_handlers=handlers, server_class=LowLatencyAssociationServer,
                            ssl_context=ssl_context)
    assert isinstance(server, LowLatencyAssociationServer)
    server.handshakes = guard
    timestamp = datetime.now().strftime("%Y%m%d%H%M%S")
    thread = threading.Thread(target=make_target(server.serve_forever),
                              name=f"AcceptorServer@{timestamp}", daemon=True)
    thread.start()
    # What ae.start_server does after starting its thread; AssociationServer.shutdown() removes
    # the server from this list again (and raises ValueError if it is not there).
    ae._servers.append(server)
    return server


_IN_USE = (errno.EADDRINUSE, 10048)  # WSAEADDRINUSE
_NOT_HERE = (errno.EADDRNOTAVAIL, 10049)  # WSAEADDRNOTAVAIL
_FORBIDDEN = (errno.EACCES, 10013)  # WSAEACCES: also a port Windows reserves (Hyper-V, WinNAT)


def port_in_use(exc: OSError) -> bool:
    """True when listening failed because something already listens on the address and port."""
    return exc.errno in _IN_USE


def address_not_here(exc: OSError) -> bool:
    """True when listening failed because the address is not one of this computer's."""
    return exc.errno in _NOT_HERE


def listen_error(exc: OSError) -> str:
    """Why listening failed, in a few plain words (``exc`` from binding the server's socket)."""
    if port_in_use(exc):
        return "the port is already in use"
    if address_not_here(exc):
        return "the address is not one of this computer's"
    if exc.errno in _FORBIDDEN:
        return "the system does not allow this port (reserved, or below 1024 without administrator rights)"
    return exc.strerror or str(exc)


def try_listen(address: tuple[str, int]) -> None:
    """Bind and listen on ``address`` as :func:`start_server` does, then close again.

    The socket is the one pynetdicom's ``AssociationServer`` makes: the address family from
    ``AddressInformation``, ``SO_REUSEADDR`` (``server_bind``), the listen backlog of
    :class:`LowLatencyAssociationServer`. Raises the OSError that starting a server on ``address``
    would raise now (:func:`listen_error` words it)."""
    family = AddressInformation.from_tuple(address).address_family
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(address)
        probe.listen(LowLatencyAssociationServer.request_queue_size)
