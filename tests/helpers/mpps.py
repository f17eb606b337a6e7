"""MPPS messages as a modality sends them (pynetdicom as the MPPS SCU)."""

from __future__ import annotations

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pynetdicom import AE
from pynetdicom.sop_class import ModalityPerformedProcedureStep  # type: ignore[attr-defined]


def performed(*steps: tuple[str, str, str], status: str = "IN PROGRESS") -> Dataset:
    """An N-CREATE attribute list as a modality sends it; ``steps``: (accession, SPS ID, study
    UID) of each scheduled step performed."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    items = []
    for accession, step_id, study_uid in steps:
        item = Dataset()
        item.AccessionNumber = accession
        item.ScheduledProcedureStepID = step_id
        item.RequestedProcedureID = f"RP-{accession}" if accession else ""
        item.StudyInstanceUID = study_uid
        item.ReferencedStudySequence = Sequence()
        items.append(item)
    ds.ScheduledStepAttributesSequence = Sequence(items)
    ds.PatientName = "DOE^JOHN"
    ds.PatientID = "ID-A1"
    ds.PerformedProcedureStepID = "PPS1"
    ds.PerformedStationAETitle = "CT1"
    ds.PerformedStationName = "CT room 1"
    ds.PerformedLocation = ""
    ds.PerformedProcedureStepStartDate = "20261202"
    ds.PerformedProcedureStepStartTime = "090500"
    ds.PerformedProcedureStepEndDate = ""
    ds.PerformedProcedureStepEndTime = ""
    ds.PerformedProcedureStepStatus = status
    ds.Modality = "CT"
    ds.StudyID = "1"
    ds.PerformedSeriesSequence = Sequence()
    return ds


def finished(status: str = "COMPLETED") -> Dataset:
    ds = Dataset()
    ds.PerformedProcedureStepStatus = status
    ds.PerformedProcedureStepEndDate = "20261202"
    ds.PerformedProcedureStepEndTime = "093000"
    return ds


def send_mpps(port: int, uid: str | None, ds: Dataset, *, create: bool = True) -> Dataset:
    """One N-CREATE (or N-SET) over its own association, as CT1; the response's status
    (``Status``, ``ErrorComment``...)."""
    ae = AE(ae_title="CT1")
    ae.add_requested_context(ModalityPerformedProcedureStep)
    assoc = ae.associate("127.0.0.1", port, ae_title="WLDESK")
    assert assoc.is_established
    try:
        if create:
            status, _ = assoc.send_n_create(ds, ModalityPerformedProcedureStep, uid)
        else:
            assert uid is not None
            status, _ = assoc.send_n_set(ds, ModalityPerformedProcedureStep, uid)
    finally:
        assoc.release()
    assert isinstance(status, Dataset) and "Status" in status, "no response"
    return status
