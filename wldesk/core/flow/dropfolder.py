"""The CSV drop folder: a `.csv` file saved or copied into the import folder is imported
(:mod:`wldesk.core.flow.csv_import`), then moved to ``done/`` with its report beside it
(``<name>.report.txt``: each row → entry file or reason).

A file is taken once its writer is done with it, as the folder store decides it
(:func:`wldesk.core.watch.writer_done`: closed after writing on Linux, no longer open for writing on
Windows, else unchanged for the settle time), and once it was the same at two looks in a row. The
folder is watched for changes and looked at every :data:`POLL_SECONDS` as well (a folder that
cannot be watched, e.g. on a network share, is only looked at).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from wldesk.core.editing.entries import move_into
from wldesk.core.editing.errors import EditError
from wldesk.core.events import EventBus, InputEvent
from wldesk.core.fileio import atomic_write_bytes
from wldesk.core.flow.csv_import import CHANNEL, import_rows, load_mapping, read_csv, report_text
from wldesk.core.flow.ledger import Ledger
from wldesk.core.settings import Settings
from wldesk.core.watch import FolderWatcher, Version, file_version, watch_folder, writer_done

log = logging.getLogger(__name__)

DONE_FOLDER = "done"
POLL_SECONDS = 0.5


def is_csv_file(name: str) -> bool:
    return name.lower().endswith(".csv") and not name.startswith((".", "~$"))


class CsvDropFolder:
    """Imports the `.csv` files dropped into ``folder`` (see the module documentation)."""

    def __init__(self, folder: Path | str, ledger: Ledger, bus: EventBus, *,
                 mapping: dict[str, str], date_order: str = "auto",
                 settle_seconds: float = 5.0) -> None:
        self.folder = Path(folder)
        self.ledger = ledger
        self.bus = bus
        self.mapping = mapping
        self.date_order = date_order
        self.settle_seconds = settle_seconds
        self._watcher: FolderWatcher | None = None
        self._observer: Any = None
        self._closes_reported = False
        self._held: dict[str, tuple[Version, float]] = {}
        self._seen: dict[str, Version] = {}  # each file's version at the last look
        self._stuck: dict[str, Version] = {}  # imported but not moved: not again until it changes
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Create the folder (and ``done/``) when missing and start watching it; OSError when the
        folder cannot be made."""
        (self.folder / DONE_FOLDER).mkdir(parents=True, exist_ok=True)
        try:
            self._watcher, self._observer, self._closes_reported = watch_folder(
                self.folder, is_csv_file)
        except (OSError, RuntimeError) as exc:
            log.info("cannot watch the import folder %s (%s); looking at it every %.1f s",
                     self.folder, exc, POLL_SECONDS)
            self._watcher = FolderWatcher(self.folder, (0, 0), is_csv_file)
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="wldesk-csv-import", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(5)
            self._observer = None
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None

    def _run(self) -> None:
        while not self._stopping.wait(POLL_SECONDS):
            try:
                self.look()
            except Exception:  # the channel keeps looking; the log says what went wrong
                log.exception("importing from %s failed", self.folder)

    def look(self) -> None:
        """Import every file of the folder that its writer is done with."""
        try:
            names = sorted(e.name for e in os.scandir(self.folder)
                           if is_csv_file(e.name) and e.is_file())
        except OSError as exc:
            log.info("cannot list the import folder %s: %s", self.folder, exc)
            return
        seen: dict[str, Version] = {}
        for name in names:
            if self._stopping.is_set():
                return
            path = self.folder / name
            try:
                st = path.stat()
            except OSError:
                continue
            version = seen[name] = file_version(st)
            if self._stuck.get(name) == version:
                continue
            if self._seen.get(name) != version:
                if not self._closes_reported and self._watcher is not None:
                    with self._watcher.cond:  # no close to wait for: the settle time decides
                        self._watcher.writing.add(name)
                continue
            if writer_done(self._watcher, path, version, st.st_mtime, time.monotonic(),
                           closes_reported=self._closes_reported, held=self._held,
                           settle_seconds=self.settle_seconds):
                if self.import_file(path) is None:
                    self._stuck[name] = version
                else:
                    seen.pop(name)
        self._seen = seen
        self._stuck = {name: version for name, version in self._stuck.items() if name in seen}
        self._held = {name: held for name, held in self._held.items() if name in seen}

    def import_file(self, path: Path) -> Path | None:
        """Import ``path``, move it to ``done/`` and write its report there; the report's path
        (None: the file could not be moved, e.g. its writer still has it open on Windows)."""
        try:
            data = path.read_bytes()
        except OSError as exc:
            log.info("cannot read %s yet: %s", path, exc)
            return None
        found = read_csv(data, path.name, self.mapping, self.date_order)
        outcomes = import_rows(found, self.ledger, self.bus)
        try:
            moved = move_into(path, path.parent / DONE_FOLDER)
        except EditError as exc:
            self.bus.emit(InputEvent(CHANNEL, "failed", path.name,
                                     detail=f"imported, but not moved to {DONE_FOLDER}: {exc}"))
            return None
        report = moved.with_name(f"{moved.stem}.report.txt")
        try:
            atomic_write_bytes(report, report_text(found, outcomes).encode("utf-8"))
        except OSError as exc:
            self.bus.emit(InputEvent(CHANNEL, "failed", path.name,
                                     detail=f"cannot write the report {report.name}: "
                                            f"{exc.strerror or exc}"))
        return report


def make_csv_drop_folder(settings: Settings, ledger: Ledger, bus: EventBus) -> CsvDropFolder | None:
    """The drop folder of ``settings`` (None: ``import_folder`` is empty, the import is off);
    ValueError when the mapping file cannot be used."""
    if not settings.import_folder.strip():
        return None
    return CsvDropFolder(settings.import_folder.strip(), ledger, bus,
                         mapping=load_mapping(settings.import_mapping_file.strip() or None),
                         date_order=settings.import_date_order,
                         settle_seconds=settings.settle_seconds)
