"""Structured events of the core (associations, queries, file problems, server state).

Subscribers are called on the thread that emits (a pynetdicom association thread, or the
thread calling the store); they must be quick and thread-safe. The GUI subscribes through one
bridge object that re-emits them as Qt signals.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now().astimezone()


@dataclass(frozen=True)
class AssociationEvent:
    kind: str  # requested, accepted, rejected, released, aborted
    association_id: int
    calling_aet: str
    called_aet: str
    address: str
    port: int
    reason: str = ""
    # The SOP classes (abstract syntaxes) the requestor proposed that are not served, each as
    # "name (UID)": why nothing was accepted, or what was left out of an accepted association.
    not_served: tuple[str, ...] = ()
    # Why a "rejected" association was refused, for the modality doctor: "unknown_modality",
    # "wrong_host", "called_ae_title", "no_worklist_service", "bad_title" ("" otherwise).
    cause: str = ""
    time: datetime = field(default_factory=_now)


@dataclass(frozen=True)
class QueryEvent:
    association_id: int
    calling_aet: str
    address: str
    keys: dict[str, str]  # attribute keyword -> value sent (universal keys shown as "")
    files_considered: int
    matches: int
    returned: int
    duration_ms: float
    status: int
    status_text: str
    unsupported_keys: tuple[str, ...] = ()
    accession_numbers: tuple[str, ...] = ()
    redacted_status_text: str = ""  # status_text without the query's values ("" if it has none)
    invalid_keys: tuple[str, ...] = ()  # keys whose value was not valid: hidden when redacting
    # The calling modality's profile in a few words ("" for the default one, which changes
    # nothing), and the entries its strict rules sent after the others or withheld, each as
    # "file name: rule; rule" (a rule never quotes a value; with the server's redaction on, the
    # file name is shown as logs.file_label shows it).
    profile: str = ""
    sent_last: tuple[str, ...] = ()
    withheld: tuple[str, ...] = ()
    time: datetime = field(default_factory=_now)


@dataclass(frozen=True)
class FileProblemEvent:
    path: Path
    reason: str
    resolved: bool = False  # True when a file that had a problem is fine again or gone
    time: datetime = field(default_factory=_now)


@dataclass(frozen=True)
class ServerEvent:
    # started, stopped, failed; rolled_back: a restart failed and the server went on (or started
    # again) with the settings it had
    kind: str
    message: str
    time: datetime = field(default_factory=_now)


@dataclass(frozen=True)
class InputEvent:
    """An order that came in through a channel (REST, HL7, CSV...) and what became of it.

    ``action``: created, updated, unchanged or archived (an entry was written or moved: ``file``
    names it), ignored (a message that asks for nothing), refused (bad input: nothing written,
    ``detail`` says why) or failed (the file could not be written). ``source`` says who sent it
    (an address, a sending application, a file name); ``order`` is the order's key (Accession
    Number / SPS ID). ``detail`` must not quote patient data: it is logged and audited as it is.
    """

    channel: str
    action: str
    source: str
    order: str = ""
    file: str = ""
    detail: str = ""
    time: datetime = field(default_factory=_now)

    @property
    def problem(self) -> bool:
        return self.action in ("refused", "failed")


Event = AssociationEvent | QueryEvent | FileProblemEvent | ServerEvent | InputEvent
Subscriber = Callable[[Event], None]


class EventBus:
    """Fan-out of core events to subscribers; a failing subscriber never breaks the server."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers.append(subscriber)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers.remove(subscriber)

    def emit(self, event: Event) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            try:
                subscriber(event)
            except Exception:
                log.exception("event subscriber %r failed", subscriber)
