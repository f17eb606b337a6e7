"""The folder index saved in the cache folder, so that a restarted server answers at once.

Indexing 100,000 files reads and parses every one of them (18-20 s after a restart of the PC);
loading a snapshot of their parsed entries takes a fraction of that. The snapshot is only a
hint: the store keeps an entry of it only when the file's identity (size, modification and change
time, inode: ``watch.file_version``) is the same in the folder's listing; any other file is read.

Format: a text file of JSON lines, never code (a file other users could write must not run
anything when loaded). The first line says what it is: the format number, the wldesk and Python
versions (a file's version is a Python hash) and the folder. Then, in order, a line
``["L", tags, vrs]`` for each dataset layout when first used (numbered from 0) and a line
``[name, version, charset, notes, node]`` per entry, a node being ``[layout number, values]``;
bytes are ``{"b": base64}``, several values a list, a sequence a list of nodes.
A snapshot that is missing, of another folder or format, or unreadable is ignored (logged as
information): the folder is then indexed in full, as without one.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import json
import logging
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from wldesk import __version__
from wldesk.core.dicom.node import Layout, LayoutCache, Node, shared
from wldesk.core.fileio import atomic_open
from wldesk.core.paths import cache_dir

log = logging.getLogger(__name__)

FORMAT = 1
MAGIC = "wldesk index snapshot"

Row = tuple[str, int, tuple[str, ...], tuple[str, ...], Node]
"""One entry: file name, file version, charset terms, notes, its dataset."""


class _Unsaved(Exception):
    """A value of a type the snapshot does not keep (the entry is read from its file instead)."""


def snapshot_path(folder: Path, cache: Path | None = None) -> Path:
    """Where the snapshot of ``folder``'s index is kept (one per folder): in ``cache`` (the
    self-test's own folder), by default the user's cache folder's ``index``."""
    key = hashlib.sha256(os.path.abspath(folder).encode("utf-8", "surrogatepass")).hexdigest()[:20]
    return (cache if cache is not None else cache_dir() / "index") / f"{key}.jsonl"


def _header(folder: Path) -> dict[str, Any]:
    return {"what": MAGIC, "format": FORMAT, "wldesk": __version__,
            "python": f"{sys.implementation.name}-{sys.version_info[0]}.{sys.version_info[1]}"
                      f"-{sys.hash_info.width}",
            "folder": os.path.abspath(folder)}


def _value(vr: str, value: Any, layouts: dict[int, int], out: list[str]) -> Any:
    if vr == "SQ":
        return [_node(item, layouts, out) for item in value]
    kind = type(value)
    if kind is str or kind is int or kind is float:
        return value
    if kind is bytes:
        return {"b": base64.b64encode(value).decode("ascii")}
    if kind is tuple and all(type(v) in (str, int, float) for v in value):
        return list(value)
    raise _Unsaved(f"{vr} value of type {kind.__name__}")


def _node(node: Node, layouts: dict[int, int], out: list[str]) -> list[Any]:
    layout = node.layout
    number = layouts.get(id(layout))
    if number is None:
        number = layouts[id(layout)] = len(layouts)
        out.append(json.dumps(["L", layout.tags, layout.vrs]))
    return [number, [_value(vr, v, layouts, out) for vr, v in zip(layout.vrs, node.values, strict=True)]]


def save(path: Path, folder: Path, rows: Iterable[Row]) -> int:
    """Write the snapshot of ``folder``'s entries atomically; how many entries it holds.

    Raises OSError when it cannot be written (the previous snapshot, if any, stays)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    layouts: dict[int, int] = {}
    saved = 0
    with atomic_open(path) as fh:
        fh.write(json.dumps(_header(folder)).encode("utf-8") + b"\n")
        for name, version, charset, notes, node in rows:
            lines: list[str] = []
            try:
                encoded = _node(node, layouts, lines)
            except _Unsaved:
                # its layouts, written already, stay numbered: the next entries may use them
                fh.write("".join(f"{line}\n" for line in lines).encode("utf-8"))
                continue
            lines.append(json.dumps([name, version, list(charset), list(notes), encoded]))
            fh.write("".join(f"{line}\n" for line in lines).encode("utf-8", "surrogatepass"))
            saved += 1
    return saved


def _decode_node(encoded: list[Any], layouts: list[Layout], cache: LayoutCache) -> Node:
    number, values = encoded
    layout = layouts[number]
    if len(values) != len(layout.tags):
        raise ValueError("a dataset's values do not fit its layout")
    decoded: list[Any] = []
    for tag, vr, value in zip(layout.tags, layout.vrs, values, strict=True):
        if vr == "SQ":
            decoded.append(tuple(_decode_node(item, layouts, cache) for item in value))
        elif type(value) is str:
            decoded.append(cache.text(value) if shared(tag, vr) else value)
        elif type(value) is list:
            share = shared(tag, vr)
            decoded.append(tuple(cache.text(v) if share and type(v) is str else v for v in value))
        elif type(value) is dict:
            decoded.append(base64.b64decode(value["b"], validate=True))
        elif type(value) in (int, float):
            decoded.append(value)
        else:
            raise ValueError(f"a value of type {type(value).__name__}")
    return Node(layout, tuple(decoded))


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
            layouts: list[Layout] = []
            rows: list[Row] = []
            body = fh.read().rstrip(b"\n").replace(b"\n", b",")  # one parse: faster than per line
            for item in json.loads(b"[" + body + b"]"):
                if item[0] == "L":
                    layouts.append(cache.layout(tuple(int(t) for t in item[1]),
                                                tuple(str(v) for v in item[2])))
                    continue
                name, version, charset, notes, node = item
                if not (isinstance(name, str) and type(version) is int):
                    raise ValueError("an entry without a name or version")
                rows.append((name, version, tuple(map(str, charset)), tuple(map(str, notes)),
                             _decode_node(node, layouts, cache)))
        except (OSError, ValueError, TypeError, KeyError, IndexError, RecursionError) as exc:
            log.info("the index snapshot %s cannot be used (%s): indexing every file", path, exc)
            return None
        finally:
            if collecting:
                gc.enable()
    return rows
