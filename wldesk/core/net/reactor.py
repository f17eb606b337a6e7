"""An association's two threads waiting for work instead of polling for it.

Every pynetdicom association has two threads, and both poll. The DUL thread (the state machine and
the socket) looks at its socket with a zero-timeout ``select`` and at the queue of primitives to
send, then sleeps ``_run_loop_delay`` (1 ms; :class:`~wldesk.core.net.fastfind.BatchingDUL` makes it
0.1 ms while the association is busy) before looking again. The association thread (the DIMSE
messages, the release and the abort) sleeps 1 ms between its looks at what the DUL thread has
given it. Each turn is a sleep, a wake-up, the interpreter lock taken again and the looks
themselves; on a short association (open, C-ECHO, release) that was about a tenth of the server's
CPU time, and an idle association kept costing it.

Here both threads block until there is something to do:

* :class:`WaitingDUL` (the base of the server's DUL) waits in ``select`` on the association's
  socket and on a wake-up socket pair, with the ARTIM timer's remaining time as the timeout.
  Whatever gives the DUL thread work from another thread writes a byte to the pair: a primitive
  queued to send (``send_pdu``), ``kill_dul`` and ``stop_dul``. Everything else that gives it work
  (a received PDU, the connection closing) makes the socket readable.
* :class:`WaitingAssociation` runs pynetdicom's acceptor loop (``Association._run_reactor``, the
  same checks in the same order) but waits on an event instead of sleeping 1 ms; the DUL thread
  sets the event after every state-machine action (the only place where DIMSE messages,
  A-RELEASE and A-ABORT primitives reach the association thread) and when it ends.

Both also wake up at least every ``MAX_WAIT`` seconds, whatever happened, so that a change this
module does not know of is noticed at worst that late instead of never; the network (idle) timer
is checked at those wake-ups as well. A wake-up for the peer's socket that then reads nothing (a
state where pynetdicom does not read a readable socket) falls back to pynetdicom's 1 ms pace until
the socket has something to read again, so that a loop can never spin.

This fails open. :func:`install` checks that the association and its DUL have what this relies on
in pynetdicom 3.0 (pinned below 3.1): the DUL's ``event_queue``, ``state_machine``,
``artim_timer``, ``_idle_timer``, ``_kill_thread``, ``_process_recv_primitive``,
``_is_transport_event`` and its ``socket`` (an ``AssociationSocket`` around the accepted socket);
the association's ``_run_reactor``, ``_kill``, ``_reactor_checkpoint``, ``_is_paused``,
``_dul_ready``, ``dimse.get_msg``, ``_serve_request``, ``acse.is_release_requested`` /
``send_release`` / ``is_aborted`` and ``network_timeout_response``. When one is missing, the
association keeps pynetdicom's own loops (the same answers, more CPU time) and :class:`Waits` logs
that once per server.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import select
import socket
import threading
import time
from typing import Any, cast

import pynetdicom
from pynetdicom import evt
from pynetdicom.association import Association

from wldesk.core.net.fastfind import IDLE_POLL, BatchingDUL

log = logging.getLogger(__name__)
log_pynetdicom = logging.getLogger("pynetdicom.association")
"""The logger pynetdicom's own ``Association._run_reactor`` writes its lines to."""

MAX_WAIT = 0.5
"""Seconds either thread waits at most before it looks again with nothing to wake it."""

SENDING = frozenset({"Evt7", "Evt8", "Evt9", "Evt14"})
"""State-machine events of the acceptor's own A-ASSOCIATE-AC / -RJ, P-DATA and A-RELEASE-RP going
out: their actions give the association thread nothing to look at (PS3.8 9.2 AE-7, AE-8, DT-1,
AR-4, AR-7, AR-9), so it is not woken for them."""

_DUL_NEEDS = ("event_queue", "state_machine", "artim_timer", "_idle_timer", "_kill_thread",
              "_process_recv_primitive", "_is_transport_event", "to_provider_queue")
_TIMER_NEEDS = ("_start_time", "_end_time", "remaining", "timeout")
_ASSOC_NEEDS = ("_run_reactor", "_kill", "_reactor_checkpoint", "_is_paused", "_dul_ready",
                "_serve_request", "network_timeout_response", "abort", "release", "kill")


class Waits:
    """Whether one server's associations wait instead of polling: on until an association cannot
    take :func:`install`; then off for that association, logged once (a warning)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.off_reason: str | None = None

    def turn_off(self, reason: str) -> None:
        with self._lock:
            if self.off_reason is not None:
                return
            self.off_reason = reason
        log.warning("associations poll as in stock pynetdicom: %s (the same answers, more CPU "
                    "time per association)", reason)


class WaitingDUL(BatchingDUL):
    """A :class:`BatchingDUL` whose thread blocks until there is something to do (see the module's
    text). Until :meth:`wait_for_work` has been called it runs pynetdicom's own loop."""

    _wake_read: socket.socket | None = None
    _wake_write: socket.socket | None = None
    _sleeping = False  # the thread is in (or about to enter) its wait: wake() writes to the pair

    def wait_for_work(self) -> None:
        """From now on (before the thread starts) block instead of polling; raises (and changes
        nothing) when this DUL lacks what that relies on."""
        missing = [name for name in _DUL_NEEDS if not hasattr(self, name)]
        missing += [f"artim_timer.{name}" for name in _TIMER_NEEDS
                    if not hasattr(self.artim_timer, name)] if "artim_timer" not in missing else []
        raw = getattr(self.socket, "socket", None)
        if not isinstance(raw, socket.socket):
            missing.append("socket.socket")
        if missing:
            raise AttributeError(f"the DUL has no {', '.join(missing)}")
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self._wake_write.setblocking(False)

    def wake(self) -> None:
        """Make the DUL thread look for work now (any thread), if it is waiting."""
        writer = self._wake_write
        if writer is not None and self._sleeping:
            with contextlib.suppress(OSError):  # full (it is awake already) or closed (it ended)
                writer.send(b"\0")

    def send_pdu(self, primitive: Any) -> None:
        super().send_pdu(primitive)
        self.wake()

    def kill_dul(self) -> None:
        super().kill_dul()
        self.wake()

    def stop_dul(self) -> bool:
        if self.state_machine.current_state == "Sta1":
            self._kill_thread = True
            self.wake()
        return bool(super().stop_dul())

    def run(self) -> None:
        ends = (self._wake_read, self._wake_write)
        if ends[0] is None:
            super().run()
            return
        try:
            self._run_waiting()
        finally:
            for end in ends:
                if end is not None:
                    end.close()
            _woken(self.assoc)

    def _run_waiting(self) -> None:
        """pynetdicom's ``run_reactor`` (the same steps in the same order), blocking in
        :meth:`_wait` where it slept. An exception ends the thread (``ServerDUL.run`` aborts the
        association)."""
        assoc = self.assoc
        woken = _woken_event(assoc)
        self._idle_timer.start()
        assoc._dul_ready.set()
        idle = peer_woke = False  # Evt5 (connection accepted) is queued already
        while True:
            if idle:
                if peer_woke:  # readable, yet nothing was read: pynetdicom's pace, no spinning
                    time.sleep(IDLE_POLL)
                peer_woke = self._wait()
            if self._kill_thread:
                break
            if self.artim_timer.expired:
                self.event_queue.put("Evt18")
            if self._process_recv_primitive():
                pass
            elif self._is_transport_event():
                self._idle_timer.restart()
            try:
                event = self.event_queue.get(block=False)
            except queue.Empty:
                idle = True
                continue
            self.state_machine.do_action(event)
            idle = peer_woke = False
            if woken is not None and event not in SENDING:
                woken.set()

    def _wait(self) -> bool:
        """Block until the peer's socket is readable, a wake-up comes, or the ARTIM timer or
        ``MAX_WAIT`` runs out; True when the peer's socket woke it."""
        assert self._wake_read is not None
        waiting: list[socket.socket] = [self._wake_read]
        raw = getattr(self.socket, "socket", None)
        if raw is not None:
            waiting.append(raw)
        # Set before looking at the queue once more, read by wake() after queueing: whatever is
        # queued from now on writes to the pair, whatever was queued before is seen here.
        self._sleeping = True
        try:
            if self._kill_thread or not self.to_provider_queue.empty():
                return False
            readable = select.select(waiting, [], [], self._timeout())[0]
        except (OSError, ValueError):  # the connection was closed under us: look at once
            return True
        finally:
            self._sleeping = False
        if self._wake_read in readable:
            with contextlib.suppress(OSError):
                self._wake_read.recv(4096)
        return raw is not None and raw in readable

    def _timeout(self) -> float:
        timer = self.artim_timer
        if timer.timeout is None or timer._start_time is None or timer._end_time is not None:
            return MAX_WAIT
        return min(MAX_WAIT, max(float(timer.remaining), IDLE_POLL))


def _woken_event(assoc: Association) -> threading.Event | None:
    return assoc._woken if isinstance(assoc, WaitingAssociation) else None


def _woken(assoc: Association) -> None:
    woken = _woken_event(assoc)
    if woken is not None:
        woken.set()


class WaitingAssociation(Association):
    """A pynetdicom acceptor association whose thread waits on an event that its
    :class:`WaitingDUL` sets, instead of sleeping 1 ms between looks (see the module's text)."""

    _woken: threading.Event

    def _run_reactor(self) -> None:
        """pynetdicom 3.0's ``Association._run_reactor``, with the 1 ms sleep replaced by a wait
        for the DUL thread (and the comments shortened)."""
        self._is_paused = False
        woken = self._woken
        while not self._kill:
            woken.wait(MAX_WAIT)
            woken.clear()  # before looking: what comes while we look sets it again

            # The acceptor's own send_*() calls pause the reactor here (see pynetdicom)
            self._is_paused = True
            self._reactor_checkpoint.wait()
            self._is_paused = False

            context_id, msg = self.dimse.get_msg(block=False)
            if msg:
                self._serve_request(msg, cast(int, context_id))

            if self.is_established and self.acse.is_release_requested():
                self.acse.send_release(is_response=True)
                log_pynetdicom.info("Association Released")
                self.is_released = True
                self.is_established = False
                evt.trigger(self, evt.EVT_RELEASED, {})
                self.kill()
                return

            if self.acse.is_aborted():
                message = "Association Aborted"
                if self.acse.is_aborted("a-p-abort"):
                    message += " (A-P-ABORT)"
                log_pynetdicom.info(message)
                self.dul.receive_pdu(wait=False)  # so that EVT_ACSE_RECV fires
                self.is_aborted = True
                self.is_established = False
                evt.trigger(self, evt.EVT_ABORTED, {})
                self.kill()
                return

            if not self.dul.is_alive():
                self.kill()
                return

            if self.dul.idle_timer_expired():
                log_pynetdicom.error("Network timeout reached")
                if self.network_timeout_response == "A-RELEASE":
                    self._is_paused = True
                    self._reactor_checkpoint.wait()
                    self.release()
                    self._is_paused = False
                else:
                    self.abort()
                self.kill()
                return


def install(assoc: Association) -> None:
    """Make ``assoc`` (an acceptor whose threads have not started, its DUL a :class:`WaitingDUL`)
    wait instead of polling; raises (and changes nothing) when pynetdicom's association or DUL
    lacks what that relies on."""
    dul = assoc.dul
    if not isinstance(dul, WaitingDUL):
        raise TypeError(f"the association's DUL is a {type(dul).__qualname__}, not a WaitingDUL")
    if type(assoc) is not Association:
        raise TypeError(f"the association is a {type(assoc).__module__}."
                        f"{type(assoc).__qualname__}, not pynetdicom's Association")
    missing = [name for name in _ASSOC_NEEDS if not hasattr(assoc, name)]
    for owner, names in (("dimse", ("get_msg",)),
                         ("acse", ("is_release_requested", "send_release", "is_aborted"))):
        missing += [f"{owner}.{name}" for name in names
                    if not hasattr(getattr(assoc, owner, None), name)]
    if missing:
        raise AttributeError(f"pynetdicom {pynetdicom.__version__}'s association has no "
                             f"{', '.join(missing)}")
    dul.wait_for_work()
    assoc.__class__ = WaitingAssociation
    assert isinstance(assoc, WaitingAssociation)
    assoc._woken = threading.Event()
