"""Work off the GUI thread, its result (or its exception) back on the GUI thread.

:func:`run_in_background` runs a blocking function (a network query, starting the server,
re-reading the worklist folder) on a daemon thread, so the window never freezes, and hands what
it returned, or what it raised, to a callback on the GUI thread. The result crosses threads as
the argument of a queued signal of one dispatcher object that lives on the GUI thread for as long
as the process: a worker never emits on an object that might be deleted meanwhile (which Qt
does not allow), never holds a reference to a widget (dropping the last one would delete it on
the wrong thread), and the callbacks never run on the worker thread. A result whose ``context``
QObject has been deleted meanwhile (a closed tab) is dropped.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from PySide6.QtCore import QObject, Qt, Signal, Slot
from shiboken6 import Shiboken

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class _Task:
    """Who waits for one piece of work; only ever touched on the GUI thread."""

    context: QObject
    name: str
    on_result: Callable[[Any], None] | None
    on_error: Callable[[Exception], None] | None

    def deliver(self, ok: bool, value: Any) -> None:
        if not Shiboken.isValid(self.context):
            return  # its owner is gone: nobody to tell
        if ok:
            if self.on_result is not None:
                self.on_result(value)
        elif self.on_error is not None:
            self.on_error(value)
        else:
            log.error("%s failed", self.name, exc_info=value)


class _Dispatcher(QObject):
    """Lives on the GUI thread; its queued signal brings finished work there."""

    done = Signal(int, bool, object)  # task number, whether work() returned, its result or exception

    def __init__(self) -> None:
        super().__init__()
        self.waiting: dict[int, _Task] = {}
        self.numbers = itertools.count()
        self.done.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    @Slot(int, bool, object)
    def _deliver(self, number: int, ok: bool, value: Any) -> None:
        self.waiting.pop(number).deliver(ok, value)


_dispatcher: _Dispatcher | None = None


def run_in_background(context: QObject, work: Callable[[], T],
                      on_result: Callable[[T], None] | None = None,
                      on_error: Callable[[Exception], None] | None = None, *,
                      name: str = "wldesk-task") -> threading.Thread:
    """Run ``work()`` on a daemon thread named ``name``; then, on the GUI thread, call
    ``on_result`` with what it returned or ``on_error`` with the exception it raised.

    Without ``on_error`` the exception is logged (an error, with its traceback). Nothing is called
    when ``context`` (the widget or controller asking) has been deleted meanwhile. ``context`` and
    the callbacks stay on the GUI thread (the worker thread holds no reference to them, so that it
    never drops the last one of a QObject); ``work`` must not be a QObject's method for the same
    reason. Call it on the GUI thread. Returns the started thread.
    """
    global _dispatcher
    if _dispatcher is None:
        _dispatcher = _Dispatcher()  # on the GUI thread, never deleted
    dispatcher = _dispatcher
    number = next(dispatcher.numbers)
    dispatcher.waiting[number] = _Task(context, name, on_result, on_error)

    def worker() -> None:
        ok, value = True, cast(object, None)
        try:
            value = work()
        except Exception as exc:  # delivered to on_error, on the GUI thread
            ok, value = False, exc
        with contextlib.suppress(RuntimeError):  # the interpreter is shutting down
            dispatcher.done.emit(number, ok, value)

    thread = threading.Thread(target=worker, name=name, daemon=True)
    thread.start()
    return thread
