"""The folder index saved in the cache folder, so that a restarted server answers at once.

Indexing 100,000 files reads and parses every one of them (18-20 s after a restart of the PC);
loading a snapshot of their parsed entries takes a fraction of that. The snapshot is only a
hint: the store keeps an entry of it only when the file's identity (size, modification and change
time, inode: ``watch.file_version``) is the same in the folder's listing; any other file is read.

Format: a first line of JSON saying what the file is (the format number, the wldesk and Python
versions, since a file's version is a Python hash, and the folder), then a stream of pickles made
by one pickler: lists of entries ``(name, version, charset terms, notes, node)``, then ``None``.
One pickler shares each string, layout and value between entries as the index shares them, and
loading it takes a tenth of the time of parsing the same entries as JSON (100,000 entries: 0.2 s
against 1.5-3 s). A pickle can name functions to call; the loader calls none but its own two
checked constructors of nodes and layouts (:class:`_Loader`), so a snapshot that another program
or user changed runs nothing: it is refused like a corrupt one.
A snapshot that is missing, of another folder or format, or unreadable is ignored (logged as
information): the folder is then indexed in full, as without one.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import os
import pickle
import sys
from collections.abc import Iterable
from itertools import islice
from pathlib import Path
from typing import IO, Any

from wldesk import __version__
from wldesk.core.dicom.node import Layout, LayoutCache, Node
from wldesk.core.fileio import atomic_open
from wldesk.core.paths import cache_dir

log = logging.getLogger(__name__)

FORMAT = 2
MAGIC = "wldesk index snapshot"
CHUNK = 1000
"""Entries per pickle: the pickler keeps each chunk alive until the end of the save."""

Row = tuple[str, int, tuple[str, ...], tuple[str, ...], Node]
"""One entry: file name, file version, charset terms, notes, its dataset."""

_VALUE_TYPES = frozenset({str, int, float, bytes, tuple})
_MULTIPLE_TYPES = frozenset({str, int, float})
_NODES = frozenset({Node})
_NODE = (Node.__module__, Node.__qualname__)
_LAYOUT = (Layout.__module__, Layout.__qualname__)


def snapshot_path(folder: Path, cache: Path | None = None) -> Path:
    """Where the snapshot of ``folder``'s index is kept (one per folder): in ``cache`` (the
    self-test's own folder), by default the user's cache folder's ``index``."""
    key = hashlib.sha256(os.path.abspath(folder).encode("utf-8", "surrogatepass")).hexdigest()[:20]
    return (cache if cache is not None else cache_dir() / "index") / f"{key}.snapshot"


def _header(folder: Path) -> dict[str, Any]:
    return {"what": MAGIC, "format": FORMAT, "wldesk": __version__,
            "python": f"{sys.implementation.name}-{sys.version_info[0]}.{sys.version_info[1]}"
                      f"-{sys.hash_info.width}",
            "folder": os.path.abspath(folder)}


def _savable(node: Node) -> bool:
    """Whether every value of ``node`` is of a type the loader accepts (entries read through
    pydicom may hold others: they are read from their files instead)."""
    values = node.values
    if not _VALUE_TYPES.issuperset(map(type, values)):
        return False
    for vr, value in zip(node.layout.vrs, values, strict=True):
        if type(value) is tuple and not (
                all(type(item) is Node and _savable(item) for item in value) if vr == "SQ"
                else _MULTIPLE_TYPES.issuperset(map(type, value))):
            return False
    return True


class _Pickler(pickle.Pickler):
    """Pickles nodes and layouts as calls of their constructors (and nothing else)."""

    def reducer_override(self, obj: Any) -> Any:
        kind = type(obj)
        if kind is Node:
            return Node, (obj.layout, obj.values)
        if kind is Layout:
            return Layout, (obj.tags, obj.vrs)
        return NotImplemented


def snapshot_pickler(fh: IO[bytes]) -> pickle.Pickler:
    """The pickler of a snapshot's stream of entries (after its header line)."""
    return _Pickler(fh, protocol=pickle.HIGHEST_PROTOCOL)


def save(path: Path, folder: Path, rows: Iterable[Row]) -> int:
    """Write the snapshot of ``folder``'s entries atomically; how many entries it holds.

    Raises OSError when it cannot be written (the previous snapshot, if any, stays)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    saved = 0
    with atomic_open(path) as fh:
        fh.write(json.dumps(_header(folder)).encode("utf-8") + b"\n")
        pickler = snapshot_pickler(fh)
        kept = (row for row in rows if _savable(row[4]))
        while chunk := list(islice(kept, CHUNK)):
            pickler.dump(chunk)
            saved += len(chunk)
        pickler.dump(None)
    return saved


class _Loader(pickle.Unpickler):
    """Unpickles a snapshot's stream: the only callables it hands out are its own checked
    constructors of layouts (shared through the store's cache) and nodes."""

    def __init__(self, fh: IO[bytes], cache: LayoutCache) -> None:
        super().__init__(fh)
        self.cache = cache
        self.sequences: dict[int, tuple[int, ...]] = {}  # id(layout) -> positions of its SQs
        # what each checked constructor made, to see at the end that the stream did not change it
        # afterwards (a pickle can set an object's attributes: its BUILD instruction)
        self.layouts: list[tuple[Layout, tuple[int, ...], tuple[str, ...], dict[int, int]]] = []
        self.nodes: list[Node] = []
        self.node_layouts: list[Layout] = []
        self.node_values: list[tuple[Any, ...]] = []

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == _NODE:
            return self._node
        if (module, name) == _LAYOUT:
            return self._layout
        raise pickle.UnpicklingError(f"it names {module}.{name}")

    def _layout(self, tags: Any, vrs: Any) -> Layout:
        if not (type(tags) is tuple and type(vrs) is tuple and len(tags) == len(vrs)
                and all(type(t) is int for t in tags) and all(type(v) is str for v in vrs)):
            raise ValueError("a layout that is not one")
        layout = self.cache.layout(tags, vrs)
        self.sequences[id(layout)] = tuple(i for i, vr in enumerate(vrs) if vr == "SQ")
        self.layouts.append((layout, layout.tags, layout.vrs, layout.index))
        return layout

    def _node(self, layout: Any, values: Any) -> Node:
        if type(layout) is not Layout or id(layout) not in self.sequences:
            raise ValueError("a dataset without its layout")
        if type(values) is not tuple or len(values) != len(layout.tags):
            raise ValueError("a dataset's values do not fit its layout")
        types = list(map(type, values))
        if not _VALUE_TYPES.issuperset(types):
            raise ValueError("a value of another type")
        sequences = self.sequences[id(layout)]
        for i in sequences:
            if type(values[i]) is not tuple or not _NODES.issuperset(map(type, values[i])):
                raise ValueError("a sequence that is not one")
        if types.count(tuple) > len(sequences):  # values of several texts or numbers
            for i, value in enumerate(values):
                if (type(value) is tuple and i not in sequences
                        and not _MULTIPLE_TYPES.issuperset(map(type, value))):
                    raise ValueError("a multiple value holding other than texts and numbers")
        node = Node(layout, values)
        self.nodes.append(node)
        self.node_layouts.append(layout)
        self.node_values.append(values)
        return node

    def release(self) -> None:
        """Break the cycle the stream's memo makes: it holds this loader's constructors, and so
        the loader with its memo and lists (200,000 objects, ~20 MB at 100,000 entries), which
        only the cyclic collector would free otherwise."""
        self.memo.clear()

    def unchanged(self) -> bool:
        """Whether every layout and node made is still as it was checked."""
        return (all(layout.tags is tags and layout.vrs is vrs and layout.index is index
                    for layout, tags, vrs, index in self.layouts)
                and all(node.layout is layout and node.values is values for node, layout, values
                        in zip(self.nodes, self.node_layouts, self.node_values, strict=True)))


def _rows(loader: _Loader) -> list[Row]:
    rows: list[Row] = []
    while (chunk := loader.load()) is not None:
        if type(chunk) is not list:
            raise ValueError("not a list of entries")
        for row in chunk:
            if not (type(row) is tuple and len(row) == 5 and type(row[0]) is str
                    and type(row[1]) is int and type(row[2]) is tuple and type(row[3]) is tuple
                    and type(row[4]) is Node
                    and all(type(t) is str for t in (*row[2], *row[3]))):
                raise ValueError("an entry that is not one")
            rows.append(row)
    if not loader.unchanged():
        raise ValueError("a dataset or layout changed after it was checked")
    return rows


def load(path: Path, folder: Path, cache: LayoutCache) -> list[Row] | None:
    """The entries of ``folder``'s snapshot, or None (logged) when there is none to use."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below, whatever happens
    except FileNotFoundError:
        log.info("no index snapshot of %s yet: indexing every file", folder)
        return None
    except OSError as exc:
        log.info("cannot read the index snapshot %s (%s): indexing every file", path,
                 exc.strerror or exc)
        return None
    collecting = gc.isenabled()
    gc.disable()  # the entries are acyclic: collections while they are built tripled the time
    with fh:
        try:
            header = json.loads(fh.readline())
            expected = _header(folder)
            if not isinstance(header, dict) or header.get("what") != MAGIC:
                raise ValueError("not an index snapshot")
            for key in ("format", "wldesk", "python", "folder"):
                if header.get(key) != expected[key]:
                    log.info("the index snapshot %s is of another %s (%s, not %s): indexing every "
                             "file", path, key, header.get(key), expected[key])
                    return None
            # layouts made in a cache of their own: the caller's gets them only from a snapshot
            # found sound (a changed one must not leave a layout that later files would share)
            own = LayoutCache()
            loader = _Loader(fh, own)
            try:
                rows = _rows(loader)
            finally:
                loader.release()
            cache.adopt(own)
            return rows
        except Exception as exc:  # whatever is wrong with it, it is not used
            log.info("the index snapshot %s cannot be used (%s: %s): indexing every file", path,
                     type(exc).__name__, exc)
            return None
        finally:
            if collecting:
                gc.enable()
