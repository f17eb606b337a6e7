"""What an MPPS does to the worklist: the entries' step status follows the performed steps.

N-CREATE (PerformedProcedureStepStatus IN PROGRESS) makes each scheduled step it names STARTED;
N-SET COMPLETED or DISCONTINUED makes them COMPLETED or DISCONTINUED. The entries are found through
the Scheduled Step Attributes Sequence (0040,0270): each item's Accession Number (with its SPS ID
and Requested Procedure ID, when given) or, without one, its Study Instance UID; one MPPS of
grouped procedures changes every entry it names. The status is set through the ledger, which
rewrites the file atomically keeping every other byte. An MPPS naming no entry is accepted and kept
("unscheduled").

The standard's rules (PS3.4 F.7) are kept: an N-CREATE of a known instance, or with another status
than IN PROGRESS, an N-SET of an unknown instance, of one already COMPLETED or DISCONTINUED, or
changing what N-SET may not change, is refused with its failure status. Every message is an
``InputEvent`` of the channel "MPPS".
"""

from __future__ import annotations

import threading
from datetime import date
from functools import partial

from pydicom.dataset import Dataset

from wldesk.core.editing.errors import EditError
from wldesk.core.events import EventBus, InputEvent
from wldesk.core.flow.ledger import EntryFacts, Ledger, Written
from wldesk.core.flow.mpps_records import MppsRecords, mpps_dir
from wldesk.core.flow.status import FINAL_STATUSES, set_step_status
from wldesk.core.net.mpps import MPPS, MppsReply
from wldesk.core.settings import Settings

CHANNEL = "MPPS"
PPS_STATUS = 0x00400252  # Performed Procedure Step Status
SSA_SEQUENCE = 0x00400270  # Scheduled Step Attributes Sequence
PPS_STATUSES = ("IN PROGRESS", "COMPLETED", "DISCONTINUED")
STEP_STATUS = {"IN PROGRESS": "STARTED", "COMPLETED": "COMPLETED",
               "DISCONTINUED": "DISCONTINUED"}
FINAL = "Performed Procedure Step Object may no longer be updated"

NOT_SET = frozenset({
    0x00080016, 0x00080018,  # SOP Class UID, SOP Instance UID
    0x00080060, 0x00081120,  # Modality, Referenced Patient Sequence
    0x00100010, 0x00100020, 0x00100021, 0x00100030, 0x00100040,  # the patient
    0x00200010,  # Study ID
    SSA_SEQUENCE,
    0x00400241, 0x00400242, 0x00400243,  # Performed Station AE Title, Name, Location
    0x00400244, 0x00400245,  # Performed Procedure Step Start Date, Time
    0x00400253,  # Performed Procedure Step ID
})
"""What N-SET may not change (PS3.4 Table F.7.2-1, "Not allowed"); sending the kept value again
is no change."""


def _text(ds: Dataset, keyword: str) -> str:
    return str(ds.get(keyword, "") or "").strip()


def item_predicate(item: Dataset) -> tuple[str, ...] | None:
    """The (accession, SPS ID, requested procedure ID, study UID) a scheduled step item names;
    None when it names nothing an entry can be found by."""
    found = tuple(_text(item, k) for k in ("AccessionNumber", "ScheduledProcedureStepID",
                                           "RequestedProcedureID", "StudyInstanceUID"))
    return found if found[0] or found[3] else None


def names_entry(named: tuple[str, ...], facts: EntryFacts) -> bool:
    """True when the scheduled step ``named`` (see :func:`item_predicate`) is the entry's."""
    accession, step_id, procedure_id, study_uid = named
    if accession:
        if facts.key.accession != accession:
            return False
    elif facts.study_uid != study_uid:
        return False
    if step_id and step_id not in facts.step_ids:
        return False
    return not (procedure_id and facts.requested_procedure_id
                and procedure_id != facts.requested_procedure_id)


class MppsService:
    """The MPPS SCP's flow side (a :class:`wldesk.core.net.mpps.PerformedSteps`)."""

    def __init__(self, ledger: Ledger, bus: EventBus, records: MppsRecords) -> None:
        self.ledger = ledger
        self.bus = bus
        self.records = records
        self._lock = threading.Lock()  # one message at a time: N-CREATE and N-SET of one UID
        self._pruned_on: date | None = None
        self.prune()

    def prune(self) -> None:
        """Delete the records past their days, once a day."""
        if self._pruned_on != date.today():
            self._pruned_on = date.today()
            self.records.prune()

    def _refuse(self, source: str, ds: Dataset | None, reply: MppsReply) -> MppsReply:
        items = (ds.get("ScheduledStepAttributesSequence") or ()) if ds is not None else ()
        order = _text(items[0], "AccessionNumber") if items else ""
        self.bus.emit(InputEvent(CHANNEL, "refused", source, order,
                                 detail=f"{reply.comment} (0x{reply.status:04X})"))
        return reply

    def create(self, uid: str, attributes: Dataset, source: str) -> MppsReply:
        with self._lock:
            self.prune()
            try:
                known = self.records.load(uid) is not None
            except ValueError:
                return self._refuse(source, attributes, MppsReply(
                    0x0117, "the Affected SOP Instance UID is not a UID"))
            if known:
                return self._refuse(source, attributes, MppsReply(
                    0x0111, f"the MPPS {uid} exists already"))
            status = _text(attributes, "PerformedProcedureStepStatus").upper()
            if PPS_STATUS not in attributes or SSA_SEQUENCE not in attributes:
                missing = "Performed Procedure Step Status" if PPS_STATUS not in attributes \
                    else "Scheduled Step Attributes Sequence"
                return self._refuse(source, attributes, MppsReply(0x0120, f"{missing} missing"))
            if status != "IN PROGRESS":
                return self._refuse(source, attributes, MppsReply(
                    0x0106, f"status must be IN PROGRESS at N-CREATE, not {status or 'empty'}",
                    (PPS_STATUS,)))
            ds = Dataset()
            ds.update(attributes)
            ds.SOPClassUID = MPPS
            ds.SOPInstanceUID = uid
            path = self.records.save(ds)
            self._follow(ds, source, path.name)
            return MppsReply()

    def set(self, uid: str, modifications: Dataset, source: str) -> MppsReply:
        with self._lock:
            self.prune()
            try:
                ds = self.records.load(uid)
            except ValueError:
                ds = None
            if ds is None:
                return self._refuse(source, None, MppsReply(0x0112, f"no MPPS {uid[:50]}"))
            if _text(ds, "PerformedProcedureStepStatus").upper() in FINAL_STATUSES:
                return self._refuse(source, ds, MppsReply(0x0110, FINAL))
            fixed = tuple(elem.tag for elem in modifications
                          if elem.tag in NOT_SET and (elem.tag not in ds
                                                      or ds[elem.tag].value != elem.value))
            if fixed:
                return self._refuse(source, ds, MppsReply(
                    0x0106, "N-SET may not change " + ", ".join(
                        f"({t >> 16:04X},{t & 0xFFFF:04X})" for t in fixed), fixed))
            status = _text(modifications, "PerformedProcedureStepStatus").upper()
            if PPS_STATUS in modifications and status not in PPS_STATUSES:
                return self._refuse(source, ds, MppsReply(
                    0x0106, f"{status or 'an empty status'} is not a performed step status",
                    (PPS_STATUS,)))
            for elem in modifications:
                ds[elem.tag] = elem
            path = self.records.save(ds)
            if status in FINAL_STATUSES:
                self._follow(ds, source, path.name)
            else:
                self.bus.emit(InputEvent(CHANNEL, "unchanged", source, detail=(
                    f"{_text(ds, 'PerformedProcedureStepStatus') or 'IN PROGRESS'}: the record "
                    f"{path.name} is updated")))
            return MppsReply()

    def _follow(self, ds: Dataset, source: str, record: str) -> None:
        """Set the status of the steps ``ds`` names and say what became of each entry."""
        performed = _text(ds, "PerformedProcedureStepStatus").upper()
        status = STEP_STATUS[performed]
        detail = f"{performed} → {status}"
        written: list[Written] = []
        for item in ds.get("ScheduledStepAttributesSequence") or ():
            named = item_predicate(item)
            if named is None:
                continue
            try:
                written += self.ledger.update_where(partial(names_entry, named),
                                                    set_step_status(status, named[1] or None))
            except (EditError, OSError) as exc:
                self.bus.emit(InputEvent(CHANNEL, "failed", source, named[0],
                                         detail=f"{detail}: {exc}"))
                return
        for done in written:
            self.bus.emit(InputEvent(CHANNEL, done.action, source, str(done.key),
                                     done.path.name, detail))
        if not written:
            self.bus.emit(InputEvent(CHANNEL, "unchanged", source, detail=(
                f"unscheduled: no entry matches; {performed} kept as {record}")))


def make_mpps(settings: Settings, bus: EventBus) -> MppsService | None:
    """The MPPS flow of ``settings``' folder (None with ``mpps`` off); old records are pruned."""
    if not settings.mpps:
        return None
    return MppsService(Ledger(settings.database), bus,
                       MppsRecords(mpps_dir(), settings.mpps_keep_days))
