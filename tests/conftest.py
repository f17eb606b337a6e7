"""Every test: a private home (no real settings, logs, templates or autostart entries are touched),
and no WARNING log record that the test did not declare.

A test that expects warnings says which with ``@pytest.mark.expect_log_warnings(pattern, ...)``, or
with ``log_warnings.expect(pattern)`` where only some of its cases provoke one: each pattern (a
regular expression searched in "logger: message") must match at least one WARNING-or-worse record,
and every such record must match one of the patterns.
"""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from wldesk.core.libraries import configure_libraries

_HOME_VARIABLES = ("HOME", "USERPROFILE", "APPDATA", "LOCALAPPDATA", "XDG_CONFIG_HOME",
                   "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME")


def pytest_configure(config: pytest.Config) -> None:
    configure_libraries()  # as every entry point does
    config.addinivalue_line(
        "markers", "expect_log_warnings(*patterns): the WARNING log records this test expects, "
                   "each pattern matching at least one record and every record matching a pattern")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh home and XDG folders (not created: the code under test makes what it needs)."""
    home = tmp_path_factory.mktemp("home")
    for name in _HOME_VARIABLES:
        monkeypatch.setenv(name, str(home / name.lower()))
    monkeypatch.delenv("WLDESK_MACHINE_DIR", raising=False)
    return home


class LogWarnings(logging.Handler):
    """Collects WARNING-or-worse records: ``expect(pattern)`` declares one a test provokes,
    ``allow(pattern)`` one a race may or may not provoke."""

    def __init__(self, patterns: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []
        self.patterns = [re.compile(p) for p in patterns]
        self.allowed: list[re.Pattern[str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def expect(self, pattern: str) -> None:
        """Records matching ``pattern`` must occur (at least one) and are no failure."""
        self.patterns.append(re.compile(pattern))

    def allow(self, pattern: str) -> None:
        """Records matching ``pattern`` may occur (a race the test cannot steer) and are no failure."""
        self.allowed.append(re.compile(pattern))

    def problems(self) -> str:
        messages = [f"{r.name}: {r.getMessage()}" for r in self.records]
        unexpected = [m for m in messages if not any(p.search(m) for p in [*self.patterns, *self.allowed])]
        unseen = [p.pattern for p in self.patterns if not any(p.search(m) for m in messages)]
        text = "unexpected WARNING log records:\n  " + "\n  ".join(unexpected) + "\n" if unexpected else ""
        return text + ("expected WARNING log records not seen: " + ", ".join(unseen) if unseen else "")


@pytest.fixture(autouse=True)
def log_warnings(request: pytest.FixtureRequest) -> Iterator[LogWarnings]:
    marker = request.node.get_closest_marker("expect_log_warnings")
    collector = LogWarnings(list(marker.args) if marker else [])
    root = logging.getLogger()
    root.addHandler(collector)
    try:
        yield collector
    finally:
        root.removeHandler(collector)
    problems = collector.problems()
    if problems:
        pytest.fail(problems, pytrace=False)


@pytest.fixture
def other_program() -> Iterator[int]:
    """A port another program listens on (as wlmscpfs or Orthanc would)."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])
