"""A worklist server in this process, with the events it reported."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom import AE
from pynetdicom.association import Association
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    ModalityWorklistInformationFind,
    Verification,
)

from tests.helpers.ports import free_port
from wldesk.core.events import Event, EventBus, InputEvent, QueryEvent
from wldesk.core.flow.mpps import make_mpps
from wldesk.core.net.scu import find as scu_find
from wldesk.core.net.server import WorklistServer
from wldesk.core.settings import Settings

MWL = ModalityWorklistInformationFind

class Running:
    """An in-process server with its recorded events."""

    def __init__(self, folder: Path, *, with_mpps: bool = False, **settings: Any) -> None:
        """With ``with_mpps``, the server is given MPPS as ``wldesk serve`` is (``make_mpps``; the
        ``mpps`` setting still decides whether it is offered)."""
        self.events: list[Event] = []
        self.lock = threading.Lock()
        bus = EventBus()
        bus.subscribe(self._record)
        self.settings = Settings(database=str(folder), port=free_port(), bind_address="127.0.0.1",
                                 **settings)
        self.server = WorklistServer(self.settings, bus,
                                     mpps=make_mpps(self.settings, bus) if with_mpps else None)

    def _record(self, event: Event) -> None:
        with self.lock:
            self.events.append(event)

    def inputs(self) -> list[tuple[str, str, str, str]]:
        """What the InputEvents said: (action, order, file, detail) each."""
        with self.lock:
            return [(e.action, e.order, e.file, e.detail) for e in self.events
                    if isinstance(e, InputEvent)]

    def queries(self) -> list[QueryEvent]:
        with self.lock:
            return [e for e in self.events if isinstance(e, QueryEvent)]

    def associate(self, calling: str = "MODALITY", contexts: tuple[str, ...] = (MWL, Verification)
                  ) -> Association:
        ae = AE(ae_title=calling)
        for context in contexts:
            ae.add_requested_context(context)
        return ae.associate("127.0.0.1", self.server.port, ae_title="WLDESK")

    def find(self, query: Dataset, calling: str = "MODALITY") -> tuple[list[Dataset], list[int]]:
        assoc = self.associate(calling)
        assert assoc.is_established
        try:
            result = scu_find(assoc, query)
            assert result.final_status is not None, "no response from the server"
            if 0xA000 <= result.final_status < 0xF000:
                assert result.error_comment
        finally:
            assoc.release()
        return result.answers, result.statuses
