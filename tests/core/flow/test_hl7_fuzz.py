"""Malformed HL7 input never stops the MLLP listener and never leaves a half entry."""

from __future__ import annotations

from pathlib import Path

from hl7.client import MLLPClient

from tests.helpers.hl7fuzz import VALID, run
from tests.helpers.ports import free_port
from wldesk.core.events import EventBus
from wldesk.core.flow.hl7_listener import make_channel
from wldesk.core.flow.ledger import Ledger
from wldesk.core.settings import Settings

CASES = 1500


def test_malformed_messages_never_stop_the_listener_nor_leave_half_entries(tmp_path: Path) -> None:
    folder = tmp_path / "worklists"
    folder.mkdir()
    ledger = Ledger(folder)
    channel = make_channel(Settings(database=str(folder), hl7_port=free_port(),
                                    hl7_bind_address="127.0.0.1", hl7_keep_days=0), ledger, EventBus())
    assert channel is not None
    channel.start()
    try:
        acks = run(channel.port, CASES)
        files = sorted(folder.glob("*.wl"))
        assert len(ledger.keys()) == len(files)  # every file written is a whole, readable entry
        assert not list(folder.glob(".*"))  # no temporary file left behind
        with MLLPClient("127.0.0.1", channel.port) as client:  # still up, still taking orders
            assert b"MSA|AA|Fend" in client.send_message(VALID.format(n="end"))
        print(f"\n{CASES} malformed inputs, {len(files)} entries written (the valid orders among "
              "them); ACK codes:", dict(sorted(acks.items())))
        assert acks.total() == CASES and any(k.endswith("AR") for k in acks)
    finally:
        channel.stop()
