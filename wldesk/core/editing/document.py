"""The headless core of the `.wl` editor: load, check, change, save, create, archive, templates.

No Qt here; the window builds on this API.

* :func:`load_document` reads a `.wl` file into a :class:`Document` (a pydicom dataset plus what is
  needed to save it faithfully and to notice that someone else changed the file meanwhile).
* The editor changes ``document.dataset`` directly, with the elements
  :func:`~wldesk.core.editing.values.element_from_text` makes of the text the user typed (after
  checking it against the VR, the number of values and the character set), or through
  :func:`~wldesk.core.editing.values.set_element_text`.
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

import contextlib
import copy
import errno
import io
import os
import uuid
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.filewriter import dcmwrite
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence as DicomSequence
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
from wldesk.core.dicom.charsets import UTF8, charset_terms
from wldesk.core.dicom.vr import SPECIFIC_CHARACTER_SET, TEXT_VRS
from wldesk.core.dicom.wlfile import Raw, WorklistFileError, walk
from wldesk.core.editing.errors import ConflictError, EditError
from wldesk.core.editing.values import (
    ValueProblem,
    element_texts,
    element_where,
    encoding_problems,
    value_problems,
    worklist_problems,
)
from wldesk.core.fileio import atomic_create_bytes, atomic_write_bytes

WORKLIST_SOP_CLASS_UID = "1.2.276.0.7230010.3.1.0.1"
"""MediaStorageSOPClassUID of new files: DCMTK's private worklist UID, what dump2dcm writes."""
IMPLEMENTATION_CLASS_UID = "2.25." + str(uuid.uuid5(uuid.NAMESPACE_URL, "https://wldesk/implementation").int)
"""wldesk's ImplementationClassUID (a UUID-derived UID, PS3.5 B.2: no organisation root needed)."""
IMPLEMENTATION_VERSION_NAME = f"WLDESK_{__version__}"[:16]
DEFAULT_CHARSET = UTF8
"""The Specific Character Set of new entries: UTF-8 (ISO_IR 192) carries every script."""

_NATIVE_SYNTAXES = (ImplicitVRLittleEndian, ExplicitVRLittleEndian, ExplicitVRBigEndian,
                    DeflatedExplicitVRLittleEndian)
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

    ``raw`` is the file as loaded or last saved, its elements not decoded (:func:`_parse`): saving
    writes the bytes of every element not changed from it. The decoded copies (``dataset`` and the
    one :meth:`is_modified` compares with) share their binary values with it, so a file with a
    200 MB value takes about 200 MB, not three times that.
    """

    def __init__(self, dataset: Dataset, path: Path | None = None, *,
                 raw: Dataset | None = None, identity: FileIdentity | None = None,
                 notes: Sequence[str] = ()) -> None:
        self.dataset = dataset
        self.path = path
        self.identity = identity
        self.notes: list[str] = list(notes)
        self._raw = raw
        self._baseline = _decoded(raw)[0] if raw is not None else None

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
        self._raw = _parse(data)[0]
        self._baseline = _decoded(self._raw)[0]


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
        raw, notes = _parse(data)
        del data  # the file's bytes: ``raw`` holds its values now
        dataset, decoding_notes = _decoded(raw)
    except EditError as exc:
        raise EditError(f"{path}: {exc}") from None
    return Document(dataset, path, raw=raw, identity=identity, notes=notes + decoding_notes)


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
        if tag == SPECIFIC_CHARACTER_SET and bytes(payload).strip(b" \0"):
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


_READ_ERRORS = (InvalidDicomError, EOFError, OSError, ValueError, KeyError, TypeError,
                NotImplementedError, LookupError)


def _parse(data: bytes) -> tuple[Dataset, list[str]]:
    """The dataset of ``data`` with its elements not decoded yet (what saving writes back), after
    proving ``data`` a complete DICOM file, and the notes on its character set."""
    try:
        raws = walk(data)
    except WorklistFileError as exc:
        raise EditError(str(exc)) from None
    notes: list[str] = []
    encoding = _guess_encoding(raws, notes)
    del raws  # the walk's copies of the values: a large file must not be held twice more
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = pydicom.dcmread(io.BytesIO(data), force=True)
    except _READ_ERRORS as exc:
        raise EditError(f"not a readable DICOM file ({exc})") from None
    if isinstance(ds, FileDataset):
        ds.buffer = None  # the buffer would keep ``data`` alive beside the values read from it
    if encoding is not None:
        implicit, little = ds.original_encoding
        ds.set_original_encoding(implicit, little, encoding)
    notes.extend(sorted({str(w.message) for w in caught}))
    return ds, notes


def _decoded(raw: Dataset) -> tuple[Dataset, list[str]]:
    """A copy of ``raw`` (:func:`_parse`) with every element decoded, and pydicom's notes on its
    values. Binary values are not copied: the copy shares them with ``raw``."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = copy.deepcopy(raw)
            for _ in ds.iterall():  # decode every element now, while warnings are being caught
                pass
    except _READ_ERRORS as exc:
        raise EditError(f"not a readable DICOM file ({exc})") from None
    return ds, sorted({str(w.message) for w in caught})


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
    return next(element_texts(elem), None) is not None


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
                           prefix=f"{element_where(prefix, elem)} item {number}: ", encoded=encoded)
                    items.append(raw_items[number - 1])
                else:
                    where = f"{element_where(prefix, elem)} item {number}: "
                    encoded.extend(pair for child in item for pair in element_texts(child, where))
                    items.append(item)
            raw[tag] = DataElement(tag, "SQ", DicomSequence(items))
            continue
        encoded.extend(element_texts(elem, prefix))
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
    if doc._raw is None:
        problems = encoding_problems(current)
        if problems:
            raise EditError("; ".join(problems))
        out = Dataset()
        for elem in current:
            out.add(elem)
        out.file_meta = _complete_meta(getattr(current, "file_meta", None))
        return _write(out, enforce_file_format=True)
    raw = copy.deepcopy(doc._raw)  # changed here; its values (bytes) are shared, not copied
    old = doc._baseline
    assert old is not None  # a document with ``raw`` has a baseline
    old_terms = _terms(old)
    encoded: list[tuple[str, str]] = []
    with warnings.catch_warnings():  # decoding sequences of the original: notes known already
        warnings.simplefilter("ignore")
        _merge(raw, old, current, reencode_text=terms != old_terms, prefix="", encoded=encoded)
    problems = encoding_problems(current, encoded)
    if problems:
        raise EditError("; ".join(problems))
    if terms == old_terms:  # unchanged character set: write the kept bytes as they are
        implicit, little = raw.original_encoding
        raw.set_original_encoding(implicit, little, raw._character_set)
    return _write(raw, enforce_file_format=False)


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
    guarded = not force and doc.path is not None and _same_path(target, doc.path)

    def unchanged_on_disk() -> None:
        if guarded and doc.changed_on_disk():
            raise ConflictError(f"{target} was changed or removed by someone else since it was "
                                "opened; reload it, or save anyway to overwrite it")

    unchanged_on_disk()
    data = encode_document(doc)
    try:
        mode = os.stat(target).st_mode & 0o7777
    except OSError:
        mode = None
    try:
        if new:
            atomic_create_bytes(target, data)
        else:  # checked again at the last moment: the bytes took a while to make and write
            atomic_write_bytes(target, data, unchanged_on_disk)
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
