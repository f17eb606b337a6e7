"""The folder store: an in-memory index of the parsed `.wl` files of one folder, kept fresh.

Freshness guarantee: a query sees every file completely written before the query started, and
nothing deleted or replaced before it. Two ways to keep it:

- Watching (the normal case): a watchdog observer reports file events, which only mark names
  dirty. At the start of a query the store creates and removes a hidden barrier file in the folder
  and waits until the observer reports it; file events arrive in order, so by then every change
  made before the query has been reported, and only the dirty names are looked at again (a stat,
  and a parse when the file's identity changed). A full reconciliation (list + stat, no parsing of
  unchanged files) runs at start and every ``reconcile_seconds`` as a safety net.
- Reconciling: when the folder cannot be watched or written (no barrier possible), or its events
  cannot be trusted (a network share or FUSE mount, whose changes made by other computers raise no
  event: :mod:`wldesk.core.share`), every query reconciles the whole folder first.

Each file's identity is (size, modification time, change time, inode); only new or changed files
are read and parsed. A file that cannot be served is reported once per version.
A file renamed from one `.wl` name to another keeps its parsed entry under the new name; found
gone again during a sync (renamed on after the barrier), it keeps it until the next sync.

A changed file is read only once its writer is done, so that a file rewritten in place is never
served half-written: on Linux, between a write to a file and its close-after-write event the
writer still has it open; on Windows a writer that holds it open refuses to share it for writing.
Without either sign (other systems, a writer that never closes), a changed file counts as done once
its identity has been unchanged for ``settle_seconds``. Until then the previous version of the entry
(or none) is served; a query never waits for a writer.

When the folder itself is deleted or replaced, the watch is set up again on the folder found at
that path and the folder is listed right after, so files created meanwhile are not missed.
"""

from __future__ import annotations

import errno
import gc
import itertools
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Set
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from wldesk.core import snapshot as saved_index
from wldesk.core.dicom.model import SPS_SEQUENCE, STATION_AET
from wldesk.core.dicom.node import LayoutCache, Node, values_of
from wldesk.core.dicom.wlfile import WorklistFileError, parse_bytes
from wldesk.core.events import FileProblemEvent
from wldesk.core.index import ValueIndex
from wldesk.core.query.matching import Prefilter
from wldesk.core.query.values import normalize_text
from wldesk.core.share import fresh_listing, relist_reason
from wldesk.core.watch import (
    BARRIER_PREFIX,
    LOST_EVENTS,
    FolderWatcher,
    Seen,
    Version,
    file_version,
    is_worklist_file,
    seen,
    watch_folder,
    writer_done,
)

log = logging.getLogger(__name__)

SETTLE_SECONDS = 5.0
"""A changed file whose writer gives no sign of being done is served once unchanged this long (the
default of the ``settle_seconds`` setting)."""
SNAPSHOT_SECONDS = 300.0
"""A changed index is saved as the folder's snapshot (``snapshot_file``) at most this often."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One servable worklist file."""

    folder: Path
    name: str
    node: Node
    charset: tuple[str, ...]  # its Specific Character Set terms (declared or inferred)
    notes: tuple[str, ...]
    version: Version

    @property
    def path(self) -> Path:
        return self.folder / self.name


@dataclass(frozen=True)
class FileProblem:
    path: Path
    reason: str
    version: Version


@dataclass(frozen=True)
class Snapshot:
    """The store's content at one instant; immutable, safe to share across threads."""

    entries: tuple[Entry, ...]
    problems: tuple[FileProblem, ...]
    folder_error: str | None = None

    def station_titles(self) -> list[str]:
        """The Scheduled Station AE Titles of the entries' steps, each once, sorted."""
        titles: set[str] = set()
        for entry in self.entries:
            steps = entry.node.get(SPS_SEQUENCE)
            for step in steps[1] if steps is not None and steps[0] == "SQ" else ():
                titles.update(normalize_text(v, "AE") for v in values_of(step.value(STATION_AET, ""))
                              if isinstance(v, str))
        titles.discard("")
        return sorted(titles)


MAX_ENTRY_BYTES = 16 * 2**20
"""Larger files are not read (a worklist entry is a few kilobytes): reading a stray 200 MB file
whole made a query wait for it and kept its bytes in memory until the next garbage collection."""


def read_entry(path: Path, version: Version | None = None, cache: LayoutCache | None = None,
               folder: Path | None = None) -> Entry:
    """Read and parse one file; raise WorklistFileError with a plain reason on any problem.

    ``version`` is the file's identity observed before reading (the store's listing), so that
    any change after that observation shows as a new version and is read again.
    """
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > MAX_ENTRY_BYTES:  # not read: a worklist entry is a few kilobytes
                raise WorklistFileError(f"too large for a worklist entry ({size / 2**20:.0f} MiB; "
                                        f"at most {MAX_ENTRY_BYTES // 2**20} MiB are read)")
            data = fh.read(size + 1)  # one byte more shows a file still growing
            st = os.fstat(fh.fileno())
    except OSError as exc:
        raise WorklistFileError(f"cannot read the file ({exc.strerror or exc})") from None
    if st.st_size != len(data):
        raise WorklistFileError("the file changed while it was being read (still being written?)")
    parsed = parse_bytes(data, cache)
    return Entry(folder=folder or path.parent, name=path.name, node=parsed.node, charset=parsed.charset,
                 notes=parsed.notes, version=file_version(st) if version is None else version)


class FolderStore:
    """Index of one folder's `.wl` files. All public methods are thread-safe."""

    def __init__(self, folder: Path, report: Callable[[FileProblemEvent], None] | None = None,
                 *, watch: bool = True, reconcile_seconds: float = 30.0,
                 settle_seconds: float = SETTLE_SECONDS, folder_events: str = "auto",
                 snapshot_file: Path | None = None) -> None:
        self.folder = Path(folder)
        self._snapshot_file = snapshot_file  # the index saved between runs (core/snapshot.py)
        self._saved: tuple[int, float] | None = None  # generation of the snapshot file, when
        self._folder_events = folder_events
        self.relist_reason: str | None = None  # why each query lists the folder (events untrusted)
        self._report = report or (lambda event: None)
        self._watch = watch
        self._reconcile_seconds = reconcile_seconds
        self._settle_seconds = settle_seconds
        # changed files whose writer may not be done: the version seen and since when (monotonic)
        self._held: dict[str, tuple[Version, float]] = {}
        self._lock = threading.RLock()
        self._cache = LayoutCache()
        self._entries: dict[str, Entry] = {}
        self._problems: dict[str, FileProblem] = {}
        self._index = ValueIndex()
        self._folder_error: str | None = None
        self._watcher: FolderWatcher | None = None
        self._observer: Any = None
        self._barrier_ok = False
        self._closes_reported = False
        self._watch_when_back = False  # the watch could not be set up: the folder was missing
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._counter = itertools.count()
        self._generation = 0
        self.full_scans = 0  # how many times the whole folder was listed (start, safety net, lost events)
        self._writer = threading.Lock()  # one refresh or update at a time
        self._snapshot: tuple[int, Snapshot] | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start watching and index the folder in the background (queries wait for it)."""
        if self._thread is not None:
            return
        self._stopping.clear()
        if self._watch:
            self.relist_reason = relist_reason(self.folder, self._folder_events)
            if self.relist_reason is None:
                self._start_observer()
        self._thread = threading.Thread(target=self._background, name="wldesk-index", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._stop_observer()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _stop_observer(self) -> None:
        # stop() runs on its caller's thread, maybe while a listing sets the watch up again:
        # each takes the watch it stops, so that the other finds None rather than a stopped one
        watcher, observer = self._watcher, self._observer
        self._observer = self._watcher = None
        if watcher is not None:
            LOST_EVENTS.watchers.discard(watcher)
            watcher.retire()
        if observer is not None:
            observer.stop()
            observer.join(5)

    def _start_observer(self, *, again: bool = False) -> None:
        """Watch the folder. ``again``: the folder came back or was replaced; when it is gone
        again already, the listing reports that and the watch is set up when it is back."""
        try:
            watcher, observer, closes_reported = watch_folder(self.folder)
        except (OSError, RuntimeError) as exc:
            missing = isinstance(exc, OSError) and exc.errno == errno.ENOENT
            self._watch_when_back = missing
            if again and missing:
                log.info("%s is gone again; watching it when it is back", self.folder)
            else:
                log.warning("cannot watch %s (%s); every query will re-list the folder",
                            self.folder, exc)
            return
        self._watch_when_back = False
        self._watcher, self._observer = watcher, observer
        self._barrier_ok = True
        self._closes_reported = closes_reported
        LOST_EVENTS.watchers.add(watcher)

    def _background(self) -> None:
        started = time.perf_counter()
        try:
            # The index is long-lived and acyclic: the cyclic collector would walk it again and
            # again while it grows (building 100,000 entries from a snapshot took 3x as long),
            # and once it is built: frozen before the collector is back, or the first allocation
            # after that ran a full collection of every entry (0.4 s at 100,000, queries waiting).
            collecting = gc.isenabled()
            gc.disable()
            try:
                # the snapshot first, then the listing: listed on another thread meanwhile, the
                # listing's short-lived objects fell between the entries' and stayed as ~15 MB of
                # holes at 100,000 files, and no time was saved (the threads share one lock)
                snapshot = self.refresh(self._load_snapshot())
            finally:
                gc.freeze()
                if collecting:
                    gc.enable()
            log.info("indexed %s: %d entries, %d problem files, %.1f s", self.folder,
                     len(snapshot.entries), len(snapshot.problems), time.perf_counter() - started)
            if self.relist_reason is not None:
                started = time.perf_counter()
                listed = self.refresh()
                log.info("%s: %s; each query lists the folder (~%.0f ms for %d files)",
                         self.folder, self.relist_reason, (time.perf_counter() - started) * 1000,
                         len(listed.entries) + len(listed.problems))
        except Exception:
            log.exception("indexing %s failed", self.folder)
        finally:
            self._ready.set()
        self._save_snapshot(0.0)
        while not self._stopping.wait(self._reconcile_seconds):
            try:
                self.refresh()
            except Exception:
                log.exception("reconciling %s failed", self.folder)
            self._save_snapshot(SNAPSHOT_SECONDS)
        self._save_snapshot(0.0)

    def _load_snapshot(self) -> dict[str, Entry] | None:
        if self._snapshot_file is None:
            return None
        rows = saved_index.load(self._snapshot_file, self.folder, self._cache)
        return None if rows is None else {
            name: Entry(self.folder, name, node, charset, notes, version)
            for name, version, charset, notes, node in rows}

    def _save_snapshot(self, throttle: float) -> None:
        """Save the index as the folder's snapshot when it changed since the last save, at most
        once per ``throttle`` seconds."""
        generation, now = self._generation, time.monotonic()
        if self._snapshot_file is None or (self._saved is not None and (
                self._saved[0] == generation or now - self._saved[1] < throttle)):
            return
        self._saved = (generation, now)
        entries = self.snapshot().entries
        try:
            saved_index.save(self._snapshot_file, self.folder,
                          ((e.name, e.version, e.charset, e.notes, e.node) for e in entries))
        except OSError as exc:
            log.info("cannot save the index snapshot %s (%s)", self._snapshot_file, exc)

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait for the first indexing of the folder; True when it is done."""
        if self._thread is None:
            return True
        return self._ready.wait(timeout)

    # --- freshness -----------------------------------------------------------------------------

    def _barrier(self, watcher: FolderWatcher) -> int | None:
        """Once every file event that happened before this call has been received: the barrier
        file's change time (ns, by the file system's clock); None when there is no barrier."""
        name = f"{BARRIER_PREFIX}{os.getpid()}-{next(self._counter)}"
        path = self.folder / name
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            try:
                created = os.fstat(fd).st_ctime_ns
            finally:
                os.close(fd)
            os.unlink(path)
        except FileNotFoundError:
            return None  # the folder is gone: the listing reports it
        except OSError as exc:
            log.warning("cannot write the barrier file in %s (%s); every query will re-list "
                        "the folder", self.folder, exc.strerror or exc)
            self._barrier_ok = False
            return None
        with watcher.cond:
            if watcher.cond.wait_for(lambda: name in watcher.seen_barriers or watcher.gone,
                                     timeout=2.0):
                if watcher.gone:
                    return None  # the folder was replaced: the listing sets the watch up again
                watcher.seen_barriers.discard(name)
                return created
        log.warning("no folder event for %s within 2 s; re-listing the folder", name)
        return None

    def sync(self) -> None:
        """Bring the index up to date with every change made before this call."""
        self.wait_ready()
        watcher = self._watcher
        if (watcher is not None and self._barrier_ok and not watcher.rescan
                and self._folder_error is None and self._watching_this_folder(watcher)
                and (barrier := self._barrier(watcher)) is not None):
            dirty, rescan, moves = watcher.take()
            if not rescan:
                self._update(dirty, barrier, moves)
                return
        if watcher is not None:
            watcher.take()  # the listing below covers every name marked so far
        self.refresh()

    def _watching_this_folder(self, watcher: FolderWatcher) -> bool:
        """False when the watched folder was removed or replaced by another at the same path."""
        if watcher.gone:
            return False
        try:
            st = os.stat(self.folder)
        except OSError:
            return False
        return (st.st_dev, st.st_ino) == watcher.identity

    def _update(self, names: Set[str], barrier: int, moves: Iterable[tuple[str, str]] = ()) -> None:
        """Look again at ``names`` (and the held files), whose events arrived before the barrier
        file made at ``barrier`` (its change time) was seen; ``moves``: the renames among them.

        A file renamed (same inode, same bytes) keeps its entry under the new name. When that
        name is gone by the time it is looked at (renamed again after the barrier: its event
        comes with the next sync), the entry stays under it for this sync, unless the file was
        found back under its old name; the next sync looks at it again.
        """
        with self._writer:
            to_read: list[tuple[str, Version]] = []
            with self._lock:
                renamed = self._rename(moves)
            vanished: set[str] = set()
            now = time.monotonic()
            for name in sorted(names | self._held.keys()):  # held files: is their writer done?
                try:
                    st = os.stat(self.folder / name)
                except OSError:
                    st = None
                with self._lock:
                    if st is None and name in renamed and name in self._entries:
                        vanished.add(name)  # renamed again after the barrier
                        continue
                    if st is None or not stat.S_ISREG(st.st_mode):
                        self._held.pop(name, None)
                        self._forget(name)
                        continue
                    known = self._entries.get(name) or self._problems.get(name)
                    version = file_version(st)
                    if known is None or known.version != version:
                        held = self._held.get(name)
                        if st.st_ctime_ns > barrier and (held is None or held[0] != version):
                            # changed after the query began, maybe by a writer whose event is
                            # still on its way: the next sync takes it (once: a clock set back
                            # cannot keep a file out)
                            self._held[name] = (version, now)
                        elif self._writer_done(name, version, st.st_mtime, now):
                            to_read.append((name, version))
                    else:
                        self._held.pop(name, None)
            vanished |= self._read_and_apply(to_read, renamed.keys())
            with self._lock:
                for name in sorted(vanished):
                    if renamed[name] in self._entries or name not in self._entries:
                        self._held.pop(name, None)  # found back under its old name
                        self._forget(name)
                    else:  # served under this name until the next sync explains where it went
                        self._held[name] = (self._entries[name].version, time.monotonic())

    def _rename(self, moves: Iterable[tuple[str, str]]) -> dict[str, str]:
        """Move the entries of renamed files to their new names; the renames' new names, each
        with its old name."""
        renamed: dict[str, str] = {}
        for src, dest in moves:
            renamed[dest] = src
            entry = self._entries.get(src)
            if entry is not None and src != dest:
                self._drop_entry(src)
                self._apply(dest, replace(entry, name=dest))
        return renamed

    def _writer_done(self, name: str, version: Version, mtime: float, now: float) -> bool:
        """Whether the changed file ``name`` may be read (:func:`writer_done`)."""
        return writer_done(self._watcher, self.folder / name, version, mtime, now,
                           closes_reported=self._closes_reported, held=self._held,
                           settle_seconds=self._settle_seconds)

    def _still_being_written(self, name: str) -> bool:
        """A change of ``name`` reported while it was being read (its writer started again)."""
        watcher = self._watcher
        if watcher is None:
            return False
        with watcher.cond:
            return name in watcher.writing

    def refresh(self, adopt: Mapping[str, Entry] | None = None) -> Snapshot:
        """Reconcile the whole folder (list and stat every file, parse the changed ones).

        ``adopt``: entries saved earlier (a snapshot), each kept when its file's identity is the
        one listed now, instead of reading the file again.

        Files are parsed outside the data lock, so readers (queries, the GUI) never wait for
        parsing; refreshes and updates are serialized among themselves.
        """
        with self._writer:
            self.full_scans += 1
            listing = self._list()
            with self._lock:
                if listing is None:
                    for name in list(self._entries) + list(self._problems):
                        self._forget(name)
                    return self.snapshot()
                for name in [n for n in list(self._entries) + list(self._problems)
                             if n not in listing]:
                    self._forget(name)
                for name in [n for n in self._held if n not in listing]:
                    del self._held[name]
                seen = listing.get
                kept = [e for n, e in (adopt or {}).items()
                        if (listed := seen(n)) is not None and e.version == listed[0]]
                for entry in kept:
                    self._apply(entry.name, entry)
                if adopt is not None and len(kept) == len(adopt):  # the snapshot is up to date
                    self._saved = (self._generation, time.monotonic())
                to_read = []
                now = time.monotonic()
                # the entries just adopted are as listed: only the others (and held ones) to look at
                names = listing.keys() - {e.name for e in kept} if kept else listing.keys()
                for name in sorted(names | (self._held.keys() & listing.keys())):
                    version, mtime = listing[name]
                    known = self._entries.get(name) or self._problems.get(name)
                    if known is None or known.version != version:
                        if self._writer_done(name, version, mtime, now):
                            to_read.append((name, version))
                    else:
                        self._held.pop(name, None)
            self._read_and_apply(to_read)
            return self.snapshot()

    def _read_and_apply(self, to_read: list[tuple[str, Version]],
                        renamed: Set[str] = frozenset(), chunk: int = 256) -> set[str]:
        """Read and apply ``to_read``; the names among ``renamed`` found gone when read."""
        vanished: set[str] = set()
        for start in range(0, len(to_read), chunk):
            results = [(name, self._read(name, version))
                       for name, version in to_read[start:start + chunk]]
            with self._lock:
                for name, result in results:
                    if self._still_being_written(name):
                        # changed again while it was read: keep the previous version
                        self._held.setdefault(name, (result.version, time.monotonic()))
                        continue
                    if (isinstance(result, FileProblem) and name in renamed
                            and not os.path.lexists(result.path)):
                        vanished.add(name)  # renamed again since it was looked at
                        continue
                    self._apply(name, result)
        return vanished

    # --- reading -------------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """The current content, sorted by file name, without touching the disk."""
        with self._lock:
            cached = self._snapshot
            if cached is not None and cached[0] == self._generation:
                return cached[1]
            snapshot = Snapshot(tuple(self._entries[n] for n in sorted(self._entries)),
                                tuple(self._problems[n] for n in sorted(self._problems)),
                                self._folder_error)
            self._snapshot = (self._generation, snapshot)
            return snapshot

    @property
    def generation(self) -> int:
        """Grows whenever an entry or a problem is added, changed or removed."""
        return self._generation

    def has_pending(self) -> bool:
        """True when changes may be waiting for ``sync()`` (always, when not watching)."""
        watcher = self._watcher
        if watcher is None or not self._barrier_ok:
            return True
        with watcher.cond:
            return bool(watcher.dirty) or watcher.rescan or watcher.gone or bool(self._held)

    @property
    def mode(self) -> str:
        """'watching' (folder events and a barrier per query) or 'reconciling' (a listing)."""
        return "watching" if self._watcher is not None and self._barrier_ok else "reconciling"

    @property
    def folder_error(self) -> str | None:
        return self._folder_error

    def __len__(self) -> int:
        return len(self._entries)

    def counts(self) -> tuple[int, int]:
        """How many entries and problem files the store holds, at once: without its lock, which
        the first indexing holds for a while (a figure to show, not to act on)."""
        return len(self._entries), len(self._problems)

    def candidates(self, prefilter: Prefilter | None = None) -> list[Entry]:
        """The entries that may match ``prefilter`` (all of them without one), in name order."""
        with self._lock:
            names = self._index.select(prefilter) if prefilter is not None else None
            if names is None:  # the snapshot is sorted once per change, not once per query
                return list(self.snapshot().entries)
            return [self._entries[n] for n in sorted(names)]

    # --- internals (called with the lock held) -------------------------------------------------

    def _list(self) -> dict[str, Seen] | None:
        """List the folder; set the watch up again when the folder came back or was replaced."""
        recovering = self._folder_error is not None
        found = self._scan()
        if found is None:
            return None
        if (self._watch and self.relist_reason is None and self._thread is not None
                and self._watch_again(recovering)):
            self._stop_observer()
            self._start_observer(again=True)
            # files created while the watch was being set up raised no event: list them now
            found = self._scan()
        return found

    def _watch_again(self, recovering: bool) -> bool:
        """Whether the folder, there now, is not the one watched: it came back or was replaced."""
        try:
            st = os.stat(self.folder)
        except OSError:
            return False  # gone (again): the next listing reports it
        watcher = self._watcher
        if watcher is None:
            return recovering or self._watch_when_back
        return recovering or watcher.gone or (st.st_dev, st.st_ino) != watcher.identity

    def _scan(self) -> dict[str, Seen] | None:
        found: dict[str, Seen] = {}
        try:
            if self.relist_reason is not None:  # cached attributes may hide changes behind a mount
                found = fresh_listing(self.folder, is_worklist_file)
            else:
                with os.scandir(self.folder) as it:
                    for item in it:
                        if not is_worklist_file(item.name):
                            continue
                        try:
                            if item.is_file():
                                found[item.name] = seen(item.stat())
                        except OSError:
                            continue  # vanished between listing and stat
        except OSError as exc:
            error = f"cannot read the worklist folder {self.folder} ({exc.strerror or exc})"
            if error != self._folder_error:
                self._report(FileProblemEvent(path=self.folder, reason=error))
                self._generation += 1
            self._folder_error = error
            return None
        if self._folder_error is not None:
            self._report(FileProblemEvent(path=self.folder, reason="readable again", resolved=True))
            self._folder_error = None
            self._generation += 1
        return found

    def _drop_entry(self, name: str) -> None:
        old = self._entries.pop(name, None)
        if old is not None:
            self._index.remove(name, old.node)

    def _forget(self, name: str) -> None:
        self._generation += 1
        self._drop_entry(name)
        problem = self._problems.pop(name, None)
        if problem is not None:
            self._report(FileProblemEvent(path=problem.path, reason="removed", resolved=True))

    def _read(self, name: str, version: Version) -> Entry | FileProblem:
        path = self.folder / name
        try:
            return read_entry(path, version, self._cache, self.folder)
        except WorklistFileError as exc:
            return FileProblem(path=path, reason=str(exc), version=version)

    def _apply(self, name: str, result: Entry | FileProblem) -> None:
        self._generation += 1
        self._drop_entry(name)
        if isinstance(result, FileProblem):
            self._problems[name] = result
            self._report(FileProblemEvent(path=result.path, reason=result.reason))
            return
        self._entries[name] = result
        self._index.add(name, result.node)
        if self._problems.pop(name, None) is not None:
            self._report(FileProblemEvent(path=result.path, reason="readable again", resolved=True))
