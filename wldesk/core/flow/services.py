"""The channels that bring orders in (REST, HL7, CSV import) and the folder's housekeeping (expiry),
run by ``wldesk serve`` and the window alike.

A channel is declared once in :data:`CHANNELS`: its name, which settings it depends on and how it
is made from them (None when the settings leave it off). :class:`Channels` starts the enabled
ones, restarts one whose settings changed, and stops them. A channel that cannot start (its port
in use) is reported as an ``InputEvent`` with the action ``failed`` — in the log, the Activity
tab and the audit log — and never stops the worklist server or the other channels.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from wldesk.core.events import EventBus, InputEvent
from wldesk.core.flow import housekeeping
from wldesk.core.flow.dropfolder import make_csv_drop_folder
from wldesk.core.flow.ledger import Ledger
from wldesk.core.settings import Settings

log = logging.getLogger(__name__)


class Channel(Protocol):
    def start(self) -> None:
        """Start serving (return once listening); raise OSError or ValueError with a plain
        message when it cannot."""

    def stop(self) -> None:
        """Stop and wait for the channel's threads."""


@dataclass(frozen=True)
class ChannelKind:
    name: str  # as the Activity tab and the log name it: "REST", "HL7", "CSV"
    settings: tuple[str, ...]  # the settings it is made from: a change restarts it
    make: Callable[[Settings, Ledger, EventBus], Channel | None]  # None: off in these settings


def make_hl7(settings: Settings, ledger: Ledger, bus: EventBus) -> Channel | None:
    if not settings.hl7_port:
        return None
    from wldesk.core.flow import hl7_listener  # python-hl7 is loaded only when the channel is on
    return hl7_listener.make_channel(settings, ledger, bus)


def make_rest(settings: Settings, ledger: Ledger, bus: EventBus) -> Channel | None:
    if not settings.rest_port:
        return None
    from wldesk.core.flow import rest  # Starlette and uvicorn (~10 MB) only when the API is on
    return rest.make_channel(settings, ledger, bus)


CHANNELS: list[ChannelKind] = [
    ChannelKind("HL7", ("hl7_port", "hl7_bind_address", "hl7_mapping_file", "hl7_fallback_station",
                        "hl7_keep_days"), make_hl7),
    ChannelKind("REST", ("rest_port", "rest_bind_address", "rest_token", "rest_user",
                         "rest_password", "rest_tls_certificate", "rest_tls_key"),
                make_rest),
    ChannelKind("CSV", ("import_folder", "import_mapping_file", "import_date_order",
                        "settle_seconds"), make_csv_drop_folder),
    ChannelKind(housekeeping.CHANNEL, housekeeping.SETTINGS, housekeeping.make_channel),
]
"""Every channel wldesk has, in the order they start."""


class Channels:
    """The channels of one worklist folder (see the module documentation)."""

    def __init__(self, settings: Settings, bus: EventBus,
                 kinds: list[ChannelKind] | None = None) -> None:
        self.bus = bus
        self.kinds = CHANNELS if kinds is None else kinds
        self.settings = settings
        self.ledger = Ledger(settings.database)
        self.running: dict[str, Channel] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _values(kind: ChannelKind, settings: Settings) -> tuple[Any, ...]:
        return (settings.database, *(getattr(settings, name) for name in kind.settings))

    def _start(self, kind: ChannelKind) -> None:
        try:
            channel = kind.make(self.settings, self.ledger, self.bus)
            if channel is None:
                return
            channel.start()
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.bus.emit(InputEvent(kind.name, "failed", "wldesk",
                                     detail=f"the channel is not running: {reason}"))
            return
        self.running[kind.name] = channel

    def _stop(self, name: str) -> None:
        channel = self.running.pop(name, None)
        if channel is not None:
            try:
                channel.stop()
            except Exception:  # one channel's trouble never keeps the others running
                log.exception("stopping the %s channel failed", name)

    def start(self) -> None:
        with self._lock:
            for kind in self.kinds:
                if kind.name not in self.running:
                    self._start(kind)

    def apply(self, settings: Settings) -> None:
        """Use ``settings``: each channel whose settings (or the folder) changed starts again."""
        with self._lock:
            old, self.settings = self.settings, settings
            if settings.database != old.database:
                self.ledger = Ledger(settings.database)
            for kind in self.kinds:
                if self._values(kind, old) != self._values(kind, settings):
                    self._stop(kind.name)
                    self._start(kind)

    def stop(self) -> None:
        with self._lock:
            for name in list(self.running):
                self._stop(name)
