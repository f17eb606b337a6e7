"""The switches of the libraries wldesk builds on, set once by every entry point (the command line,
the window, ``selftest``, the tests) instead of as a side effect of importing a module."""

from __future__ import annotations

import ctypes
import logging
import sys
import threading

from pydicom import config as pydicom_config
from pynetdicom import _config as pynetdicom_config

from wldesk.core.watch import LOST_EVENTS


class _StopRace(logging.Filter):
    """watchdog's inotify emitter logs an ERROR when a folder event arrives while its observer is
    stopping ("queue_events() called when the thread is inactive"): harmless, and nothing anyone
    can act on. It is kept, at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "called when the thread is inactive" in record.getMessage():
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


_STOP_RACE = _StopRace()


class _PeerDataNoise(logging.Filter):
    """pynetdicom logs what a peer sent wrong (an unknown PDU type, a PDU shorter than it says, a
    PDU or DIMSE message it cannot decode, a connection closed mid-PDU, text that is not ASCII) as
    an ERROR line followed by a second record with the traceback. pynetdicom aborts that
    association, as it should; wldesk goes on serving the others. For the log that is one WARNING
    line, the traceback at DEBUG: a port scanner or a broken device must not fill a clinic's log
    with tracebacks. Errors of pynetdicom's own and of wldesk's handlers keep their level and
    traceback."""

    MESSAGES = ("Connection closed before the entire PDU was received",
                "Unknown PDU type received", "The received PDU is shorter than expected",
                "Unable to decode the received PDU data", "Received an invalid DIMSE message",
                "Exception raised in user's 'evt.EVT_DIMSE_RECV' event handler "
                "'standard_dimse_recv_handler'",
                # the actions that hand what the peer sent (P-DATA, A-ASSOCIATE-RQ) upwards
                "State Machine received an exception attempting to perform the action 'DT-2'",
                "State Machine received an exception attempting to perform the action 'AE-6'")

    def __init__(self) -> None:
        super().__init__()
        self._after = threading.local()  # this thread's last record was one of MESSAGES

    def filter(self, record: logging.LogRecord) -> bool:
        follows = getattr(self._after, "noise", False)
        self._after.noise = False
        if record.exc_info and follows:  # the traceback of the line before
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        elif record.exc_info and isinstance(record.exc_info[1], UnicodeError):
            # pynetdicom.utils.decode_bytes: text in a PDU that is not ASCII (it then tries other
            # codecs); the line is enough, without the traceback
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        elif record.levelno >= logging.ERROR and record.getMessage().startswith(self.MESSAGES):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            self._after.noise = True
        return True


_PEER_DATA_NOISE = _PeerDataNoise()


class _BadHttpNoise(logging.Filter):
    """uvicorn logs a request it cannot parse (a port scanner, a client speaking TLS to plain
    HTTP) as a WARNING with h11's traceback: the line is enough."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().startswith("Invalid HTTP request received"):
            record.exc_info, record.exc_text = None, None
        return True


_BAD_HTTP_NOISE = _BadHttpNoise()


SWITCH_INTERVAL = 0.001
"""Seconds a thread may keep the interpreter while another waits for it (Python's default is
5 ms). A query's thread waits for the interpreter after each of its socket operations; while
another thread runs Python code (the window building its tables, the index snapshot being saved)
each of those waits took up to 5 ms, and a query at 100,000 files took 2.5-3.4 times as long."""


MMAP_THRESHOLD = 128 * 1024
"""Bytes from which the C library's malloc gives a block a memory mapping of its own (glibc's
default), returned to the system when the block is freed."""
_M_MMAP_THRESHOLD = -3  # glibc's <malloc.h>


def _fixed_mmap_threshold() -> None:
    """glibc raises its mmap threshold each time a mapped block is freed, so the next big blocks
    come from the heap, where freed memory stays with the process: the tables of a folder
    listing (~20 MB at 100,000 files, every 30 s) left ``wldesk serve`` 12 MB bigger after its
    first re-listing. A fixed threshold keeps them mapped, and given back when freed."""
    if not sys.platform.startswith("linux"):
        return  # Windows' and macOS's allocators do not do this
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # a C library without mallopt
        return
    mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def configure_libraries() -> None:
    """Set pydicom, pynetdicom and watchdog (and the interpreter's thread switching and the C
    library's allocator) up for wldesk; calling it again changes nothing."""
    sys.setswitchinterval(SWITCH_INTERVAL)
    _fixed_mmap_threshold()
    # Queries legitimately carry values that VR validation rejects (wildcards, ranges, "*" in a UID
    # key) and worklist files from the field carry small deviations; wldesk interprets values itself
    # and reports what matters, so pydicom's per-value validation warnings are switched off.
    pydicom_config.settings.reading_validation_mode = pydicom_config.IGNORE
    # Patient data must not reach pynetdicom's own log output.
    pynetdicom_config.LOG_REQUEST_IDENTIFIERS = False
    pynetdicom_config.LOG_RESPONSE_IDENTIFIERS = False
    # watchdog reports lost folder events only in its log: the folder store listens there.
    overflow = logging.getLogger("watchdog.observers.inotify_c")
    if LOST_EVENTS not in overflow.handlers:
        overflow.addHandler(LOST_EVENTS)
    emitter = logging.getLogger("watchdog.observers.inotify")
    if _STOP_RACE not in emitter.filters:
        emitter.addFilter(_STOP_RACE)
    for name in ("pynetdicom.dul", "pynetdicom.dimse", "pynetdicom.events", "pynetdicom.utils",
                 "pynetdicom.fsm"):
        network = logging.getLogger(name)
        if _PEER_DATA_NOISE not in network.filters:
            network.addFilter(_PEER_DATA_NOISE)
    http = logging.getLogger("uvicorn.error")
    if _BAD_HTTP_NOISE not in http.filters:
        http.addFilter(_BAD_HTTP_NOISE)
