"""Folder events: which files of a folder changed, and whether their writers are done.

A watchdog observer reports a folder's file events on its own thread; a :class:`FolderWatcher`
only marks names dirty (and releases the store's barriers, see :mod:`wldesk.core.store`), so that
whoever owns the folder's index looks at those files again when it needs them fresh. A file's
identity (:func:`file_version`) says whether it changed since it was last read;
:func:`writer_done` whether a changed file may be read yet. The drop folder of CSV imports
(:mod:`wldesk.core.flow.dropfolder`) uses the same watch.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from watchdog.events import (
    DirDeletedEvent,
    DirModifiedEvent,
    DirMovedEvent,
    FileAttribEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

log = logging.getLogger(__name__)

Version = int  # a hash of (size, mtime_ns, ctime_ns, inode): one small object per entry
BARRIER_PREFIX = ".wldesk-sync-"

def is_worklist_file(name: str) -> bool:
    return name.lower().endswith(".wl") and not name.startswith(".")


if sys.platform == "win32":
    import ctypes
    from ctypes import wintypes

    def _nobody_writing(path: Path) -> bool:
        """True when no one holds ``path`` open for writing.

        A writer that did not allow others to write (the usual way on Windows) makes an open that
        refuses to share writing fail with a sharing violation until it closes the file.
        """
        kernel32 = ctypes.windll.kernel32
        kernel32.CreateFileW.restype = wintypes.HANDLE
        # GENERIC_READ; share reading and deleting, not writing; OPEN_EXISTING
        handle = kernel32.CreateFileW(str(path), 0x80000000, 0x1 | 0x4, None, 3, 0x80, None)
        if handle is None or handle == wintypes.HANDLE(-1).value:
            return False  # a sharing violation (someone writes), or it cannot be opened at all
        kernel32.CloseHandle(handle)
        return True
else:
    def _nobody_writing(path: Path) -> bool:
        """Whether no one holds ``path`` open for writing: False, this system cannot tell."""
        return False


def file_version(st: os.stat_result) -> Version:
    return hash((st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino))


Seen = tuple[Version, float]
"""What a listing keeps of each file: its version and modification time (a stat result costs
~700 bytes, which at 100,000 files made each listing 70 MB)."""


def seen(st: os.stat_result) -> Seen:
    return file_version(st), st.st_mtime


# Changes only. Without a filter watchdog also asks for every open and close-without-writing:
# indexing 100,000 files then sends some 200,000 events through watchdog's threads, which fight
# the indexing for the interpreter lock (2-3x slower), and so does anyone reading the folder.
WATCHED_EVENTS: list[type[FileSystemEvent]] = [
    FileCreatedEvent, FileModifiedEvent, FileAttribEvent, FileClosedEvent, FileMovedEvent,
    FileDeletedEvent, DirModifiedEvent, DirMovedEvent, DirDeletedEvent,
]


class FolderWatcher(FileSystemEventHandler):
    """Receives folder events on the observer's thread; marks names dirty, releases barriers.
    ``wanted`` says which file names of the folder it follows (the store's: `.wl` files)."""

    def __init__(self, folder: Path, identity: tuple[int, int],
                 wanted: Callable[[str], bool] = is_worklist_file) -> None:
        self.folder = str(folder)
        self.wanted = wanted
        self.identity = identity  # (device, inode) of the folder when the watch was set up
        self.cond = threading.Condition()
        self.dirty: set[str] = set()
        self.rescan = False
        self.gone = False  # the watched folder was removed or moved away, or the watch stopped
        self.seen_barriers: set[str] = set()
        self.writing: set[str] = set()  # changed, and not yet closed by their writer
        self.moves: list[tuple[str, str]] = []  # renames from one `.wl` name to another, in order

    def _name(self, path: str | bytes) -> str | None:
        """The name of a worklist file in the watched folder at ``path``, else None."""
        parent, name = os.path.split(os.fsdecode(path))
        same = os.path.normcase(parent) == os.path.normcase(self.folder)
        return name if same and self.wanted(name) else None

    def _note(self, path: str | bytes, kind: str) -> None:
        text = os.fsdecode(path)
        parent, name = os.path.split(text)
        if os.path.normcase(parent) != os.path.normcase(self.folder):
            if os.path.normcase(text) == os.path.normcase(self.folder) and kind in ("deleted",
                                                                                   "moved"):
                self.rescan = self.gone = True  # the folder itself was removed or moved away
                self.cond.notify_all()
            return
        if name.startswith(BARRIER_PREFIX):
            self.seen_barriers.add(name)
            self.cond.notify_all()
        elif self.wanted(name):
            self.dirty.add(name)
            # only a write says a writer has the file open: "created" is also a hard link or a
            # file moved in from another folder, both complete (and without a close to follow)
            if kind == "modified":
                self.writing.add(name)
            elif kind in ("closed", "deleted", "moved"):  # a file moved in is a complete one
                self.writing.discard(name)

    def on_any_event(self, event: FileSystemEvent) -> None:
        with self.cond:
            self._note(event.src_path, event.event_type)
            if event.dest_path:
                self._note(event.dest_path, event.event_type)
                if (event.event_type == "moved" and (src := self._name(event.src_path))
                        and (dest := self._name(event.dest_path))):
                    self.moves.append((src, dest))

    def retire(self) -> None:
        """The watch stopped: barriers still waiting on it give up at once."""
        with self.cond:
            self.gone = True
            self.cond.notify_all()

    def take(self) -> tuple[set[str], bool, list[tuple[str, str]]]:
        """The dirty names, whether to list the folder, and the renames, since the last take."""
        with self.cond:
            dirty, rescan, moves = self.dirty, self.rescan, self.moves
            self.dirty, self.rescan, self.moves = set(), False, []
            return dirty, rescan, moves


def watch_folder(folder: Path, wanted: Callable[[str], bool] = is_worklist_file,
                 ) -> tuple[FolderWatcher, Any, bool]:
    """Watch ``folder``'s files named as ``wanted`` says: the watcher, its started observer, and
    whether the observer reports a writer's close (inotify; elsewhere only the settle time tells).
    Raises OSError or RuntimeError when the folder cannot be watched."""
    observer = Observer()
    st = os.stat(folder)
    watcher = FolderWatcher(folder, (st.st_dev, st.st_ino), wanted)
    observer.schedule(watcher, str(folder), recursive=False, event_filter=WATCHED_EVENTS)
    observer.start()
    return watcher, observer, type(observer).__name__ == "InotifyObserver"


def writer_done(watcher: FolderWatcher | None, path: Path, version: Version, mtime: float,
                now: float, *, closes_reported: bool, held: dict[str, tuple[Version, float]],
                settle_seconds: float) -> bool:
    """Whether the changed file at ``path`` may be read: its writer is done with it.

    Done when no change without its close-after-write is known (Linux), when no one holds it
    open for writing (Windows), or when this version (modified at ``mtime``, seconds since the
    epoch) is older than the settle time. A file
    not yet done is kept in ``held`` (its version and since when, ``now`` being monotonic):
    every look at it again goes by it.
    """
    name = path.name
    if watcher is None:
        held.pop(name, None)
        return True
    with watcher.cond:
        writing = name in watcher.writing
    if writing and not closes_reported and _nobody_writing(path):
        writing = False
    if writing:
        known = held.get(name)
        if known is None or known[0] != version:
            held[name] = known = (version, now)
        age = max(now - known[1], time.time() - mtime)
        if age < settle_seconds:
            return False
        log.info("%s: changed %.0f s ago and not closed yet; reading it", name, age)
    if writing or not closes_reported:
        with watcher.cond:
            watcher.writing.discard(name)
    held.pop(name, None)
    return True


class _LostEvents(logging.Handler):
    """watchdog reports an inotify queue overflow (events lost) only in its log: listen for it."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.watchers: set[FolderWatcher] = set()

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            for watcher in list(self.watchers):
                with watcher.cond:
                    watcher.rescan = True


LOST_EVENTS = _LostEvents()
"""Installed on watchdog's logger by :func:`wldesk.core.libraries.configure_libraries`."""
