"""Owns the settings, the folder store and the worklist server for the GUI.

Starting and stopping run on worker threads (:func:`wldesk.gui.tasks.run_in_background`), so the
window never freezes; the resulting state comes back through the bridge's ``server`` signal
(ServerEvent), like every other core event. A restart comes back as its outcome
(:func:`wldesk.core.net.restart.swap_servers`): it never trades a working server for one that
cannot start.

Two sets of settings: ``settings`` are the saved ones (the Settings tab's, what starts next);
``live_settings`` are the ones the running server uses, which differ from the saved ones after a
change that needs a restart, until the restart.
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from wldesk.core import autostart, paths
from wldesk.core.audit import AuditLog
from wldesk.core.editing.errors import EditError
from wldesk.core.events import EventBus, InputEvent, QueryEvent, ServerEvent
from wldesk.core.flow.ledger import Ledger, Written
from wldesk.core.flow.mpps import make_mpps
from wldesk.core.flow.mpps_records import MppsRecord, records_by_accession
from wldesk.core.flow.services import Channels
from wldesk.core.flow.status import set_step_status
from wldesk.core.logs import EventLogger
from wldesk.core.net.addresses import card_lines, listening_addresses
from wldesk.core.net.doctor import FILE_NAME, ModalityDoctor
from wldesk.core.net.doctor_text import ModalityView, modality_views
from wldesk.core.net.preflight import Problem, check_settings
from wldesk.core.net.restart import SwapOutcome, swap_servers
from wldesk.core.net.server import ServerStartError, WorklistServer
from wldesk.core.settings import Settings, SettingsProblem
from wldesk.core.settings_file import backup_settings_file, read_settings_file, save_settings
from wldesk.core.snapshot import snapshot_path
from wldesk.core.store import FolderStore, Snapshot
from wldesk.gui.bridge import EventBridge
from wldesk.gui.tasks import run_in_background

log = logging.getLogger(__name__)

RESTART_JOIN_SECONDS = 30.0
"""How long quitting waits for a restart under way to finish before stopping its servers."""

ADDRESS_REFRESH_MS = 30_000
"""How often this computer's addresses are looked up again (a laptop changes networks)."""

FINDING = "finding…"
"""The connection card's address until this computer's addresses are known."""

QUERIED_KEPT = 50_000
"""How many accession numbers :attr:`ServerController.queried` remembers (the latest ones)."""

WINDOW_STATE_FILE = "window.json"
"""In the state folder: how the window was left (``{"tab": "activity"}``)."""

WINDOW_CHANNEL = "Window"
"""The InputEvent channel of what a person changes in the window (a step's status)."""


@dataclass(frozen=True)
class Queried:
    """The last query whose answers held an accession number: who asked, and when."""

    calling_aet: str
    time: datetime


def window_user() -> str:
    """Who changes entries in the window, as InputEvents name them: the user name, or "this PC"."""
    try:
        return getpass.getuser() or "this PC"
    except (OSError, KeyError, ImportError):  # no user name in the environment nor the system
        return "this PC"


@dataclass(frozen=True)
class StatusChange:
    """What setting a status by hand did: the entries written, and why others were not."""

    written: tuple[Written, ...]
    problems: tuple[str, ...]


def set_status_by_hand(ledger: Ledger, bus: EventBus, steps: Sequence[tuple[Path, str | None]],
                       status: str, source: str) -> StatusChange:
    """Set the status of each of ``steps`` (an entry's file and the SPS ID of the step to change,
    None for every step of it) through ``ledger``; each is a "Window" InputEvent (the log, the
    Activity tab, the audit log), a file that cannot be written one that says "failed"."""
    written: list[Written] = []
    problems: list[str] = []
    for path, step_id in steps:
        where = f"step {step_id}" if step_id else "every step"
        try:
            done = ledger.update_file(path, set_step_status(status, step_id))
        except (OSError, EditError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            problems.append(f"{path.name}: {reason}")
            bus.emit(InputEvent(WINDOW_CHANNEL, "failed", source, file=path.name,
                                detail=f"status {status} ({where}) not set: {reason}"))
            continue
        written.append(done)
        bus.emit(InputEvent(WINDOW_CHANNEL, done.action, source, order=str(done.key),
                            file=path.name, detail=f"status set to {status} ({where})"))
    return StatusChange(tuple(written), tuple(problems))


def _store_key(settings: Settings) -> tuple[str, int, str]:
    """The settings a folder store is made with: another value needs another store."""
    return settings.database, settings.settle_seconds, settings.folder_events


def settings_summary(settings: Settings) -> str:
    """``AE title WLDESK, port 4242``: how a message names the settings a server runs with."""
    return f"AE title {settings.ae_title}, port {settings.port}"


@dataclass
class _Restart:
    """A restart under way: the running server, its replacement and their stores."""

    old: WorklistServer
    new: WorklistServer
    old_store: FolderStore
    new_store: FolderStore
    started: list[str] = field(default_factory=list)  # the messages of the "started" events

    def run(self) -> SwapOutcome:
        """On a worker thread: swap the servers, then stop the store no server uses."""
        outcome = swap_servers(self.old, self.new)
        if self.new_store is not self.old_store:
            (self.old_store if outcome.running is self.new else self.new_store).stop()
        return outcome


class ServerController(QObject):
    state_changed = Signal(str, str)  # state (stopped, starting, running, restarting, stopping,
    # error), message
    store_changed = Signal()  # the folder's entries or problems changed
    settings_changed = Signal(object)  # Settings (the saved ones)
    addresses_changed = Signal()  # this computer's addresses for the connection card
    restart_failed = Signal(str)  # why; the server went on with the settings it had, or stopped
    queried_changed = Signal()  # a query's answers: ``queried`` holds who asked for them
    performed_changed = Signal()  # an MPPS report came: ``performed`` holds the kept ones

    def __init__(self, settings: Settings, settings_path: Path, bus: EventBus | None = None,
                 parent: QObject | None = None, *,
                 problems: Sequence[SettingsProblem] = (), state_folder: Path | None = None) -> None:
        """``state_folder``: a folder of its own for the audit log, the modality figures and the
        index snapshot (the self-test's window), instead of the user's state and cache folders
        that ``wldesk serve`` shares."""
        super().__init__(parent)
        self._index_cache = state_folder / "index" if state_folder is not None else None
        # how the window was left (the tab it showed), so that it reopens the same way
        self.window_state_file = (state_folder if state_folder is not None
                                  else paths.state_dir()) / WINDOW_STATE_FILE
        self.settings = settings
        self.settings_path = settings_path
        # what the settings file held that could not be used (``settings`` has the defaults
        # instead); until settings are saved, the file on disk is not what the window shows
        self.settings_problems = tuple(problems)
        self.bus = bus or EventBus()
        # the modality doctor follows the bus before the bridge: when a widget hears of an event,
        # the doctor's figures hold it already
        self.doctor = ModalityDoctor(
            settings, state_folder / FILE_NAME if state_folder is not None else None)
        self.doctor.start(self.bus)
        self.bridge = EventBridge(self.bus, self)
        self.bridge.server.connect(self._on_server_event)
        # accession number -> the last query that returned it (the day view's "Queried by")
        self.queried: OrderedDict[str, Queried] = OrderedDict()
        self.bridge.query.connect(self._note_query)
        # accession number -> the modalities' MPPS reports kept for it (the day view's
        # "Performed"), read off the GUI thread at start and after each MPPS message
        self.performed: dict[str, list[MppsRecord]] = {}
        self._performed_folder = state_folder / "mpps" if state_folder is not None else None
        self._reading_performed = False
        self._performed_stale = False
        self.bridge.entry.connect(self._on_input)
        self._read_performed()
        self._logger = EventLogger(settings.redact_patient_data)
        self.bus.subscribe(self._logger)
        # the query audit log (the same files as ``wldesk serve``'s), read by Activity > Export...
        self.audit = AuditLog(state_folder / "audit" if state_folder is not None
                              else paths.audit_dir(),
                              settings.audit_days, settings.redact_patient_data)
        self.bus.subscribe(self.audit)
        self.audit.start()
        # the channels that bring orders in (REST, HL7, CSV), with the saved settings
        self.channels = Channels(settings, self.bus)
        self.channels.start()
        self.state = "stopped"
        self.message = "not started"
        self.server: WorklistServer | None = None
        self.restart_problem = ""  # why the last restart failed, until the next start or stop
        self.addresses: tuple[str, ...] | None = None  # where modalities reach the shown server
        self._store_settings = settings
        self.store = self._make_store(settings)
        self._syncing = False
        self._closed = False
        self._restart: _Restart | None = None
        self._restart_thread: threading.Thread | None = None
        self._seen: tuple[int, bool] = (-1, False)  # the store's generation and readiness shown
        self._poll = QTimer(self)
        self._poll.setInterval(1000)
        self._poll.timeout.connect(self._sync_store)
        self._poll.start()
        self._address_timer = QTimer(self)
        self._address_timer.setInterval(ADDRESS_REFRESH_MS)
        self._address_timer.timeout.connect(self.refresh_addresses)
        self._address_timer.start()
        self.state_changed.connect(self.refresh_addresses)
        self.settings_changed.connect(self.refresh_addresses)
        self.refresh_addresses()

    # --- store ---------------------------------------------------------------------------------

    def _new_store(self, settings: Settings) -> FolderStore:
        """A store of ``settings``' folder, not started (a server starts it once listening)."""
        return FolderStore(Path(settings.database), report=self.bus.emit,
                           settle_seconds=settings.settle_seconds,
                           folder_events=settings.folder_events,
                           snapshot_file=snapshot_path(Path(settings.database),
                                                       self._index_cache))

    def _make_store(self, settings: Settings) -> FolderStore:
        """A store of ``settings``' folder, indexing it already when it is there (for the views)."""
        store = self._new_store(settings)
        if Path(settings.database).is_dir():
            store.start()
        return store

    def _use_store(self, store: FolderStore, settings: Settings) -> None:
        if store is not self.store:
            self.store = store
            self._seen = (-1, False)  # the views show the new store at the next poll
        self._store_settings = settings

    def _follow_saved_store(self) -> None:
        """With no server, the store is the saved settings' folder: what the next start serves."""
        if self.server is None and _store_key(self._store_settings) != _store_key(self.settings):
            self.store.stop()
            self._use_store(self._make_store(self.settings), self.settings)

    def set_poll_interval(self, milliseconds: int) -> None:
        """How often the store is brought up to date for the views (default 1 s)."""
        self._poll.setInterval(milliseconds)

    def snapshot(self) -> Snapshot:
        return self.store.snapshot()

    def counts(self) -> tuple[int, int]:
        """How many entries and problem files the folder has (never waits for the store)."""
        return self.store.counts()

    def snapshot_in_background(self, context: QObject, done: Callable[[Snapshot], None]) -> None:
        """The store's content taken off the GUI thread (while the store reads the folder first,
        it may hold its lock a while), to ``done`` on the GUI thread unless ``context`` is gone."""
        run_in_background(context, self.store.snapshot, done, name="wldesk-gui-snapshot")

    def _sync_store(self) -> None:
        """Bring the store up to date off the GUI thread; tell the views when it changed."""
        if self._syncing:
            return
        seen = (self.store.generation, self.store.wait_ready(0))  # the end of the first indexing too
        if seen != self._seen:
            self._seen = seen
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

    # --- what the window shows -------------------------------------------------------------------

    @property
    def live_settings(self) -> Settings | None:
        """The settings of the server running (or starting, restarting, stopping); None without one."""
        return self.server.settings if self.server is not None else None

    @property
    def shown_settings(self) -> Settings:
        """The server's settings as the window shows them: the live ones, or without a server the
        saved ones (what starts next)."""
        live = self.live_settings
        return live if live is not None else self.settings

    def refresh_addresses(self) -> None:
        """Look up, off the GUI thread, where modalities reach the shown server."""
        bind = self.shown_settings.bind_address
        run_in_background(self, partial(listening_addresses, bind),
                          partial(self._got_addresses, bind), name="wldesk-gui-addresses")

    def _got_addresses(self, bind: str, found: list[str]) -> None:
        if bind != self.shown_settings.bind_address:
            return  # the lookup for the new address follows
        if tuple(found) != self.addresses:
            self.addresses = tuple(found)
            self.addresses_changed.emit()

    def connection_lines(self) -> list[str]:
        """The connection card of the shown server: its addresses, AE title and port."""
        shown = self.shown_settings
        return card_lines(self.addresses if self.addresses is not None else (FINDING,),
                          shown.ae_title, shown.port)

    def modality_views(self) -> list[ModalityView]:
        """What each known modality and each AE title that called did with the server, in words
        (the modality doctor's figures, with the saved known modalities)."""
        return modality_views(self.doctor.figures(), self.settings, self.doctor.today())

    def check_settings(self, new: Settings, context: QObject,
                       done: Callable[[list[Problem]], None]) -> None:
        """Check off the GUI thread whether a server could start with ``new`` now; ``done`` gets
        the problems (:func:`wldesk.core.net.preflight.check_settings`; the running server's own
        port is none) unless ``context`` is gone by then."""
        run_in_background(context, partial(check_settings, new, self.live_settings), done,
                          name="wldesk-gui-check")

    def _on_input(self, event: InputEvent) -> None:
        if event.channel == "MPPS":
            self._read_performed()

    def _read_performed(self) -> None:
        if self._reading_performed:
            self._performed_stale = True  # read again once this reading ends
            return
        self._reading_performed = True
        run_in_background(self, partial(records_by_accession, self._performed_folder),
                          self._performed_read, self._performed_failed, name="wldesk-gui-mpps")

    def _performed_read(self, found: dict[str, list[MppsRecord]]) -> None:
        self._reading_performed = False
        self.performed = found
        self.performed_changed.emit()
        if self._performed_stale:
            self._performed_stale = False
            self._read_performed()

    def _performed_failed(self, exc: Exception) -> None:
        self._reading_performed = False
        log.error("reading the kept MPPS reports failed", exc_info=exc)

    def _note_query(self, event: QueryEvent) -> None:
        if not event.accession_numbers:
            return
        asked = Queried(event.calling_aet, event.time)
        for accession in event.accession_numbers:
            if accession:
                self.queried[accession] = asked
                self.queried.move_to_end(accession)
        while len(self.queried) > QUERIED_KEPT:
            self.queried.popitem(last=False)
        self.queried_changed.emit()

    # --- entries -------------------------------------------------------------------------------

    def set_step_status(self, steps: Sequence[tuple[Path, str | None]], status: str,
                        context: QObject, done: Callable[[StatusChange], None]) -> None:
        """Set, off the GUI thread, the status of ``steps`` (an entry's file and its step's SPS
        ID, None for every step) through the channels' ledger (:func:`set_status_by_hand`);
        ``done`` gets what happened, on the GUI thread, unless ``context`` is gone."""
        run_in_background(context, partial(set_status_by_hand, self.channels.ledger, self.bus,
                                           tuple(steps), status, window_user()),
                          done, name="wldesk-gui-status")

    # --- server --------------------------------------------------------------------------------

    def _set_state(self, state: str, message: str) -> None:
        self.state, self.message = state, message
        self.state_changed.emit(state, message)

    def start(self) -> None:
        if self.state in ("starting", "running", "restarting", "stopping"):
            return
        self.restart_problem = ""
        folder = Path(self.settings.database)
        if folder == paths.default_worklist_dir():
            folder.mkdir(parents=True, exist_ok=True)
        self._follow_saved_store()
        if folder.is_dir():
            self.store.start()
        server = WorklistServer(self.settings, self.bus, self.store,
                                mpps=make_mpps(self.settings, self.bus))
        self.server = server
        self._set_state("starting", "starting")

        def work() -> None:
            with contextlib.suppress(ServerStartError):  # it emitted a "failed" event with why
                server.start()

        run_in_background(self, work, name="wldesk-gui-start")  # the outcome comes as a ServerEvent

    def stop(self) -> None:
        server = self.server
        if server is None or self.state not in ("running", "starting"):
            return
        self.restart_problem = ""
        self._set_state("stopping", "stopping")
        run_in_background(self, server.stop, name="wldesk-gui-stop")  # ... and so does this one

    def stop_and_wait(self) -> None:
        """Stop synchronously (used when quitting); safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        self._poll.stop()
        self._address_timer.stop()
        restart, thread = self._restart, self._restart_thread
        if restart is not None and thread is not None:
            thread.join(RESTART_JOIN_SECONDS)  # its outcome is not waited for: both stop
            for server in (restart.new, restart.old):
                server.stop()
            restart.new_store.stop()
        if self.server is not None:
            self.server.stop()
        self.store.stop()
        self.audit.stop()
        self.doctor.stop()
        self.channels.stop()
        self.bridge.close()

    def _on_server_event(self, event: ServerEvent) -> None:
        restart = self._restart
        if restart is not None:  # the restart's outcome says what runs in the end
            if event.kind == "started":
                restart.started.append(event.message)
            return
        state = {"started": "running", "stopped": "stopped", "failed": "error"}.get(event.kind)
        if state is None:
            return  # a restart's report: its outcome has set the state already
        if state != "running":
            self.server = None
            self._follow_saved_store()
        self._set_state(state, event.message)

    def restart(self) -> None:
        """Restart the server with the saved settings; never leave the clinic without a server.

        Without a running server, this starts one. Otherwise the new server replaces the running
        one on a worker thread (:func:`~wldesk.core.net.restart.swap_servers`: the old one keeps,
        or goes back to, answering when the new one cannot start). When it cannot, the saved
        settings that need a restart are put back to the running server's (saved atomically), and
        a ``rolled_back`` ServerEvent (the log, the Activity tab) and :attr:`restart_failed` say
        why; :attr:`restart_problem` keeps it for the window."""
        old_server = self.server
        if old_server is None or self.state != "running":
            self.start()
            return
        old, new = old_server.settings, self.settings
        store = self.store if _store_key(old) == _store_key(new) else self._new_store(new)
        server = WorklistServer(new, self.bus, store, mpps=make_mpps(new, self.bus))
        restart = _Restart(old_server, server, self.store, store)
        self._restart = restart
        self.restart_problem = ""
        self._set_state("restarting", "restarting")
        self._restart_thread = run_in_background(self, restart.run, self._restarted,
                                                 self._restart_crashed, name="wldesk-gui-restart")

    def _restarted(self, outcome: SwapOutcome) -> None:
        restart, self._restart = self._restart, None
        if self._closed or restart is None:
            return  # quitting stopped both servers meanwhile
        self.server = outcome.running
        if outcome.running is restart.new:
            self._use_store(restart.new_store, restart.new.settings)
            self._set_state("running", restart.started[-1] if restart.started else "running")
            return
        old = restart.old.settings
        kept = self._put_back(old)
        if outcome.running is None:
            self._follow_saved_store()
            self.restart_problem = (
                f"The server could not restart with the new settings ({outcome.problem}), nor "
                f"start again with the previous ones ({outcome.old_problem}). {kept}")
            self.bus.emit(ServerEvent("failed", self.restart_problem))
            self.restart_failed.emit(self.restart_problem)
            return
        went = "started again" if outcome.interrupted else "went on answering"
        self.restart_problem = (f"The server could not restart with the new settings "
                                f"({outcome.problem}). It {went} with the settings it had "
                                f"({settings_summary(old)}). {kept}")
        self._set_state("running", restart.started[-1] if restart.started else "running")
        self.bus.emit(ServerEvent("rolled_back", self.restart_problem))
        self.restart_failed.emit(self.restart_problem)

    def _put_back(self, old: Settings) -> str:
        """Save the running server's values of the settings that need a restart again (the others
        stay as saved); says how that went, as the end of a message."""
        restored = self.settings.replace(**{d.name: getattr(old, d.name)
                                            for d in Settings.declarations() if d.restart})
        try:
            save_settings(restored, self.settings_path)
        except OSError as exc:
            return (f"Those could not be saved again ({exc.strerror or exc}): the saved settings "
                    f"still hold the new ones.")
        self.settings = restored
        self.doctor.set_settings(restored)
        self.channels.apply(restored)
        self.settings_changed.emit(restored)
        return "Those are the saved settings again."

    def _restart_crashed(self, exc: Exception) -> None:
        """A bug in the restart itself: whatever runs goes on; the log has the traceback."""
        restart, self._restart = self._restart, None
        if self._closed or restart is None:
            return  # quitting stopped both servers meanwhile
        log.error("restarting the server failed", exc_info=exc)
        running = next((s for s in (restart.new, restart.old) if s.is_running), None)
        self.server = running
        if running is None:
            self._set_state("error", f"restarting the server failed: {exc}")
        else:
            self._use_store(running.store, running.settings)
            self._set_state("running", "running")

    # --- settings ------------------------------------------------------------------------------

    def needs_restart(self, new: Settings) -> bool:
        """True when the running server would have to restart to use ``new``."""
        live = self.live_settings
        return live is not None and live.restart_needed_for(new)

    def apply_settings(self, new: Settings, *, backup: bool = False) -> Path | None:
        """Save ``new`` (atomically) and use it: raises OSError when it cannot be saved.

        A copy of the file it replaces is kept first when ``backup`` is asked for or the file had
        problems (it holds what the window could not show): the copy's path, else None.
        A running server goes on with its own settings (:attr:`live_settings`) until a restart;
        without one, the store follows the new folder at once."""
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
        self._use_saved(new)
        return kept

    def read_settings_file_again(self, source: Path) -> tuple[SettingsProblem, ...]:
        """Use what ``source`` holds now (the file the settings came from, fixed by hand
        meanwhile), read as at launch: a wrong value leaves its setting at the default, as a
        problem. Nothing is written. The problems left, if any."""
        loaded = read_settings_file(source)
        problems = tuple(loaded.problems)
        if problems:
            log.warning("%s, read again, still cannot be used as it is (%s)", source,
                        "; ".join(problem.message for problem in problems))
        else:
            log.info("%s read again: no problems left", source)
        if loaded.settings == self.settings and problems == self.settings_problems:
            return problems  # unchanged: the form keeps what is typed in it
        if loaded.settings.start_at_login != autostart.is_enabled():
            autostart.set_enabled(loaded.settings.start_at_login)
        self.settings_problems = problems
        self._use_saved(loaded.settings)
        return problems

    def _use_saved(self, new: Settings) -> None:
        """``new`` is what the settings file holds now: use it (a running server keeps its own
        settings until a restart) and tell the views."""
        self.settings = new
        self._logger.redact = self.audit.redact = new.redact_patient_data
        self.audit.set_days(new.audit_days)
        self.doctor.set_settings(new)
        self.channels.apply(new)
        self._follow_saved_store()
        self.settings_changed.emit(new)

    # --- the archive ---------------------------------------------------------------------------

    @property
    def ledger(self) -> Ledger:
        """The worklist folder as the channels write it (the saved settings' folder)."""
        return self.channels.ledger

    def restore_archived(self, archived: Path) -> Written:
        """Move an archived entry back into the worklist folder, shown in the Activity tab; raises
        EditError saying why it could not."""
        written = self.ledger.restore(archived)
        where = archived.parent
        with contextlib.suppress(ValueError):
            where = where.relative_to(self.ledger.folder)
        self.bus.emit(InputEvent("Window", "restored", "wldesk", str(written.key),
                                 written.path.name, f"restored from {where.as_posix()}"))
        return written
