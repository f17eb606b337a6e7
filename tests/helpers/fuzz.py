"""Fuzzing C-FIND identifiers: valid worklist queries, mutated byte-wise, sent as they are.

The SCU only sends identifiers it encoded itself; ``raw_identifiers()`` lets
``wldesk.core.net.scu.find`` send given bytes instead (a ``RawIdentifier`` carries them), so the
server receives exactly the mutated bytes in its P-DATA, over a real association. Used by
``tests/core/net/test_fuzz.py`` (a small, fixed slice) and ``benchmarks/fuzz_queries.py``.
"""

from __future__ import annotations

import contextlib
import logging
import random
import struct
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.sequence import Sequence
from pynetdicom import AE
from pynetdicom.sop_class import ModalityWorklistInformationFind  # type: ignore[attr-defined]

from wldesk.core.net import scu

MWL = ModalityWorklistInformationFind


class RawIdentifier(Dataset):
    """An identifier that goes on the wire as ``raw``, whatever it is."""

    def __init__(self, raw: bytes) -> None:
        super().__init__()
        self.__dict__["raw"] = raw


@contextlib.contextmanager
def raw_identifiers() -> Iterator[None]:
    """While active, ``scu.find(assoc, RawIdentifier(b))`` sends the bytes ``b`` unchanged."""
    module: Any = scu
    original: Callable[..., bytes | None] = module.encode

    def encode(ds: Dataset, *args: Any, **kwargs: Any) -> bytes | None:
        if isinstance(ds, RawIdentifier):
            return bytes(ds.__dict__["raw"])
        return original(ds, *args, **kwargs)

    module.encode = encode
    try:
        yield
    finally:
        module.encode = original


def _encode(ds: Dataset, implicit: bool) -> bytes:
    fp = DicomBytesIO()
    fp.is_little_endian = True
    fp.is_implicit_VR = implicit
    write_dataset(fp, ds)
    return fp.getvalue()


def base_queries() -> list[Dataset]:
    """Queries as modalities send them: keys with values, universal keys, a step sequence."""
    queries = []
    for name, date, charset in (("DOE^JOHN", "20261127", None), ("D*", "20261101-20261130", None),
                                ("", "", "ISO_IR 100"), ("Müller*", "-20261231", "ISO_IR 192"),
                                ("", "20261127", "UTF-8")):
        query = Dataset()
        if charset is not None:
            query.SpecificCharacterSet = charset
        query.PatientName = name
        query.PatientID = ""
        query.AccessionNumber = ""
        query.PatientBirthDate = ""
        query.StudyInstanceUID = ""
        query.RequestedProcedureID = ""
        step = Dataset()
        step.Modality = "CT" if name else ""
        step.ScheduledStationAETitle = ""
        step.ScheduledProcedureStepStartDate = date
        step.ScheduledProcedureStepStartTime = ""
        step.ScheduledProtocolCodeSequence = Sequence([])
        query.ScheduledProcedureStepSequence = Sequence([step])
        query.ReferencedStudySequence = Sequence([])
        queries.append(query)
    return queries


def base_identifiers(implicit: bool) -> list[bytes]:
    return [_encode(query, implicit) for query in base_queries()]


def mutate(rng: random.Random, data: bytes) -> bytes:
    """One random corruption of ``data``: what a broken or hostile SCU could send."""
    out = bytearray(data)
    kind = rng.randrange(9)
    if kind == 0:  # flip a few bytes
        for _ in range(rng.randint(1, 4)):
            out[rng.randrange(len(out))] = rng.randrange(256)
    elif kind == 1:  # a length field (4 bytes, even offset) set to something else
        pos = rng.randrange(0, max(len(out) - 4, 1), 2)
        value = rng.choice([0xFFFFFFFF, len(out), len(out) + rng.randint(1, 64), rng.randrange(1 << 32),
                            rng.randint(0, 16)])
        out[pos:pos + 4] = struct.pack("<I", value)
    elif kind == 2:  # a 2-byte length (explicit VR) changed
        pos = rng.randrange(0, max(len(out) - 2, 1), 2)
        out[pos:pos + 2] = struct.pack("<H", rng.randrange(1 << 16))
    elif kind == 3:  # cut short
        del out[rng.randrange(len(out)):]
    elif kind == 4:  # garbage appended
        out += rng.randbytes(rng.randint(1, 40))
    elif kind == 5:  # bytes inserted
        pos = rng.randrange(len(out) + 1)
        out[pos:pos] = rng.randbytes(rng.randint(1, 12))
    elif kind == 6:  # a VR replaced (explicit) or a tag changed
        pos = rng.randrange(0, max(len(out) - 2, 1), 2)
        out[pos:pos + 2] = rng.choice([b"SQ", b"UN", b"OB", b"DA", b"PN", b"AT", b"US", b"FD", b"UT",
                                       rng.randbytes(2)])
    elif kind == 7:  # a sequence or item length made to run past the data
        marks = [i for i in range(0, len(out) - 8, 2)
                 if bytes(out[i:i + 4]) in (b"\xfe\xff\x00\xe0", b"\x40\x00\x00\x01")]
        if marks:
            mark = rng.choice(marks)
            pos = mark + (8 if out[mark + 4:mark + 6] == b"SQ" else 4)
            out[pos:pos + 4] = struct.pack("<I", len(out) + rng.randint(1, 200))
        else:
            out[-4:] = rng.randbytes(4)
    else:  # random bytes
        out = bytearray(rng.randbytes(rng.randint(0, 200)))
    if not out:  # no identifier at all is a C-FIND-RQ without a data set, not a query to fuzz
        out = bytearray(rng.randbytes(1))
    if rng.random() < 0.3:  # sometimes two corruptions
        return mutate(rng, bytes(out))
    return bytes(out)


def cases(seed: int, count: int, implicit: bool) -> Iterator[bytes]:
    rng = random.Random(seed)
    bases = base_identifiers(implicit)
    for _ in range(count):
        yield mutate(rng, rng.choice(bases))


class ErrorRecords(logging.Handler):
    """Counts ERROR records and records with a traceback (on the root logger while active)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.errors: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR or record.exc_info:
            self.errors.append(record)


@dataclass
class FuzzResult:
    statuses: Counter[int] = field(default_factory=Counter)
    no_answer: int = 0  # the association ended without a final status
    examples: dict[int, tuple[bytes, str]] = field(default_factory=dict)  # status -> case, comment

    @property
    def cases(self) -> int:
        return sum(self.statuses.values()) + self.no_answer


def run_cases(port: int, identifiers: Iterator[bytes], implicit: bool, *,
              fresh: bool = False, timeout: float = 3) -> FuzzResult:
    """Send each identifier in a C-FIND over a real association: one for all (a new one after
    an abort), or with ``fresh`` a new one for each."""
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

    ae = AE(ae_title="FUZZ")
    ae.add_requested_context(MWL, [ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian])
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
    result = FuzzResult()
    assoc = None
    with raw_identifiers():
        for data in identifiers:
            if assoc is None or not assoc.is_established:
                assoc = ae.associate("127.0.0.1", port, ae_title="WLDESK")
                assert assoc.is_established, "the server refused the association"
            found = scu.find(assoc, RawIdentifier(data), MWL)
            final = found.status if found.final_status is not None else None
            if final is None:
                if fresh and assoc.is_established:
                    assoc.abort()
                result.no_answer += 1
                result.examples.setdefault(-1, (data, "no final status"))
                continue
            if fresh:
                assoc.release()
            code = int(final.Status)
            result.statuses[code] += 1
            result.examples.setdefault(code, (data, str(final.get("ErrorComment", ""))))
    if assoc is not None and assoc.is_established:
        assoc.release()
    return result
