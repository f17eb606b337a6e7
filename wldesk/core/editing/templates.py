"""Entry templates: an entry without its patient and order values, kept as DICOM JSON in the
templates folder."""

from __future__ import annotations

import copy
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence

from wldesk.core.dicom.vr import STRING_VRS
from wldesk.core.editing.entries import safe_stem
from wldesk.core.editing.errors import EditError
from wldesk.core.editing.values import is_large
from wldesk.core.fileio import atomic_write_bytes

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
    shows what to fill in); the referenced study and patient sequences lose their items; large
    values (:func:`~wldesk.core.editing.values.is_large`, e.g. a 200 MB binary blob) are left out.
    The procedure, protocol codes, modality, station and descriptions stay."""
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
        if is_large(elem):
            del ds[elem.tag]
            continue
        if (keyword in _PATIENT_KEYWORDS or elem.VR in ("DA", "TM", "DT")
                or (elem.tag.group in (0x0010, 0x0038) and not elem.tag.is_private)):
            ds[elem.tag] = DataElement(elem.tag, elem.VR, "" if elem.VR in STRING_VRS else None)


def _template_file_name(name: str) -> str:
    return safe_stem(name, "template") + ".json"


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
        target = folder / (safe_stem(name, "template") + f"-{number}.json")
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
