"""The MPPS instances kept: one DICOM JSON file per instance in the state folder's ``mpps``.

Each instance is ``<SOP Instance UID>.json``, written atomically when it is created and again at
each N-SET, and deleted ``mpps_keep_days`` days after its last change. :func:`records_for` finds
the records of an entry (by order, step or study), for the window and anything that shows an
entry's life.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset

from wldesk.core import paths
from wldesk.core.fileio import atomic_write_bytes

log = logging.getLogger(__name__)

UID_TEXT = re.compile(r"[0-9]+(\.[0-9]+)*")


def mpps_dir() -> Path:
    """Where the MPPS instances are kept: the state folder's ``mpps``."""
    return paths.state_dir() / "mpps"


def _text(ds: Dataset, keyword: str) -> str:
    return str(ds.get(keyword, "") or "").strip()


def _moment(date: str, time_text: str) -> str:
    """``2026-12-02 09:05`` from DA and TM values ("" without a date)."""
    if len(date) != 8 or not date.isdigit():
        return ""
    moment = f"{date[:4]}-{date[4:6]}-{date[6:]}"
    digits = time_text.split(".", maxsplit=1)[0]
    if len(digits) >= 4 and digits[:4].isdigit():
        moment += f" {digits[:2]}:{digits[2:4]}"
    return moment


@dataclass(frozen=True)
class MppsRecord:
    """One MPPS instance as kept: its status, start and end, where it was performed, and the
    whole dataset."""

    uid: str
    status: str  # IN PROGRESS, COMPLETED, DISCONTINUED
    start: str  # "2026-12-02 09:05", "" when not sent
    end: str
    station: str  # Performed Station Name
    performing_ae: str  # Performed Station AE Title
    dataset: Dataset

    @classmethod
    def of(cls, ds: Dataset) -> MppsRecord:
        return cls(uid=_text(ds, "SOPInstanceUID"),
                   status=_text(ds, "PerformedProcedureStepStatus").upper(),
                   start=_moment(_text(ds, "PerformedProcedureStepStartDate"),
                                 _text(ds, "PerformedProcedureStepStartTime")),
                   end=_moment(_text(ds, "PerformedProcedureStepEndDate"),
                               _text(ds, "PerformedProcedureStepEndTime")),
                   station=_text(ds, "PerformedStationName"),
                   performing_ae=_text(ds, "PerformedStationAETitle"), dataset=ds)

    def json_text(self) -> str:
        """The dataset as DICOM JSON (PS3.18 F), indented."""
        return json.dumps(self.dataset.to_json_dict(), indent=2, ensure_ascii=False)

    def concerns(self, accession: str, sps_id: str, study_uid: str) -> bool:
        """True when one of its scheduled steps is the entry's: the same accession number (and
        SPS ID, when both have one; an empty ``sps_id`` is any step), or, without an accession
        number, the same study."""
        for item in self.dataset.get("ScheduledStepAttributesSequence") or ():
            item_accession = _text(item, "AccessionNumber")
            item_step = _text(item, "ScheduledProcedureStepID")
            if accession and item_accession:
                if item_accession == accession and item_step in ("", sps_id or item_step):
                    return True
            elif study_uid and _text(item, "StudyInstanceUID") == study_uid:
                return True
        return False


class MppsRecords:
    """The kept instances in ``folder`` (see the module documentation)."""

    def __init__(self, folder: Path, days: int) -> None:
        self.folder = folder
        self.days = days

    def path(self, uid: str) -> Path:
        if not UID_TEXT.fullmatch(uid) or len(uid) > 64:
            raise ValueError(f"{uid!r} is not a UID")
        return self.folder / f"{uid}.json"

    def load(self, uid: str) -> Dataset | None:
        """The instance ``uid`` as kept (None when it is not, or cannot be read)."""
        return self._read(self.path(uid))

    @staticmethod
    def _read(path: Path) -> Dataset | None:
        try:
            return Dataset.from_json(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError, KeyError) as exc:
            log.error("the kept MPPS instance %s cannot be read: %s", path.name, exc)
            return None

    def save(self, ds: Dataset) -> Path:
        """Keep ``ds`` (its SOP Instance UID names the file), replacing what was kept."""
        path = self.path(_text(ds, "SOPInstanceUID"))
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, json.dumps(ds.to_json_dict(), ensure_ascii=False).encode("utf-8"))
        return path

    def prune(self) -> list[Path]:
        """Delete the instances unchanged for ``days`` days; the ones deleted."""
        limit = time.time() - self.days * 86400
        gone = []
        try:
            kept = list(self.folder.glob("*.json"))
        except OSError:
            return []
        for path in kept:
            try:
                if path.stat().st_mtime < limit:
                    path.unlink()
                    gone.append(path)
            except FileNotFoundError:
                continue
        return gone

    def all(self) -> list[MppsRecord]:
        """Every kept instance, oldest start first."""
        records = []
        for path in sorted(self.folder.glob("*.json")):
            ds = self._read(path)
            if ds is not None:
                records.append(MppsRecord.of(ds))
        return sorted(records, key=lambda r: (r.start, r.uid))


def records_by_accession(folder: Path | None = None) -> dict[str, list[MppsRecord]]:
    """Every kept MPPS instance under each Accession Number its scheduled steps name, oldest
    start first (the day view's "Performed" column reads them at once)."""
    found: dict[str, list[MppsRecord]] = {}
    for record in MppsRecords(mpps_dir() if folder is None else folder, 0).all():
        for item in record.dataset.get("ScheduledStepAttributesSequence") or ():
            accession = _text(item, "AccessionNumber")
            if accession and record not in found.setdefault(accession, []):
                found[accession].append(record)
    return found


def records_for(accession: str, sps_id: str, study_uid: str,
                folder: Path | None = None) -> list[MppsRecord]:
    """The kept MPPS instances of an entry (its Accession Number, first SPS ID and Study Instance
    UID; any may be empty), oldest start first. ``folder``: the kept instances' folder
    (:func:`mpps_dir` by default)."""
    records = MppsRecords(mpps_dir() if folder is None else folder, 0)
    return [r for r in records.all() if r.concerns(accession.strip(), sps_id.strip(),
                                                       study_uid.strip())]
