"""The one place where core events cross into Qt: a QObject re-emitting them as signals.

Core events are emitted on pynetdicom's and the store's threads; a signal emitted there reaches
slots of objects living in the GUI thread through Qt's queued connections, so no widget is ever
touched from another thread.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from wldesk.core.events import (
    AssociationEvent,
    Event,
    EventBus,
    FileProblemEvent,
    InputEvent,
    QueryEvent,
    ServerEvent,
)


class EventBridge(QObject):
    association = Signal(object)  # AssociationEvent
    query = Signal(object)  # QueryEvent
    file_problem = Signal(object)  # FileProblemEvent
    server = Signal(object)  # ServerEvent
    entry = Signal(object)  # InputEvent: an order that came in through a channel

    def __init__(self, bus: EventBus, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._bus = bus
        bus.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, AssociationEvent):
            self.association.emit(event)
        elif isinstance(event, QueryEvent):
            self.query.emit(event)
        elif isinstance(event, FileProblemEvent):
            self.file_problem.emit(event)
        elif isinstance(event, InputEvent):
            self.entry.emit(event)
        elif isinstance(event, ServerEvent):
            self.server.emit(event)

    def close(self) -> None:
        self._bus.unsubscribe(self._on_event)
