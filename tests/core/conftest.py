"""Fixtures of the core tests: a worklist folder, and an in-process server on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.inprocess import Running


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "worklists"
    path.mkdir()
    return path


@pytest.fixture
def running(folder: Path) -> Iterator[Running]:
    run = Running(folder)
    run.server.start()
    yield run
    run.server.stop()
