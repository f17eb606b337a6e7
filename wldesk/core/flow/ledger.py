"""The ledger: every channel's way to the worklist folder.

An order is known by its key, the Accession Number plus the Scheduled Procedure Step ID of its
first step (either may be empty). The ledger finds the `.wl` files of a key among the folder's
files (its own and other programs'), creates an entry or updates the one with the same key (a
repeated order never makes a second entry), rewrites entries keeping every byte it does not
change, and archives them (moved to ``archive/``, never deleted). Files are written atomically,
as the editor writes them; a file that cannot be read is left alone, where the user can see it.

A patient's entries are found and rewritten by Patient ID too (a patient update).

All writes to one folder go through one lock (every ledger of that folder shares it: the order
channels' and the MPPS SCP's), so two channels writing the same order at once still make one
entry, and a status change never loses another channel's rewrite. Another program that
replaces a file between the ledger's reading and its writing (a RIS writing the folder itself)
is noticed when saving (the file changed on disk): the change is made again on that program's
version, so neither is lost. The folder is listed at each call (a stat per file; a file is read
again only when its size or times changed), so files that other programs wrote a moment ago
count.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from pydicom.dataset import Dataset

from wldesk.core.dicom.model import (
    ACCESSION_NUMBER,
    MODALITY,
    PATIENT_ID,
    SPS_SEQUENCE,
    SPS_START_DATE,
    SPS_STATUS,
)
from wldesk.core.dicom.node import Node, values_of
from wldesk.core.dicom.wlfile import WorklistFileError
from wldesk.core.editing.document import load_document, new_document, save_document
from wldesk.core.editing.entries import (
    ARCHIVE_FOLDER,
    archive_entry,
    archived_entries,
    restore_entry,
    safe_stem,
    save_new_entry,
)
from wldesk.core.editing.errors import ConflictError, EditError
from wldesk.core.query.values import entity_date, entity_time
from wldesk.core.store import Entry, read_entry

SUFFIX = ".wl"
SPS_ID = 0x00400009  # ScheduledProcedureStepID
STUDY_INSTANCE_UID = 0x0020000D
REQUESTED_PROCEDURE_ID = 0x00401001
SPS_START_TIME = 0x00400003  # ScheduledProcedureStepStartTime
REWRITE_PATIENCE = 2.0
"""Seconds a rewrite is tried again and again while another program keeps replacing the file
(each try reads its newest version); after that the file is left to that program."""

_FOLDER_LOCKS: dict[str, threading.RLock] = {}
_FOLDER_LOCKS_GUARD = threading.Lock()


def _folder_lock(folder: Path) -> threading.RLock:
    """The one lock of ``folder``, shared by every ledger of it."""
    name = os.path.normcase(os.path.abspath(folder))
    with _FOLDER_LOCKS_GUARD:
        return _FOLDER_LOCKS.setdefault(name, threading.RLock())


@dataclass(frozen=True, order=True)
class OrderKey:
    """What makes two orders the same: Accession Number and the first step's SPS ID."""

    accession: str
    step_id: str = ""

    def __str__(self) -> str:
        return f"{self.accession}/{self.step_id}" if self.step_id else self.accession

    def matches(self, other: OrderKey) -> bool:
        """True when ``other`` is this order (an empty step ID here means any step)."""
        return self.accession == other.accession and self.step_id in ("", other.step_id)


def _text(value: object) -> str:
    values = values_of(value)
    return str(values[0]).strip() if values and values[0] is not None else ""


def node_key(node: Node) -> OrderKey:
    steps = node.get(SPS_SEQUENCE)
    items = steps[1] if steps is not None and steps[0] == "SQ" else ()
    step_id = _text(items[0].value(SPS_ID, "")) if items else ""
    return OrderKey(_text(node.value(ACCESSION_NUMBER, "")), step_id)


def dataset_key(ds: Dataset) -> OrderKey:
    """The order key of a pydicom dataset."""
    steps = ds.get("ScheduledProcedureStepSequence") or ()
    step_id = str(steps[0].get("ScheduledProcedureStepID", "") or "").strip() if steps else ""
    return OrderKey(str(ds.get("AccessionNumber", "") or "").strip(), step_id)


@dataclass(frozen=True)
class Step:
    """One Scheduled Procedure Step as the ledger knows it: its start (None without a readable
    SPS Start Date; midnight without a time), its status ("" when it has none) and its Modality
    (upper case; "" when it has none)."""

    start: datetime | None
    status: str
    modality: str = ""


@dataclass(frozen=True)
class EntryFacts:
    """What the ledger knows of an entry without reading it again: its order key, Patient ID,
    Study Instance UID, Requested Procedure ID, its steps (SPS IDs; start and status) and, for a
    file of the folder, its modification time (local time)."""

    key: OrderKey
    patient_id: str
    study_uid: str = ""
    requested_procedure_id: str = ""
    step_ids: tuple[str, ...] = ()
    steps: tuple[Step, ...] = ()
    modified: datetime | None = None


def _steps(node: Node) -> tuple[Step, ...]:
    found = node.get(SPS_SEQUENCE)
    steps = []
    for item in found[1] if found is not None and found[0] == "SQ" else ():
        day = entity_date(_text(item.value(SPS_START_DATE, "")))
        hour = entity_time(_text(item.value(SPS_START_TIME, ""))) if day else None
        start = datetime.combine(day, hour) if day and hour else (
            datetime(day.year, day.month, day.day) if day else None)
        steps.append(Step(start, _text(item.value(SPS_STATUS, "")).upper(),
                          _text(item.value(MODALITY, "")).upper()))
    return tuple(steps)


def node_facts(node: Node, modified: datetime | None = None) -> EntryFacts:
    steps = node.get(SPS_SEQUENCE)
    items = steps[1] if steps is not None and steps[0] == "SQ" else ()
    return EntryFacts(node_key(node), _text(node.value(PATIENT_ID, "")),
                      _text(node.value(STUDY_INSTANCE_UID, "")),
                      _text(node.value(REQUESTED_PROCEDURE_ID, "")),
                      tuple(_text(item.value(SPS_ID, "")) for item in items), _steps(node),
                      modified)


@dataclass(frozen=True)
class Written:
    """What the ledger did with one entry: ``created``, ``updated``, ``unchanged``, ``archived``
    or ``restored``; ``path`` is where the entry is now."""

    action: str
    path: Path
    key: OrderKey


class LedgerError(EditError):
    """An order that cannot be written (the message says why); nothing was written."""


class Ledger:
    """The worklist folder as the channels see it (see the module documentation)."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self.lock = _folder_lock(self.folder)
        self._known: dict[str, tuple[tuple[int, int, int], EntryFacts | None]] = {}

    # --- finding ---------------------------------------------------------------------------

    def _listing(self) -> Iterator[tuple[str, tuple[int, int, int]]]:
        try:
            with os.scandir(self.folder) as found:
                for item in found:
                    if not item.name.lower().endswith(SUFFIX) or item.name.startswith("."):
                        continue
                    try:
                        st = item.stat()
                    except OSError:
                        continue
                    if item.is_file():
                        yield item.name, (st.st_size, st.st_mtime_ns, st.st_ino)
        except FileNotFoundError:
            raise LedgerError(f"the worklist folder {self.folder} does not exist") from None
        except OSError as exc:
            raise LedgerError(f"cannot list the worklist folder {self.folder}: "
                              f"{exc.strerror or exc}") from None

    def _entries(self) -> dict[Path, EntryFacts]:
        """Every readable `.wl` file of the folder's top level with its facts."""
        seen: dict[str, tuple[tuple[int, int, int], EntryFacts | None]] = {}
        for name, identity in self._listing():
            known = self._known.get(name)
            if known is None or known[0] != identity:
                try:
                    node = read_entry(self.folder / name).node
                    entry: EntryFacts | None = node_facts(
                        node, datetime.fromtimestamp(identity[1] / 1e9))
                except WorklistFileError:
                    entry = None  # not an entry (yet): the store lists it as a problem file
                known = (identity, entry)
            seen[name] = known
        self._known = seen
        return {self.folder / name: entry for name, (_, entry) in seen.items() if entry is not None}

    def entries(self) -> dict[Path, EntryFacts]:
        """Every readable `.wl` file of the folder's top level with what the ledger knows of it
        (files that cannot be read are left out: :meth:`problem_files`)."""
        with self.lock:
            return self._entries()

    def keys(self) -> dict[Path, OrderKey]:
        """Every readable `.wl` file of the folder's top level with its order key."""
        return {path: entry.key for path, entry in self._entries().items()}

    def problem_files(self) -> list[Path]:
        """The `.wl` files of the folder's top level that cannot be read as entries, by name."""
        with self.lock:
            self._entries()
            return sorted(self.folder / name for name, (_, entry) in self._known.items()
                          if entry is None)

    def find(self, key: OrderKey) -> list[Path]:
        """The files of the order ``key`` (an empty step ID: any step of the accession), by name.
        An empty accession number finds nothing: such orders cannot be told apart."""
        if not key.accession:
            return []
        with self.lock:
            return sorted(path for path, found in self.keys().items() if key.matches(found))

    def find_patient(self, patient_id: str) -> list[Path]:
        """The files of the patient ``patient_id`` (Patient ID), by name; an empty ID finds
        nothing."""
        if not patient_id.strip():
            return []
        with self.lock:
            return sorted(path for path, entry in self._entries().items()
                          if entry.patient_id == patient_id.strip())

    def find_where(self, predicate: Callable[[EntryFacts], bool]) -> list[Path]:
        """The files whose facts satisfy ``predicate`` (e.g. a Study Instance UID), by name."""
        with self.lock:
            return sorted(path for path, entry in self._entries().items() if predicate(entry))

    # --- writing ---------------------------------------------------------------------------

    def _new_path(self, key: OrderKey) -> Path:
        stem = safe_stem(f"{key.accession}_{key.step_id}" if key.step_id else key.accession)
        return self.folder / f"{stem}{SUFFIX}"

    def put(self, ds: Dataset, *, update: bool = True,
            found: Sequence[Path] | None = None) -> Written:
        """Write the order ``ds``: a new entry, or (with ``update``) a rewrite of the entry with
        the same key, keeping the bytes of what did not change. Without ``update`` an existing
        order raises :class:`LedgerError`. ``found``: the order's files as the caller, holding
        :attr:`lock`, has just found them (:meth:`find`), so that the folder is not listed twice."""
        key = dataset_key(ds)
        with self.lock:
            existing = list(found) if found is not None else self.find(key)
            if existing:
                if not update:
                    raise LedgerError(f"the order {key} exists already: {existing[0].name}")
                return self._replace(existing[0], ds, key)
            doc = new_document(ds)
            if not key.accession:
                return Written("created", save_new_entry(doc, self.folder), key)
            target = self._new_path(key)
            for number in range(1, 1000):
                path = target if number == 1 else target.with_name(
                    f"{target.stem}-{number}{SUFFIX}")
                try:
                    return Written("created", save_document(doc, path, new=True), key)
                except FileExistsError:
                    continue
            raise LedgerError(f"no free file name for the order {key} in {self.folder}")

    def _replace(self, path: Path, ds: Dataset, key: OrderKey) -> Written:
        def take(target: Dataset) -> bool:
            changed = False
            for elem in ds:
                if elem.tag == 0x00080005 and target.get(elem.tag) is not None:
                    continue  # the file keeps its character set; saving re-encodes the text
                if elem.tag not in target or target[elem.tag].value != elem.value:
                    target[elem.tag] = elem
                    changed = True
            return changed

        return replace(self._rewrite_one(path, take), key=key)

    def replace(self, path: Path, ds: Dataset, *, create: bool = False) -> Written:
        """Write ``ds`` as the whole of the entry at ``path``: what ``ds`` lacks is gone. A
        ``path`` that is not there is an error, or with ``create`` a new entry of that name.
        Raises :class:`LedgerError` when ``ds`` is another entry's order."""
        key = dataset_key(ds)
        with self.lock:
            exists = path.is_file()
            if not exists and not create:
                raise LedgerError(f"{path.name} is not in the worklist folder")
            others = [found for found in self.find(key) if found.name != path.name]
            if others:
                raise LedgerError(f"the order {key} is the entry {others[0].name}")
            if not exists:
                try:
                    return Written("created", save_document(new_document(ds), path, new=True),
                                   key)
                except FileExistsError:
                    pass  # written by another program meanwhile: replaced as any entry
            save_document(new_document(ds), path, force=True)
            return Written("updated", path, key)

    def _rewrite_one(self, path: Path, change: Callable[[Dataset], bool]) -> Written:
        """Load ``path``, apply ``change`` and save it when it changed. Another program (a RIS
        writing the folder itself) may replace the file between the load and the save: the save
        then finds it changed on disk, and the change is applied again to the new file, so that
        neither the other program's version nor this change is lost."""
        give_up = time.monotonic() + REWRITE_PATIENCE
        attempts = 0
        while True:
            attempts += 1
            doc = load_document(path)
            key = dataset_key(doc.dataset)
            if not change(doc.dataset):
                return Written("unchanged", path, key)
            try:
                save_document(doc, path)
            except ConflictError:
                if time.monotonic() >= give_up:
                    raise LedgerError(
                        f"{path.name} kept changing on disk while it was rewritten "
                        f"({attempts} attempts in {REWRITE_PATIENCE:g} s): not changed") from None
                continue
            return Written("updated", path, key)

    def _rewrite(self, paths: list[Path], change: Callable[[Dataset], bool]) -> list[Written]:
        return [self._rewrite_one(path, change) for path in paths]

    def update(self, key: OrderKey, change: Callable[[Dataset], bool]) -> list[Written]:
        """Apply ``change`` to each entry of ``key``; ``change`` returns whether it changed the
        dataset. Each changed entry is rewritten keeping the bytes of what did not change."""
        with self.lock:
            return self._rewrite(self.find(key), change)

    def update_file(self, path: Path, change: Callable[[Dataset], bool]) -> Written:
        """Apply ``change`` to the entry at ``path`` (any file of the folder, whatever its order),
        as :meth:`update` does; :class:`LedgerError` when it is not there (any more)."""
        with self.lock:
            if not path.is_file():
                raise LedgerError(f"{path.name} is not in the worklist folder")
            return self._rewrite([path], change)[0]

    def update_patient(self, patient_id: str,
                       change: Callable[[Dataset], bool]) -> list[Written]:
        """Apply ``change`` to each entry of the patient ``patient_id``, as :meth:`update` does."""
        with self.lock:
            return self._rewrite(self.find_patient(patient_id), change)

    def update_where(self, predicate: Callable[[EntryFacts], bool],
                     change: Callable[[Dataset], bool]) -> list[Written]:
        """Apply ``change`` to each entry whose facts satisfy ``predicate``, as :meth:`update`
        does."""
        with self.lock:
            return self._rewrite(self.find_where(predicate), change)

    def archive(self, key: OrderKey) -> list[Written]:
        """Move each entry of ``key`` to ``archive/`` (never deleted)."""
        with self.lock:
            return [Written("archived", archive_entry(path), key) for path in self.find(key)]

    def archive_file(self, path: Path, when: datetime | None = None) -> Written:
        """Move the entry at ``path`` (any file of the folder, whatever its order) to
        ``archive/`` (the month of ``when``, now by default); :class:`LedgerError` when it is not
        there (any more)."""
        with self.lock:
            if not path.is_file():
                raise LedgerError(f"{path.name} is not in the worklist folder")
            key = self.keys().get(path, OrderKey(""))
            return Written("archived", archive_entry(path, when), key)

    # --- the archive -----------------------------------------------------------------------

    def archived(self) -> list[Entry]:
        """The readable entries of ``archive/``, newest month first; each one's ``name`` is its
        path there ("2026-11/ACC1.wl"). Files that cannot be read are left out."""
        archive = self.folder / ARCHIVE_FOLDER
        found = []
        for path in archived_entries(self.folder):
            try:
                entry = read_entry(path, folder=archive)
            except WorklistFileError:
                continue
            found.append(replace(entry, name=path.relative_to(archive).as_posix()))
        return found

    def restore(self, archived: Path) -> Written:
        """Move the archived entry at ``archived`` back to the folder's top level (its name kept,
        or made unique), where queries see it again."""
        with self.lock:
            try:
                key = node_key(read_entry(archived).node)
            except WorklistFileError:
                key = OrderKey("")
            return Written("restored", restore_entry(archived, self.folder), key)
