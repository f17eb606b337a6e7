"""Channels start with their settings, restart when those change, and one that cannot start is
reported without stopping the others."""

from __future__ import annotations

import socket
from pathlib import Path

from wldesk.core.events import EventBus, InputEvent
from wldesk.core.flow.ledger import Ledger
from wldesk.core.flow.services import ChannelKind, Channels
from wldesk.core.settings import Settings


class Listener:
    """A channel as small as they come: a TCP listener on the port the settings give."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None

    def start(self) -> None:
        sock = socket.socket()
        try:
            sock.bind(("127.0.0.1", self.port))
        except OSError:
            sock.close()
            raise
        sock.listen()
        self.sock = sock

    def stop(self) -> None:
        if self.sock is not None:
            self.sock.close()


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def kinds(made: list[Listener]) -> list[ChannelKind]:
    def make(settings: Settings, ledger: Ledger, bus: EventBus) -> Listener | None:
        if settings.redact_patient_data:  # stands for "this channel is off"
            return None
        channel = Listener(settings.port)
        made.append(channel)
        return channel

    return [ChannelKind("TEST", ("port", "redact_patient_data"), make)]


def test_channels_follow_their_settings(tmp_path: Path, other_program: int) -> None:
    bus = EventBus()
    events: list[object] = []
    bus.subscribe(events.append)
    made: list[Listener] = []
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    settings = Settings(database=str(tmp_path), port=port)
    channels = Channels(settings, bus, kinds(made))
    channels.start()
    assert listening(port) and list(channels.running) == ["TEST"]
    channels.apply(settings.replace(ae_title="OTHER"))  # not its setting: left running
    assert len(made) == 1
    channels.apply(settings.replace(port=other_program))  # taken: reported, not running
    assert not listening(port) and channels.running == {}
    [failed] = [e for e in events if isinstance(e, InputEvent)]
    assert (failed.channel, failed.action) == ("TEST", "failed")
    channels.apply(settings.replace(redact_patient_data=True))  # off
    assert channels.running == {}
    channels.apply(settings)
    assert listening(port)
    channels.stop()
    assert not listening(port) and channels.running == {}
