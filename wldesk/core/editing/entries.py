"""New worklist entries (IDs, names, a complete dataset) and the files of the worklist folder:
file names and the archive."""

from __future__ import annotations

import contextlib
import copy
import os
import re
import threading
from datetime import date, datetime, time
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import (
    generate_uid,
)

from wldesk.core.dicom.charsets import choose
from wldesk.core.editing.document import DEFAULT_CHARSET, Document, save_document
from wldesk.core.editing.errors import EditError
from wldesk.core.editing.values import (
    encoding_problems,
    set_element_text,
    text_of,
    value_problems,
    worklist_problems,
)

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


JAPANESE_CHARSET = "ISO 2022 IR 6\\ISO 2022 IR 87"
KOREAN_CHARSET = "ISO 2022 IR 6\\ISO 2022 IR 149"


def name_in_scripts(alphabetic: str, ideographic: str = "", phonetic: str = "") -> str:
    """A PN value with its component groups: ``alphabetic=ideographic=phonetic`` (each group
    ``Family^Given...``; trailing empty groups dropped), e.g. Yamada^Tarou=山田^太郎=やまだ^たろう."""
    return "=".join([alphabetic, ideographic, phonetic]).rstrip("=")


def name_charset(name: str) -> str | None:
    """The Specific Character Set a name in several scripts needs: None when its ideographic and
    phonetic groups are ASCII or absent (the character set chosen for the rest stays), Japanese
    ISO 2022 IR 87 (kanji, hiragana, katakana) or Korean ISO 2022 IR 149 (hangul, hanja) when one
    of them carries the whole name, else UTF-8 (ISO_IR 192)."""
    if "=".join(name.split("=")[1:]).isascii():
        return None
    return "\\".join(choose([name], [JAPANESE_CHARSET.split("\\"),
                                     KOREAN_CHARSET.split("\\")]))


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
    for target, description, codes in (
            (ds, "RequestedProcedureDescription", "RequestedProcedureCodeSequence"),
            (sps, "ScheduledProcedureStepDescription", "ScheduledProtocolCodeSequence")):
        if codes in target and description in target and not text_of(target, description).strip():
            delattr(target, description)  # described by its codes: an empty description is an error
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


def safe_stem(text: str, default: str = "entry") -> str:
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
            return _unique(folder, safe_stem(text), ".wl")
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
"""The worklist folder's subfolder of archived entries: ``archive/YYYY-MM/`` (the month of
archiving). The server serves only the folder's top level, so an archived entry is not served."""


def move_into(path: Path | str, folder: Path | str) -> Path:
    """Move the file at ``path`` into ``folder`` (created with its parents), keeping its name
    (``-2``, ``-3``... added when taken, never over a file that appears meanwhile); its new path.
    Raises EditError saying why it could not."""
    path, folder = Path(path), Path(folder)
    if not path.is_file():
        raise EditError(f"{path} is not a file")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EditError(f"cannot create {folder}: {exc.strerror or exc}") from None
    stem, suffix = path.stem, path.suffix
    for _ in range(1000):
        target = _unique(folder, stem, suffix)
        try:
            os.link(path, target)  # fails instead of overwriting a file moved there meanwhile
        except FileExistsError:
            continue
        except OSError:
            if target.exists():
                continue
            try:
                os.replace(path, target)
            except OSError as exc:
                raise EditError(f"cannot move {path} to {folder}: {exc.strerror or exc}") from None
            return target
        try:
            os.unlink(path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(target)
            raise EditError(f"cannot move {path} to {folder}: {exc.strerror or exc}") from None
        return target
    raise EditError(f"cannot find a free name in {folder}")  # pragma: no cover


def archive_folder(folder: Path | str, when: datetime | None = None) -> Path:
    """Where entries of ``folder`` archived at ``when`` (now) go: ``archive/YYYY-MM``."""
    return Path(folder) / ARCHIVE_FOLDER / f"{when or datetime.now():%Y-%m}"


def archive_entry(path: Path | str, when: datetime | None = None) -> Path:
    """Move the `.wl` file at ``path`` into ``archive/YYYY-MM/`` beside it (the month of ``when``,
    now by default) instead of deleting it, keeping its name; return its new path."""
    path = Path(path)
    return move_into(path, archive_folder(path.parent, when))


def archived_entries(folder: Path | str) -> list[Path]:
    """The `.wl` files archived from ``folder``: its month folders' (newest month first), then
    those of ``archive/`` itself (archived before months were used), each by name."""
    archive = Path(folder) / ARCHIVE_FOLDER
    try:
        found = [p for p in archive.rglob("*") if p.suffix.lower() == ".wl" and p.is_file()]
    except OSError:
        return []
    found.sort(key=lambda p: p.name.casefold())
    found.sort(key=lambda p: (p.parent != archive, p.parent.name), reverse=True)
    return found


def restore_entry(archived_path: Path | str, folder: Path | str) -> Path:
    """Move an archived entry back to the top level of the worklist ``folder`` (its name kept, or
    made unique), where the server serves it again; its new path."""
    return move_into(archived_path, folder)
