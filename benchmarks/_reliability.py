"""What the reliability scripts share: a folder of numbered entries, a worklist query that asks
for everything, a client that checks its answers, the server process's threads, open files and
memory read from /proc, its log's tracebacks and ERROR lines, and the final table."""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid
from pynetdicom import AE
from pynetdicom.association import Association
from pynetdicom.sop_class import ModalityWorklistInformationFind  # type: ignore[attr-defined]

from wldesk.core.net.scu import FindResult, find

MWL = ModalityWorklistInformationFind
LOCALHOST = "127.0.0.1"


def accession(number: int) -> str:
    return f"REL{number:07d}"


def entry_bytes(number: int, padding: int = 0) -> bytes:
    """The Part 10 bytes of entry ``number``: one CT step on station CT1 (``padding`` extra
    characters in the patient's comments, to make a file longer)."""
    from io import BytesIO

    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientName = f"RELIABILITY^PATIENT{number}"
    ds.PatientID = f"PID{number}"
    ds.AccessionNumber = accession(number)
    ds.StudyInstanceUID = generate_uid()
    ds.RequestedProcedureID = f"RP{number}"
    ds.RequestedProcedureDescription = "Exam"
    if padding:
        ds.PatientComments = "x" * padding
    step = Dataset()
    step.ScheduledStationAETitle = "CT1"
    step.Modality = "CT"
    step.ScheduledProcedureStepStartDate = "20260101"
    step.ScheduledProcedureStepStartTime = "0800"
    step.ScheduledProcedureStepID = f"SPS{number}"
    step.ScheduledProcedureStepDescription = "Step"
    ds.ScheduledProcedureStepSequence = DicomSequence([step])
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = UID("1.2.840.10008.5.1.4.31")
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    out = BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def entry_name(number: int) -> str:
    return f"entry{number:07d}.wl"


def write_folder(folder: Path, count: int) -> set[str]:
    """``count`` entries in ``folder``; the accession numbers a query for every entry must return."""
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(1, count + 1):
        (folder / entry_name(number)).write_bytes(entry_bytes(number))
    return {accession(number) for number in range(1, count + 1)}


def worklist_query() -> Dataset:
    """Every entry, with the keys a modality asks for."""
    ds = Dataset()
    ds.PatientName = ""
    ds.PatientID = ""
    ds.AccessionNumber = ""
    step = Dataset()
    step.Modality = ""
    step.ScheduledStationAETitle = ""
    step.ScheduledProcedureStepStartDate = ""
    step.ScheduledProcedureStepID = ""
    ds.ScheduledProcedureStepSequence = DicomSequence([step])
    return ds


def complete(answer: Dataset) -> bool:
    """An answer is a whole entry: its accession number and its one scheduled step with modality,
    station and step ID."""
    steps = answer.get("ScheduledProcedureStepSequence") or []
    if not str(answer.get("AccessionNumber", "") or "").startswith("REL") or len(steps) != 1:
        return False
    item = steps[0]
    return item.get("Modality") == "CT" and item.get("ScheduledStationAETitle") == "CT1" \
        and str(item.get("ScheduledProcedureStepID", "") or "").startswith("SPS")


def client_ae(timeout: float = 30.0) -> AE:
    ae = AE(ae_title="RELIABILITY")
    ae.add_requested_context(MWL)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = ae.connection_timeout = timeout
    return ae


def associate(ae: AE, port: int, aet: str = "WLDESK") -> Association | None:
    assoc = ae.associate(LOCALHOST, port, ae_title=aet)
    return assoc if assoc.is_established else None


def query_all(ae: AE, port: int, aet: str = "WLDESK") -> FindResult | None:
    """One C-FIND for every entry on a fresh association (None: not associated)."""
    assoc = associate(ae, port, aet)
    if assoc is None:
        return None
    try:
        return find(assoc, worklist_query())
    finally:
        if assoc.is_established:
            assoc.release()


def served(port: int, accession: str, aet: str = "WLDESK") -> bool:
    """Whether the server on ``port`` answers a C-FIND for ``accession`` (an order channel's entry
    has reached the modalities)."""
    assoc = associate(client_ae(10.0), port, aet)
    if assoc is None:
        return False
    try:
        query = Dataset()
        query.AccessionNumber = accession
        query.PatientName = ""
        return bool(find(assoc, query).answers)
    finally:
        if assoc.is_established:
            assoc.release()


def accessions(result: FindResult) -> list[str]:
    return sorted(str(a.get("AccessionNumber", "") or "") for a in result.answers)


@dataclass(frozen=True)
class ProcStats:
    threads: int
    fds: int
    rss_kib: int


def proc_stats(pid: int) -> ProcStats:
    """Threads, open file descriptors and resident memory of process ``pid`` (Linux /proc)."""
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return ProcStats(threads=int(fields["Threads"].split()[0]),
                     fds=len(list(Path(f"/proc/{pid}/fd").iterdir())),
                     rss_kib=int(fields["VmRSS"].split()[0]))


def settle(pid: int, baseline: ProcStats, seconds: float) -> ProcStats:
    """The process's stats once its threads and open files are back to ``baseline``, or after
    ``seconds`` (closed connections and finished associations take a moment to go)."""
    deadline = time.monotonic() + seconds
    stats = proc_stats(pid)
    while time.monotonic() < deadline and (stats.threads > baseline.threads or stats.fds > baseline.fds):
        time.sleep(0.2)
        stats = proc_stats(pid)
    return stats


_TRACEBACK = re.compile(r"^Traceback \(most recent call last\)", re.MULTILINE)
_ERROR = re.compile(r"\bERROR\b|\bCRITICAL\b")


def log_problems(text: str) -> tuple[int, list[str]]:
    """(tracebacks, ERROR-or-worse lines) in a server log."""
    errors = [line for line in text.splitlines() if _ERROR.search(line)]
    return len(_TRACEBACK.findall(text)), errors


@dataclass
class Figure:
    name: str
    value: float | int | str
    limit: float | None = 0  # must be <= limit; None: for information only

    @property
    def ok(self) -> bool:
        if self.limit is None or isinstance(self.value, str):
            return True
        return self.value <= self.limit


def print_table(title: str, figures: list[Figure]) -> int:
    """The final table; 1 when a figure is over its limit, else 0."""
    print(f"\n{title}\n")
    print("| figure | value | must be | |")
    print("|---|---:|---|---|")
    for f in figures:
        limit = "-" if f.limit is None else ("0" if f.limit == 0 else f"<= {f.limit:g}")
        value = f"{f.value:.1f}" if isinstance(f.value, float) else str(f.value)
        print(f"| {f.name} | {value} | {limit} | {'ok' if f.ok else 'FAIL'} |")
    sys.stdout.flush()
    return 0 if all(f.ok for f in figures) else 1
