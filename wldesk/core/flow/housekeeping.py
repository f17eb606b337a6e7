"""Housekeeping: entries whose time has passed are archived (moved to ``archive/YYYY-MM/``, never
deleted), so modalities stop showing last week's exams and the folder stops growing.

Three settings, none archiving anything by default:

- ``archive_after_hours``: an entry is archived that many hours after its scheduled start (the
  latest SPS Start Date/Time of its steps; a step without a time starts at midnight). An entry
  without a readable start date is never archived by this rule.
- ``archive_after_hours_by_modality`` ("CT=48, US=24"): the steps of these modalities (the step's
  Modality, 0008,0060) count their own hours instead (0: never). An entry is archived once each
  of its dated steps is past its own hours (with one value for all, after its latest start).
- ``archive_done_after_minutes``: an entry whose steps are all COMPLETED or DISCONTINUED is
  archived that many minutes after it became so. "Became so" is the file's modification time: the
  status change rewrote the file (MPPS, HL7, the window), and any later rewrite starts the delay
  again, so an entry is never archived sooner than asked.

It runs in ``wldesk serve`` and the window alike, as a channel of :mod:`wldesk.core.flow.services`:
at start, then every minute. Files that cannot be read as entries are never touched (they stay
where the user can see and fix them). Each move is an ``InputEvent`` of the channel
"Housekeeping": in the log, the Activity tab and the audit log.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import lru_cache

from wldesk.core.editing.errors import EditError
from wldesk.core.events import EventBus, InputEvent
from wldesk.core.flow.ledger import EntryFacts, Ledger
from wldesk.core.flow.status import FINAL_STATUSES
from wldesk.core.settings import Settings, modality_hours

log = logging.getLogger(__name__)

CHANNEL = "Housekeeping"
SETTINGS = ("archive_after_hours", "archive_after_hours_by_modality",
            "archive_done_after_minutes")
PERIOD = 60.0
"""Seconds between two sweeps."""

Clock = Callable[[], datetime]
_modality_hours = lru_cache(maxsize=4)(modality_hours)  # read once per value, not per entry


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M}"


def archive_reason(entry: EntryFacts, settings: Settings, now: datetime) -> str | None:
    """Why ``entry`` is to be archived at ``now`` (the Activity tab's detail), or None."""
    done_after = settings.archive_done_after_minutes
    statuses = {step.status for step in entry.steps}
    modified = entry.modified  # the ledger's entries are files: they have one
    if done_after and statuses and statuses <= set(FINAL_STATUSES) and modified is not None \
            and now - modified >= timedelta(minutes=done_after):
        status = "/".join(sorted(statuses))
        return (f"{status} since {_when(modified)}, archived {done_after} min after "
                "(archive_done_after_minutes)")
    by_modality = _modality_hours(settings.archive_after_hours_by_modality)
    dated = [(step.start, *_hours(step.modality, settings.archive_after_hours, by_modality))
             for step in entry.steps if step.start is not None]
    if not dated or any(hours == 0 or now - start < timedelta(hours=hours)
                        for start, hours, _ in dated):
        return None
    start, hours, rule = max(dated, key=lambda found: found[0] + timedelta(hours=found[1]))
    return f"scheduled {_when(start)}, archived {hours} h after ({rule})"


def _hours(modality: str, default: int, by_modality: dict[str, int]) -> tuple[int, str]:
    """How many hours after its start a step of ``modality`` is archived (0: never), and the
    setting that says so."""
    if modality in by_modality:
        return by_modality[modality], f"{modality} in archive_after_hours_by_modality"
    return default, "archive_after_hours"


def sweep(ledger: Ledger, settings: Settings, bus: EventBus, now: datetime) -> int:
    """Archive every entry of ``ledger``'s folder whose time has passed at ``now``; how many were
    moved. Raises LedgerError when the folder cannot be listed."""
    moved = 0
    with ledger.lock:  # nothing rewrites an entry between its reason and its move
        for path, entry in sorted(ledger.entries().items()):
            reason = archive_reason(entry, settings, now)
            if reason is None:
                continue
            try:
                written = ledger.archive_file(path, now)
            except EditError as exc:
                bus.emit(InputEvent(CHANNEL, "failed", "wldesk", str(entry.key), path.name,
                                    f"not archived: {exc}"))
                continue
            moved += 1
            bus.emit(InputEvent(CHANNEL, "archived", "wldesk", str(written.key),
                                f"{written.path.parent.parent.name}/{written.path.parent.name}/"
                                f"{written.path.name}", reason))
    return moved


class Housekeeping:
    """Sweeps the worklist folder at start and every ``period`` seconds, on its own thread."""

    def __init__(self, settings: Settings, ledger: Ledger, bus: EventBus, *,
                 clock: Clock = datetime.now, period: float = PERIOD) -> None:
        self.settings, self.ledger, self.bus = settings, ledger, bus
        self.clock, self.period = clock, period
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_error = ""

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="wldesk-housekeeping", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while True:
            self.run_once()
            if self._stop.wait(self.period):
                return

    def run_once(self) -> None:
        """One sweep; a folder that cannot be read is reported once, until it can again."""
        try:
            sweep(self.ledger, self.settings, self.bus, self.clock())
        except EditError as exc:  # LedgerError: the folder is missing or unreadable
            if str(exc) != self._last_error:
                self.bus.emit(InputEvent(CHANNEL, "failed", "wldesk",
                                         detail=f"nothing archived: {exc}"))
            self._last_error = str(exc)
            return
        except Exception:  # housekeeping's trouble never stops the server or the channels
            log.exception("housekeeping failed")
            return
        self._last_error = ""


def make_channel(settings: Settings, ledger: Ledger, bus: EventBus) -> Housekeeping | None:
    """The housekeeping of these settings; None when they never archive anything."""
    if not (settings.archive_after_hours or settings.archive_done_after_minutes
            or any(modality_hours(settings.archive_after_hours_by_modality).values())):
        return None
    return Housekeeping(settings, ledger, bus)
