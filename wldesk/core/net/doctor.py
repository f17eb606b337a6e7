"""The modality doctor: what each modality did with this server, kept between runs.

A core service on the :class:`~wldesk.core.events.EventBus` (``wldesk serve`` and the window
both run one). For each calling AE title that ever called, and each known modality (settings
``modalities``), it keeps the last association (time, IP), the last query (its keys, answers
sent, final status, duration), the queries of today, and the refused attempts with the reason in
plain words. Those figures are one small JSON file in the state folder
(:func:`wldesk.core.paths.state_dir`), written atomically at most once a second and when the
service stops; a file it cannot read is set aside (renamed, with a log line) and the figures
start afresh. ``wldesk modalities`` reads the same file without changing it
(:func:`read_figures`); :mod:`wldesk.core.net.doctor_text` says the figures in words.

Query values may be patient data: with ``redact_patient_data`` on, the keys of a query are kept
but the values of patient keys are not (the rule of the log file,
:data:`wldesk.core.logs.NOT_PATIENT_DATA`).
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from wldesk.core import paths
from wldesk.core.events import AssociationEvent, Event, EventBus, QueryEvent
from wldesk.core.fileio import atomic_write_bytes
from wldesk.core.logs import NOT_PATIENT_DATA
from wldesk.core.settings import Settings

log = logging.getLogger(__name__)

FILE_NAME = "modalities.json"
FORMAT = "wldesk modality figures"
VERSION = 1
WRITE_INTERVAL = 1.0
"""Seconds between two writes of the figures file at most (a burst of queries is one write)."""
MAX_REJECTIONS = 10
"""Refusals kept per AE title (the same reason from the same address again counts up)."""
REDACTED = "<redacted>"

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now().astimezone()


def figures_path() -> Path:
    """Where the figures are kept: ``modalities.json`` in the state folder."""
    return paths.state_dir() / FILE_NAME


class FiguresFileError(ValueError):
    """The figures file is not JSON, not wldesk's figures, or of a newer wldesk."""


@dataclass(frozen=True)
class Figures:
    """What is known of the modalities: ``created`` (when the figures began) and per AE title a
    record (a plain JSON object, see :meth:`ModalityDoctor._record`)."""

    created: str
    titles: dict[str, dict[str, Any]]


def _check(data: Any) -> Figures:
    """The figures of a decoded file; FiguresFileError when it is not one this wldesk wrote."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise FiguresFileError("not a wldesk modality figures file")
    version = data.get("version")
    if not isinstance(version, int) or version > VERSION or version < 1:
        raise FiguresFileError(f"figures file version {version!r}, this wldesk reads {VERSION}")
    titles = data.get("titles")
    created = data.get("created")
    if not isinstance(titles, dict) or not isinstance(created, str):
        raise FiguresFileError("figures file without its titles")
    for title, record in titles.items():
        if not isinstance(record, dict) or not isinstance(record.get("rejections", []), list):
            raise FiguresFileError(f"figures of {title!r} are not readable")
    return Figures(created, titles)


def read_figures(path: Path) -> Figures | None:
    """The figures in ``path``, read only (for ``wldesk modalities``); None when there is no file.
    Raises FiguresFileError (or OSError) when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        return _check(json.loads(text))
    except json.JSONDecodeError as exc:
        raise FiguresFileError(f"not JSON ({exc.msg} at line {exc.lineno})") from None


def redact_keys(keys: dict[str, str], invalid: tuple[str, ...] = ()) -> dict[str, str]:
    """``keys`` with the values of patient keys (and of invalid ones) replaced by ``<redacted>``."""
    return {name: (REDACTED if value and (name not in NOT_PATIENT_DATA or name in invalid)
                   else value) for name, value in keys.items()}


def _short_service(name: str) -> str:
    """``Study Root Query/Retrieve Information Model - FIND (1.2…)`` -> ``Study Root Q/R FIND``."""
    name = name.rsplit(" (", 1)[0] if name.endswith(")") else name
    return (name.replace("Query/Retrieve Information Model - ", "Q/R ")
            .replace(" Information Model - ", " ").replace("Information Model", "").strip())


def refusal_reason(event: AssociationEvent, server_aet: str) -> str:
    """Why a refused association was refused, and what to do about it, in plain words."""
    aet, address = event.calling_aet or "(none)", event.address
    if event.cause == "unknown_modality":
        return f"unknown AE title {aet} from {address}: add it to the known modalities"
    if event.cause == "wrong_host":
        return (f"{aet} connected from {address}, not from the host its known modality names: "
                f"correct that host in the known modalities")
    if event.cause == "called_ae_title":
        return (f"called AE title {event.called_aet or '(none)'} while this server is "
                f"{server_aet}: set the modality's worklist server AE title to {server_aet}")
    if event.cause == "no_worklist_service":
        asked = " and ".join(_short_service(n) for n in event.not_served) or "nothing"
        return (f"asked only for {asked}, not Modality Worklist: set the modality's worklist "
                f"service to this server")
    return event.reason or "association refused"


class ModalityDoctor:
    """Keeps the figures of each AE title from the bus's events; thread-safe.

    ``start()`` reads the figures file (setting an unreadable one aside) and subscribes;
    ``stop()`` unsubscribes and writes what is not written yet. ``clock`` gives the current time
    (tests move it past midnight)."""

    def __init__(self, settings: Settings, path: Path | None = None, *,
                 clock: Clock = _now, write_interval: float = WRITE_INTERVAL) -> None:
        self.path = path if path is not None else figures_path()
        self._clock = clock
        self._interval = write_interval
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._settings = settings
        self._created = clock().isoformat(timespec="seconds")
        self._titles: dict[str, dict[str, Any]] = {}
        self._dirty = False
        self._last_write: float | None = None  # monotonic time of the last write
        self._timer: threading.Timer | None = None
        self._write_failed = False
        self._bus: EventBus | None = None

    # --- life ----------------------------------------------------------------------------------

    def start(self, bus: EventBus) -> None:
        """Read the figures file and follow ``bus``."""
        self._load()
        self._bus = bus
        bus.subscribe(self)
        self.set_settings(self._settings)

    def stop(self) -> None:
        """Stop following the bus and write the figures not written yet."""
        if self._bus is not None:
            self._bus.unsubscribe(self)
            self._bus = None
        with self._lock:
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        self.flush()

    def _load(self) -> None:
        try:
            figures = read_figures(self.path)
        except (FiguresFileError, OSError, UnicodeDecodeError) as exc:
            self._set_aside(exc)
            return
        if figures is not None:
            with self._lock:
                self._created, self._titles = figures.created, figures.titles

    def _set_aside(self, why: Exception) -> None:
        stamp = self._clock().strftime("%Y%m%d-%H%M%S")
        kept = self.path.with_name(f"{self.path.name}.unreadable-{stamp}")
        text = why.strerror if isinstance(why, OSError) and why.strerror else str(why)
        try:
            self.path.replace(kept)
        except OSError as exc:
            log.warning("the modality figures file %s cannot be read (%s) nor set aside (%s); "
                        "the figures start afresh and will replace it", self.path, text,
                        exc.strerror or exc)
            return
        log.warning("the modality figures file %s cannot be read (%s); it was set aside as %s "
                    "and the figures start afresh", self.path, text, kept.name)

    # --- settings ------------------------------------------------------------------------------

    def set_settings(self, settings: Settings) -> None:
        """Follow ``settings``: its known modalities get a record (the date they were first seen),
        its redaction applies to what is kept from now on, its AE title is the server's."""
        with self._lock:
            self._settings = settings
            stamp = self._clock().isoformat(timespec="seconds")
            for known in settings.modalities:
                if known.ae_title not in self._titles:
                    self._titles[known.ae_title] = self._record(stamp)
                    self._dirty = True
            if settings.redact_patient_data:  # nothing kept from before shows a patient's data
                for record in self._titles.values():
                    query = record.get("last_query")
                    if isinstance(query, dict) and isinstance(query.get("keys"), dict):
                        redacted = redact_keys(query["keys"])
                        if redacted != query["keys"]:
                            query["keys"] = redacted
                            self._dirty = True
        self._schedule()

    @property
    def settings(self) -> Settings:
        return self._settings

    # --- events --------------------------------------------------------------------------------

    @staticmethod
    def _record(first_seen: str) -> dict[str, Any]:
        return {"first_seen": first_seen, "last_association": None, "last_query": None,
                "queries_day": "", "queries_today": 0, "queries": 0, "rejections": [],
                "called_other": None}

    def __call__(self, event: Event) -> None:
        if isinstance(event, AssociationEvent):
            changed = self._association(event)
        elif isinstance(event, QueryEvent):
            changed = self._query(event)
        else:
            return
        if changed:
            self._schedule()

    def _title(self, aet: str, stamp: str) -> dict[str, Any]:
        record = self._titles.get(aet)
        if record is None:
            record = self._titles[aet] = self._record(stamp)
        return record

    def _association(self, event: AssociationEvent) -> bool:
        if event.kind not in ("accepted", "rejected"):
            return False
        stamp = event.time.isoformat(timespec="seconds")
        with self._lock:
            server_aet = self._settings.ae_title
            record = self._title(event.calling_aet or "(none)", stamp)
            if event.kind == "accepted":
                record["last_association"] = {"time": stamp, "address": event.address,
                                              "called_aet": event.called_aet}
                if event.called_aet != server_aet:
                    record["called_other"] = {"time": stamp, "called_aet": event.called_aet,
                                              "server_aet": server_aet}
            else:
                reason = refusal_reason(event, server_aet)
                rejections: list[dict[str, Any]] = record.setdefault("rejections", [])
                same = next((r for r in rejections if r.get("reason") == reason), None)
                if same is not None:
                    rejections.remove(same)
                    same.update(time=stamp, count=int(same.get("count", 1)) + 1)
                else:
                    same = {"time": stamp, "address": event.address, "reason": reason, "count": 1}
                rejections.append(same)
                del rejections[:-MAX_REJECTIONS]
            self._dirty = True
        return True

    def _query(self, event: QueryEvent) -> bool:
        stamp = event.time.isoformat(timespec="seconds")
        today = self._clock().date().isoformat()
        with self._lock:
            record = self._title(event.calling_aet or "(none)", stamp)
            keys = dict(event.keys)
            if self._settings.redact_patient_data:
                keys = redact_keys(keys, event.invalid_keys)
                status_text = event.redacted_status_text or event.status_text
            else:
                status_text = event.status_text
            record["last_query"] = {
                "time": stamp, "address": event.address, "keys": keys, "matches": event.matches,
                "returned": event.returned, "withheld": len(event.withheld),
                "status": event.status, "status_text": status_text,
                "duration_ms": round(event.duration_ms, 1)}
            if record.get("queries_day") != today:
                record["queries_day"], record["queries_today"] = today, 0
            record["queries_today"] = int(record.get("queries_today", 0)) + 1
            record["queries"] = int(record.get("queries", 0)) + 1
            self._dirty = True
        return True

    # --- reading -------------------------------------------------------------------------------

    def figures(self) -> Figures:
        """A copy of the figures now (for the window and the tests)."""
        with self._lock:
            return Figures(self._created, copy.deepcopy(self._titles))

    def today(self) -> str:
        """Today's date (ISO) by this doctor's clock: "queries today" counts on this day only."""
        return self._clock().date().isoformat()

    # --- writing -------------------------------------------------------------------------------

    def _schedule(self) -> None:
        """Write now, or once WRITE_INTERVAL has passed since the last write."""
        with self._lock:
            if not self._dirty or self._timer is not None or self._bus is None:
                return
            wait = (0.0 if self._last_write is None
                    else self._last_write + self._interval - time.monotonic())
            if wait > 0:
                self._timer = threading.Timer(wait, self._timer_fired)
                self._timer.daemon = True
                self._timer.start()
                return
        self.flush()

    def _timer_fired(self) -> None:
        with self._lock:
            self._timer = None
        self.flush()

    def flush(self) -> None:
        """Write the figures now if they changed since the last write."""
        with self._write_lock:
            with self._lock:
                if not self._dirty:
                    return
                data = {"format": FORMAT, "version": VERSION, "created": self._created,
                        "titles": self._titles}
                text = json.dumps(data, indent=1, ensure_ascii=False, sort_keys=True)
                self._dirty = False
                self._last_write = time.monotonic()
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_bytes(self.path, (text + "\n").encode("utf-8"))
            except OSError as exc:
                with self._lock:
                    self._dirty = True
                if not self._write_failed:
                    log.warning("cannot write the modality figures to %s (%s); they are kept in "
                                "memory and written once that works", self.path,
                                exc.strerror or exc)
                self._write_failed = True
            else:
                if self._write_failed:
                    log.info("the modality figures are written to %s again", self.path)
                self._write_failed = False
