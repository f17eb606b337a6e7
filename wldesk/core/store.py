"""The folder store: an index of the parsed `.wl` files of one folder, kept fresh.

Each refresh lists the folder and compares every file's identity (size, modification and change
times, inode) with the index; only new or changed files are read and parsed. A refresh at the
start of a query therefore serves every file completely written before the query, and nothing
deleted or replaced before it. A file that cannot be served is reported once per version.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset

from wldesk.core.charsets import charset_terms
from wldesk.core.events import FileProblemEvent
from wldesk.core.wlfile import WorklistFileError, parse_bytes

Version = tuple[int, int, int, int]  # size, mtime_ns, ctime_ns, inode


@dataclass(frozen=True)
class Entry:
    """One servable worklist file."""

    path: Path
    dataset: Dataset
    charset: list[str]  # its Specific Character Set terms (declared or inferred)
    notes: tuple[str, ...]
    version: Version


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


def is_worklist_file(name: str) -> bool:
    return name.lower().endswith(".wl") and not name.startswith(".")


def _version(st: os.stat_result) -> Version:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def read_entry(path: Path, version: Version | None = None) -> Entry:
    """Read and parse one file; raise WorklistFileError with a plain reason on any problem.

    ``version`` is the file's identity observed before reading (the store's listing), so that
    any change after that observation shows as a new version and is read again.
    """
    try:
        with open(path, "rb") as fh:
            data = fh.read()
            st = os.fstat(fh.fileno())
    except OSError as exc:
        raise WorklistFileError(f"cannot read the file ({exc.strerror or exc})") from None
    if st.st_size != len(data):
        raise WorklistFileError("the file changed while it was being read (still being written?)")
    parsed = parse_bytes(data)
    ds = parsed.dataset
    if "SpecificCharacterSet" in ds:
        charset = charset_terms(ds.SpecificCharacterSet)
    else:
        charset = ["ISO_IR 192"] if any("UTF-8" in n for n in parsed.notes) else []
    return Entry(path=path, dataset=ds, charset=charset, notes=parsed.notes,
                 version=_version(st) if version is None else version)


class FolderStore:
    """Index of one folder's `.wl` files. ``refresh()`` is thread-safe."""

    def __init__(self, folder: Path, report: Callable[[FileProblemEvent], None] | None = None):
        self.folder = Path(folder)
        self._report = report or (lambda event: None)
        self._lock = threading.Lock()
        self._entries: dict[str, Entry] = {}
        self._problems: dict[str, FileProblem] = {}
        self._folder_error: str | None = None
        self._snapshot = Snapshot((), ())

    def snapshot(self) -> Snapshot:
        """The last refreshed content, without touching the disk."""
        return self._snapshot

    def refresh(self) -> Snapshot:
        with self._lock:
            self._snapshot = self._refresh_locked()
            return self._snapshot

    def _list(self) -> dict[str, os.stat_result] | None:
        found: dict[str, os.stat_result] = {}
        try:
            with os.scandir(self.folder) as it:
                for item in it:
                    if not is_worklist_file(item.name):
                        continue
                    try:
                        if item.is_file():
                            found[item.name] = item.stat()
                    except OSError:
                        continue  # vanished between listing and stat
        except OSError as exc:
            error = f"cannot read the worklist folder {self.folder} ({exc.strerror or exc})"
            if error != self._folder_error:
                self._report(FileProblemEvent(path=self.folder, reason=error))
            self._folder_error = error
            return None
        if self._folder_error is not None:
            self._report(FileProblemEvent(path=self.folder, reason="readable again", resolved=True))
            self._folder_error = None
        return found

    def _refresh_locked(self) -> Snapshot:
        listing = self._list()
        if listing is None:
            for name in list(self._entries) + list(self._problems):
                self._forget(name)
            return Snapshot((), (), self._folder_error)
        for name in [n for n in list(self._entries) + list(self._problems) if n not in listing]:
            self._forget(name)
        for name, st in listing.items():
            version = _version(st)
            known = self._entries.get(name) or self._problems.get(name)
            if known is not None and known.version == version:
                continue
            self._load(name, version)
        entries = tuple(self._entries[n] for n in sorted(self._entries))
        problems = tuple(self._problems[n] for n in sorted(self._problems))
        return Snapshot(entries, problems)

    def _forget(self, name: str) -> None:
        self._entries.pop(name, None)
        problem = self._problems.pop(name, None)
        if problem is not None:
            self._report(FileProblemEvent(path=problem.path, reason="removed", resolved=True))

    def _load(self, name: str, version: Version) -> None:
        path = self.folder / name
        try:
            entry = read_entry(path, version)
        except WorklistFileError as exc:
            self._entries.pop(name, None)
            self._problems[name] = FileProblem(path=path, reason=str(exc), version=version)
            self._report(FileProblemEvent(path=path, reason=str(exc)))
            return
        self._entries[name] = entry
        if self._problems.pop(name, None) is not None:
            self._report(FileProblemEvent(path=path, reason="readable again", resolved=True))
