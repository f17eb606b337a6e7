"""Atomic file writes: a temporary file in the target's folder, flushed, then renamed over it."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO


def _write_temp(path: Path, data: bytes) -> str:
    """A temporary file in ``path``'s folder holding ``data``, flushed to disk; its name."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    return tmp_name


def atomic_write_bytes(path: Path, data: bytes,
                       before_replace: Callable[[], None] | None = None) -> None:
    """Write ``data`` to ``path`` so that readers see either the old or the new file, never a mix.

    On any failure (permission, full disk) the original file is left untouched and the
    temporary file is removed; the exception propagates to the caller. ``before_replace`` is
    called once the new bytes are on disk, just before they are put in place: an exception it
    raises leaves ``path`` untouched (a last check that the file was not changed meanwhile).
    """
    path = Path(path)
    tmp_name = _write_temp(path, data)
    try:
        if before_replace is not None:
            before_replace()
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


@contextlib.contextmanager
def atomic_open(path: Path) -> Iterator[BinaryIO]:
    """A binary file to write ``path`` with piece by piece (a long export), put in place
    atomically when the ``with`` block ends without an exception; on any failure the temporary
    file is removed, ``path`` is left untouched and the exception propagates."""
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as tmp:
            yield tmp
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


def atomic_create_bytes(path: Path, data: bytes) -> None:
    """Like :func:`atomic_write_bytes` for a file that must not exist yet.

    Raises FileExistsError, having written nothing, when ``path`` exists: the operation that
    puts the file in place is the one that checks (a hard link on POSIX, a rename on Windows,
    neither of which replaces a file), so a file someone else creates meanwhile is never lost.
    Where the file system has no hard links the name is first claimed with an exclusive create.
    """
    path = Path(path)
    tmp_name = _write_temp(path, data)
    try:
        if os.name == "nt":
            os.rename(tmp_name, path)
        else:
            try:
                os.link(tmp_name, path)
            except FileExistsError:
                raise
            except OSError:  # no hard links here (FAT, some network shares)
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
                os.replace(tmp_name, path)
    finally:
        with contextlib.suppress(OSError):  # gone already after a rename
            os.unlink(tmp_name)


def read_json_object(path: Path | str, what: str) -> dict[str, Any]:
    """The JSON object in the file at ``path`` (UTF-8, a BOM allowed), e.g. a site's mapping
    file; raises ValueError naming ``what`` ("the HL7 mapping file") and the file, in plain words,
    when it cannot be read, is not JSON or holds something else than an object."""
    where = f"{what} {path}"
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise ValueError(f"{where} cannot be read: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{where} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{where} must hold a JSON object")
    return data
