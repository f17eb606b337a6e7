"""Owns the settings, the folder store and the worklist server for the GUI.

Starting and stopping run on worker threads (:func:`wldesk.gui.tasks.run_in_background`), so the
window never freezes; the resulting state comes back through the bridge's ``server`` signal
(ServerEvent), like every other core event.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from wldesk.core import autostart, paths
from wldesk.core.events import EventBus, ServerEvent
from wldesk.core.logs import EventLogger
from wldesk.core.net.server import ServerStartError, WorklistServer
from wldesk.core.settings import Settings, SettingsProblem, backup_settings_file, save_settings
from wldesk.core.store import FolderStore, Snapshot
from wldesk.gui.bridge import EventBridge
from wldesk.gui.tasks import run_in_background

log = logging.getLogger(__name__)


class ServerController(QObject):
    state_changed = Signal(str, str)  # state (stopped, starting, running, stopping, error), message
    store_changed = Signal()  # the folder's entries or problems changed
    settings_changed = Signal(object)  # Settings

    def __init__(self, settings: Settings, settings_path: Path, bus: EventBus | None = None,
                 parent: QObject | None = None, *,
                 problems: Sequence[SettingsProblem] = ()) -> None:
        super().__init__(parent)
        self.settings = settings
        self.settings_path = settings_path
        # what the settings file held that could not be used (``settings`` has the defaults
        # instead); until settings are saved, the file on disk is not what the window shows
        self.settings_problems = tuple(problems)
        self.bus = bus or EventBus()
        self.bridge = EventBridge(self.bus, self)
        self.bridge.server.connect(self._on_server_event)
        self._logger = EventLogger(settings.redact_patient_data)
        self.bus.subscribe(self._logger)
        self.state = "stopped"
        self.message = "not started"
        self.server: WorklistServer | None = None
        self.store = self._make_store()
        self._syncing = False
        self._restart_pending = False
        self._closed = False
        self._seen_generation = -1
        self._poll = QTimer(self)
        self._poll.setInterval(1000)
        self._poll.timeout.connect(self._sync_store)
        self._poll.start()

    # --- store ---------------------------------------------------------------------------------

    def _make_store(self) -> FolderStore:
        store = FolderStore(Path(self.settings.database), report=self.bus.emit,
                            settle_seconds=self.settings.settle_seconds,
                            folder_events=self.settings.folder_events)
        if Path(self.settings.database).is_dir():
            store.start()
        return store

    def set_poll_interval(self, milliseconds: int) -> None:
        """How often the store is brought up to date for the views (default 1 s)."""
        self._poll.setInterval(milliseconds)

    def snapshot(self) -> Snapshot:
        return self.store.snapshot()

    def _sync_store(self) -> None:
        """Bring the store up to date off the GUI thread; tell the views when it changed."""
        if self._syncing:
            return
        if self.store.generation != self._seen_generation:
            self._seen_generation = self.store.generation
            self.store_changed.emit()
        if not self.store.has_pending():
            return
        self._syncing = True
        run_in_background(self, self.store.sync, self._synced, self._sync_failed, name="wldesk-gui-sync")

    def _synced(self, _: None) -> None:
        self._syncing = False

    def _sync_failed(self, exc: Exception) -> None:
        self._syncing = False
        log.error("updating the worklist index failed", exc_info=exc)

    # --- server --------------------------------------------------------------------------------

    def _set_state(self, state: str, message: str) -> None:
        self.state, self.message = state, message
        self.state_changed.emit(state, message)

    def start(self) -> None:
        if self.state in ("starting", "running", "stopping"):
            return
        folder = Path(self.settings.database)
        if folder == paths.default_worklist_dir():
            folder.mkdir(parents=True, exist_ok=True)
        if folder.is_dir():
            self.store.start()
        self._set_state("starting", "starting")
        server = WorklistServer(self.settings, self.bus, self.store)
        self.server = server

        def work() -> None:
            with contextlib.suppress(ServerStartError):  # it emitted a "failed" event with why
                server.start()

        run_in_background(self, work, name="wldesk-gui-start")  # the outcome comes as a ServerEvent

    def stop(self) -> None:
        server = self.server
        if server is None or self.state not in ("running", "starting"):
            return
        self._set_state("stopping", "stopping")
        run_in_background(self, server.stop, name="wldesk-gui-stop")  # ... and so does this one

    def stop_and_wait(self) -> None:
        """Stop synchronously (used when quitting); safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        self._poll.stop()
        if self.server is not None:
            self.server.stop()
        self.store.stop()
        self.bridge.close()

    def _on_server_event(self, event: ServerEvent) -> None:
        state = {"started": "running", "stopped": "stopped", "failed": "error"}[event.kind]
        if state != "running":
            self.server = None
        self._set_state(state, event.message)
        if state == "stopped" and self._restart_pending:
            self._restart_pending = False
            self.start()

    # --- settings ------------------------------------------------------------------------------

    def needs_restart(self, new: Settings) -> bool:
        """True when the running server would have to restart to use ``new``."""
        return self.state in ("starting", "running") and self.settings.restart_needed_for(new)

    def apply_settings(self, new: Settings, *, backup: bool = False) -> Path | None:
        """Save ``new`` (atomically) and use it: raises OSError when it cannot be saved.

        A copy of the file it replaces is kept first when ``backup`` is asked for or the file had
        problems (it holds what the window could not show): the copy's path, else None.
        """
        login_was = autostart.is_enabled()
        if new.start_at_login != login_was:
            autostart.set_enabled(new.start_at_login)
        kept = None
        try:
            if (backup or self.settings_problems) and self.settings_path.exists():
                kept = backup_settings_file(self.settings_path)
            save_settings(new, self.settings_path)
        except OSError:
            if new.start_at_login != login_was:
                autostart.set_enabled(login_was)
            raise
        self.settings_problems = ()
        old, self.settings = self.settings, new
        self._logger.redact = new.redact_patient_data
        if new.database != old.database:
            self.store.stop()
            self.store = self._make_store()
            self._seen_generation = -1
        self.settings_changed.emit(new)
        return kept

    def restart(self) -> None:
        """Stop the server (if running) and start it again with the current settings."""
        if self.server is None or self.state != "running":
            self.start()
            return
        self._restart_pending = True
        self.stop()
