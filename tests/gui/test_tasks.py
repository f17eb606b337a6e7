"""run_in_background: the work on its own thread, the result or the exception on the GUI thread."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QObject
from pytestqt.qtbot import QtBot

from wldesk.gui.tasks import run_in_background


def test_the_result_comes_back_on_the_gui_thread(qtbot: QtBot) -> None:
    context = QObject()
    worked_in: list[threading.Thread] = []
    results: list[tuple[int, threading.Thread]] = []

    def work() -> int:
        worked_in.append(threading.current_thread())
        return 42

    thread = run_in_background(context, work, lambda value: results.append(
        (value, threading.current_thread())), name="wldesk-test-task")
    qtbot.waitUntil(lambda: bool(results), timeout=5000)
    assert thread.name == "wldesk-test-task" and thread.daemon
    assert worked_in == [thread]
    assert results == [(42, threading.main_thread())]


def test_the_exception_comes_back_on_the_gui_thread(qtbot: QtBot) -> None:
    context = QObject()
    errors: list[tuple[Exception, threading.Thread]] = []

    def work() -> int:
        raise OSError("disk on fire")

    run_in_background(context, work, lambda value: pytest.fail("no result expected"),
                      lambda exc: errors.append((exc, threading.current_thread())))
    qtbot.waitUntil(lambda: bool(errors), timeout=5000)
    [(exc, where)] = errors
    assert isinstance(exc, OSError) and str(exc) == "disk on fire"
    assert where is threading.main_thread()


@pytest.mark.expect_log_warnings(r"wldesk\.gui\.tasks: wldesk-test-task failed")
def test_an_exception_nobody_takes_is_logged(qtbot: QtBot) -> None:
    context = QObject()

    def work() -> None:
        raise OSError("disk on fire")

    thread = run_in_background(context, work, name="wldesk-test-task")
    thread.join(5)
    qtbot.wait(50)  # the queued delivery


def test_nothing_is_delivered_once_the_context_is_gone(qtbot: QtBot) -> None:
    context = QObject()
    release = threading.Event()
    called: list[object] = []
    thread = run_in_background(context, release.wait, called.append, called.append)
    context.deleteLater()
    qtbot.wait(20)  # the context is deleted while the work runs
    release.set()
    thread.join(5)
    qtbot.wait(50)
    assert called == []
