"""Malformed HL7 input never stops the MLLP listener and never leaves a half entry."""

from __future__ import annotations

import random
import socket
from collections import Counter
from pathlib import Path

from hl7.client import MLLPClient

from tests.helpers.hl7fuzz import VALID, case
from tests.helpers.ports import free_port
from wldesk.core.events import EventBus
from wldesk.core.flow.hl7_listener import make_channel
from wldesk.core.flow.ledger import Ledger
from wldesk.core.settings import Settings

CASES = 1500


def send_raw(port: int, data: bytes) -> bytes:
    """``data`` as it is; whatever comes back before the listener waits for more."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_malformed_messages_never_stop_the_listener_nor_leave_half_entries(tmp_path: Path) -> None:
    folder = tmp_path / "worklists"
    folder.mkdir()
    ledger = Ledger(folder)
    channel = make_channel(Settings(database=str(folder), hl7_port=free_port(),
                                    hl7_bind_address="127.0.0.1", hl7_keep_days=0), ledger, EventBus())
    assert channel is not None
    channel.start()
    try:
        rng = random.Random(14)
        acks: Counter[str] = Counter()
        for number in range(CASES):
            kind, data = case(rng, number)
            answer = send_raw(channel.port, data)
            code = answer[answer.find(b"MSA|") + 4:][:2].decode("latin_1") if b"MSA|" in answer else "-"
            acks[f"{kind}: {code}"] += 1
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
