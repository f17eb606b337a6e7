"""Malformed requests never write a half entry and never stop the REST API
(``benchmarks/rest_fuzz.py`` sends thousands)."""

from __future__ import annotations

from pathlib import Path

import requests

from tests.conftest import LogWarnings
from tests.helpers.ports import free_port
from tests.helpers.restfuzz import cases, run
from tests.helpers.samples import write_entry
from wldesk.core.events import EventBus
from wldesk.core.flow.ledger import Ledger
from wldesk.core.flow.rest import RestChannel
from wldesk.core.settings import Settings


def test_malformed_requests_change_nothing(tmp_path: Path, log_warnings: LogWarnings) -> None:
    log_warnings.allow(r"Invalid HTTP request received")
    write_entry(tmp_path, "x.wl", accession="X1")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*")}
    settings = Settings(database=str(tmp_path), rest_port=free_port())
    channel = RestChannel(settings, Ledger(tmp_path), EventBus())
    channel.start()
    try:
        outcomes = run(channel.port, cases(seed=14, count=400))
        assert set(outcomes) <= {"200", "400", "401", "404", "405", "409", "413", "422",
                                 "closed without answer", "connection reset"}, outcomes
        assert outcomes["400"] > 100  # a 200 is a read (GET /worklists?...): the folder tells
        answer = requests.get(f"http://127.0.0.1:{channel.port}/system", timeout=10)
        assert answer.json()["Worklists"] == 1  # still listening
    finally:
        channel.stop()
    assert {p: p.read_bytes() for p in tmp_path.rglob("*")} == before
