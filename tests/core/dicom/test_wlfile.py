"""Reading one `.wl` file: complete files are accepted in every encoding, incomplete ones never are.

pydicom alone parses a truncated file without complaint, so a half-written worklist file would be
served as a smaller, wrong entry; wldesk's structural walk must reject every cut that leaves an
element, an item or a sequence unfinished.
"""

from __future__ import annotations

import io
import random
import struct
import warnings
from collections.abc import Callable
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from tests.helpers.samples import (
    HAVE_DCMTK,
    NO_DCMTK_REASON,
    Syntax,
    convert_dcmtk_samples,
    dataset_of,
    dataset_start,
    dcmtk_sample_dumps,
    dump2dcm,
    encode,
    raw_text,
    requires_dump2dcm,
    step,
    top_level_boundaries,
    worklist_dataset,
    write_wl,
)
from wldesk.core.dicom.wlfile import WorklistFileError, parse_bytes
from wldesk.core.store import read_entry

# A dump with nested undefined-length sequences: SPS > protocol code > its context sequence, and
# a referenced study sequence; written by dump2dcm with -e (undefined lengths everywhere).
NESTED_DUMP = """\
(0008,0005) CS  [ISO_IR 100]
(0008,0050) SH  [ACC42]
(0008,1110) SQ
(fffe,e000) -
(0008,1150) UI  [1.2.840.10008.3.1.2.3.1]
(0008,1155) UI  [1.2.826.0.1.3680043.8.498.77]
(fffe,e00d) -
(fffe,e0dd) -
(0010,0010) PN  [NESTED^PATIENT]
(0010,0020) LO  [NP1]
(0020,000d) UI  [1.2.826.0.1.3680043.8.498.78]
(0032,1060) LO  [CT thorax]
(0040,0100) SQ
(fffe,e000) -
(0008,0060) CS  [CT]
(0040,0001) AE  [CT1]
(0040,0002) DA  [20240102]
(0040,0003) TM  [0930]
(0040,0007) LO  [CT thorax with contrast]
(0040,0008) SQ
(fffe,e000) -
(0008,0100) SH  [P5-0905E]
(0008,0102) SH  [SRT]
(0008,0104) LO  [CT chest]
(0040,0440) SQ
(fffe,e000) -
(0008,0100) SH  [113721]
(0008,0102) SH  [DCM]
(0008,0104) LO  [contrast]
(fffe,e00d) -
(fffe,e0dd) -
(fffe,e00d) -
(fffe,e0dd) -
(0040,0009) SH  [SPS42]
(fffe,e00d) -
(fffe,e0dd) -
(0040,1001) SH  [RP42]
"""

UNDEFINED_LENGTH = b"\xff\xff\xff\xff"
SEQUENCE_DELIMITER = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"


def rejected(data: bytes) -> bool:
    try:
        parse_bytes(data)
    except WorklistFileError:
        return True
    return False


def pydicom_accepts(data: bytes) -> bool:
    """What pydicom alone makes of ``data`` (warnings silenced: only whether it raises)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = pydicom.dcmread(io.BytesIO(data), force=True)
            for _ in ds.iterall():
                pass
        except Exception:
            return False
    return True


# --- complete files ------------------------------------------------------------------------------

@pytest.mark.parametrize("syntax", ["explicit", "implicit", "raw-explicit", "raw-implicit"])
def test_complete_pydicom_file_is_read(tmp_path: Path, syntax: Syntax) -> None:
    path = write_wl(tmp_path / "entry.wl", worklist_dataset(), syntax)
    entry = read_entry(path)
    ds = dataset_of(entry)
    assert flatten(ds) == flatten(worklist_dataset())
    assert str(ds.PatientName) == "DOE^JOHN"
    assert ds.PatientID == "PID1"
    (sps,) = ds.ScheduledProcedureStepSequence
    assert sps.ScheduledStationAETitle == "CT1"
    assert sps.Modality == "CT"
    assert entry.notes == ()
    assert list(entry.charset) == []
    assert entry.path == path


def test_file_meta_is_written_as_asked(tmp_path: Path) -> None:
    """The fixtures really are what they claim: Part 10 with meta, and bare datasets without."""
    explicit = write_wl(tmp_path / "e.wl", worklist_dataset(), "explicit").read_bytes()
    implicit = write_wl(tmp_path / "i.wl", worklist_dataset(), "implicit").read_bytes()
    raw = write_wl(tmp_path / "r.wl", worklist_dataset(), "raw-implicit").read_bytes()
    assert explicit[128:132] == b"DICM" and b"1.2.840.10008.1.2.1" in explicit[132:400]
    assert implicit[128:132] == b"DICM" and b"1.2.840.10008.1.2\0" in implicit[132:400]
    assert raw[:4] == b"\x08\x00\x50\x00"  # AccessionNumber first, no preamble


@requires_dump2dcm
@pytest.mark.parametrize("options", [(), ("-e",), ("+ti",), ("-e", "+ti"), ("-F",), ("-F", "+ti"),
                                     ("+tb",), ("+td",), ("+g",), ("-F", "+g"), ("-F", "+g", "+ti")],
                         ids=["explicit", "undefined-lengths", "implicit", "implicit-undefined",
                              "raw", "raw-implicit", "big-endian", "deflated", "group-lengths",
                              "raw-group-lengths", "raw-implicit-group-lengths"])
def test_dcmtk_samples_are_read(tmp_path: Path, options: tuple[str, ...]) -> None:
    paths = convert_dcmtk_samples(tmp_path, *options)
    assert len(paths) == 10
    for path in paths:
        entry = read_entry(path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reference = pydicom.dcmread(path, force=True)
        ds = dataset_of(entry)
        assert ds.PatientID == reference.PatientID, path
        assert str(ds.PatientName) == str(reference.PatientName), path
        assert len(ds.ScheduledProcedureStepSequence) == 1, path
        assert list(entry.charset) == ["ISO_IR 100"], path
        assert flatten(ds) == flatten(reference), path  # every value decoded as pydicom does


def _normalized(value: object) -> object:
    if isinstance(value, (list, tuple, MultiValue)):
        return tuple(_normalized(v) for v in value)
    if isinstance(value, bytes):
        return value.rstrip(b"\0 ")
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return value
    return str(value).rstrip(" \0")


def flatten(ds: Dataset, prefix: str = "") -> dict[str, object]:
    """Every element of ``ds`` (file meta left out) as path -> normalized value; items counted."""
    out: dict[str, object] = {}
    for elem in ds:
        if elem.tag.group == 0x0002:
            continue
        key = f"{prefix}{elem.tag}"
        if elem.VR == "SQ":
            out[key] = len(elem.value)
            for number, item in enumerate(elem.value):
                out.update(flatten(item, f"{key}[{number}]."))
        else:
            out[key] = _normalized(elem.value)
    return out


@requires_dump2dcm
def test_nested_undefined_length_sequences(tmp_path: Path) -> None:
    dump = tmp_path / "nested.dump"
    dump.write_text(NESTED_DUMP, encoding="ascii")
    path = dump2dcm(dump, tmp_path / "nested.wl", "-e")
    data = path.read_bytes()
    # dump2dcm -e really wrote undefined lengths and delimiters at several levels
    assert data.count(UNDEFINED_LENGTH) >= 8
    assert data.count(SEQUENCE_DELIMITER) == 4

    ds = dataset_of(parse_bytes(data))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert flatten(ds) == flatten(pydicom.dcmread(io.BytesIO(data), force=True))
    assert ds.ReferencedStudySequence[0].ReferencedSOPInstanceUID == "1.2.826.0.1.3680043.8.498.77"
    (sps,) = ds.ScheduledProcedureStepSequence
    (code,) = sps.ScheduledProtocolCodeSequence
    assert code.CodeValue == "P5-0905E"
    assert code.ProtocolContextSequence[0].CodeMeaning == "contrast"
    assert sps.ScheduledProcedureStepID == "SPS42"
    assert ds.RequestedProcedureID == "RP42"


@requires_dump2dcm
def test_every_cut_inside_nested_undefined_length_sequences_is_rejected(tmp_path: Path) -> None:
    """Inside an undefined-length sequence no cut can look complete: the delimiters are missing."""
    dump = tmp_path / "nested.dump"
    dump.write_text(NESTED_DUMP, encoding="ascii")
    data = dump2dcm(dump, tmp_path / "nested.wl", "-e").read_bytes()
    sps_start = data.index(b"\x40\x00\x00\x01SQ")
    sps_end = data.index(b"\x40\x00\x01\x10SH")  # RequestedProcedureID follows the sequence
    accepted = [n for n in range(sps_start + 1, sps_end) if not rejected(data[:n])]
    assert accepted == []
    study_start = data.index(b"\x08\x00\x10\x11SQ")
    study_end = data.index(b"\x10\x00\x10\x00PN")
    accepted = [n for n in range(study_start + 1, study_end) if not rejected(data[:n])]
    assert accepted == []


# --- truncated files -----------------------------------------------------------------------------

def _pydicom_explicit() -> tuple[bytes, bool]:
    return encode(worklist_dataset(), "explicit"), False


def _pydicom_implicit() -> tuple[bytes, bool]:
    return encode(worklist_dataset(), "implicit"), True


def _dcmtk(*options: str) -> Callable[[Path], tuple[bytes, bool]]:
    def make(tmp_path: Path) -> tuple[bytes, bool]:
        out = dump2dcm(dcmtk_sample_dumps()[0], tmp_path / "wklist1.wl", *options)
        return out.read_bytes(), "+ti" in options
    return make


TRUNCATION_SOURCES: dict[str, Callable[[Path], tuple[bytes, bool]]] = {
    "pydicom-explicit": lambda _: _pydicom_explicit(),
    "pydicom-implicit": lambda _: _pydicom_implicit(),
    "dcmtk-explicit-lengths": _dcmtk(),
    "dcmtk-undefined-lengths": _dcmtk("-e"),
    "dcmtk-implicit": _dcmtk("+ti"),
    "dcmtk-deflated": _dcmtk("+td"),
}


def _source(name: str, tmp_path: Path) -> tuple[bytes, bool]:
    if name.startswith("dcmtk") and not HAVE_DCMTK:
        pytest.skip(NO_DCMTK_REASON)
    return TRUNCATION_SOURCES[name](tmp_path)


@pytest.mark.parametrize("source", sorted(TRUNCATION_SOURCES))
def test_truncated_at_every_7th_byte_is_rejected(tmp_path: Path, source: str) -> None:
    """Every cut at offsets 7, 14, ... < len is rejected, by parse_bytes and by read_entry.

    Cuts that fall exactly between two top-level elements of the dataset are left out: they leave
    a complete, smaller dataset (see test_cut_between_top_level_elements_is_rejected).
    """
    data, implicit = _source(source, tmp_path)
    assert rejected(data) is False
    boundaries = set() if source == "dcmtk-deflated" else top_level_boundaries(data, implicit=implicit)
    offsets = [n for n in range(7, len(data), 7) if n not in boundaries - {dataset_start(data)}]
    assert len(offsets) > 50

    accepted_by_parse = [n for n in offsets if not rejected(data[:n])]
    assert accepted_by_parse == [], f"{source}: cuts accepted as complete files"

    accepted_by_read_entry = []
    for n in offsets:
        path = tmp_path / f"cut{n}.wl"
        path.write_bytes(data[:n])
        try:
            read_entry(path)
        except WorklistFileError as exc:
            assert str(exc)
        else:
            accepted_by_read_entry.append(n)
    assert accepted_by_read_entry == []


def test_pydicom_alone_accepts_a_truncated_file() -> None:
    """Why the structural check exists: pydicom reads a file cut in the middle of an element."""
    data = encode(worklist_dataset(), "explicit")
    cut = data[:data.index(b"PID1") + 2]  # inside the value of PatientID
    assert pydicom_accepts(cut)
    with pytest.raises(WorklistFileError, match="incomplete file"):
        parse_bytes(cut)


def test_cut_inside_the_preamble_is_rejected() -> None:
    """A file whose 128-byte preamble is still being written is not a (tiny) dataset.

    Every cut of the preamble, of "DICM" and of the file meta must be rejected.
    """
    data = encode(worklist_dataset(), "explicit")
    accepted = [n for n in range(1, dataset_start(data)) if not rejected(data[:n])]
    assert accepted == []


@pytest.mark.xfail(strict=True, reason=(
    "known limitation: a cut exactly between two top-level elements leaves a complete, smaller "
    "DICOM dataset; nothing in the bytes shows that more was meant to follow"))
def test_cut_between_top_level_elements_is_rejected() -> None:
    data = encode(worklist_dataset(), "explicit")
    boundaries = sorted(top_level_boundaries(data) - {dataset_start(data)})
    assert boundaries
    accepted = [n for n in boundaries if not rejected(data[:n])]
    assert accepted == []


def test_cut_right_after_the_file_meta_is_rejected() -> None:
    data = encode(worklist_dataset(), "explicit")
    with pytest.raises(WorklistFileError, match="no DICOM elements"):
        parse_bytes(data[:dataset_start(data)])


def test_length_past_the_end_is_rejected() -> None:
    data = bytearray(encode(worklist_dataset(), "explicit"))
    at = data.index(b"\x10\x00\x20\x00LO")  # PatientID
    struct.pack_into("<H", data, at + 6, 200)
    with pytest.raises(WorklistFileError, match="incomplete file"):
        parse_bytes(bytes(data))


# --- files that are not worklists --------------------------------------------------------------

def test_empty_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "empty.wl"
    path.write_bytes(b"")
    with pytest.raises(WorklistFileError, match="empty file"):
        read_entry(path)


def test_garbage_bytes_are_rejected(tmp_path: Path) -> None:
    rnd = random.Random(20240102)
    for size in (1, 2, 7, 100, 131, 132, 500, 4096):
        data = bytes(rnd.randrange(256) for _ in range(size))
        path = tmp_path / f"garbage{size}.wl"
        path.write_bytes(data)
        with pytest.raises(WorklistFileError) as info:
            read_entry(path)
        assert str(info.value).strip(), size


def test_only_zero_bytes_are_rejected() -> None:
    for size in (8, 64, 128, 300):
        assert rejected(bytes(size)), size


def test_text_file_renamed_wl_is_rejected_as_not_dicom(tmp_path: Path) -> None:
    """A DCMTK dump saved as .wl (a common mistake) is not DICOM, and the reason must say so.

    "incomplete file ... still being written" would send the user waiting for nothing.
    """
    path = tmp_path / "entry.wl"
    path.write_text(NESTED_DUMP, encoding="ascii")
    with pytest.raises(WorklistFileError) as info:
        read_entry(path)
    reason = str(info.value)
    assert "not" in reason and "DICOM" in reason, reason
    assert "incomplete" not in reason and "being written" not in reason, reason


def test_preamble_and_dicm_without_elements_is_rejected() -> None:
    with pytest.raises(WorklistFileError, match="no DICOM elements"):
        parse_bytes(bytes(128) + b"DICM")


def test_missing_file_is_rejected_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(WorklistFileError, match="cannot read the file"):
        read_entry(tmp_path / "gone.wl")


# --- character sets ----------------------------------------------------------------------------

NAME = "MÜLLER^JÖRG"


def _without_charset(name_bytes: bytes, desc_bytes: bytes = b"") -> Dataset:
    ds = worklist_dataset()
    ds[0x00100010] = raw_text(0x00100010, "PN", name_bytes)
    if desc_bytes:
        sps = step()
        sps[0x00400007] = raw_text(0x00400007, "LO", desc_bytes)
        ds.ScheduledProcedureStepSequence = [sps]
    assert "SpecificCharacterSet" not in ds
    return ds


@pytest.mark.parametrize("syntax", ["explicit", "implicit", "raw-explicit"])
def test_utf8_without_charset_is_read_as_utf8(tmp_path: Path, syntax: Syntax) -> None:
    ds = _without_charset(NAME.encode("utf-8"), "Schädel – nativ".encode())
    path = write_wl(tmp_path / "utf8.wl", ds, syntax)
    assert NAME.encode("utf-8") in path.read_bytes()
    entry = read_entry(path)
    assert str(dataset_of(entry).PatientName) == NAME
    assert dataset_of(entry).ScheduledProcedureStepSequence[0].ScheduledProcedureStepDescription == \
        "Schädel – nativ"
    assert any("UTF-8" in note for note in entry.notes), entry.notes
    assert list(entry.charset) == ["ISO_IR 192"]


@pytest.mark.parametrize("syntax", ["explicit", "implicit", "raw-explicit"])
def test_latin1_without_charset_is_read_as_latin1(tmp_path: Path, syntax: Syntax) -> None:
    ds = _without_charset(NAME.encode("latin-1"))
    path = write_wl(tmp_path / "latin1.wl", ds, syntax)
    assert NAME.encode("latin-1") in path.read_bytes()
    entry = read_entry(path)
    assert str(dataset_of(entry).PatientName) == NAME
    assert any("Latin-1" in note for note in entry.notes), entry.notes
    assert not any("read as UTF-8" in note for note in entry.notes)
    assert list(entry.charset) in ([], ["ISO_IR 100"])  # the default repertoire, or Latin-1 made explicit


def test_ascii_without_charset_has_no_note(tmp_path: Path) -> None:
    entry = read_entry(write_wl(tmp_path / "ascii.wl", worklist_dataset()))
    assert entry.notes == ()
    assert list(entry.charset) == []


@pytest.mark.parametrize(("declared", "codec"), [("ISO_IR 100", "latin-1"), ("ISO_IR 192", "utf-8"),
                                                 ("ISO_IR 148", "iso8859-9")])
def test_declared_charset_decodes(tmp_path: Path, declared: str, codec: str) -> None:
    ds = _without_charset(NAME.encode(codec))
    ds.SpecificCharacterSet = declared
    path = write_wl(tmp_path / "declared.wl", ds)
    assert NAME.encode(codec) in path.read_bytes()
    entry = read_entry(path)
    assert str(dataset_of(entry).PatientName) == NAME
    assert list(entry.charset) == [declared]
    assert entry.notes == ()


@requires_dump2dcm
def test_dcmtk_dump_in_latin1_with_declared_iso_ir_100(tmp_path: Path) -> None:
    dump = tmp_path / "latin1.dump"
    dump.write_bytes(NESTED_DUMP.replace("NESTED^PATIENT", NAME).encode("latin-1"))
    entry = read_entry(dump2dcm(dump, tmp_path / "latin1.wl", "-e"))
    assert str(dataset_of(entry).PatientName) == NAME
    assert list(entry.charset) == ["ISO_IR 100"]
