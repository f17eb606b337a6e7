"""Completeness check of worklist entries: the keys modalities need (PS3.4 Table K.6-1, type 1).

These are the checks DCMTK's wlmscpfs applies to reject files silently; wldesk still serves such
files, but tells the user, because many modalities drop entries that lack them.
"""

from __future__ import annotations

import codecs
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydicom.charset import python_encoding
from pydicom.datadict import tag_for_keyword

from wldesk.core.dicom.charsets import DEFINED_TERMS, undefined_terms
from wldesk.core.dicom.node import Node, values_of
from wldesk.core.profile import Profile
from wldesk.core.query.strict import strict_problems
from wldesk.core.store import FolderStore

_TOP_LEVEL_REQUIRED = ("RequestedProcedureID", "StudyInstanceUID", "PatientName", "PatientID")
_SPS_REQUIRED = ("ScheduledStationAETitle", "ScheduledProcedureStepStartDate",
                 "ScheduledProcedureStepStartTime", "Modality", "ScheduledProcedureStepID")


@dataclass(frozen=True)
class Finding:
    path: Path
    message: str
    serious: bool = True  # False: worth knowing, but not a reason for modalities to drop it

    def __str__(self) -> str:
        prefix = "" if self.serious else "note: "
        return f"{self.path}: {prefix}{self.message}"


def _tag(keyword: str) -> int:
    tag = tag_for_keyword(keyword)
    assert tag is not None, keyword
    return tag


def _present(ds: Node, keyword: str) -> bool:
    found = ds.get(_tag(keyword))
    return found is not None and found[0] != "SQ" and bool(values_of(found[1]))


def _description_or_code(ds: Node, description: str, codes: str, where: str) -> list[str]:
    """The 1C pair of a description and a code sequence, checked as wlmscpfs checks it."""
    problems = []
    if _tag(description) in ds and not _present(ds, description):
        problems.append(f"{where}{description} is present but empty")
    if _tag(codes) in ds:
        items = _items(ds, codes)
        if not items:
            problems.append(f"{where}{codes} is present but has no item")
        for number, item in enumerate(items, start=1):
            problems += [f"{where}{codes} item {number}: missing or empty {k}"
                         for k in ("CodeValue", "CodingSchemeDesignator") if not _present(item, k)]
    elif _tag(description) not in ds:
        problems.append(f"{where}missing {description} or {codes}")
    return problems


def _items(ds: Node, keyword: str) -> tuple[Node, ...]:
    found = ds.get(_tag(keyword))
    return found[1] if found is not None and found[0] == "SQ" else ()


def _references(ds: Node, keyword: str) -> list[str]:
    return [f"{keyword} item {number}: missing or empty {k}"
            for number, item in enumerate(_items(ds, keyword), start=1)
            for k in ("ReferencedSOPClassUID", "ReferencedSOPInstanceUID") if not _present(item, k)]


def missing_keys(ds: Node) -> list[str]:
    """Problems that make modalities (and wlmscpfs) drop an entry, in plain words."""
    problems = [f"missing or empty {k}" for k in _TOP_LEVEL_REQUIRED if not _present(ds, k)]
    problems += _description_or_code(ds, "RequestedProcedureDescription",
                                     "RequestedProcedureCodeSequence", "")
    problems += _references(ds, "ReferencedStudySequence")
    problems += _references(ds, "ReferencedPatientSequence")
    items = _items(ds, "ScheduledProcedureStepSequence")
    if not items:
        problems.append("missing or empty ScheduledProcedureStepSequence")
    elif len(items) > 1:
        problems.append(f"ScheduledProcedureStepSequence has {len(items)} items; "
                        "many modalities expect exactly one")
    for number, item in enumerate(items, start=1):
        where = f"step {number}: " if len(items) > 1 else ""
        problems += [f"{where}missing or empty {k}" for k in _SPS_REQUIRED if not _present(item, k)]
        problems += _description_or_code(item, "ScheduledProcedureStepDescription",
                                         "ScheduledProtocolCodeSequence", where)
    return problems


def _codec(name: str) -> str | None:
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def charset_problems(terms: Sequence[str]) -> list[str]:
    """(0008,0005) values that are not DICOM defined terms (``UTF-8``, ``ISO-8859-1``): pydicom
    reads them as Python codec names, DICOM readers refuse the file; wldesk never sends them."""
    problems = []
    for term in undefined_terms(terms):
        codec = _codec(term)
        fix = next((t for t in sorted(DEFINED_TERMS) if t.startswith("ISO_IR") and codec
                    and _codec(python_encoding[t]) == codec), None)
        problems.append(f"SpecificCharacterSet (0008,0005) {term!r} is not a DICOM defined term; "
                        "DICOM readers cannot decode it"
                        + (f" (write {fix})" if fix else " (write e.g. ISO_IR 192 for UTF-8)"))
    return problems


def check_folder(folder: Path) -> list[Finding]:
    """Every problem of every `.wl` file in ``folder``: unreadable files and missing keys."""
    snapshot = FolderStore(folder).refresh()
    if snapshot.folder_error:
        return [Finding(folder, snapshot.folder_error)]
    findings = [Finding(p.path, p.reason) for p in snapshot.problems]
    for entry in snapshot.entries:
        findings += [Finding(entry.path, m) for m in missing_keys(entry.node)]
        findings += [Finding(entry.path, m) for m in charset_problems(entry.charset)]
        findings += [Finding(entry.path, n, serious=False) for n in entry.notes]
    return sorted(findings, key=lambda f: (str(f.path), not f.serious))


def profile_findings(folder: Path, profile: Profile) -> list[Finding]:
    """The entries of ``folder`` that ``profile`` would send after all the others or withhold,
    each with the strict rules it breaks (nothing unless the profile is strict); a folder that
    cannot be read is one finding."""
    snapshot = FolderStore(folder).refresh()
    if snapshot.folder_error:
        return [Finding(folder, snapshot.folder_error)]
    if not profile.strict:
        return []
    fate = "withheld" if profile.withhold_invalid else "sent last"
    return [Finding(entry.path, f"{fate}: {'; '.join(problems)}")
            for entry in snapshot.entries if (problems := strict_problems(entry.node))]
