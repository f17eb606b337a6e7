"""Worklist files for the core tests: complete entries written by pydicom, DCMTK's sample worklists
converted by the real ``/usr/bin/dump2dcm``, and helpers to cut and inspect encoded files.

The DCMTK programs are used by absolute path: the bare ``findscu``/``echoscu`` names on PATH may
be pynetdicom's own scripts.
"""

from __future__ import annotations

import io
import os
import subprocess
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

import pydicom
import pytest
from pydicom import dcmwrite
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filereader import data_element_generator
from pydicom.sequence import Sequence
from pydicom.tag import Tag
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid

from wldesk.core.dicom.wlfile import ParsedFile
from wldesk.core.store import Entry

DUMP2DCM = "/usr/bin/dump2dcm"
DCMTK_WLISTDB = Path("/usr/share/doc/dcmtk/examples/wlistdb/OFFIS")
MWL_FIND = "1.2.840.10008.5.1.4.31"

Syntax = Literal["explicit", "implicit", "raw-explicit", "raw-implicit"]

HAVE_DCMTK = os.access(DUMP2DCM, os.X_OK) and DCMTK_WLISTDB.is_dir()
NO_DCMTK_REASON = "DCMTK's dump2dcm and its sample worklists (/usr/share/doc/dcmtk/examples) are needed"
requires_dump2dcm = pytest.mark.skipif(not HAVE_DCMTK, reason=NO_DCMTK_REASON)


def step(**values: object) -> Dataset:
    """A complete Scheduled Procedure Step item; ``values`` override or (with None) remove keys."""
    sps = Dataset()
    sps.ScheduledStationAETitle = "CT1"
    sps.ScheduledProcedureStepStartDate = "20240102"
    sps.ScheduledProcedureStepStartTime = "0930"
    sps.Modality = "CT"
    sps.ScheduledProcedureStepID = "SPS1"
    sps.ScheduledProcedureStepDescription = "CT head"
    _apply(sps, values)
    return sps


def worklist_dataset(patient_name: str = "DOE^JOHN", /, **values: object) -> Dataset:
    """A worklist entry with every key modalities (and wlmscpfs) need.

    ``values`` override keys; a value of None removes the key.
    """
    ds = Dataset()
    ds.AccessionNumber = "ACC1"
    ds.PatientName = patient_name
    ds.PatientID = "PID1"
    ds.PatientBirthDate = "19700101"
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.1"
    ds.RequestedProcedureID = "RP1"
    ds.RequestedProcedureDescription = "Head"
    ds.ScheduledProcedureStepSequence = [step()]
    _apply(ds, values)
    return ds


def _apply(ds: Dataset, values: dict[str, object]) -> None:
    for keyword, value in values.items():
        if value is None:
            if keyword in ds:
                delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)


def instance_uid() -> UID:
    """A unique UID of fixed length, so that rewriting an entry keeps its file size."""
    return UID(f"2.25.1{uuid.uuid4().int % 10**38:038d}")


def encode(ds: Dataset, syntax: Syntax = "explicit") -> bytes:
    """``ds`` encoded as a Part 10 file (with file meta) or as a bare dataset ("raw-...")."""
    out = io.BytesIO()
    implicit = syntax.endswith("implicit")
    if syntax.startswith("raw"):
        dcmwrite(out, ds, implicit_vr=implicit, little_endian=True)
        return out.getvalue()
    ds = ds.copy()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = UID(MWL_FIND)
    ds.file_meta.MediaStorageSOPInstanceUID = instance_uid()
    dcmwrite(out, ds, enforce_file_format=True)
    return out.getvalue()


def write_wl(path: Path, ds: Dataset, syntax: Syntax = "explicit") -> Path:
    """Write ``ds`` to ``path``; with file meta it goes through ``dcmwrite(path, ...)`` itself."""
    if syntax.startswith("raw"):
        path.write_bytes(encode(ds, syntax))
        return path
    ds = ds.copy()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = (ImplicitVRLittleEndian if syntax == "implicit"
                                      else ExplicitVRLittleEndian)
    ds.file_meta.MediaStorageSOPClassUID = UID(MWL_FIND)
    ds.file_meta.MediaStorageSOPInstanceUID = instance_uid()
    dcmwrite(path, ds, enforce_file_format=True)
    return path


def raw_text(tag: int, vr: str, value: bytes) -> RawDataElement:
    """An element holding ``value`` bytes as they are (no character set applied when writing)."""
    if len(value) % 2:
        value += b" "
    return RawDataElement(Tag(tag), vr, len(value), value, 0, False, True)


def dump2dcm(dump: Path, out: Path, *options: str) -> Path:
    """Convert a DCMTK dump with the real dump2dcm (``options`` e.g. ``-e`` for undefined lengths)."""
    result = subprocess.run([DUMP2DCM, *options, os.fspath(dump), os.fspath(out)],
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0 and out.is_file(), f"dump2dcm failed: {result.stdout}{result.stderr}"
    return out


def dcmtk_sample_dumps() -> list[Path]:
    return sorted(DCMTK_WLISTDB.glob("wklist*.dump"), key=lambda p: int(p.stem[len("wklist"):]))


def convert_dcmtk_samples(folder: Path, *options: str) -> list[Path]:
    """DCMTK's ten sample worklists as ``folder/wklistN.wl``."""
    folder.mkdir(parents=True, exist_ok=True)
    return [dump2dcm(dump, folder / f"{dump.stem}.wl", *options) for dump in dcmtk_sample_dumps()]


def dataset_of(parsed: ParsedFile | Entry) -> Dataset:
    """The decoded content of a ``ParsedFile`` or a store ``Entry`` (a compact Node) as a Dataset."""
    return parsed.node.to_dataset()


def dataset_start(data: bytes) -> int:
    """Where the dataset of a Part 10 file starts (after preamble, DICM and the file meta)."""
    assert data[128:132] == b"DICM"
    ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
    group_length = int(ds.file_meta.FileMetaInformationGroupLength)
    return 132 + 12 + group_length


def top_level_boundaries(data: bytes, *, implicit: bool = False) -> set[int]:
    """Offsets where one top-level element of a Part 10 file ends and the next begins.

    Found with pydicom's own element generator (independent of wldesk). A cut exactly there
    leaves a complete, smaller dataset.
    """
    start = dataset_start(data)
    fp = io.BytesIO(data)
    fp.seek(start)
    ends = {start}
    for _ in data_element_generator(fp, implicit, True):
        ends.add(fp.tell())
    ends.discard(len(data))
    return ends


def write_entry(folder: Path, name: str, *, charset: str | None = "ISO_IR 192",
                patient: str = "DOE^JOHN", accession: str = "A1", station: str = "CT1",
                modality: str = "CT", date: str = "20261127", time: str = "103000") -> Path:
    ds = Dataset()
    if charset is not None:
        ds.SpecificCharacterSet = charset
    ds.PatientName = patient
    ds.PatientID = f"ID-{accession}"
    ds.AccessionNumber = accession
    ds.StudyInstanceUID = generate_uid()
    ds.RequestedProcedureID = f"RP-{accession}"
    ds.RequestedProcedureDescription = "Exam"
    step = Dataset()
    step.ScheduledStationAETitle = station
    step.Modality = modality
    step.ScheduledProcedureStepStartDate = date
    step.ScheduledProcedureStepStartTime = time
    step.ScheduledProcedureStepID = f"S-{accession}"
    step.ScheduledProcedureStepDescription = "Step"
    ds.ScheduledProcedureStepSequence = Sequence([step])
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = UID("1.2.276.0.7230010.3.1.0.1")
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    path = folder / name
    ds.save_as(path, enforce_file_format=True)
    return path


def write_test_query_entries(folder: Path, today: date) -> Path:
    """The Test query's sample folder: one CT on CT1 and one MR on MR1 scheduled ``today``, one CT
    on CT1 the day after, and a broken file."""
    day, next_day = f"{today:%Y%m%d}", f"{today + timedelta(days=1):%Y%m%d}"
    write_entry(folder, "ct-today.wl", accession="A1", station="CT1", modality="CT", date=day)
    write_entry(folder, "mr-today.wl", accession="B1", station="MR1", modality="MR", date=day,
                patient="MÜLLER^HANS")
    write_entry(folder, "ct-tomorrow.wl", accession="C1", station="CT1", modality="CT", date=next_day)
    (folder / "broken.wl").write_bytes(b"this is not DICOM")
    return folder


def name_query(pattern: str = "", **step: str) -> Dataset:
    """A worklist query: PatientName ``pattern``, AccessionNumber, and one step item with Modality,
    ScheduledStationAETitle and ``step``'s keys."""
    query = Dataset()
    query.PatientName = pattern
    query.AccessionNumber = ""
    item = Dataset()
    item.Modality = ""
    item.ScheduledStationAETitle = ""
    for keyword, value in step.items():
        setattr(item, keyword, value)
    query.ScheduledProcedureStepSequence = Sequence([item])
    return query
