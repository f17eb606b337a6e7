"""Swapping a running server for one with new settings: the new listener first when it can,
else stop, start and, on failure, the old server again. Real servers on real ports."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.ports import LOCALHOST, echo, free_port
from wldesk.core.events import Event, EventBus, ServerEvent
from wldesk.core.net.restart import needs_same_place, swap_servers
from wldesk.core.net.server import WorklistServer
from wldesk.core.settings import Settings


class Servers:
    """Servers on one bus, and the kinds of their server events in order."""

    def __init__(self) -> None:
        self.bus = EventBus()
        self.events: list[str] = []
        self.made: list[WorklistServer] = []
        self.bus.subscribe(self._record)

    def _record(self, event: Event) -> None:
        if isinstance(event, ServerEvent):
            self.events.append(event.kind)

    def make(self, settings: Settings) -> WorklistServer:
        server = WorklistServer(settings, self.bus)
        self.made.append(server)
        return server


@pytest.fixture
def servers() -> Iterator[Servers]:
    made = Servers()
    yield made
    for server in made.made:
        server.stop()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    folder = tmp_path / "worklists"
    folder.mkdir()
    return Settings(database=str(folder), bind_address=LOCALHOST, port=free_port())


def test_a_new_port_listens_before_the_old_one_stops(servers: Servers, settings: Settings) -> None:
    old = servers.make(settings)
    old.start()
    new = servers.make(settings.replace(port=free_port(), ae_title="WLTEST"))
    assert not needs_same_place(old, new)
    outcome = swap_servers(old, new)
    assert outcome.running is new and outcome.succeeded and not outcome.interrupted
    assert servers.events == ["started", "started", "stopped"]  # old, new, then old stops
    assert echo(new.settings.port, "WLTEST") and not old.is_running


def test_the_old_server_starts_again_when_the_new_one_cannot(servers: Servers, settings: Settings,
                                                            tmp_path: Path) -> None:
    old = servers.make(settings)
    old.start()
    new = servers.make(settings.replace(ae_title="WLTEST", tls_certificate=str(tmp_path / "no.pem"),
                                        tls_key=str(tmp_path / "no.key")))
    assert needs_same_place(old, new)
    outcome = swap_servers(old, new)
    assert outcome.running is old and outcome.interrupted
    assert outcome.problem == f"the TLS certificate {tmp_path / 'no.pem'} does not exist"
    assert servers.events == ["started", "stopped", "failed", "started"]
    assert echo(settings.port, settings.ae_title)


def test_when_neither_can_start_the_outcome_says_both_whys(servers: Servers, settings: Settings,
                                                           tmp_path: Path) -> None:
    old = servers.make(settings)
    old.start()
    shutil.rmtree(settings.database)  # the old folder went away while serving
    new = servers.make(settings.replace(database=str(tmp_path / "nowhere")))
    outcome = swap_servers(old, new)
    assert outcome.running is None and not old.is_running and not new.is_running
    assert outcome.problem == f"the worklist folder {tmp_path / 'nowhere'} does not exist"
    assert outcome.old_problem == f"the worklist folder {settings.database} does not exist"
