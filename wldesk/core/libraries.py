"""The switches of the libraries wldesk builds on, set once by every entry point (the command line,
the window, ``selftest``, the tests) instead of as a side effect of importing a module."""

from __future__ import annotations

import logging

from pydicom import config as pydicom_config
from pynetdicom import _config as pynetdicom_config

from wldesk.core.store import LOST_EVENTS


class _StopRace(logging.Filter):
    """watchdog's inotify emitter logs an ERROR when a folder event arrives while its observer is
    stopping ("queue_events() called when the thread is inactive"): harmless, and nothing anyone
    can act on. It is kept, at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "called when the thread is inactive" in record.getMessage():
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


_STOP_RACE = _StopRace()


def configure_libraries() -> None:
    """Set pydicom, pynetdicom and watchdog up for wldesk; calling it again changes nothing."""
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
