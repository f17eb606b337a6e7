"""The headless core of the `.wl` editor: load, check, change, save, create, archive, templates.

No Qt here; the window builds on this API.

* :func:`load_document` reads a `.wl` file into a :class:`Document` (a pydicom dataset plus what is
  needed to save it faithfully and to notice that someone else changed the file meanwhile).
* The editor changes ``document.dataset`` directly, or through :func:`set_element_text`, which
  takes the text the user typed and checks it with :func:`validate_value`.
* :func:`save_document` writes the file atomically in its original transfer syntax, with its file
  meta information. Every element whose value the editor did not change is written with its
  original bytes, so opening and saving a file changes nothing but what was edited (pydicom only
  drops retired group lengths and writes elements in tag order). Text that the dataset's Specific
  Character Set cannot carry is refused with the attribute and the character named, never
  replaced.
* :func:`worklist_problems` says which keys modalities need are missing; :func:`value_problems`
  which values do not fit their VR. :func:`new_entry` makes a complete entry, optionally from a
  template (:func:`save_template`, :func:`list_templates`, :func:`load_template`).
* :func:`suggest_filename` and :func:`archive_entry` manage the files of the worklist folder; an
  archived file moves to ``<folder>/archive/``, which the server does not serve (it serves only
  the folder's top level).
"""

from __future__ import annotations

import calendar
import contextlib
import copy
import errno
import io
import json
import os
import re
import struct
import threading
import uuid
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pydicom
from pydicom import config as pydicom_config
from pydicom.datadict import dictionary_VM, dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.filewriter import dcmwrite
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence as DicomSequence
from pydicom.tag import BaseTag, Tag
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    generate_uid,
)
from pydicom.valuerep import PersonName

from wldesk import __version__
from wldesk.core.charsets import UTF8, can_encode, charset_terms, is_default
from wldesk.core.check import missing_keys
from wldesk.core.fileio import atomic_create_bytes, atomic_write_bytes
from wldesk.core.node import Node
from wldesk.core.wlfile import TEXT_VRS, Raw, WorklistFileError, walk

__all__ = [
    "ARCHIVE_FOLDER",
    "DEFAULT_CHARSET",
    "IMPLEMENTATION_CLASS_UID",
    "IMPLEMENTATION_VERSION_NAME",
    "KNOWN_VRS",
    "TEMPLATE_FORMAT",
    "WORKLIST_SOP_CLASS_UID",
    "ConflictError",
    "Document",
    "EditError",
    "FileIdentity",
    "Template",
    "ValueProblem",
    "archive_entry",
    "element_text",
    "encode_document",
    "encoding_problems",
    "generate_id",
    "list_templates",
    "load_document",
    "load_template",
    "new_document",
    "new_entry",
    "new_file_meta",
    "person_name",
    "save_document",
    "save_new_entry",
    "save_template",
    "set_element_text",
    "suggest_filename",
    "template_from_entry",
    "text_of",
    "validate_element",
    "validate_value",
    "value_from_text",
    "value_problems",
    "worklist_problems",
]

WORKLIST_SOP_CLASS_UID = "1.2.276.0.7230010.3.1.0.1"
"""MediaStorageSOPClassUID of new files: DCMTK's private worklist UID, what dump2dcm writes."""
IMPLEMENTATION_CLASS_UID = "2.25." + str(uuid.uuid5(uuid.NAMESPACE_URL, "https://wldesk/implementation").int)
"""wldesk's ImplementationClassUID (a UUID-derived UID, PS3.5 B.2: no organisation root needed)."""
IMPLEMENTATION_VERSION_NAME = f"WLDESK_{__version__}"[:16]
DEFAULT_CHARSET = UTF8
"""The Specific Character Set of new entries: UTF-8 (ISO_IR 192) carries every script."""

_NATIVE_SYNTAXES = (ImplicitVRLittleEndian, ExplicitVRLittleEndian, ExplicitVRBigEndian,
                    DeflatedExplicitVRLittleEndian)
_SINGLE_VALUED_VRS = frozenset({"LT", "ST", "UT", "UR"})
_STRING_VRS = TEXT_VRS | {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "TM", "UI", "UR"}
_INT_RANGES = {"US": (0, 2**16 - 1), "SS": (-(2**15), 2**15 - 1), "UL": (0, 2**32 - 1),
               "SL": (-(2**31), 2**31 - 1), "UV": (0, 2**64 - 1), "SV": (-(2**63), 2**63 - 1)}
_FLOAT_VRS = frozenset({"FL", "FD"})
_BINARY_VRS = frozenset({"OB", "OW", "UN", "OF", "OD", "OL", "OV"})
KNOWN_VRS = _STRING_VRS | set(_INT_RANGES) | _FLOAT_VRS | _BINARY_VRS | {"AT", "SQ"}
_MAX_LENGTH = {"AE": 16, "CS": 16, "SH": 16, "LO": 64, "ST": 1024, "LT": 10240, "UT": 2**32 - 2,
               "UR": 2**32 - 2, "DS": 16, "IS": 12, "UI": 64, "AS": 4}
_VR_NAMES = {"AE": "an AE title", "CS": "a code string", "SH": "a short string", "LO": "a long string",
             "ST": "a short text", "LT": "a long text", "UT": "an unlimited text",
             "UC": "an unlimited characters value", "UR": "a URI", "DS": "a decimal number",
             "IS": "a whole number", "UI": "a UID", "AS": "an age", "PN": "a person name"}


class EditError(Exception):
    """A file cannot be loaded or saved, or a value cannot be set; the message says why."""


class ConflictError(EditError):
    """The file changed on disk since it was loaded; saving would overwrite someone else's work."""


# ----------------------------------------------------------------------------------------------
# Documents


@dataclass(frozen=True)
class FileIdentity:
    """What tells that a file was replaced or changed: size, modification time and inode."""

    size: int
    mtime_ns: int
    inode: int

    @classmethod
    def of(cls, st: os.stat_result) -> FileIdentity:
        return cls(st.st_size, st.st_mtime_ns, st.st_ino)

    @classmethod
    def of_path(cls, path: Path) -> FileIdentity | None:
        """The identity of the file at ``path`` now, or None when there is none."""
        try:
            return cls.of(os.stat(path))
        except OSError:
            return None


class Document:
    """One `.wl` entry being edited.

    ``dataset`` is the editable pydicom dataset (a ``FileDataset`` with ``file_meta`` for loaded
    files); every element is already decoded. ``path`` is where it was loaded from or last saved
    to (None for a new entry not saved yet), ``identity`` the file's size, mtime and inode at that
    moment, and ``notes`` what is worth telling the user about the file (e.g. a guessed character
    set, or values pydicom found invalid while reading).
    """

    def __init__(self, dataset: Dataset, path: Path | None = None, *,
                 original: bytes | None = None, identity: FileIdentity | None = None,
                 notes: Sequence[str] = ()) -> None:
        self.dataset = dataset
        self.path = path
        self.identity = identity
        self.notes: list[str] = list(notes)
        self._original = original
        self._baseline = _decode(original)[0] if original is not None else None

    @property
    def original_bytes(self) -> bytes | None:
        """The bytes of the file as loaded or last saved (None for a new, unsaved entry)."""
        return self._original

    @property
    def transfer_syntax(self) -> UID:
        """The transfer syntax the document is saved in (the original one for loaded files)."""
        meta = getattr(self.dataset, "file_meta", None)
        syntax = meta.get("TransferSyntaxUID") if meta is not None else None
        if syntax:
            return UID(str(syntax))
        implicit, little = self.dataset.original_encoding
        if implicit:
            return ImplicitVRLittleEndian
        return ExplicitVRLittleEndian if little is not False else ExplicitVRBigEndian

    @property
    def charset(self) -> list[str]:
        """The Specific Character Set terms of the dataset ([] = default repertoire, ASCII)."""
        terms = charset_terms(self.dataset.get("SpecificCharacterSet"))
        return terms if any(terms) else []

    def changed_on_disk(self) -> bool:
        """True when the file at ``path`` is no longer the one loaded (or last saved) here:
        changed, replaced, or deleted. Always False for a document never saved."""
        if self.path is None or self.identity is None:
            return False
        return FileIdentity.of_path(self.path) != self.identity

    def is_modified(self) -> bool:
        """True when the dataset differs in substance from the file as loaded or last saved."""
        if self._baseline is None:
            return True
        return not _same_dataset(self._baseline, self.dataset)

    def problems(self) -> list[str]:
        """The keys modalities need that are missing (see :func:`worklist_problems`)."""
        return worklist_problems(self.dataset)

    def value_problems(self) -> list[ValueProblem]:
        """Values that do not fit their VR (see :func:`value_problems`)."""
        return value_problems(self.dataset)

    def _saved(self, path: Path, data: bytes) -> None:
        self.path = path
        self.identity = FileIdentity.of_path(path)
        self._original = data
        self._baseline = _decode(data)[0]


def new_document(dataset: Dataset) -> Document:
    """A document for a new entry (e.g. from :func:`new_entry`), saved with a new file meta."""
    return Document(dataset)


def _read_identity_and_bytes(path: Path) -> tuple[FileIdentity, bytes]:
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        data = f.read()
    return FileIdentity.of(st), data


def load_document(path: Path | str) -> Document:
    """Load the `.wl` file at ``path``; raise :class:`EditError` when it cannot be read, is
    incomplete (truncated, still being written) or is not DICOM."""
    path = Path(path)
    try:
        identity, data = _read_identity_and_bytes(path)
    except IsADirectoryError:
        raise EditError(f"{path} is a folder, not a worklist file") from None
    except OSError as exc:
        raise EditError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        dataset, notes = _decode(data)
    except EditError as exc:
        raise EditError(f"{path}: {exc}") from None
    return Document(dataset, path, original=data, identity=identity, notes=notes)


def _text_payloads(raws: list[Raw]) -> Iterator[bytes]:
    for _, vr, payload in raws:
        if vr == "SQ":
            for item in payload:
                yield from _text_payloads(item)
        elif vr in TEXT_VRS:
            yield bytes(payload)


def _guess_encoding(raws: list[Raw], notes: list[str]) -> str | None:
    """The Python codec for a file without (0008,0005) but with non-ASCII text (as the server
    reads it: UTF-8 when valid, else Latin-1), or None when the file needs no guess."""
    for tag, _, payload in raws:
        if tag == 0x00080005 and bytes(payload).strip(b" \0"):
            return None
    texts = list(_text_payloads(raws))
    if all(t.isascii() for t in texts):
        return None
    try:
        for text in texts:
            text.decode("utf-8")
    except UnicodeDecodeError:
        notes.append("no SpecificCharacterSet (0008,0005); its text was read as Latin-1 "
                     "(ISO_IR 100). Set SpecificCharacterSet before changing text.")
        return None  # pydicom's default is Latin-1 already
    notes.append("no SpecificCharacterSet (0008,0005); its text was read as UTF-8 (ISO_IR 192). "
                 "Set SpecificCharacterSet to ISO_IR 192 before changing text.")
    return "utf_8"


def _decode(data: bytes) -> tuple[Dataset, list[str]]:
    """Prove ``data`` a complete DICOM file and decode every element of it."""
    try:
        raws = walk(data)
    except WorklistFileError as exc:
        raise EditError(str(exc)) from None
    notes: list[str] = []
    encoding = _guess_encoding(raws, notes)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = pydicom.dcmread(io.BytesIO(data), force=True)
            if encoding is not None:
                implicit, little = ds.original_encoding
                ds.set_original_encoding(implicit, little, encoding)
            for _ in ds.iterall():  # decode every element now, while warnings are being caught
                pass
    except (InvalidDicomError, EOFError, OSError, ValueError, KeyError, TypeError,
            NotImplementedError, LookupError) as exc:
        raise EditError(f"not a readable DICOM file ({exc})") from None
    notes.extend(sorted({str(w.message) for w in caught}))
    return ds, notes


# ----------------------------------------------------------------------------------------------
# Saving


def new_file_meta(transfer_syntax: str = str(ExplicitVRLittleEndian)) -> FileMetaDataset:
    """File meta information for a new `.wl` file, as dump2dcm writes it but naming wldesk."""
    meta = FileMetaDataset()
    meta.FileMetaInformationVersion = b"\x00\x01"
    meta.MediaStorageSOPClassUID = UID(WORKLIST_SOP_CLASS_UID)
    meta.MediaStorageSOPInstanceUID = generate_uid(prefix=None)
    meta.TransferSyntaxUID = UID(transfer_syntax)
    meta.ImplementationClassUID = UID(IMPLEMENTATION_CLASS_UID)
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
    return meta


def _complete_meta(given: FileMetaDataset | None) -> FileMetaDataset:
    """``given`` (e.g. read from a dump) with what a file meta needs filled in, or a new one."""
    syntax = given.get("TransferSyntaxUID") if given is not None else None
    if given is None or not syntax:
        return new_file_meta()
    if UID(str(syntax)) not in _NATIVE_SYNTAXES:
        raise EditError(f"transfer syntax {syntax} is not one a worklist file can use "
                        "(implicit or explicit VR little endian, explicit big endian, deflated)")
    meta = copy.deepcopy(given)
    fresh = new_file_meta(str(syntax))
    for keyword in ("FileMetaInformationVersion", "MediaStorageSOPClassUID",
                    "MediaStorageSOPInstanceUID", "ImplementationClassUID",
                    "ImplementationVersionName"):
        if not meta.get(keyword):
            setattr(meta, keyword, getattr(fresh, keyword))
    return meta


def _where(prefix: str, elem: DataElement) -> str:
    name = elem.keyword or f"({elem.tag.group:04X},{elem.tag.element:04X})"
    return f"{prefix}{name}"


def _texts(elem: DataElement, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(where, text) of every text value in ``elem`` (sequences included)."""
    if elem.VR == "SQ":
        for number, item in enumerate(elem.value or (), start=1):
            for child in item:
                yield from _texts(child, f"{_where(prefix, elem)} item {number}: ")
    elif elem.VR in TEXT_VRS and elem.value is not None:
        values = elem.value if isinstance(elem.value, (list, MultiValue)) else [elem.value]
        for value in values:
            if str(value):
                yield _where(prefix, elem), str(value)


def _charset_name(terms: Sequence[str]) -> str:
    shown = "\\".join(terms)
    return shown if shown.strip() else "the default character set (ASCII)"


def encoding_problems(ds: Dataset, texts: Sequence[tuple[str, str]] | None = None) -> list[str]:
    """Text that ``ds``'s Specific Character Set cannot carry: one message per value, naming the
    attribute and the first character that does not fit. ``texts`` restricts the check to some
    (where, text) pairs; by default every text value of ``ds`` is checked."""
    terms = charset_terms(ds.get("SpecificCharacterSet"))
    terms = terms if any(terms) else [""]
    if texts is None:
        texts = [pair for elem in ds for pair in _texts(elem)]
    if not can_encode([], terms):
        if any(not text.isascii() for _, text in texts):
            return [f"SpecificCharacterSet (0008,0005) {_charset_name(terms)} is not a character "
                    "set wldesk knows; use ISO_IR 192 (UTF-8)"]
        return []
    default = is_default(terms)
    problems = []
    for where, text in texts:
        if text.isascii() or (not default and can_encode([text], terms)):
            continue
        bad = next((c for c in text if not c.isascii() and (default or not can_encode([c], terms))),
                   text[0])
        problems.append(f"{where}: the character {bad!r} (U+{ord(bad):04X}) cannot be written in "
                        f"{_charset_name(terms)}; change SpecificCharacterSet to ISO_IR 192 "
                        "(UTF-8) or remove the character")
    return problems


def _canon_value(elem: DataElement) -> Any:
    if elem.VR == "SQ":
        return tuple(_canon_dataset(item) for item in elem.value or ())
    value = elem.value
    if value is None:
        return ()
    if isinstance(value, (bytes, bytearray)):
        return (bytes(value),) if value else ()
    values = list(value) if isinstance(value, (MultiValue, list, tuple)) else [value]
    out = tuple(str(v) if isinstance(v, (str, PersonName)) or elem.VR in ("DS", "IS") else v
                for v in values)
    return () if out in (("",), (None,)) else out


def _canon_dataset(ds: Dataset) -> tuple[Any, ...]:
    return tuple((int(elem.tag), elem.VR, _canon_value(elem)) for elem in ds)


def _same_element(a: DataElement, b: DataElement) -> bool:
    return a.VR == b.VR and _canon_value(a) == _canon_value(b)


def _same_dataset(a: Dataset, b: Dataset) -> bool:
    return _canon_dataset(a) == _canon_dataset(b)


def _has_text(elem: DataElement) -> bool:
    return next(_texts(elem), None) is not None


def _merge(raw: Dataset, old: Dataset, new: Dataset, *, reencode_text: bool, prefix: str,
           encoded: list[tuple[str, str]]) -> None:
    """Make ``raw`` (the original file, elements undecoded) hold ``new``'s elements, keeping the
    original bytes of every element whose value ``old`` (the original, decoded) shows unchanged.
    The text values that will be newly encoded are added to ``encoded``."""
    for gone in [t for t in tuple(raw.keys()) if t not in new]:
        del raw[gone]
    for elem in new:
        tag = elem.tag
        before = old.get(tag)
        if before is not None and _same_element(before, elem) \
                and not (reencode_text and _has_text(elem)):
            continue
        if before is not None and before.VR == "SQ" and elem.VR == "SQ" and tag in raw:
            raw_items = raw[tag].value
            items: list[Dataset] = []
            for number, item in enumerate(elem.value or (), start=1):
                if number <= min(len(raw_items), len(before.value)):
                    _merge(raw_items[number - 1], before.value[number - 1], item,
                           reencode_text=reencode_text,
                           prefix=f"{_where(prefix, elem)} item {number}: ", encoded=encoded)
                    items.append(raw_items[number - 1])
                else:
                    encoded.extend(pair for child in item
                                   for pair in _texts(child, f"{_where(prefix, elem)} item {number}: "))
                    items.append(item)
            raw[tag] = DataElement(tag, "SQ", DicomSequence(items))
            continue
        encoded.extend(_texts(elem, prefix))
        raw[tag] = elem


def _write(ds: Dataset, enforce_file_format: bool) -> bytes:
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            dcmwrite(buffer, ds, enforce_file_format=enforce_file_format)
    except (ValueError, TypeError, KeyError, NotImplementedError, OverflowError, LookupError,
            AttributeError) as exc:
        raise EditError(f"cannot encode the entry: {exc}") from None
    replaced = [str(w.message) for w in caught if "replacement" in str(w.message)]
    if replaced:  # the checks above should have caught it; never write replaced text
        raise EditError(f"cannot encode the entry: {replaced[0]}")
    data = buffer.getvalue()
    try:
        walk(data)
    except WorklistFileError as exc:  # pragma: no cover - would be a pydicom bug
        raise EditError(f"the encoded entry is not a valid file ({exc})") from None
    return data


def _terms(ds: Dataset) -> list[str]:
    terms = charset_terms(ds.get("SpecificCharacterSet"))
    return terms if any(terms) else []


def encode_document(doc: Document) -> bytes:
    """The bytes :func:`save_document` would write; raises :class:`EditError` on text the
    character set cannot carry, or anything else that cannot be encoded."""
    current = doc.dataset
    terms = _terms(current)
    if doc.original_bytes is None:
        problems = encoding_problems(current)
        if problems:
            raise EditError("; ".join(problems))
        out = Dataset()
        for elem in current:
            out.add(elem)
        out.file_meta = _complete_meta(getattr(current, "file_meta", None))
        return _write(out, enforce_file_format=True)
    raw = _read_raw(doc.original_bytes)
    old, _ = _decode(doc.original_bytes)
    old_terms = _terms(old)
    encoded: list[tuple[str, str]] = []
    with warnings.catch_warnings():  # decoding the original again: its notes are known already
        warnings.simplefilter("ignore")
        _merge(raw, old, current, reencode_text=terms != old_terms, prefix="", encoded=encoded)
    problems = encoding_problems(current, encoded)
    if problems:
        raise EditError("; ".join(problems))
    if terms == old_terms:  # unchanged character set: write the kept bytes as they are
        implicit, little = raw.original_encoding
        raw.set_original_encoding(implicit, little, raw._character_set)
    return _write(raw, enforce_file_format=False)


def _read_raw(data: bytes) -> Dataset:
    """The file's dataset with its elements left undecoded (to write their original bytes)."""
    encoding = _guess_encoding(walk(data), [])
    ds = pydicom.dcmread(io.BytesIO(data), force=True)
    if encoding is not None:
        implicit, little = ds.original_encoding
        ds.set_original_encoding(implicit, little, encoding)
    return ds


def save_document(doc: Document, path: Path | str | None = None, *, force: bool = False,
                  new: bool = False) -> Path:
    """Write ``doc`` to ``path`` (default: where it was loaded from) atomically and return the path.

    With ``new`` the file must not exist yet: FileExistsError when it does (see
    :func:`save_new_entry`).

    Loaded files keep their transfer syntax and file meta; new ones get :func:`new_file_meta`
    (explicit VR little endian). The bytes are built first, then written through a temporary
    file renamed over the target: on any failure (permission, full disk) the previous file stays
    byte-identical and :class:`EditError` says why. Saving over the loaded file when it changed on
    disk meanwhile raises :class:`ConflictError` unless ``force`` is true.
    """
    target = Path(path) if path is not None else doc.path
    if target is None:
        raise EditError("the entry has never been saved: choose a file name")
    if not force and doc.path is not None and _same_path(target, doc.path) and doc.changed_on_disk():
        raise ConflictError(f"{target} was changed or removed by someone else since it was opened; "
                            "reload it, or save anyway to overwrite it")
    data = encode_document(doc)
    try:
        mode = os.stat(target).st_mode & 0o7777
    except OSError:
        mode = None
    try:
        (atomic_create_bytes if new else atomic_write_bytes)(target, data)
    except FileExistsError:  # only with ``new``: the caller chooses another name
        raise
    except OSError as exc:
        reason = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        raise EditError(f"cannot save {target}: {reason}") from None
    if mode is not None:  # the temporary file was created private; keep the file's permissions
        with contextlib.suppress(OSError):
            os.chmod(target, mode)
    else:
        with contextlib.suppress(OSError):
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(target, 0o666 & ~umask)
    doc._saved(target, data)
    return target


def _same_path(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


# ----------------------------------------------------------------------------------------------
# Values as text


def _resolve_tag(key: int | str | BaseTag) -> BaseTag:
    if isinstance(key, str):
        found = tag_for_keyword(key)
        if found is None:
            try:
                return Tag(key)
            except (ValueError, OverflowError):
                raise EditError(f"unknown attribute {key!r}") from None
        return Tag(found)
    return Tag(key)


def _dictionary_vr(tag: BaseTag) -> str:
    if tag.is_private:
        return "LO" if tag.is_private_creator else "UN"
    try:
        vr = dictionary_VR(tag)
    except KeyError:
        return "UN"
    return vr.split(" or ")[0]


def element_text(elem: DataElement | None) -> str:
    """The value of ``elem`` as the editor shows it: several values separated by a backslash,
    person names as ``Family^Given``, tags as ``(gggg,eeee)``, binary values as hexadecimal
    (OB/UN bytes ``01\\ff``, OW words ``0201``); "" for an empty or absent element or a sequence."""
    if elem is None or elem.VR == "SQ" or elem.value is None:
        return ""
    value = elem.value
    vr = elem.VR
    if vr in ("OB", "UN") or (isinstance(value, bytes) and vr not in _BINARY_VRS):
        return "\\".join(f"{b:02x}" for b in bytes(value))
    if vr in _BINARY_VRS:
        fmt = {"OW": "<H", "OF": "<f", "OD": "<d", "OL": "<I", "OV": "<Q"}[vr]
        size = struct.calcsize(fmt)
        raw = bytes(value)
        numbers = [struct.unpack_from(fmt, raw, i)[0] for i in range(0, len(raw) - size + 1, size)]
        if vr == "OW":
            return "\\".join(f"{n:04x}" for n in numbers)
        return "\\".join(_number_text(n, vr) for n in numbers)
    values = list(value) if isinstance(value, (MultiValue, list, tuple)) else [value]
    if vr == "AT":
        return "\\".join(f"({int(t) >> 16:04x},{int(t) & 0xFFFF:04x})" for t in values)
    return "\\".join(_number_text(v, vr) for v in values)


def text_of(ds: Dataset, key: int | str | BaseTag) -> str:
    """:func:`element_text` of the element ``key`` (keyword or tag) of ``ds`` ("" when absent)."""
    tag = _resolve_tag(key)
    return element_text(ds[tag]) if tag in ds else ""


def _number_text(value: Any, vr: str) -> str:
    if value is None:
        return ""
    if vr in ("FL", "OF") and isinstance(value, float):
        return f"{value:.9g}"  # enough digits to give back the same 32-bit float
    if vr in ("FD", "OD") and isinstance(value, float):
        return repr(value)  # the shortest text giving back the same 64-bit float
    return str(value)


def _binary_format_reason(vr: str) -> str:
    if vr == "OW":
        return "OW values are hexadecimal words separated by a backslash, e.g. 0201\\0403"
    return f"{vr} values are hexadecimal bytes separated by a backslash, e.g. 01\\ff"


def _hex_values(text: str, digits: int, vr: str) -> list[int]:
    values = []
    for part in (p.strip() for p in text.split("\\")):
        if not re.fullmatch(f"[0-9a-fA-F]{{1,{digits}}}", part):
            raise ValueError(_binary_format_reason(vr))
        values.append(int(part, 16))
    return values


def value_from_text(vr: str, text: str) -> Any:
    """The pydicom value for ``text`` typed for an element of ``vr`` (the inverse of
    :func:`element_text`); raises ValueError when the text cannot be converted. Text VRs are
    taken as given (see :func:`validate_value` for the checks)."""
    import struct

    if text == "":
        return "" if vr in _STRING_VRS else None
    if vr in _SINGLE_VALUED_VRS:
        return text
    if vr in _STRING_VRS:
        parts = text.split("\\")
        return parts[0] if len(parts) == 1 else parts
    if vr in ("OB", "UN"):
        return bytes(_hex_values(text, 2, vr))
    if vr == "OW":
        return b"".join(struct.pack("<H", w) for w in _hex_values(text, 4, vr))
    parts = text.split("\\")
    if vr in ("OF", "OD", "OL", "OV"):
        fmt = {"OF": "<f", "OD": "<d", "OL": "<I", "OV": "<Q"}[vr]
        try:
            numbers: list[Any] = [float(p) if vr in ("OF", "OD") else int(p) for p in parts]
            return b"".join(struct.pack(fmt, n) for n in numbers)
        except (ValueError, struct.error):
            raise ValueError(f"{vr} values are numbers separated by a backslash") from None
    if vr in _INT_RANGES:
        ints = [int(p.strip()) for p in parts]
        return ints[0] if len(ints) == 1 else ints
    if vr in _FLOAT_VRS:
        floats = [float(p.strip()) for p in parts]
        return floats[0] if len(floats) == 1 else floats
    if vr == "AT":
        tags = [_parse_at(p) for p in parts]
        return tags[0] if len(tags) == 1 else tags
    raise ValueError(f"cannot set a value of VR {vr} from text")


def _parse_at(text: str) -> int:
    match = re.fullmatch(r"\s*\(?\s*([0-9a-fA-F]{4})\s*,?\s*([0-9a-fA-F]{4})\s*\)?\s*", text)
    if not match:
        raise ValueError("a tag is (gggg,eeee) in hexadecimal, e.g. (0010,0010)")
    return int(match.group(1), 16) << 16 | int(match.group(2), 16)


def set_element_text(ds: Dataset, key: int | str | BaseTag, text: str, vr: str | None = None, *,
                     check: bool = True) -> DataElement:
    """Set the element ``key`` (keyword or tag) of ``ds`` from the text the user typed, creating
    it when absent (with ``vr``, else the element's or the dictionary's VR). With ``check``, the
    text must pass :func:`validate_element`; otherwise :class:`EditError` names the attribute and
    says why. Returns the element set."""
    tag = _resolve_tag(key)
    existing = ds.get(tag)
    chosen = vr or (existing.VR if existing is not None else _dictionary_vr(tag))
    if chosen == "SQ":
        raise EditError(f"{keyword_for_tag(tag) or tag} is a sequence; edit its items instead")
    if check:
        reason = validate_element(tag, text, chosen)
        if reason is not None:
            raise EditError(f"{keyword_for_tag(tag) or tag}: {reason}")
    try:
        value = value_from_text(chosen, text)
    except ValueError as exc:
        raise EditError(f"{keyword_for_tag(tag) or tag}: {exc}") from None
    elem = DataElement(tag, chosen, value, validation_mode=pydicom_config.IGNORE)
    ds[tag] = elem
    return ds[tag]


# ----------------------------------------------------------------------------------------------
# Validation

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]")  # not TAB LF FF CR ESC
_TEXT_CONTROL = re.compile(r"[\x00-\x1a\x1c-\x1f\x7f]")  # in one-line strings: ESC only
_DA = "a date is YYYYMMDD, e.g. 20261127"
_TM = "a time is HHMMSS, HHMM or HH (24-hour clock, optional fraction .ffffff), e.g. 143000 or 1430"
_DT = ("a date and time is YYYYMMDDHHMMSS (later parts optional, optional fraction .ffffff and "
       "offset +HHMM), e.g. 20261127143000")


def _check_date(text: str) -> str | None:
    if not re.fullmatch(r"\d{8}", text):
        return _DA
    year, month, day = int(text[:4]), int(text[4:6]), int(text[6:])
    if year < 1 or not 1 <= month <= 12:
        return f"{text} is not a real date: {_DA}"
    days = calendar.monthrange(year, month)[1]
    if not 1 <= day <= days:
        return (f"{text} is not a real date: {calendar.month_name[month]} {year} has {days} days")
    return None


def _check_time(text: str, what: str = _TM) -> str | None:
    match = re.fullmatch(r"(\d{2})(\d{2})?(\d{2})?(\.\d{1,6})?", text)
    if not match or (match.group(4) and not match.group(3)):
        return what
    hours, minutes, seconds = (int(g) if g else 0 for g in match.group(1, 2, 3))
    if hours > 23:
        return f"{text}: hours go from 00 to 23"
    if minutes > 59:
        return f"{text}: minutes go from 00 to 59"
    if seconds > 60:
        return f"{text}: seconds go from 00 to 59"
    return None


def _check_datetime(text: str) -> str | None:
    match = re.fullmatch(r"(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\.\d{1,6})?([+-]\d{4})?",
                         text)
    if not match:
        return _DT
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    if fraction and not second:
        return _DT
    if month and not 1 <= int(month) <= 12:
        return f"{text}: months go from 01 to 12"
    if day:
        reason = _check_date(year + month + day)
        if reason:
            return reason
    if hour:
        reason = _check_time(hour + (minute or "") + (second or "") + (fraction or ""))
        if reason:
            return reason
    if offset and not (-1200 <= int(offset) <= 1400 and int(offset[-2:]) < 60):
        return f"{text}: the UTC offset must be between -1200 and +1400"
    return None


def _check_number(text: str, vr: str) -> str | None:
    stripped = text.strip(" ")
    if vr == "IS":
        if not re.fullmatch(r"[+-]?\d+", stripped):
            return "a whole number, e.g. 42 or -7"
        if not -(2**31) <= int(stripped) <= 2**31 - 1:
            return "a whole number from -2147483648 to 2147483647"
    elif not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", stripped):
        return "a decimal number, e.g. 72.5, -3 or 1e-3"
    return None


def _check_uid(text: str) -> str | None:
    if not re.fullmatch(r"[0-9.]+", text):
        return "a UID has only digits and dots, e.g. 1.2.840.10008.5.1.4.31"
    for component in text.split("."):
        if not component:
            return "a UID is numbers separated by single dots, e.g. 1.2.840.10008.5.1.4.31"
        if len(component) > 1 and component.startswith("0"):
            return f"the UID component {component} has a leading zero (not allowed)"
    return None


def _check_person_name(text: str) -> str | None:
    groups = text.split("=")
    if len(groups) > 3:
        return "a person name has at most 3 groups separated by = (alphabetic=ideographic=phonetic)"
    for group in groups:
        if len(group.split("^")) > 5:
            return ("a person name has at most 5 parts separated by ^ "
                    "(family^given^middle^prefix^suffix)")
        if len(group) > 64:
            return "each group of a person name has at most 64 characters"
    if _TEXT_CONTROL.search(text):
        return "a person name cannot contain line breaks or control characters"
    return None


def _check_one(vr: str, text: str) -> str | None:
    """The reason one value (no backslash for multi-valued VRs) is invalid for ``vr``."""
    limit = _MAX_LENGTH.get(vr)
    if limit is not None and len(text) > limit:
        name = _VR_NAMES.get(vr, f"a {vr} value")
        return f"{name} has at most {limit} characters ({len(text)} given)"
    if vr == "DA":
        return _check_date(text)
    if vr == "TM":
        return _check_time(text)
    if vr == "DT":
        return _check_datetime(text)
    if vr == "PN":
        return _check_person_name(text)
    if vr == "CS":
        if not re.fullmatch(r"[A-Z0-9 _]*", text):
            return ("a code string has only upper-case letters A-Z, digits, spaces and "
                    "underscores, e.g. CT or ROUTINE")
        return None
    if vr == "AE":
        if not text.isascii() or _TEXT_CONTROL.search(text):
            return "an AE title has only plain ASCII letters, digits and symbols"
        if not text.strip(" "):
            return "an AE title cannot be only spaces"
        return None
    if vr == "AS":
        return None if re.fullmatch(r"\d{3}[DWMY]", text) else \
            "an age is three digits and D, W, M or Y (days, weeks, months, years), e.g. 045Y"
    if vr in ("DS", "IS"):
        return _check_number(text, vr)
    if vr == "UI":
        return _check_uid(text)
    if vr in ("SH", "LO", "UC"):
        if _TEXT_CONTROL.search(text):
            return "line breaks and control characters are not allowed here"
        return None
    if vr in ("ST", "LT", "UT"):
        return "control characters are not allowed (line breaks and tabs are)" \
            if _CONTROL.search(text) else None
    if vr == "UR":
        return "a URI cannot start with a space" if text.startswith(" ") else None
    if vr in _INT_RANGES:
        low, high = _INT_RANGES[vr]
        if not re.fullmatch(r"\s*[+-]?\d+\s*", text) or not low <= int(text) <= high:
            return f"a whole number from {low} to {high}"
        return None
    if vr in _FLOAT_VRS or vr in ("OF", "OD"):
        try:
            float(text)
        except ValueError:
            return "a number, e.g. 1.5 or -2e-3"
        return None
    if vr in ("OL", "OV"):
        return None if re.fullmatch(r"\s*\d+\s*", text) else "a whole number, 0 or more"
    if vr in ("OB", "UN", "OW"):
        digits = 4 if vr == "OW" else 2
        if not re.fullmatch(f"[0-9a-fA-F]{{1,{digits}}}", text.strip()):
            return _binary_format_reason(vr)
        return None
    if vr == "AT":
        try:
            _parse_at(text)
        except ValueError as exc:
            return str(exc)
        return None
    return None


def validate_value(vr: str, text: str) -> str | None:
    """The reason ``text`` is not a valid value for ``vr``, in plain words, or None when it is.

    An empty text is valid (an empty value). Several values are separated by a backslash and each
    is checked, except for LT, ST, UT and UR, whose single value may contain backslashes.
    """
    vr = vr.upper()
    if vr not in KNOWN_VRS:
        return f"unknown value representation {vr!r}"
    if vr == "SQ":
        return "a sequence holds items, not a text value"
    if text == "":
        return None
    if vr in _SINGLE_VALUED_VRS:
        return _check_one(vr, text)
    parts = text.split("\\")
    for number, part in enumerate(parts, start=1):
        if part == "" and vr not in _STRING_VRS:
            return f"value {number} is empty (two backslashes in a row?)"
        reason = _check_one(vr, part)
        if reason is not None:
            return reason if len(parts) == 1 else f"value {number} ({part!r}): {reason}"
    return None


def _max_vm(tag: BaseTag) -> int | None:
    try:
        vm = dictionary_VM(tag)
    except KeyError:
        return None
    if "n" in vm:
        return None
    try:
        return int(vm.split("-")[-1])
    except ValueError:
        return None


def validate_element(key: int | str | BaseTag, text: str, vr: str | None = None) -> str | None:
    """:func:`validate_value` for the attribute ``key`` (keyword or tag), also checking the number
    of values the dictionary allows (e.g. Patient ID holds one value, so no backslash)."""
    tag = _resolve_tag(key)
    chosen = vr or _dictionary_vr(tag)
    reason = validate_value(chosen, text)
    if reason is not None or text == "" or chosen in _SINGLE_VALUED_VRS or chosen in _BINARY_VRS:
        return reason
    count = len(text.split("\\"))
    limit = _max_vm(tag) if not tag.is_private else None
    if limit is not None and count > limit:
        if limit == 1:
            return "this attribute holds one value; a backslash (\\) separates values"
        return f"this attribute holds at most {limit} values ({count} given)"
    return None


@dataclass(frozen=True)
class ValueProblem:
    """A value that does not fit its VR: where (e.g. ``ScheduledProcedureStepSequence item 1:
    Modality``), the path of (tag, item index) steps to it, and the reason."""

    where: str
    path: tuple[tuple[int, int], ...]  # ((sequence tag, item index), ...) then (tag, -1)
    reason: str


def value_problems(ds: Dataset) -> list[ValueProblem]:
    """Every value of ``ds`` (sequence items included) that does not fit its VR or the number of
    values its attribute allows; group lengths and binary values are not checked."""
    found: list[ValueProblem] = []
    _collect_value_problems(ds, "", (), found)
    return found


def _collect_value_problems(ds: Dataset, prefix: str, path: tuple[tuple[int, int], ...],
                            found: list[ValueProblem]) -> None:
    for elem in ds:
        tag = elem.tag
        if tag.element == 0:
            continue
        if elem.VR == "SQ":
            for index, item in enumerate(elem.value or ()):
                _collect_value_problems(item, f"{_where(prefix, elem)} item {index + 1}: ",
                                        (*path, (int(tag), index)), found)
            continue
        if elem.VR in _BINARY_VRS or elem.VR not in KNOWN_VRS:
            continue
        reason = validate_element(tag, element_text(elem), elem.VR)
        if reason is not None:
            found.append(ValueProblem(_where(prefix, elem), (*path, (int(tag), -1)), reason))


def worklist_problems(ds: Dataset) -> list[str]:
    """What makes modalities (and wlmscpfs) drop this entry: missing or empty keys of PS3.4 Table
    K.6-1, in plain words ([] when the entry is complete)."""
    return missing_keys(Node.from_dataset(ds))


# ----------------------------------------------------------------------------------------------
# New entries

_id_lock = threading.Lock()
_id_state = {"second": 0, "counter": 0}


def generate_id(now: datetime | None = None) -> str:
    """A new identifier: ``YYMMDDHHMMSS`` and a 4-digit counter (16 digits, fits SH).

    Identifiers strictly increase within a process, also when the clock goes back or more than
    10,000 are made in one second, so two are never the same.
    """
    moment = now or datetime.now()
    second = int(moment.replace(microsecond=0).timestamp())
    with _id_lock:
        if second > _id_state["second"]:
            _id_state["second"], _id_state["counter"] = second, 0
        else:
            _id_state["counter"] += 1
            if _id_state["counter"] > 9999:
                _id_state["second"] += 1
                _id_state["counter"] = 0
        second, counter = _id_state["second"], _id_state["counter"]
    stamp = datetime.fromtimestamp(second).strftime("%y%m%d%H%M%S")
    return f"{stamp}{counter:04d}"


def person_name(family: str = "", given: str = "", middle: str = "", prefix: str = "",
                suffix: str = "") -> str:
    """The PN value of the name components (``Family^Given^Middle^Prefix^Suffix``, trailing empty
    components dropped)."""
    return "^".join([family, given, middle, prefix, suffix]).rstrip("^")


# Type 2 keys of PS3.4 Table K.6-1 that new entries hold, empty when not given
_TYPE2_KEYS = frozenset({"PatientBirthDate", "PatientSex", "ReferringPhysicianName",
                         "RequestedProcedurePriority"})


def _date_text(value: str | date | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.strftime("%Y%m%d")


def _time_text(value: str | time | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.strftime("%H%M%S")


def new_entry(*, template: Dataset | None = None,
              patient_name: str | None = None, family_name: str | None = None,
              given_name: str | None = None, middle_name: str | None = None,
              name_prefix: str | None = None, name_suffix: str | None = None,
              patient_id: str | None = None, birth_date: str | date | None = None,
              sex: str | None = None, accession_number: str | None = None,
              requested_procedure_id: str | None = None,
              requested_procedure_description: str | None = None,
              referring_physician: str | None = None, priority: str | None = None,
              modality: str | None = None, station_aet: str | None = None,
              scheduled_date: str | date | None = None, scheduled_time: str | time | None = None,
              step_description: str | None = None, step_id: str | None = None,
              charset: str | None = None, now: datetime | None = None) -> Dataset:
    """A complete worklist entry that modalities accept (:func:`worklist_problems` is empty).

    Arguments left None keep the ``template``'s value (see :func:`load_template`) or are filled
    in: StudyInstanceUID is always new; an empty AccessionNumber, RequestedProcedureID or
    ScheduledProcedureStepID gets :func:`generate_id` (one identifier for all three); the
    scheduled date and time default to ``now``; each of RequestedProcedureDescription and
    ScheduledProcedureStepDescription defaults to the other. The patient name is ``patient_name``
    (a PN string) or the ``family_name``... ``name_suffix`` components, not both.
    SpecificCharacterSet is ``charset`` (default: the template's, else ISO_IR 192), and
    ReferencedStudySequence and ReferencedPatientSequence are present and empty. Raises
    :class:`EditError` listing every value that is invalid or missing (patient name and ID,
    modality, station AE title, a procedure description).
    """
    moment = now or datetime.now()
    ds = copy.deepcopy(template) if template is not None else Dataset()
    if hasattr(ds, "file_meta"):
        del ds.file_meta
    components = (family_name, given_name, middle_name, name_prefix, name_suffix)
    if patient_name is not None and any(c is not None for c in components):
        raise EditError("give the patient name either as a PN string or as components, not both")
    if any(c is not None for c in components):
        patient_name = person_name(*(c or "" for c in components))
    top: dict[str, str | None] = {
        "PatientName": patient_name, "PatientID": patient_id,
        "PatientBirthDate": _date_text(birth_date), "PatientSex": sex,
        "AccessionNumber": accession_number, "RequestedProcedureID": requested_procedure_id,
        "RequestedProcedureDescription": requested_procedure_description,
        "ReferringPhysicianName": referring_physician, "RequestedProcedurePriority": priority}
    step: dict[str, str | None] = {
        "Modality": modality, "ScheduledStationAETitle": station_aet,
        "ScheduledProcedureStepStartDate": _date_text(scheduled_date),
        "ScheduledProcedureStepStartTime": _time_text(scheduled_time),
        "ScheduledProcedureStepDescription": step_description,
        "ScheduledProcedureStepID": step_id}
    errors: list[str] = []
    if charset is not None:
        ds.SpecificCharacterSet = charset
    elif not ds.get("SpecificCharacterSet"):
        ds.SpecificCharacterSet = DEFAULT_CHARSET
    sequence = ds.get("ScheduledProcedureStepSequence")
    if not isinstance(sequence, DicomSequence) or not sequence:
        ds.ScheduledProcedureStepSequence = DicomSequence([Dataset()])
    sps = ds.ScheduledProcedureStepSequence[0]
    for target, values in ((ds, top), (sps, step)):
        for keyword, text in values.items():
            if text is None:
                if keyword in _TYPE2_KEYS and keyword not in target:
                    set_element_text(target, keyword, "", check=False)
                continue
            try:
                set_element_text(target, keyword, text)
            except EditError as exc:
                errors.append(str(exc))
    if "ScheduledPerformingPhysicianName" not in sps:
        sps.ScheduledPerformingPhysicianName = ""
    new_id = generate_id(moment)
    for target, keyword in ((ds, "AccessionNumber"), (ds, "RequestedProcedureID"),
                            (sps, "ScheduledProcedureStepID")):
        if not text_of(target, keyword).strip():
            set_element_text(target, keyword, new_id)
    if not text_of(sps, "ScheduledProcedureStepStartDate").strip():
        sps.ScheduledProcedureStepStartDate = moment.strftime("%Y%m%d")
    if not text_of(sps, "ScheduledProcedureStepStartTime").strip():
        sps.ScheduledProcedureStepStartTime = moment.strftime("%H%M%S")
    requested = text_of(ds, "RequestedProcedureDescription").strip()
    described = text_of(sps, "ScheduledProcedureStepDescription").strip()
    if not requested and described and "RequestedProcedureCodeSequence" not in ds:
        ds.RequestedProcedureDescription = described
    if not described and requested and "ScheduledProtocolCodeSequence" not in sps:
        sps.ScheduledProcedureStepDescription = requested
    ds.StudyInstanceUID = generate_uid(prefix=None)
    for keyword in ("ReferencedStudySequence", "ReferencedPatientSequence"):
        if keyword not in ds:
            setattr(ds, keyword, DicomSequence([]))
    errors += [f"{p.where}: {p.reason}" for p in value_problems(ds)]
    errors += worklist_problems(ds)
    errors += encoding_problems(ds)
    if errors:
        raise EditError("; ".join(dict.fromkeys(errors)))
    return ds


# ----------------------------------------------------------------------------------------------
# Files of the worklist folder

_WINDOWS_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                               *(f"LPT{i}" for i in range(1, 10))})


def _safe_stem(text: str, default: str = "entry") -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", text.strip()).strip("._-")[:64]
    if not stem or stem.split(".")[0].upper() in _WINDOWS_RESERVED:
        stem = f"{default}_{stem}" if stem else default
    return stem


def _unique(folder: Path, stem: str, suffix: str) -> Path:
    try:
        taken = {p.name.casefold() for p in folder.iterdir()}
    except OSError:
        taken = set()
    number = 1
    while True:
        name = f"{stem}{suffix}" if number == 1 else f"{stem}-{number}{suffix}"
        if name.casefold() not in taken and not (folder / name).exists():
            return folder / name
        number += 1


def suggest_filename(ds: Dataset, folder: Path | str) -> Path:
    """A new, unused ``.wl`` path in ``folder`` named after the AccessionNumber (else the
    PatientID): only letters, digits, ``.``, ``_`` and ``-`` (never hidden, never a reserved
    Windows name), made unique with ``-2``, ``-3``... (compared without case)."""
    folder = Path(folder)
    for keyword in ("AccessionNumber", "PatientID"):
        text = text_of(ds, keyword).strip()
        if text:
            return _unique(folder, _safe_stem(text), ".wl")
    return _unique(folder, "entry", ".wl")


def save_new_entry(doc: Document, folder: Path | str) -> Path:
    """Save a new entry into ``folder`` under :func:`suggest_filename`'s name, never over a file
    that appears there meanwhile (a RIS export, another editor): then the next free name."""
    for _ in range(1000):
        try:
            return save_document(doc, suggest_filename(doc.dataset, folder), new=True)
        except FileExistsError:
            continue
    raise EditError(f"no free file name for the entry in {folder}")


ARCHIVE_FOLDER = "archive"


def archive_entry(path: Path | str) -> Path:
    """Move the `.wl` file at ``path`` into ``<its folder>/archive/`` (created) instead of deleting
    it, keeping its name (``-2``, ``-3``... added when taken); return its new path. The server
    serves only the folder's top level, so an archived entry is no longer served."""
    path = Path(path)
    if not path.is_file():
        raise EditError(f"{path} is not a file")
    archive = path.parent / ARCHIVE_FOLDER
    try:
        archive.mkdir(exist_ok=True)
    except OSError as exc:
        raise EditError(f"cannot create {archive}: {exc.strerror or exc}") from None
    stem, suffix = path.stem, path.suffix
    for _ in range(1000):
        target = _unique(archive, stem, suffix)
        try:
            os.link(path, target)  # fails instead of overwriting a file archived meanwhile
        except FileExistsError:
            continue
        except OSError:
            if target.exists():
                continue
            try:
                os.replace(path, target)
            except OSError as exc:
                raise EditError(f"cannot move {path} to {archive}: {exc.strerror or exc}") from None
            return target
        try:
            os.unlink(path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(target)
            raise EditError(f"cannot move {path} to {archive}: {exc.strerror or exc}") from None
        return target
    raise EditError(f"cannot find a free name in {archive}")  # pragma: no cover


# ----------------------------------------------------------------------------------------------
# Templates

TEMPLATE_FORMAT = "wldesk-template"
_PATIENT_KEYWORDS = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex",
                     "AccessionNumber", "StudyInstanceUID", "RequestedProcedureID",
                     "ScheduledProcedureStepID", "IssuerOfPatientID", "OtherPatientIDs",
                     "OtherPatientNames", "PatientAge", "PatientWeight", "PatientSize",
                     "AdmissionID", "PlacerOrderNumberImagingServiceRequest",
                     "FillerOrderNumberImagingServiceRequest", "StudyID")
_EMPTIED_SEQUENCES = ("ReferencedStudySequence", "ReferencedPatientSequence",
                      "OtherPatientIDsSequence")


@dataclass(frozen=True)
class Template:
    """A saved template: its display name and file."""

    name: str
    path: Path


def template_from_entry(ds: Dataset) -> Dataset:
    """A copy of ``ds`` without patient- and order-specific values: the attributes of the patient
    (group 0010) and visit (group 0038), accession number, Study Instance UID, the requested
    procedure and step IDs and every date, time and date-time are emptied (kept, so the template
    shows what to fill in); the referenced study and patient sequences lose their items. The
    procedure, protocol codes, modality, station and descriptions stay."""
    out = copy.deepcopy(ds)
    if hasattr(out, "file_meta"):
        del out.file_meta
    _clear_patient_values(out)
    return out


def _clear_patient_values(ds: Dataset) -> None:
    for elem in list(ds):
        keyword = elem.keyword
        if elem.VR == "SQ":
            if keyword in _EMPTIED_SEQUENCES:
                elem.value = DicomSequence([])
            else:
                for item in elem.value or ():
                    _clear_patient_values(item)
            continue
        if elem.tag.element == 0:
            continue
        if (keyword in _PATIENT_KEYWORDS or elem.VR in ("DA", "TM", "DT")
                or (elem.tag.group in (0x0010, 0x0038) and not elem.tag.is_private)):
            ds[elem.tag] = DataElement(elem.tag, elem.VR, "" if elem.VR in _STRING_VRS else None)


def _template_file_name(name: str) -> str:
    return _safe_stem(name, "template") + ".json"


def save_template(ds: Dataset, name: str, templates_dir: Path | str) -> Path:
    """Save ``ds`` as the template ``name`` (see :func:`template_from_entry`) in
    ``templates_dir`` (created), as JSON (the DICOM JSON model with the name); a template of the
    same name is replaced. Returns the file."""
    name = name.strip()
    if not name:
        raise EditError("a template needs a name")
    folder = Path(templates_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EditError(f"cannot create {folder}: {exc.strerror or exc}") from None
    target = folder / _template_file_name(name)
    number = 1
    while target.exists() and _template_name(target) not in (None, name):
        number += 1
        target = folder / (_safe_stem(name, "template") + f"-{number}.json")
    document = {"format": TEMPLATE_FORMAT, "version": 1, "name": name,
                "dataset": template_from_entry(ds).to_json_dict()}
    data = (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
    try:
        atomic_write_bytes(target, data)
    except OSError as exc:
        raise EditError(f"cannot save the template {target}: {exc.strerror or exc}") from None
    return target


def _template_json(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise EditError(f"cannot read the template {path}: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != TEMPLATE_FORMAT \
            or not isinstance(document.get("dataset"), dict):
        raise EditError(f"{path} is not a wldesk template")
    return document


def _template_name(path: Path) -> str | None:
    try:
        name = _template_json(path).get("name")
    except EditError:
        return None
    return name if isinstance(name, str) else None


def list_templates(templates_dir: Path | str) -> list[Template]:
    """The templates in ``templates_dir``, sorted by name (none when the folder does not exist);
    files that are not templates are skipped."""
    folder = Path(templates_dir)
    try:
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".json" and p.is_file())
    except OSError:
        return []
    found = []
    for path in files:
        name = _template_name(path)
        if name is not None:
            found.append(Template(name, path))
    return sorted(found, key=lambda t: (t.name.casefold(), t.name))


def load_template(path: Path | str) -> Dataset:
    """The dataset of the template at ``path`` (give it to :func:`new_entry` as ``template``)."""
    path = Path(path)
    document = _template_json(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Dataset.from_json(document["dataset"])
    except (ValueError, TypeError, KeyError) as exc:
        raise EditError(f"cannot read the template {path}: {exc}") from None
