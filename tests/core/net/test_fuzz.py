"""Malformed C-FIND identifiers over real associations: 0xA900 with a plain reason, never an
internal error or a traceback. A fixed slice of the fuzzing of ``benchmarks/fuzz_queries.py``."""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.fuzz import ErrorRecords, base_identifiers, cases, run_cases
from tests.helpers.ports import free_port
from tests.helpers.samples import write_entry
from wldesk.core.events import EventBus, QueryEvent
from wldesk.core.net.server import UNDECODABLE, WorklistServer
from wldesk.core.settings import Settings


@pytest.fixture
def server(tmp_path: Path, log_warnings: Any) -> Iterator[tuple[WorklistServer, list[QueryEvent]]]:
    log_warnings.allow(r"^pydicom: ")  # pydicom's notes on the garbage it is given
    write_entry(tmp_path, "a.wl", patient="DOE^JOHN", accession="A1")
    write_entry(tmp_path, "b.wl", charset="ISO_IR 100", patient="Müller^Zoë", accession="A2")
    events: list[QueryEvent] = []
    bus = EventBus()
    bus.subscribe(lambda e: events.append(e) if isinstance(e, QueryEvent) else None)
    running = WorklistServer(Settings(database=str(tmp_path), port=free_port(),
                                      bind_address="127.0.0.1"), bus)
    running.start()
    yield running, events
    running.stop()


@pytest.fixture
def errors() -> Iterator[ErrorRecords]:
    handler = ErrorRecords()
    logging.getLogger().addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)


def sequence_running_past_the_data() -> bytes:
    """A real query whose Scheduled Procedure Step Sequence claims more bytes than follow."""
    data = bytearray(base_identifiers(implicit=True)[0])
    pos = data.index(b"\x40\x00\x00\x01") + 4  # (0040,0100), implicit VR: the length follows
    data[pos:pos + 4] = struct.pack("<I", len(data))
    return bytes(data)


def test_sequence_longer_than_the_data_is_a900(server: tuple[WorklistServer, list[QueryEvent]],
                                               errors: ErrorRecords) -> None:
    running, events = server
    result = run_cases(running.port, iter([sequence_running_past_the_data()]), implicit=True)
    assert dict(result.statuses) == {0xA900: 1}
    assert next(iter(result.examples.values()))[1] == UNDECODABLE
    assert events[-1].status == 0xA900 and events[-1].status_text.startswith(UNDECODABLE)
    assert errors.errors == []


@pytest.mark.parametrize("implicit", [True, False], ids=["implicit", "explicit"])
def test_fuzzed_identifiers_never_fail_internally(
        server: tuple[WorklistServer, list[QueryEvent]], errors: ErrorRecords, implicit: bool) -> None:
    running, events = server
    # a new association per case: see benchmarks/fuzz_queries.py for the reused association
    result = run_cases(running.port, cases(20261202, 100, implicit), implicit, fresh=True,
                       timeout=30)
    assert result.no_answer == 0
    assert 0xC000 not in result.statuses, result.examples.get(0xC000)
    assert set(result.statuses) <= {0x0000, 0xFF00, 0xFF01, 0xA900}
    assert result.statuses[0xA900] > 10  # the slice does reach the decoder's failures
    assert [r.getMessage() for r in errors.errors] == []
    assert not any(e.status == 0xC000 for e in events)
