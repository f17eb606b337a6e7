#!/usr/bin/env python3
# ruff: noqa: RUF001
"""Benchmark wldesk against DCMTK's wlmscpfs (and Orthanc's worklist plugin, when installed).

For every folder size N it generates (or reuses) a synthetic folder of N realistic ``.wl`` files,
starts ``python -m wldesk serve``, ``wlmscpfs`` and, when ``/usr/sbin/Orthanc`` and its
``libModalityWorklists.so`` plugin are installed, Orthanc, each on a free port of 127.0.0.1,
and times whole runs of DCMTK's ``findscu -W`` / ``echoscu`` (process start included) against
them in alternation. It prints a Markdown report with the median time per server and query, the
ratios to wldesk, the client's own CPU time (a floor under every server's time), wldesk's
startup/first-query time and resident memory, and a freshness check (a file added to the largest
folder must be served by the next query).

The folders model one clinic: up to 10,000 entries scheduled within 120 days of today, a third of
them within two weeks (CT today: some 40-55 answers); a larger folder is that clinic after years
of nobody cleaning up, its further entries spread over the days before, at the same daily volume.
The queries: modality CT + today (what a CT asks every morning), CT + 7 days (a long list), one
accession number, all entries with three keys (10,000 or 100,000 answers), and C-ECHO.

Answer counts are compared across servers (and with the count known from generation); any
difference prints a ``MISMATCH`` line and makes the exit code 1.

    python benchmarks/worklist_bench.py --sizes 1000 10000 [--repeat 15] [--keep DIR]

Generated folders are cached by (N, seed) under ``$TMPDIR/wldesk-bench-cache`` (or ``--keep
DIR``); a rerun on the same folder starts at once. The report goes to stdout, progress to stderr.
DCMTK programs are used by absolute path (``/usr/bin/findscu`` etc.): the bare ``findscu`` on
PATH may be pynetdicom's application of the same name.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import dataclasses
import datetime as dt
import io
import json
import os
import platform
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import pydicom
import pynetdicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID, ExplicitVRLittleEndian

REPO_ROOT = Path(__file__).resolve().parents[1]
LOCALHOST = "127.0.0.1"

FINDSCU = "/usr/bin/findscu"
ECHOSCU = "/usr/bin/echoscu"
WLMSCPFS = "/usr/bin/wlmscpfs"
DUMP2DCM = "/usr/bin/dump2dcm"
DCMDUMP = "/usr/bin/dcmdump"
ORTHANC = "/usr/sbin/Orthanc"
ORTHANC_WORKLIST_PLUGIN = "/usr/share/orthanc/plugins/libModalityWorklists.so"

CALLING_AET = "BENCHSCU"
WLDESK_AET = "WLDESK"
WLMSCPFS_AET = "WLMSCPFS"
ORTHANC_AET = "ORTHANC"

MWL_FIND = "1.2.840.10008.5.1.4.31"
UID_PREFIX = "1.2.826.0.1.3680043.8.498."  # pydicom's UID root, meant for generated UIDs
IMPLEMENTATION_NAME = "WLDESK_BENCH"
CACHE_FORMAT = 2
CACHE_MAX_AGE_DAYS = 30  # older folders are regenerated so that "today" stays inside their dates

ECHO_READY_TIMEOUT = 60.0  # seconds for a server to answer its first C-ECHO
ECHO_POLL_INTERVAL = 0.1
STOP_TIMEOUT = 15.0

# wldesk log lines that tell about (re)reading the folder; "full" ones in the freshness window
SCAN_LOG = re.compile(r"re-?scan|full scan|re-?index|indexed|indexing|scanned|scanning|re-?list",
                      re.I)
FULL_SCAN_LOG = re.compile(r"full|re-?scan|re-?list", re.I)

# --------------------------------------------------------------------------------------------
# Synthetic worklist content
# --------------------------------------------------------------------------------------------

# The modelled clinic schedules CLINIC_WINDOW entries within 120 days of today (a third of them
# within two weeks): CT today is ~55 answers. A larger folder is the same clinic after years of
# nobody cleaning up: the entries beyond CLINIC_WINDOW are older, at the clinic's mean daily volume.
CLINIC_WINDOW = 10_000
WINDOW_DAYS = 241  # -120 .. +120 days around today
# modality -> (weight in %, station AE titles)
MODALITIES: dict[str, tuple[int, tuple[str, ...]]] = {
    "CT": (28, ("CT1", "CT2")),
    "MR": (17, ("MR1", "MR2")),
    "US": (20, ("US1", "US2")),
    "CR": (15, ("CR1",)),
    "DX": (12, ("DX1",)),
    "MG": (8, ("MG1",)),
}
STATION_NAMES = {
    "CT1": "CT SOMATOM 1", "CT2": "CT REVOLUTION", "MR1": "MR AERA 1.5T", "MR2": "MR PRISMA 3T",
    "US1": "US LOGIQ E10", "US2": "US EPIQ 7", "CR1": "CR ROOM 3", "DX1": "DX YSIO MAX",
    "MG1": "MG SELENIA",
}
PROCEDURES: dict[str, tuple[str, ...]] = {
    "CT": ("CT HEAD WITHOUT CONTRAST", "CT CHEST ABDOMEN PELVIS WITH CONTRAST",
           "CT PULMONARY ANGIOGRAPHY", "CT LUMBAR SPINE", "CT SINUSES"),
    "MR": ("MRI BRAIN WITH AND WITHOUT CONTRAST", "MRI KNEE LEFT", "MRI LUMBAR SPINE",
           "MRI SHOULDER RIGHT", "MRI PROSTATE MULTIPARAMETRIC"),
    "US": ("US ABDOMEN COMPLETE", "US THYROID", "US OBSTETRIC 2ND TRIMESTER",
           "US CAROTID DOPPLER BILATERAL", "US RENAL"),
    "CR": ("XR CHEST PA AND LATERAL", "XR HAND RIGHT 3 VIEWS", "XR PELVIS AP", "XR ANKLE LEFT"),
    "DX": ("XR KNEE BILATERAL STANDING", "XR CHEST PORTABLE", "XR CERVICAL SPINE 3 VIEWS",
           "XR FOOT RIGHT"),
    "MG": ("MAMMO SCREENING BILATERAL", "MAMMO DIAGNOSTIC LEFT", "MAMMO TOMOSYNTHESIS BILATERAL"),
}
PROCEDURES_LATIN1: dict[str, tuple[str, ...]] = {
    "CT": ("SCANNER THORACIQUE", "CT SCHÄDEL NATIV"),
    "MR": ("IRM CÉRÉBRALE", "MRT KNIEGELENK LINKS"),
    "US": ("ÉCHOGRAPHIE ABDOMINALE", "SONOGRAFIE SCHILDDRÜSE"),
    "CR": ("RADIOGRAPHIE THORAX", "RÖNTGEN THORAX P.A."),
    "DX": ("RÖNTGEN KNIE BEIDSEITIG", "RADIOGRAPHIE DU PIED"),
    "MG": ("MAMMOGRAPHIE DE DÉPISTAGE", "MAMMOGRAPHIE BEIDSEITIG"),
}
PROCEDURES_UTF8: dict[str, tuple[str, ...]] = {
    "CT": ("ΑΞΟΝΙΚΗ ΤΟΜΟΓΡΑΦΙΑ ΘΩΡΑΚΟΣ", "頭部単純CT"),
    "MR": ("ΜΑΓΝΗΤΙΚΗ ΤΟΜΟΓΡΑΦΙΑ ΕΓΚΕΦΑΛΟΥ", "腰椎MRI"),
    "US": ("ΥΠΕΡΗΧΟΓΡΑΦΗΜΑ ΚΟΙΛΙΑΣ", "腹部超音波"),
    "CR": ("ΑΚΤΙΝΟΓΡΑΦΙΑ ΘΩΡΑΚΟΣ", "胸部X線"),
    "DX": ("ΑΚΤΙΝΟΓΡΑΦΙΑ ΓΟΝΑΤΟΣ", "膝関節X線"),
    "MG": ("ΜΑΣΤΟΓΡΑΦΙΑ", "マンモグラフィ"),
}

ASCII_FAMILY = (
    "SMITH", "JOHNSON", "WILLIAMS", "BROWN", "JONES", "MILLER", "DAVIS", "WILSON", "ANDERSON",
    "TAYLOR", "THOMAS", "MOORE", "MARTIN", "JACKSON", "THOMPSON", "WHITE", "HARRIS", "CLARK",
    "LEWIS", "ROBINSON", "WALKER", "YOUNG", "ALLEN", "KING", "WRIGHT", "SCOTT", "GREEN", "BAKER",
    "ADAMS", "NELSON", "O'BRIEN", "VAN DER BERG", "MCDONALD", "DE VRIES", "NGUYEN", "KOWALSKI",
    "ROSSI", "SILVA", "JANSSEN", "PETERS",
)
ASCII_GIVEN = (
    "JOHN", "MARY", "JAMES", "PATRICIA", "ROBERT", "JENNIFER", "MICHAEL", "LINDA", "WILLIAM",
    "ELIZABETH", "DAVID", "BARBARA", "RICHARD", "SUSAN", "JOSEPH", "JESSICA", "THOMAS", "SARAH",
    "ANNA", "PETER", "LUCAS", "EMMA", "NOAH", "OLIVIA", "LIAM", "SOPHIA", "MARCO", "ANA", "PIOTR",
    "HENK",
)
LATIN1_FAMILY = (
    "MÜLLER", "SCHRÖDER", "GARCÍA", "MUÑOZ", "LEFÈVRE", "DUPRÉ", "JØRGENSEN", "NÄSLUND",
    "GONÇALVES", "FERNÁNDEZ", "SCHÄFER", "CÔTÉ", "HÄKKINEN", "BÖHM", "ÅBERG", "PEÑA", "NÚÑEZ",
    "LÓPEZ", "WEIß", "ÖSTERGÅRD",
)
LATIN1_GIVEN = (
    "JOSÉ", "RENÉ", "JÜRGEN", "FRANÇOIS", "HÉLÈNE", "SØREN", "ÅSA", "JOÃO", "MARÍA", "BÉATRICE",
    "ZOË", "JÖRG", "INÊS", "ANDRÉ", "NOÉMIE", "ÉMILE", "SEÁN", "RAMÓN",
)
# (family names, given names) of one script each, so that names stay plausible
UTF8_NAME_GROUPS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("ΠΑΠΑΔΟΠΟΥΛΟΣ", "ΙΩΑΝΝΟΥ", "ΝΙΚΟΛΑΟΥ", "ΓΕΩΡΓΙΟΥ", "ΠΑΠΠΑΣ"),
     ("ΓΙΩΡΓΟΣ", "ΜΑΡΙΑ", "ΕΛΕΝΗ", "ΔΗΜΗΤΡΗΣ", "ΚΩΝΣΤΑΝΤΙΝΟΣ")),
    (("山田", "佐藤", "鈴木", "高橋", "田中", "渡辺"), ("太郎", "花子", "一郎", "美咲", "健", "由美")),
    (("ИВАНОВ", "ПЕТРОВА", "СМИРНОВ", "КУЗНЕЦОВА"), ("СЕРГЕЙ", "АННА", "ДМИТРИЙ", "ОЛЬГА")),
    (("王", "李", "张", "刘"), ("小明", "娜", "伟", "芳")),
    (("WÓJCIK", "DĄBROWSKI", "DVOŘÁK", "NOVÁKOVÁ", "ŁUKASZEWICZ"),
     ("ŁUKASZ", "KRZYSZTOF", "JIŘÍ", "ALŽBĚTA", "MAŁGORZATA")),
)
PHYSICIANS_ASCII = (
    "HOUSE^GREGORY^^DR", "GREY^MEREDITH", "WELBY^MARCUS", "KILDARE^JAMES", "QUINN^MICHAELA",
    "CARTER^JOHN", "ROSS^DOUG", "LEWIS^SUSAN", "BENTON^PETER", "WEAVER^KERRY",
)
PHYSICIANS_LATIN1 = ("BRÜCKNER^JÖRG^^DR.", "GUÉRIN^CÉCILE", "NØRGAARD^MADS", "IBÁÑEZ^SOFÍA")
PHYSICIANS_UTF8 = ("ΚΩΝΣΤΑΝΤΙΝΟΥ^ΑΝΝΑ", "田中^健", "ПАВЛОВ^ИВАН")
TECHNOLOGISTS = ("TECH^ALEX", "RAD^SAM", "JORDAN^CASEY", "LEE^ROBIN", "PARK^MORGAN", "")
PRIORITIES = (("ROUTINE", 80), ("HIGH", 8), ("MEDIUM", 5), ("STAT", 4), ("LOW", 3))

SCRIPTS = (("ascii", 70), ("latin1", 18), ("utf8", 12))
CHARSET_CODEC = {"": "ascii", "ISO_IR 100": "latin-1", "ISO_IR 192": "utf-8"}


@dataclasses.dataclass(frozen=True)
class Patient:
    name: str
    script: str  # ascii | latin1 | utf8
    patient_id: str
    birth_date: str
    sex: str


@dataclasses.dataclass(frozen=True)
class Record:
    """One worklist entry: one requested procedure with one scheduled procedure step."""

    charset: str  # "" (no Specific Character Set), "ISO_IR 100" or "ISO_IR 192"
    accession: str
    referring_physician: str
    patient_name: str
    patient_id: str
    birth_date: str
    sex: str
    study_uid: str
    procedure_description: str
    modality: str
    station_aet: str
    start_date: str
    start_time: str
    performing_physician: str
    step_description: str
    step_id: str
    station_name: str
    step_status: str
    procedure_id: str
    priority: str
    sop_instance_uid: str


def _weighted(rng: random.Random, table: Sequence[tuple[str, int]]) -> str:
    return rng.choices([name for name, _ in table], [weight for _, weight in table])[0]


def make_patient(rng: random.Random, number: int) -> Patient:
    script = _weighted(rng, SCRIPTS)
    if script == "ascii":
        name = f"{rng.choice(ASCII_FAMILY)}^{rng.choice(ASCII_GIVEN)}"
        if rng.random() < 0.15:
            name += f"^{rng.choice('ABCDEFGHJKLMNPRSTW')}"
    elif script == "latin1":
        name = f"{rng.choice(LATIN1_FAMILY)}^{rng.choice(LATIN1_GIVEN + ASCII_GIVEN[:8])}"
    else:
        families, givens = rng.choice(UTF8_NAME_GROUPS)
        name = f"{rng.choice(families)}^{rng.choice(givens)}"
    birth = dt.date(1930, 1, 1) + dt.timedelta(days=rng.randrange(365 * 94))
    sex = _weighted(rng, (("F", 50), ("M", 48), ("O", 2)))
    return Patient(name, script, f"PID{number:08d}", birth.strftime("%Y%m%d"), sex)


def history_days(n: int) -> int:
    """Days before the clinic's window that a folder of ``n`` entries reaches back."""
    return -(-max(0, n - CLINIC_WINDOW) * WINDOW_DAYS // CLINIC_WINDOW)


def make_record(rng: random.Random, index: int, patient: Patient, anchor: dt.date,
                seed: int, *, history: int = 0) -> Record:
    modality = rng.choices(list(MODALITIES), [w for w, _ in MODALITIES.values()])[0]
    station = rng.choice(MODALITIES[modality][1])
    if index > CLINIC_WINDOW and history:  # accumulated: scheduled before the window
        offset = -121 - rng.randrange(history)
    else:  # a third within two weeks of the anchor day, the rest spread over +-120 days
        offset = rng.randint(-14, 14) if rng.random() < 1 / 3 else rng.randint(-120, 120)
    start_date = (anchor + dt.timedelta(days=offset)).strftime("%Y%m%d")
    start_time = f"{rng.randint(7, 18):02d}{rng.choice((0, 15, 30, 45)):02d}00"
    if patient.script == "ascii":
        charset = rng.choice(("", "ISO_IR 100"))
        physicians: Sequence[str] = PHYSICIANS_ASCII
        description = rng.choice(PROCEDURES[modality])
    elif patient.script == "latin1":
        charset = "ISO_IR 100"
        physicians = PHYSICIANS_ASCII + PHYSICIANS_LATIN1
        description = rng.choice(PROCEDURES[modality] + PROCEDURES_LATIN1[modality])
    else:
        charset = "ISO_IR 192"
        physicians = PHYSICIANS_ASCII + PHYSICIANS_UTF8
        description = rng.choice(PROCEDURES[modality] + PROCEDURES_UTF8[modality])
    return Record(
        charset=charset,
        accession=f"ACC{index:09d}",
        referring_physician=rng.choice(physicians),
        patient_name=patient.name,
        patient_id=patient.patient_id,
        birth_date=patient.birth_date,
        sex=patient.sex,
        study_uid=f"{UID_PREFIX}{seed}.1.{index}",
        procedure_description=description,
        modality=modality,
        station_aet=station,
        start_date=start_date,
        start_time=start_time,
        performing_physician=rng.choice(TECHNOLOGISTS),
        step_description=description,
        step_id=f"SPS{index:08d}",
        station_name=STATION_NAMES[station],
        step_status="SCHEDULED",
        procedure_id=f"RP{index:08d}",
        priority=_weighted(rng, PRIORITIES),
        sop_instance_uid=f"{UID_PREFIX}{seed}.2.{index}",
    )


# --------------------------------------------------------------------------------------------
# Fast Part 10 encoding (explicit VR little endian, defined lengths: what pydicom and dump2dcm
# write); checked byte for byte against pydicom's dcmwrite by verify_encoding()
# --------------------------------------------------------------------------------------------

_LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"})


def _element(tag: int, vr: str, value: bytes) -> bytes:
    if len(value) % 2:
        value += b"\x00" if vr in ("UI", "OB") else b" "
    group, element = tag >> 16, tag & 0xFFFF
    if vr in _LONG_VRS:
        return struct.pack("<HH2s2xI", group, element, vr.encode(), len(value)) + value
    return struct.pack("<HH2sH", group, element, vr.encode(), len(value)) + value


def _sequence(tag: int, items: Sequence[bytes]) -> bytes:
    body = b"".join(struct.pack("<HHI", 0xFFFE, 0xE000, len(item)) + item for item in items)
    return _element(tag, "SQ", body)


def _part10(dataset: bytes, sop_instance_uid: str) -> bytes:
    meta = b"".join((
        _element(0x00020001, "OB", b"\x00\x01"),
        _element(0x00020002, "UI", MWL_FIND.encode()),
        _element(0x00020003, "UI", sop_instance_uid.encode()),
        _element(0x00020010, "UI", ExplicitVRLittleEndian.encode()),
        _element(0x00020012, "UI", PYDICOM_IMPLEMENTATION_UID.encode()),
        _element(0x00020013, "SH", IMPLEMENTATION_NAME.encode()),
    ))
    group_length = _element(0x00020000, "UL", struct.pack("<I", len(meta)))
    return b"\x00" * 128 + b"DICM" + group_length + meta + dataset


def encode_record(r: Record) -> bytes:
    codec = CHARSET_CODEC[r.charset]

    def text(value: str) -> bytes:
        return value.encode(codec)

    def ascii_(value: str) -> bytes:
        return value.encode("ascii")

    step = b"".join((
        _element(0x00080060, "CS", ascii_(r.modality)),
        _element(0x00400001, "AE", ascii_(r.station_aet)),
        _element(0x00400002, "DA", ascii_(r.start_date)),
        _element(0x00400003, "TM", ascii_(r.start_time)),
        _element(0x00400006, "PN", text(r.performing_physician)),
        _element(0x00400007, "LO", text(r.step_description)),
        _element(0x00400009, "SH", ascii_(r.step_id)),
        _element(0x00400010, "SH", text(r.station_name)),
        _element(0x00400020, "CS", ascii_(r.step_status)),
    ))
    dataset = b"".join((
        _element(0x00080005, "CS", ascii_(r.charset)) if r.charset else b"",
        _element(0x00080050, "SH", ascii_(r.accession)),
        _element(0x00080090, "PN", text(r.referring_physician)),
        _element(0x00100010, "PN", text(r.patient_name)),
        _element(0x00100020, "LO", ascii_(r.patient_id)),
        _element(0x00100030, "DA", ascii_(r.birth_date)),
        _element(0x00100040, "CS", ascii_(r.sex)),
        _element(0x0020000D, "UI", ascii_(r.study_uid)),
        _element(0x00321060, "LO", text(r.procedure_description)),
        _sequence(0x00400100, [step]),
        _element(0x00401001, "SH", ascii_(r.procedure_id)),
        _element(0x00401003, "SH", ascii_(r.priority)),
    ))
    return _part10(dataset, r.sop_instance_uid)


def record_dataset(r: Record) -> Dataset:
    """The same entry as a pydicom Dataset with file meta (the reference for encode_record)."""
    ds = Dataset()
    if r.charset:
        ds.SpecificCharacterSet = r.charset
    ds.AccessionNumber = r.accession
    ds.ReferringPhysicianName = r.referring_physician
    ds.PatientName = r.patient_name
    ds.PatientID = r.patient_id
    ds.PatientBirthDate = r.birth_date
    ds.PatientSex = r.sex
    ds.StudyInstanceUID = r.study_uid
    ds.RequestedProcedureDescription = r.procedure_description
    step = Dataset()
    step.Modality = r.modality
    step.ScheduledStationAETitle = r.station_aet
    step.ScheduledProcedureStepStartDate = r.start_date
    step.ScheduledProcedureStepStartTime = r.start_time
    step.ScheduledPerformingPhysicianName = r.performing_physician
    step.ScheduledProcedureStepDescription = r.step_description
    step.ScheduledProcedureStepID = r.step_id
    step.ScheduledStationName = r.station_name
    step.ScheduledProcedureStepStatus = r.step_status
    ds.ScheduledProcedureStepSequence = [step]
    ds.RequestedProcedureID = r.procedure_id
    ds.RequestedProcedurePriority = r.priority
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = UID(MWL_FIND)
    ds.file_meta.MediaStorageSOPInstanceUID = UID(r.sop_instance_uid)
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.file_meta.ImplementationVersionName = IMPLEMENTATION_NAME
    return ds


def verify_encoding(samples: Sequence[Record], written: Sequence[Path]) -> str:
    """Check the fast encoder against pydicom, and that DCMTK parses written files."""
    for r in samples:
        out = io.BytesIO()
        pydicom.dcmwrite(out, record_dataset(r), enforce_file_format=True)
        if out.getvalue() != encode_record(r):
            raise RuntimeError(f"fast encoding of {r.accession} differs from pydicom's dcmwrite")
        back = pydicom.dcmread(io.BytesIO(encode_record(r)))
        if str(back.PatientName) != r.patient_name:
            raise RuntimeError(f"{r.accession}: PatientName reads back as {back.PatientName!r}")
    checked = 0
    if os.access(DCMDUMP, os.X_OK):
        for path in written:
            result = subprocess.run([DCMDUMP, "-q", os.fspath(path)], stdin=subprocess.DEVNULL,
                                    capture_output=True, timeout=30, check=False)
            if result.returncode != 0 or b"E: " in result.stdout + result.stderr:
                raise RuntimeError(f"DCMTK cannot parse {path}: {_text(result.stderr)}")
            checked += 1
    return (f"{len(samples)} entries byte-identical to pydicom dcmwrite(enforce_file_format=True)"
            f"; {checked} files parsed by DCMTK dcmdump")


# --------------------------------------------------------------------------------------------
# Folder cache
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Folder:
    n: int
    seed: int
    base: Path  # <cache>/n<N>-s<seed>
    anchor: str  # the day the dates are spread around (YYYYMMDD)
    counts: dict[str, int]  # "MODALITY:YYYYMMDD" -> entries
    scripts: dict[str, int]
    probe_accession: str
    note: str  # how it was obtained

    @property
    def worklists(self) -> Path:
        return self.base / "worklists"

    @property
    def mirror(self) -> Path:
        """Hard links to the same files, read by the reference servers unless --shared-folder."""
        return self.base / "mirror"

    def reference_layout(self, shared: bool) -> tuple[Path, Path]:
        """(folder Orthanc serves, wlmscpfs's -dfp root whose WLMSCPFS/ is that folder)."""
        if shared:
            return self.worklists, self.base / "wlmscpfs-root"
        return self.mirror, self.base / "wlmscpfs-mirror-root"


def _count_wl(folder: Path) -> int:
    with os.scandir(folder) as it:
        return sum(1 for item in it if item.name.endswith(".wl"))


def _remove_leftovers(folder: Path) -> None:
    """Files an interrupted freshness check may have left behind."""
    with os.scandir(folder) as it:
        for item in it:
            if item.name.startswith(("FRESH", ".FRESH")):
                with contextlib.suppress(OSError):
                    os.unlink(item.path)


def load_or_generate(cache: Path, n: int, seed: int) -> Folder:
    base = cache / f"n{n}-s{seed}"
    manifest_path = base / "manifest.json"
    today = dt.date.today()
    if manifest_path.is_file():
        try:
            manifest = json.loads(manifest_path.read_text("utf-8"))
            anchor = dt.datetime.strptime(manifest["anchor"], "%Y%m%d").date()
            valid = (manifest.get("format") == CACHE_FORMAT and manifest.get("n") == n
                     and manifest.get("seed") == seed
                     and abs((today - anchor).days) <= CACHE_MAX_AGE_DAYS)
            if valid:
                _remove_leftovers(base / "worklists")
                valid = _count_wl(base / "worklists") == n
            if valid:
                folder = Folder(n, seed, base, manifest["anchor"], manifest["counts"],
                                manifest["scripts"], manifest["probe_accession"],
                                f"cached in {base} (generated in "
                                f"{manifest.get('generated_s', '?')} s)")
                _ensure_wlmscpfs_root(folder)
                return folder
        except (OSError, ValueError, KeyError):
            pass
    return generate(base, n, seed, today)


def _ensure_wlmscpfs_root(folder: Folder) -> None:
    """<root>/WLMSCPFS -> ../worklists (and ../mirror), each with the lockfile wlmscpfs
    share-locks while scanning; the mirror holds hard links to the folder's .wl files."""
    if not folder.mirror.is_dir() or _count_wl(folder.mirror) != folder.n:
        _remove_own(folder.mirror)
        folder.mirror.mkdir()
        with os.scandir(folder.worklists) as it:
            for item in it:
                if item.name.endswith(".wl") and not item.name.startswith((".", "FRESH")):
                    os.link(item.path, folder.mirror / item.name)
    for shared in (True, False):
        served, root = folder.reference_layout(shared)
        (served / "lockfile").touch()
        root.mkdir(exist_ok=True)
        link = root / WLMSCPFS_AET
        if not link.is_symlink():
            link.symlink_to(Path("..") / served.name, target_is_directory=True)


def _write_new(path: Path, data: bytes) -> None:
    # os.open/os.write: several times faster than Path.write_bytes for many small files
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _remove_own(path: Path) -> None:
    """Remove an earlier (stale or partial) generated folder; refuse anything else."""
    if not path.exists():
        return
    ours = {"worklists", "wlmscpfs-root", "manifest.json", "mirror", "wlmscpfs-mirror-root"}
    if path.name == "mirror" and path.parent.joinpath("manifest.json").is_file():
        ours = {p.name for p in path.iterdir()}  # hard links made by _ensure_wlmscpfs_root
    if not path.is_dir() or not {p.name for p in path.iterdir()} <= ours:
        raise RuntimeError(f"{path} exists and is not a folder this benchmark generated; "
                           "move it away or choose another --keep DIR")
    shutil.rmtree(path)


def generate(base: Path, n: int, seed: int, anchor: dt.date) -> Folder:
    partial = base.with_name(base.name + ".partial")
    _remove_own(base)
    _remove_own(partial)
    target = partial / "worklists"
    target.mkdir(parents=True)
    started = time.perf_counter()
    rng = random.Random(seed)
    patients = [make_patient(rng, i + 1) for i in range(max(1, n * 7 // 10))]
    history = history_days(n)
    counts: Counter[str] = Counter()
    scripts: Counter[str] = Counter()
    samples: dict[tuple[str, str], Record] = {}
    sample_paths: dict[str, Path] = {}
    for index in range(n):
        patient = patients[rng.randrange(len(patients))]
        record = make_record(rng, index + 1, patient, anchor, seed, history=history)
        path = target / f"{record.accession}.wl"
        _write_new(path, encode_record(record))
        counts[f"{record.modality}:{record.start_date}"] += 1
        scripts[patient.script] += 1
        if index < 100:
            samples[("first", str(index))] = record
        samples.setdefault((patient.script, record.charset), record)
        sample_paths.setdefault(patient.script, path)
        if (index + 1) % 20000 == 0:
            progress(f"  generated {index + 1:,}/{n:,} files")
    elapsed = time.perf_counter() - started
    verified = verify_encoding(list(samples.values()), list(sample_paths.values()))
    manifest = {
        "format": CACHE_FORMAT, "n": n, "seed": seed, "anchor": anchor.strftime("%Y%m%d"),
        "counts": dict(counts), "scripts": dict(scripts),
        "probe_accession": f"ACC{n // 2 + 1:09d}", "generated_s": round(elapsed, 2),
        "verified": verified,
    }
    (partial / "manifest.json").write_text(json.dumps(manifest, indent=1), "utf-8")
    partial.rename(base)
    folder = Folder(n, seed, base, anchor.strftime("%Y%m%d"), dict(counts), dict(scripts),
                    f"ACC{n // 2 + 1:09d}", f"generated in {elapsed:.1f} s ({verified})")
    _ensure_wlmscpfs_root(folder)
    return folder


# --------------------------------------------------------------------------------------------
# Servers
# --------------------------------------------------------------------------------------------


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def free_port(taken: set[int]) -> int:
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((LOCALHOST, 0))
            port = int(sock.getsockname()[1])
        if port not in taken:
            taken.add(port)
            return port
    raise RuntimeError("no free TCP port found on 127.0.0.1")


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the benchmark dies (Linux), even on SIGKILL."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class ServerError(RuntimeError):
    pass


@dataclasses.dataclass
class Server:
    name: str
    aet: str
    port: int
    argv: list[str]
    log_path: Path
    env: dict[str, str] | None = None
    cwd: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    _log: Any = None

    def start(self) -> None:
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.started_at = time.perf_counter()
        self.proc = subprocess.Popen(
            self.argv, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            env=self.env, cwd=self.cwd, start_new_session=True,
            preexec_fn=_die_with_parent)  # noqa: PLW1509 - the benchmark runs no threads

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> int | None:
        proc, self.proc = self.proc, None
        code: int | None = None
        if proc is not None:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)  # its own session: it and its children
                try:
                    code = proc.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    code = proc.wait(STOP_TIMEOUT)
            else:
                code = proc.returncode
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def memory_kb(self) -> dict[str, int]:
        found: dict[str, int] = {}
        if self.proc is None:
            return found
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    found[key] = int(value.split()[0])
        return found


def wldesk_server(folder: Folder, work: Path, ports: set[int]) -> Server:
    xdg = work / "xdg"
    env = dict(os.environ)
    for name in ("CONFIG", "DATA", "STATE", "CACHE"):
        path = xdg / name.lower()
        path.mkdir(parents=True, exist_ok=True)
        env[f"XDG_{name}_HOME"] = os.fspath(path)
    env["PYTHONPATH"] = os.pathsep.join(
        [os.fspath(REPO_ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    port = free_port(ports)
    argv = [sys.executable, "-m", "wldesk", "serve", "--database", os.fspath(folder.worklists),
            "--port", str(port), "--aet", WLDESK_AET, "--bind", LOCALHOST]
    return Server("wldesk", WLDESK_AET, port, argv, work / f"wldesk-{folder.n}.log", env=env,
                  cwd=REPO_ROOT)


def wlmscpfs_server(folder: Folder, work: Path, ports: set[int], shared: bool) -> Server:
    port = free_port(ports)
    argv = [WLMSCPFS, "-dfr", "-dfp", os.fspath(folder.reference_layout(shared)[1]), str(port)]
    return Server("wlmscpfs", WLMSCPFS_AET, port, argv, work / f"wlmscpfs-{folder.n}.log")


def orthanc_server(folder: Folder, work: Path, ports: set[int], shared: bool) -> Server:
    port, http_port = free_port(ports), free_port(ports)
    home = work / f"orthanc-{folder.n}"
    home.mkdir(exist_ok=True)
    config = {
        "Name": "wldesk-bench",
        "DicomAet": ORTHANC_AET,
        "DicomPort": port,
        "HttpPort": http_port,
        "RemoteAccessAllowed": False,
        "StorageDirectory": os.fspath(home / "storage"),
        "IndexDirectory": os.fspath(home / "index"),
        "Plugins": [ORTHANC_WORKLIST_PLUGIN],
        "Worklists": {"Enable": True, "Database": os.fspath(folder.reference_layout(shared)[0])},
        "DicomAlwaysAllowFindWorklist": True,
        "DicomModalities": {"bench": [CALLING_AET, LOCALHOST, 104]},
        "DefaultEncoding": "Utf8",
        "SaveJobs": False,
    }
    config_path = home / "orthanc.json"
    config_path.write_text(json.dumps(config, indent=1), "utf-8")
    return Server("orthanc", ORTHANC_AET, port, [ORTHANC, os.fspath(config_path)],
                  work / f"orthanc-{folder.n}.log")


# --------------------------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------------------------

FIND_PENDING = re.compile(rb"^I: Find Response: \d+ \(Pending", re.M)
FIND_SUCCESS = b"Received Final Find Response (Success)"


@dataclasses.dataclass(frozen=True)
class Outcome:
    ms: float
    answers: int | None  # None for C-ECHO
    ok: bool  # the whole exchange succeeded (exit code 0, final status Success)
    detail: str = ""
    completed: bool | None = None  # the final Success arrived (answers and time are usable)
    client_cpu_ms: float | None = None  # the client's own CPU time (user + system)

    @property
    def usable(self) -> bool:
        return self.ok if self.completed is None else self.completed


def _errors(out: bytes, returncode: int) -> str:
    """findscu/echoscu's error lines (E:/F:), or the end of their output."""
    lines = [line for line in _text(out).splitlines() if line.startswith(("E:", "F:"))]
    return f"exit {returncode}: " + ("; ".join(lines)[:300] if lines else _text(out[-300:]))


def _run_client(argv: list[str], timeout: float) -> tuple[bytes, int, float, float]:
    """Run a DCMTK client: its output, exit code, wall time and own CPU time (both in ms).

    The CPU time comes from the rusage of waited-for children, so clients must run one at a time
    (the servers, also children, are waited for only when stopped). Raises TimeoutExpired.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, timeout=timeout, check=False)
    ms = (time.perf_counter() - started) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    return result.stdout, result.returncode, ms, cpu


def run_echo(server: Server, timeout: float = 30.0) -> Outcome:
    argv = [ECHOSCU, "-aet", CALLING_AET, "-aec", server.aet, LOCALHOST, str(server.port)]
    try:
        out, code, ms, cpu = _run_client(argv, timeout)
    except subprocess.TimeoutExpired:
        return Outcome(timeout * 1000, None, False, "echoscu timed out")
    return Outcome(ms, None, code == 0, "" if code == 0 else _errors(out, code), client_cpu_ms=cpu)


def run_find(server: Server, query: Path, timeout: float) -> Outcome:
    argv = [FINDSCU, "-v", "-W", "-aet", CALLING_AET, "-aec", server.aet, LOCALHOST,
            str(server.port), os.fspath(query)]
    try:
        out, code, ms, cpu = _run_client(argv, timeout)
    except subprocess.TimeoutExpired:
        return Outcome(timeout * 1000, None, False, f"findscu timed out after {timeout:.0f} s")
    answers = len(FIND_PENDING.findall(out))
    completed = FIND_SUCCESS in out
    ok = code == 0 and completed
    return Outcome(ms, answers, ok, "" if ok else _errors(out, code), completed, cpu)


def wait_for_echo(server: Server, timeout: float = ECHO_READY_TIMEOUT) -> float:
    """Seconds from the server's start until its first successful C-ECHO."""
    deadline = time.monotonic() + timeout
    while True:
        if not server.alive():
            raise ServerError(f"{server.name} exited before answering C-ECHO:\n{server.log_tail()}")
        if run_echo(server, timeout=10).ok:
            return time.perf_counter() - server.started_at
        if time.monotonic() > deadline:
            raise ServerError(f"{server.name} did not answer C-ECHO within {timeout:.0f} s:\n"
                              f"{server.log_tail()}")
        time.sleep(ECHO_POLL_INTERVAL)


# --------------------------------------------------------------------------------------------
# Queries
# --------------------------------------------------------------------------------------------

MODALITY_RETURN_KEYS = """\
(0008,0050) SH [{accession}]
(0008,0090) PN []
(0010,0010) PN []
(0010,0020) LO []
(0010,0030) DA []
(0010,0040) CS []
(0020,000d) UI []
(0032,1060) LO []
(0040,0100) SQ
  (fffe,e000) na
    (0008,0060) CS [{modality}]
    (0040,0001) AE []
    (0040,0002) DA [{date}]
    (0040,0003) TM []
    (0040,0006) PN []
    (0040,0007) LO []
    (0040,0009) SH []
    (0040,0010) SH []
    (0040,0020) CS []
  (fffe,e00d) na
(fffe,e0dd) na
(0040,1001) SH []
(0040,1003) SH []
"""
ALL_ENTRIES_KEYS = """\
(0008,0050) SH []
(0010,0010) PN []
(0010,0020) LO []
"""


@dataclasses.dataclass(frozen=True)
class Query:
    key: str
    label: str
    path: Path | None  # None: C-ECHO
    expected: int | None


def build_query(work: Path, name: str, dump: str) -> Path:
    dump_path = work / f"{name}.dump"
    out = work / f"{name}.dcm"
    dump_path.write_text(dump, "ascii")
    result = subprocess.run([DUMP2DCM, "--write-xfer-little", os.fspath(dump_path), os.fspath(out)],
                            stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False)
    if result.returncode != 0 or not out.is_file():
        raise RuntimeError(f"dump2dcm failed for {dump_path}: {_text(result.stdout + result.stderr)}")
    return out


def accession_query(work: Path, name: str, accession: str) -> Path:
    return build_query(work, name, MODALITY_RETURN_KEYS.format(accession=accession, modality="",
                                                               date=""))


def build_queries(folder: Folder, work: Path) -> list[Query]:
    day = dt.date.today()
    today = day.strftime("%Y%m%d")
    week = [(day + dt.timedelta(days=d)).strftime("%Y%m%d") for d in range(-3, 4)]
    qdir = work / f"queries-{folder.n}"
    qdir.mkdir(exist_ok=True)
    today_query = build_query(qdir, "ct-today", MODALITY_RETURN_KEYS.format(
        accession="", modality="CT", date=f"{today}-{today}"))
    week_query = build_query(qdir, "ct-week", MODALITY_RETURN_KEYS.format(
        accession="", modality="CT", date=f"{week[0]}-{week[-1]}"))
    return [
        Query("ct-today", f"Modality CT + today ({today}-{today})", today_query,
              folder.counts.get(f"CT:{today}", 0)),
        Query("ct-week", f"Modality CT + 7 days ({week[0]}-{week[-1]})", week_query,
              sum(folder.counts.get(f"CT:{d}", 0) for d in week)),
        Query("accession", f"one accession number ({folder.probe_accession})",
              accession_query(qdir, "accession", folder.probe_accession), 1),
        Query("all", "all entries, 3 return keys", build_query(qdir, "all", ALL_ENTRIES_KEYS),
              folder.n),
        Query("echo", "C-ECHO", None, None),
    ]


def run_query(server: Server, query: Query, timeout: float) -> Outcome:
    if query.path is None:
        return run_echo(server, timeout)
    return run_find(server, query.path, timeout)


# --------------------------------------------------------------------------------------------
# One folder size
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Freshness:
    accession: str
    found: bool
    query_ms: float
    gone_after_delete: bool
    scan_log: str


@dataclasses.dataclass
class SizeResult:
    n: int
    folder_note: str
    scripts: dict[str, int]
    servers: list[str] = dataclasses.field(default_factory=list)
    echo_ready_s: dict[str, float] = dataclasses.field(default_factory=dict)
    wldesk_first_answer_s: float | None = None  # from process start
    wldesk_first_query_ms: float | None = None  # the first query itself
    wldesk_first_failures: list[str] = dataclasses.field(default_factory=list)  # before it
    wldesk_memory_kb: dict[str, int] = dataclasses.field(default_factory=dict)
    wldesk_peak_kb: int | None = None
    wldesk_index_log: str = ""  # wldesk's own line about its initial indexing, if it logs one
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average before/after the timed runs
    skipped: dict[str, str] = dataclasses.field(default_factory=dict)
    queries: list[Query] = dataclasses.field(default_factory=list)
    samples: dict[str, dict[str, list[float]]] = dataclasses.field(default_factory=dict)
    client_cpu: dict[str, list[float]] = dataclasses.field(default_factory=dict)  # wldesk's runs
    answers: dict[str, dict[str, set[int]]] = dataclasses.field(default_factory=dict)
    problems: list[str] = dataclasses.field(default_factory=list)
    # (query, server) -> [failed runs, of which all answers arrived, first error]
    failures: dict[tuple[str, str], list[Any]] = dataclasses.field(default_factory=dict)
    runs: int = 0  # runs per server and query (warm-up included)
    wldesk_warnings: list[str] = dataclasses.field(default_factory=list)
    freshness: Freshness | None = None


def _index_line(wldesk: Server) -> str:
    """wldesk's log line about its first indexing (message part only), or ''."""
    for line in wldesk.log_path.read_bytes().decode("utf-8", "replace").splitlines():
        if SCAN_LOG.search(line):
            return line.split(": ", 1)[-1].strip()[-200:]
    return ""


def _warnings(wldesk: Server) -> list[str]:
    """wldesk's WARNING/ERROR log lines, counted by message (timestamps and numbers dropped)."""
    counts: Counter[str] = Counter()
    for line in _text(wldesk.log_path.read_bytes()).splitlines():
        match = re.match(r"\S+ \S+ (WARNING|ERROR|CRITICAL)\s+(\S+): (.*)", line)
        if match:
            message = re.sub(r"\(127\.0\.0\.1:\d+\)|#\d+", "…", match.group(3))[:160]
            counts[f"{match.group(1)} {match.group(2)}: {message}"] += 1
    return [f"{count}× {message}" for message, count in counts.most_common(6)]


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path, cache: Path, with_orthanc: bool):
        self.args = args
        self.work = work
        self.cache = cache
        self.with_orthanc = with_orthanc
        self.running: list[Server] = []

    def stop_all(self) -> None:
        while self.running:
            server = self.running.pop()
            code = server.stop()
            if server.name == "wldesk" and code not in (0, None):
                progress(f"note: wldesk exited with code {code} on SIGTERM")

    def _start(self, server: Server) -> None:
        self.running.append(server)
        server.start()

    def _stop(self, server: Server) -> None:
        if server in self.running:
            self.running.remove(server)
        server.stop()

    def run_size(self, n: int, freshness: bool) -> SizeResult:
        progress(f"[N={n:,}] preparing the folder")
        folder = load_or_generate(self.cache, n, self.args.seed)
        progress(f"[N={n:,}] folder {folder.note}")
        result = SizeResult(n, folder.note, folder.scripts)
        result.queries = build_queries(folder, self.work)
        ports: set[int] = set()
        servers: list[Server] = []

        def start(server: Server) -> bool:
            self._start(server)
            try:
                result.echo_ready_s[server.name] = wait_for_echo(server)
            except ServerError as exc:
                result.skipped[server.name] = str(exc).replace("\n", " / ")[:300]
                progress(f"[N={n:,}] {server.name} skipped: {exc}")
                self._stop(server)
                return False
            return True

        # wldesk alone first, so that its indexing time is measured without competition
        wldesk = wldesk_server(folder, self.work, ports)
        probe = result.queries[1]
        assert probe.path is not None
        if start(wldesk):
            progress(f"[N={n:,}] wldesk answers C-ECHO; waiting for its first query")
            deadline = time.monotonic() + self.args.first_query_timeout
            first = run_find(wldesk, probe.path, self.args.first_query_timeout)
            while not first.ok and wldesk.alive() and time.monotonic() < deadline:
                # e.g. findscu gives up after 60 s without data (DCMTK's socket receive timeout)
                # while a large folder is still being indexed: note it and ask again
                result.wldesk_first_failures.append(f"{first.ms / 1000:.1f} s: {first.detail.strip()[:120]}")
                first = run_find(wldesk, probe.path, max(1.0, deadline - time.monotonic()))
            if first.ok:
                result.wldesk_first_answer_s = time.perf_counter() - wldesk.started_at
                result.wldesk_first_query_ms = first.ms
                result.wldesk_memory_kb = wldesk.memory_kb()
                result.wldesk_index_log = _index_line(wldesk)
                servers.append(wldesk)
            else:
                reason = (f"first query failed or took over {self.args.first_query_timeout:.0f} s"
                          f" ({first.detail.strip()[:200]})")
                result.skipped["wldesk"] = reason
                progress(f"[N={n:,}] wldesk skipped: {reason}")
                self._stop(wldesk)

        for make in (wlmscpfs_server, orthanc_server):
            if make is orthanc_server and not self.with_orthanc:
                continue
            server = make(folder, self.work, ports, self.args.shared_folder)
            if start(server):
                servers.append(server)
        result.servers = [s.name for s in servers]
        progress(f"[N={n:,}] servers ready: " + ", ".join(
            f"{name} {sec:.2f} s" for name, sec in result.echo_ready_s.items()))

        for query in result.queries:
            result.samples[query.key] = {s.name: [] for s in servers}
            result.answers[query.key] = {s.name: set() for s in servers}

        def measure(server: Server, query: Query, keep: bool) -> None:
            outcome = run_query(server, query, self.args.query_timeout)
            if not outcome.ok:
                failed = result.failures.setdefault((query.key, server.name), [0, 0, ""])
                failed[0] += 1
                if outcome.usable:
                    failed[1] += 1
                if not failed[2]:
                    failed[2] = outcome.detail.strip()
                    progress(f"FAILED N={n} {server.name} {query.key}: {failed[2]}")
            if not outcome.usable:
                return
            if outcome.answers is not None:
                result.answers[query.key][server.name].add(outcome.answers)
            if keep:
                result.samples[query.key][server.name].append(outcome.ms)
                if server is wldesk and outcome.client_cpu_ms is not None:
                    result.client_cpu.setdefault(query.key, []).append(outcome.client_cpu_ms)

        load_before = os.getloadavg()[0]
        progress(f"[N={n:,}] warm-up run")
        for query in result.queries:
            for server in servers:
                measure(server, query, keep=False)
        for rep in range(self.args.repeat if servers else 0):
            progress(f"[N={n:,}] repetition {rep + 1}/{self.args.repeat}")
            order = servers[rep % len(servers):] + servers[:rep % len(servers)]
            for query in result.queries:
                for server in order:
                    measure(server, query, keep=True)

        result.load = (load_before, os.getloadavg()[0])
        if wldesk in servers:
            result.wldesk_peak_kb = wldesk.memory_kb().get("VmHWM")
            if freshness:
                result.freshness = self.freshness(folder, wldesk)
        result.runs = self.args.repeat + 1
        for (query_key, name), (failed, usable, detail) in result.failures.items():
            timed = (f"; {usable} of them got every answer and Success and are timed"
                     if usable else "")
            result.problems.append(f"FAILED N={n} {name} {query_key}: {failed} of "
                                   f"{result.runs} runs{timed}; first error: {detail}")
        self.check_counts(result)
        for server in servers:
            self._stop(server)
        if "wldesk" not in result.skipped:
            result.wldesk_warnings = _warnings(wldesk)
        return result

    def freshness(self, folder: Folder, wldesk: Server) -> Freshness:
        accession = f"FRESH{int(time.time()) % 100_000_000:08d}"
        query = accession_query(self.work, "fresh", accession)
        record = make_record(random.Random(accession), folder.n + 1,
                             make_patient(random.Random(accession), 99_999_999),
                             dt.date.today(), self.args.seed)
        record = dataclasses.replace(record, accession=accession)
        final = folder.worklists / f"{accession}.wl"
        temp = folder.worklists / f".{accession}.tmp"
        log_offset = wldesk.log_path.stat().st_size
        try:
            temp.write_bytes(encode_record(record))
            os.replace(temp, final)  # how a RIS export should write: complete file, then rename
            outcome = run_find(wldesk, query, self.args.query_timeout)
            found = outcome.ok and outcome.answers == 1
        finally:
            for path in (temp, final):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
        after = run_find(wldesk, query, self.args.query_timeout)
        gone = after.ok and after.answers == 0
        scan_log = self._scan_log(wldesk, log_offset, folder.n)
        return Freshness(accession, found, outcome.ms, gone, scan_log)

    @staticmethod
    def _scan_log(wldesk: Server, offset: int, n: int) -> str:
        data = wldesk.log_path.read_bytes()
        every = [line for line in _text(data).splitlines() if SCAN_LOG.search(line)]
        if not every:
            return "n/a: wldesk logs no scan/index lines"
        window = [line.split(": ", 1)[-1].strip() for line in _text(data[offset:]).splitlines()
                  if SCAN_LOG.search(line)]
        if not window:
            return "no scan/index line logged around the new file"
        # a full rescan: said so, or a count of at least half the folder's entries/files
        full = [line for line in window
                if FULL_SCAN_LOG.search(line)
                or any(int(num.replace(",", "")) >= n // 2
                       for num in re.findall(r"(\d[\d,]*) (?:entries|files)", line))]
        shown = "; ".join(line[-160:] for line in window[:3])
        return (f"FULL RESCAN logged: {shown}" if full else f"incremental update logged: {shown}")

    @staticmethod
    def check_counts(result: SizeResult) -> None:
        for query in result.queries:
            if query.path is None:
                continue
            seen = result.answers[query.key]
            values = {name: sorted(counts) for name, counts in seen.items() if counts}
            distinct = {count for counts in seen.values() for count in counts}
            if len(distinct) > 1:
                message = (f"MISMATCH N={result.n} {query.key}: answers per server "
                           + ", ".join(f"{k}={v}" for k, v in values.items()))
                result.problems.append(message)
                progress(message)
            elif distinct and query.expected is not None and distinct != {query.expected}:
                message = (f"MISMATCH N={result.n} {query.key}: all servers answered "
                           f"{distinct.pop()}, the generated folder holds {query.expected}")
                result.problems.append(message)
                progress(message)


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def _first_line(argv: list[str], pattern: str = r".+") -> str:
    try:
        result = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=30,
                                check=False, cwd=REPO_ROOT)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    match = re.search(pattern, _text(result.stdout + result.stderr))
    return match.group(match.lastindex or 0).strip() if match else "?"


def wldesk_version() -> str:
    """wldesk's version and git commit (and whether wldesk/ has uncommitted changes)."""
    version = _first_line([sys.executable, "-m", "wldesk", "--version"], r"wldesk\s+\S+")
    commit = _first_line(["git", "-C", os.fspath(REPO_ROOT), "rev-parse", "--short", "HEAD"])
    dirty = _first_line(["git", "-C", os.fspath(REPO_ROOT), "status", "--porcelain", "--", "wldesk"])
    return f"{version} (git {commit}{', uncommitted changes in wldesk/' if dirty != '?' else ''})"


def machine_and_versions(with_orthanc: bool, wldesk_at_start: str) -> list[str]:
    cpu = "?"
    with contextlib.suppress(OSError):
        match = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        cpu = match.group(1).strip() if match else platform.processor() or "?"
    ram = "?"
    with contextlib.suppress(OSError, AttributeError, ValueError):
        match = re.search(r"^MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
        ram = f"{int(match.group(1)) / 1024 / 1024:.1f} GiB" if match else "?"
    wldesk = wldesk_version()
    if wldesk != wldesk_at_start:
        wldesk = f"{wldesk_at_start} at the start, {wldesk} at the end (wldesk changed during the run)"
    dcmtk = _first_line([FINDSCU, "--version"], r"findscu (v[\d.]+)")
    versions = [wldesk, f"DCMTK findscu/wlmscpfs {dcmtk}",
                f"Python {platform.python_version()}", f"pydicom {pydicom.__version__}"]
    versions.append(f"pynetdicom {pynetdicom.__version__}")
    if with_orthanc:
        versions.append(_first_line([ORTHANC, "--version"], r"Orthanc\s+\S+") +
                        " (libModalityWorklists)")
    return [
        f"- date: {dt.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}",
        f"- machine: {len(os.sched_getaffinity(0))} CPUs (nproc), {cpu}, {ram} RAM, "
        f"{platform.system()} {platform.release()} {platform.machine()}",
        f"- versions: {', '.join(versions)}",
    ]


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values):,.0f}" if values else "—"


def _ratio(other: list[float], base: list[float]) -> str:
    if not other or not base:
        return "—"
    return f"{statistics.median(other) / statistics.median(base):.2f}×"


def size_report(result: SizeResult, with_orthanc: bool) -> list[str]:
    mix = ", ".join(f"{result.scripts.get(k, 0):,} {label}" for k, label in
                    (("ascii", "ASCII"), ("latin1", "Latin-1"), ("utf8", "UTF-8")))
    lines = [f"### {result.n:,} files", "", f"- folder: {mix} patient names; {result.folder_note}"]
    ready = ", ".join(f"{name} {sec:.2f} s" for name, sec in result.echo_ready_s.items())
    lines.append(f"- first C-ECHO answered after: {ready}")
    for name, reason in result.skipped.items():
        lines.append(f"- {name} SKIPPED: {reason}")
    if result.wldesk_first_answer_s is not None and result.wldesk_first_query_ms is not None:
        lines.append(f"- wldesk startup/first query: first answer {result.wldesk_first_answer_s:.2f}"
                     f" s after process start (that query itself {result.wldesk_first_query_ms:,.0f}"
                     " ms, indexing included)")
        for failure in result.wldesk_first_failures:
            lines.append(f"- an earlier first query failed after {failure}")
        rss = result.wldesk_memory_kb.get("VmRSS")
        peak = f"; peak (VmHWM) at the end {result.wldesk_peak_kb / 1024:,.0f} MiB" \
            if result.wldesk_peak_kb else ""
        if rss:
            lines.append(f"- wldesk resident memory after indexing: VmRSS {rss / 1024:,.0f} MiB{peak}")
        if result.wldesk_index_log:
            lines.append(f"- wldesk's log: `{result.wldesk_index_log}`")
    lines.append(f"- 1-minute load average before/after the timed runs: {result.load[0]:.2f} / "
                 f"{result.load[1]:.2f} (other work on the machine inflates every column)")
    lines += ["", "| query | answers | client CPU ms | wldesk ms | wlmscpfs ms | orthanc ms | "
              "wlmscpfs/wldesk | orthanc/wldesk |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for query in result.queries:
        samples = result.samples.get(query.key, {})
        seen = result.answers.get(query.key, {})
        distinct = sorted({count for counts in seen.values() for count in counts})
        if query.path is None:
            answers = "—"
        elif len(distinct) == 1:
            answers = f"{distinct[0]:,}"
        else:
            answers = "MISMATCH " + " / ".join(
                f"{name} {','.join(map(str, sorted(counts))) or '?'}" for name, counts in seen.items())
        wl = samples.get("wldesk", [])
        wlm = samples.get("wlmscpfs", [])
        orth = samples.get("orthanc", [])
        def cell(name: str, values: list[float], key: str = query.key) -> str:
            if name in result.skipped:
                return "skipped"
            failed = result.failures.get((key, name))
            return _ms(values) + (f" ({failed[0]} failed)" if failed else "")

        wl_cell, wlm_cell = cell("wldesk", wl), cell("wlmscpfs", wlm)
        orth_cell = cell("orthanc", orth) if with_orthanc else "n/a"
        client = _ms(result.client_cpu.get(query.key, []))
        lines.append(f"| {query.label} | {answers} | {client} | {wl_cell} | {wlm_cell} | {orth_cell} | "
                     f"{_ratio(wlm, wl)} | {_ratio(orth, wl) if with_orthanc else 'n/a'} |")
    lines += ["", "- client CPU ms: the DCMTK client's own CPU time (user + system) in wldesk's runs, "
                  "median: a floor for every server's time, since the client must do that work."]
    if result.freshness is not None:
        f = result.freshness
        lines += ["", f"- freshness at {result.n:,} files: new file {f.accession}.wl written "
                      f"(temp name, then rename) and queried at once: found "
                      f"{'yes' if f.found else 'NO'} in {f.query_ms:,.0f} ms; after deleting it, "
                      f"gone {'yes' if f.gone_after_delete else 'NO'}; log: {f.scan_log}"]
    for problem in result.problems:
        lines.append(f"- {problem}")
    if result.wldesk_warnings:
        lines.append("- wldesk's log warnings/errors: " + "; ".join(result.wldesk_warnings))
    return [*lines, ""]


def write_json(path: Path, results: list[SizeResult]) -> None:
    data = [{
        "n": r.n, "folder": r.folder_note, "echo_ready_s": r.echo_ready_s,
        "wldesk_first_answer_s": r.wldesk_first_answer_s,
        "wldesk_first_query_ms": r.wldesk_first_query_ms,
        "wldesk_first_failures": r.wldesk_first_failures,
        "wldesk_memory_kb": r.wldesk_memory_kb, "wldesk_peak_kb": r.wldesk_peak_kb,
        "skipped": r.skipped, "problems": r.problems, "wldesk_warnings": r.wldesk_warnings,
        "load_before_after": r.load,
        "queries": {q.key: {"label": q.label, "expected": q.expected,
                            "answers": {k: sorted(v) for k, v in r.answers[q.key].items()},
                            "ms": r.samples[q.key], "client_cpu_ms": r.client_cpu.get(q.key, [])}
                    for q in r.queries if q.key in r.samples},
        "freshness": dataclasses.asdict(r.freshness) if r.freshness else None,
    } for r in results]
    path.write_text(json.dumps(data, indent=1), "utf-8")


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Time findscu -W / echoscu against wldesk, wlmscpfs and (when installed) "
                    "Orthanc on generated folders of .wl files; print a Markdown report.")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000], metavar="N",
                        help="folder sizes (number of .wl files); default: 1000 10000")
    parser.add_argument("--repeat", type=int, default=15,
                        help="timed runs per server and query (median reported); default 15")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="cache the generated folders in DIR (default: "
                             "$TMPDIR/wldesk-bench-cache)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the folders")
    parser.add_argument("--no-orthanc", action="store_true", help="leave Orthanc out")
    parser.add_argument("--shared-folder", action="store_true",
                        help="let wlmscpfs and Orthanc read wldesk's own folder (by default they "
                             "read a folder of hard links to the same files, so that their "
                             "per-query reading of every file sends no inotify events to wldesk)")
    parser.add_argument("--first-query-timeout", type=float, default=180.0, metavar="SEC",
                        help="skip wldesk at a size when its first query (initial indexing "
                             "included) takes longer; default 180")
    parser.add_argument("--query-timeout", type=float, default=600.0, metavar="SEC",
                        help="upper bound for one findscu run; default 600")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write raw timings as JSON")
    parser.add_argument("--logs", type=Path, metavar="DIR",
                        help="copy the servers' logs (stdout/stderr) to DIR at the end")
    return parser


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.repeat < 1 or any(n < 2 for n in args.sizes):
        print("--repeat must be >= 1 and every size >= 2", file=sys.stderr)
        return 2
    missing = [tool for tool in (FINDSCU, ECHOSCU, WLMSCPFS, DUMP2DCM) if not os.access(tool, os.X_OK)]
    if missing:
        print(f"DCMTK programs missing: {', '.join(missing)} (apt-get install dcmtk)", file=sys.stderr)
        return 2
    with_orthanc = (not args.no_orthanc and os.access(ORTHANC, os.X_OK)
                    and Path(ORTHANC_WORKLIST_PLUGIN).exists())
    if not with_orthanc:
        progress("Orthanc left out (--no-orthanc, or /usr/sbin/Orthanc or its worklist plugin "
                 "is not installed)")
    cache = args.keep or Path(tempfile.gettempdir()) / "wldesk-bench-cache"
    cache.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with it ignored
    started = time.perf_counter()
    wldesk_at_start = wldesk_version()
    sizes = sorted(set(args.sizes))
    results: list[SizeResult] = []
    out: TextIO = sys.stdout
    with tempfile.TemporaryDirectory(prefix="wldesk-bench-") as tmp:
        bench = Bench(args, Path(tmp), cache, with_orthanc)
        try:
            for n in sizes:
                results.append(bench.run_size(n, freshness=n == sizes[-1]))
        except KeyboardInterrupt:
            progress("interrupted; stopping the servers")
            return 130
        except RuntimeError as exc:  # ServerError, a folder that cannot be generated, dump2dcm
            progress(f"error: {exc}")
            return 1
        finally:
            bench.stop_all()
            if args.logs:
                args.logs.mkdir(parents=True, exist_ok=True)
                for log_file in Path(tmp).glob("*.log"):
                    shutil.copy2(log_file, args.logs / log_file.name)
    lines = ["## wldesk worklist benchmark", "", *machine_and_versions(with_orthanc, wldesk_at_start),
             f"- method: median of {args.repeat} timed whole-process runs of `findscu -W` "
             "(C-FIND) or `echoscu` (C-ECHO) per server and query, after one warm-up run; "
             "servers in alternation (round-robin, rotated each repetition); all on 127.0.0.1",
             "- wlmscpfs and Orthanc read " + (
                 "wldesk's own folder (--shared-folder)" if args.shared_folder else
                 "a folder of hard links to the same files (so that their reading sends no "
                 "inotify events to wldesk's watch; --shared-folder to change)"),
             f"- total run time: {time.perf_counter() - started:,.0f} s", ""]
    for result in results:
        lines += size_report(result, with_orthanc)
    print("\n".join(lines), file=out, flush=True)
    if args.json:
        write_json(args.json, results)
    problems = [p for r in results for p in r.problems]
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
