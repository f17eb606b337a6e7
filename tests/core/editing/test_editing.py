"""The editor's core: load, save faithfully and atomically, validate, create, archive, templates.

Open + save without edits must change nothing of substance on every DCMTK sample (converted by
the real dump2dcm, in every transfer syntax and length encoding it writes) and on files with
private and unknown tags: the dataset bytes stay identical where pydicom allows (it drops retired
group lengths and recompresses deflated data) and the elements always stay identical.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import warnings
import zlib
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from tests.helpers.samples import (
    HAVE_DCMTK,
    NO_DCMTK_REASON,
    Syntax,
    convert_dcmtk_samples,
    dcmtk_sample_dumps,
    dump2dcm,
    worklist_dataset,
    write_wl,
)
from wldesk.core.check import missing_keys
from wldesk.core.dicom.node import Node
from wldesk.core.dicom.wlfile import Raw, walk
from wldesk.core.editing import document, entries
from wldesk.core.editing.document import (
    IMPLEMENTATION_CLASS_UID,
    IMPLEMENTATION_VERSION_NAME,
    WORKLIST_SOP_CLASS_UID,
    Document,
    encode_document,
    load_document,
    new_document,
    save_document,
)
from wldesk.core.editing.entries import (
    archive_entry,
    archived_entries,
    generate_id,
    new_entry,
    person_name,
    restore_entry,
    save_new_entry,
    suggest_filename,
)
from wldesk.core.editing.errors import ConflictError, EditError
from wldesk.core.editing.templates import list_templates, load_template, save_template, template_from_entry
from wldesk.core.editing.values import (
    LARGE_VALUE,
    binary_value_problem,
    date_value,
    element_from_text,
    element_text,
    encoding_problems,
    is_large,
    large_values,
    set_element_text,
    size_text,
    text_of,
    unwritable_character,
    validate_element,
    validate_value,
    value_preview,
    value_problems,
    worklist_problems,
)
from wldesk.core.fileio import atomic_write_bytes
from wldesk.core.store import FolderStore

ORTHANC_LATIN1 = Path(__file__).resolve().parents[3].parent / "shared" / "peer-tests" / \
    "orthanc-worklists" / "Encodings" / "issue49-latin1.wl"


# ----------------------------------------------------------------------------------------------
# helpers


def elements(data: bytes) -> list[Any]:
    """The elements of an encoded file as (tag, VR, value bytes or items), group lengths left out
    (deflated data is inflated by the walk)."""
    def level(raws: list[Raw]) -> list[Any]:
        return [(tag, vr, [level(item) for item in payload] if vr == "SQ" else bytes(payload))
                for tag, vr, payload in raws if tag & 0xFFFF]
    return level(walk(data))


def decoded(data: bytes) -> list[tuple[int, str, str]]:
    """Every element of a file as pydicom decodes it (group lengths left out), sequences flattened."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. "VR lookup failed" for unknown tags in implicit VR
        ds = pydicom.dcmread(io.BytesIO(data), force=True)
        return [(int(e.tag), str(e.VR), repr(e.value)) for e in ds.iterall()
                if e.tag.element != 0 and e.VR != "SQ"]


def dataset_bytes(data: bytes) -> bytes:
    """The dataset part of a file (after preamble and file meta), inflated when deflated."""
    if data[128:132] != b"DICM":
        return data
    meta = pydicom.dcmread(io.BytesIO(data), force=True).file_meta
    start = 132 + 12 + int(meta.FileMetaInformationGroupLength)
    if str(meta.TransferSyntaxUID) == "1.2.840.10008.1.2.1.99":
        return zlib.decompress(data[start:], -zlib.MAX_WBITS)
    return data[start:]


def private_dataset() -> Dataset:
    """An entry with private tags (creator, LO, UN, OB, US, SQ) and unknown public tags."""
    ds = worklist_dataset("Müller^Jürgen", SpecificCharacterSet="ISO_IR 100")
    ds.add_new(0x00090010, "LO", "ACME 1.0")
    ds.add_new(0x00091001, "LO", "private text")
    ds.add_new(0x00091002, "UN", b"\x01\x02\x03\x04")
    ds.add_new(0x00091003, "OB", b"\xff\x00")
    ds.add_new(0x00091004, "US", [1, 2, 3])
    inner = Dataset()
    inner.add_new(0x00091001, "LO", "nested")
    ds.add_new(0x00091005, "SQ", Sequence([inner]))
    ds.add_new(0x00089999, "LO", "unknown public tag")
    ds.add_new(0x00451001, "SH", "odd group")
    ds.ScheduledProcedureStepSequence[0].add_new(0x00099999, "LO", "x")
    return ds


@pytest.fixture(scope="module")
def sample_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """DCMTK's ten samples in every form dump2dcm writes, plus files with private tags."""
    if not HAVE_DCMTK:
        pytest.skip(NO_DCMTK_REASON)
    root = tmp_path_factory.mktemp("samples")
    files = convert_dcmtk_samples(root / "explicit")
    dumps = dcmtk_sample_dumps()
    for options, name in ((("+ti",), "implicit"), (("+tb",), "big"), (("+td",), "deflated"),
                          (("-F",), "raw"), (("-e",), "undefined"), (("+g",), "grouplength")):
        folder = root / name
        folder.mkdir()
        files += [dump2dcm(dumps[i], folder / f"{dumps[i].stem}.wl", *options) for i in (0, 1)]
    files.append(write_wl(root / "private-explicit.wl", private_dataset()))
    files.append(write_wl(root / "private-implicit.wl", private_dataset(), "implicit"))
    files.append(write_wl(root / "private-raw.wl", private_dataset(), "raw-explicit"))
    if ORTHANC_LATIN1.is_file():
        files.append(ORTHANC_LATIN1)
    return files


# ----------------------------------------------------------------------------------------------
# loading


def test_load_keeps_file_meta_syntax_and_identity(tmp_path: Path) -> None:
    path = write_wl(tmp_path / "a.wl", worklist_dataset(), "implicit")
    doc = load_document(path)
    st = path.stat()
    assert doc.path == path
    assert doc.identity is not None
    assert (doc.identity.size, doc.identity.mtime_ns, doc.identity.inode) == \
        (st.st_size, st.st_mtime_ns, st.st_ino)
    assert doc.transfer_syntax == ImplicitVRLittleEndian
    assert doc.dataset.file_meta.TransferSyntaxUID == ImplicitVRLittleEndian
    assert doc.dataset.PatientName == "DOE^JOHN"
    assert not doc.changed_on_disk() and not doc.is_modified()
    assert encode_document(doc) == path.read_bytes()  # nothing changed: the same bytes


@pytest.mark.parametrize(("content", "reason"), [
    (b"", "empty file"),
    (b"(0010,0010) PN [DOE^JOHN]\n", "not a DICOM file"),
    (b"\0" * 100, "incomplete file"),
])
def test_load_rejects_unreadable_files(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "bad.wl"
    path.write_bytes(content)
    with pytest.raises(EditError, match=reason) as info:
        load_document(path)
    assert str(path) in str(info.value)


def test_load_rejects_truncated_file_missing_file_and_folder(tmp_path: Path) -> None:
    data = write_wl(tmp_path / "a.wl", worklist_dataset()).read_bytes()
    (tmp_path / "cut.wl").write_bytes(data[:-5])
    with pytest.raises(EditError, match="incomplete file"):
        load_document(tmp_path / "cut.wl")
    with pytest.raises(EditError, match="cannot read"):
        load_document(tmp_path / "missing.wl")
    with pytest.raises(EditError, match="folder"):
        load_document(tmp_path)


def test_file_without_charset_is_read_like_the_server_reads_it(tmp_path: Path) -> None:
    ds = worklist_dataset()
    path = write_wl(tmp_path / "a.wl", ds)
    data = path.read_bytes().replace(b"DOE^JOHN", "DÖE^JON".encode())  # 8 bytes, UTF-8
    path.write_bytes(data)
    doc = load_document(path)
    assert doc.dataset.PatientName == "DÖE^JON"
    assert any("UTF-8" in note for note in doc.notes)
    assert encode_document(doc) == data  # unchanged text keeps its bytes
    set_element_text(doc.dataset, "PatientName", "DÖE^JOHANN")
    with pytest.raises(EditError, match=r"PatientName: the character 'Ö' .*default character set"):
        encode_document(doc)
    doc.dataset.SpecificCharacterSet = "ISO_IR 192"
    assert pydicom.dcmread(io.BytesIO(encode_document(doc))).PatientName == "DÖE^JOHANN"


# ----------------------------------------------------------------------------------------------
# open + save without edits


@pytest.mark.expect_log_warnings(r"VR lookup failed for the raw element")
def test_open_save_changes_nothing_of_substance(sample_files: list[Path], tmp_path: Path) -> None:
    assert len(sample_files) >= 22
    for path in sample_files:
        original = path.read_bytes()
        doc = load_document(path)
        for _ in doc.dataset.iterall():  # an editor that shows everything decodes everything
            pass
        target = tmp_path / path.name
        save_document(doc, target)
        saved = target.read_bytes()
        assert elements(saved) == elements(original), path
        assert decoded(saved) == decoded(original), path
        saved_ds = pydicom.dcmread(target, force=True)
        original_ds = pydicom.dcmread(path, force=True)
        assert saved_ds.original_encoding == original_ds.original_encoding, path
        assert getattr(saved_ds, "file_meta", None) == getattr(original_ds, "file_meta", None), path
        assert (saved_ds.preamble is None) == (original_ds.preamble is None), path
        if "grouplength" not in str(path):  # pydicom drops retired group lengths
            assert dataset_bytes(saved) == dataset_bytes(original), path
        if "grouplength" not in str(path) and "deflated" not in str(path):
            assert saved == original, path
        assert not load_document(target).is_modified()


@pytest.mark.expect_log_warnings(r"VR lookup failed for the raw element")
def test_save_in_place_keeps_the_file_and_updates_identity(tmp_path: Path) -> None:
    path = write_wl(tmp_path / "a.wl", private_dataset(), "implicit")
    original = path.read_bytes()
    doc = load_document(path)
    assert save_document(doc) == path
    assert path.read_bytes() == original
    assert doc.identity == document.FileIdentity.of_path(path)
    assert not doc.changed_on_disk()


# ----------------------------------------------------------------------------------------------
# edits


def test_an_edit_changes_only_that_element(sample_files: list[Path]) -> None:
    for path in sample_files[:10]:
        doc = load_document(path)
        set_element_text(doc.dataset, "PatientID", "NEW-ID")
        before, after = elements(path.read_bytes()), elements(encode_document(doc))
        changed = [a for a, b in zip(before, after, strict=True) if a != b]
        assert changed == [next(e for e in before if e[0] == 0x00100020)], path
        assert doc.is_modified()


@pytest.mark.parametrize("syntax", ["explicit", "implicit", "raw-explicit"])
def test_a_large_value_is_saved_unchanged_by_edits_elsewhere(tmp_path: Path, syntax: Syntax) -> None:
    large = bytes(range(256)) * 4096  # 1 MiB
    ds = worklist_dataset()
    ds.add_new(0x00990010, "LO", "WLDESK TEST")
    ds.add_new(0x00991000, "OB", large)
    path = write_wl(tmp_path / "large.wl", ds, syntax)
    before = elements(path.read_bytes())
    doc = load_document(path)
    for new_id in ("ONE", "TWO"):  # the second save starts from what the first wrote
        set_element_text(doc.dataset, "PatientID", new_id)
        save_document(doc)
        after = elements(path.read_bytes())
        changed = [b for a, b in zip(before, after, strict=True) if a != b]
        assert changed == [(0x00100020, "LO", new_id.encode() + b" ")]
        assert (after[-1][0], after[-1][2]) == (0x00991000, large)  # (implicit VR: "UN")
        assert not doc.is_modified()
        before = after


def test_edit_inside_a_sequence_item(tmp_path: Path) -> None:
    path = write_wl(tmp_path / "a.wl", private_dataset())
    doc = load_document(path)
    doc.dataset.ScheduledProcedureStepSequence[0].Modality = "MR"
    doc.dataset[0x00091005].value[0][0x00091001].value = "changed"
    saved = pydicom.dcmread(io.BytesIO(encode_document(doc)))
    assert saved.ScheduledProcedureStepSequence[0].Modality == "MR"
    assert saved.ScheduledProcedureStepSequence[0][0x00099999].value == "x"
    assert saved[0x00091005].value[0][0x00091001].value == "changed"
    assert saved[0x00091002].value == b"\x01\x02\x03\x04"
    assert saved[0x00089999].value == "unknown public tag"
    assert str(saved.PatientName) == "Müller^Jürgen"


def test_adding_and_removing_elements_and_items(tmp_path: Path) -> None:
    path = write_wl(tmp_path / "a.wl", worklist_dataset())
    doc = load_document(path)
    del doc.dataset.PatientBirthDate
    set_element_text(doc.dataset, "PatientSex", "F")
    doc.dataset.ScheduledProcedureStepSequence.append(worklist_dataset().ScheduledProcedureStepSequence[0])
    saved = pydicom.dcmread(io.BytesIO(encode_document(doc)))
    assert "PatientBirthDate" not in saved
    assert saved.PatientSex == "F"
    assert len(saved.ScheduledProcedureStepSequence) == 2


def test_text_the_charset_cannot_carry_is_refused_never_replaced(tmp_path: Path) -> None:
    path = write_wl(tmp_path / "a.wl", private_dataset())  # ISO_IR 100
    original = path.read_bytes()
    doc = load_document(path)
    set_element_text(doc.dataset, "PatientName", "Łukasz^Jürgen")
    with pytest.raises(EditError, match=r"PatientName: the character 'Ł' \(U\+0141\) cannot be "
                                        r"written in ISO_IR 100"):
        save_document(doc)
    doc.dataset.ScheduledProcedureStepSequence[0].ScheduledProcedureStepDescription = "CT 頭部"
    problems = encoding_problems(doc.dataset)
    assert any(p.startswith("ScheduledProcedureStepSequence item 1: "
                            "ScheduledProcedureStepDescription: the character '頭'") for p in problems)
    assert path.read_bytes() == original
    doc.dataset.SpecificCharacterSet = "ISO_IR 192"  # the editor's fix: switch to UTF-8
    save_document(doc)
    saved = pydicom.dcmread(path)
    assert saved.PatientName == "Łukasz^Jürgen"
    assert saved[0x00091001].value == "private text"
    assert saved.ScheduledProcedureStepSequence[0].ScheduledProcedureStepDescription == "CT 頭部"
    assert "Jürgen".encode() in path.read_bytes()  # every text re-encoded in UTF-8


def test_the_first_character_a_charset_cannot_carry() -> None:
    assert unwritable_character("Müller", ["ISO_IR 100"]) is None
    assert unwritable_character("Müller", [""]) == "ü"  # the default repertoire is ASCII
    assert unwritable_character("Müller", []) == "ü"
    assert unwritable_character("Łukasz Jürgen", ["ISO_IR 100"]) == "Ł"
    assert unwritable_character("Jürgen Łukasz", ["ISO_IR 100"]) == "Ł"
    assert unwritable_character("山田^太郎", ["", "ISO 2022 IR 87"]) is None
    assert unwritable_character("DOE^JOHN", [""]) is None
    assert unwritable_character("Ωmega 頭", ["ISO_IR 192"]) is None


def test_unknown_charset_is_refused_for_non_ascii_text() -> None:
    ds = worklist_dataset("Ärzte", SpecificCharacterSet="ISO_IR 999")
    assert encoding_problems(ds) == ["SpecificCharacterSet (0008,0005) ISO_IR 999 is not a "
                                     "character set wldesk knows; use ISO_IR 192 (UTF-8)"]
    assert encoding_problems(worklist_dataset(SpecificCharacterSet="ISO_IR 999")) == []


# ----------------------------------------------------------------------------------------------
# saving safely


def test_changed_on_disk_and_conflict(tmp_path: Path) -> None:
    path = write_wl(tmp_path / "a.wl", worklist_dataset())
    doc = load_document(path)
    other = worklist_dataset("SOMEONE^ELSE")
    write_wl(tmp_path / "b.wl", other)
    os.replace(tmp_path / "b.wl", path)  # replaced by another program
    assert doc.changed_on_disk()
    set_element_text(doc.dataset, "PatientID", "X")
    with pytest.raises(ConflictError, match="changed or removed"):
        save_document(doc)
    assert pydicom.dcmread(path).PatientName == "SOMEONE^ELSE"
    save_document(doc, force=True)
    assert pydicom.dcmread(path).PatientID == "X"
    assert not doc.changed_on_disk()
    path.unlink()
    assert doc.changed_on_disk()


def test_the_last_check_before_the_rename_leaves_the_file_and_no_temporary(
        tmp_path: Path) -> None:
    path = tmp_path / "a.wl"
    path.write_bytes(b"theirs")

    def someone_wrote_meanwhile() -> None:
        raise ConflictError("changed meanwhile")

    with pytest.raises(ConflictError):
        atomic_write_bytes(path, b"mine", someone_wrote_meanwhile)
    assert path.read_bytes() == b"theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["a.wl"]
    atomic_write_bytes(path, b"mine", lambda: None)
    assert path.read_bytes() == b"mine"


def test_changed_on_disk_sees_an_edit_in_place(tmp_path: Path) -> None:
    path = write_wl(tmp_path / "a.wl", worklist_dataset())
    doc = load_document(path)
    with open(path, "r+b") as f:  # same size, same inode
        f.seek(-2, os.SEEK_END)
        f.write(b"XX")
    os.utime(path, ns=(0, 1))
    assert doc.changed_on_disk()


def test_save_to_a_folder_that_cannot_exist_fails_cleanly(tmp_path: Path) -> None:
    path = write_wl(tmp_path / "a.wl", worklist_dataset())
    original = path.read_bytes()
    (tmp_path / "plain-file").write_text("not a folder")
    doc = load_document(path)
    set_element_text(doc.dataset, "PatientID", "X")
    with pytest.raises(EditError, match="cannot save"):
        save_document(doc, tmp_path / "plain-file" / "a.wl")
    assert path.read_bytes() == original
    assert doc.path == path and doc.is_modified()


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_full_disk_leaves_the_original_byte_identical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      failing: str) -> None:
    path = write_wl(tmp_path / "a.wl", worklist_dataset())
    original = path.read_bytes()
    doc = load_document(path)
    set_element_text(doc.dataset, "PatientID", "CHANGED")

    def no_space(*args: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, failing, no_space)
    with pytest.raises(EditError, match="the disk is full"):
        save_document(doc)
    monkeypatch.undo()
    assert path.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wl"]  # no temporary file left
    save_document(doc)
    assert pydicom.dcmread(path).PatientID == "CHANGED"


def test_permissions_are_kept(tmp_path: Path) -> None:
    path = write_wl(tmp_path / "a.wl", worklist_dataset())
    path.chmod(0o644)
    doc = load_document(path)
    set_element_text(doc.dataset, "PatientID", "X")
    save_document(doc)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


# ----------------------------------------------------------------------------------------------
# new documents


def test_new_document_has_dcmtk_like_file_meta(tmp_path: Path) -> None:
    ds = new_entry(patient_name="DOE^JANE", patient_id="P1", modality="CT", station_aet="CT1",
                   step_description="CT head")
    doc = new_document(ds)
    assert doc.is_modified() and not doc.changed_on_disk()
    with pytest.raises(EditError, match="choose a file name"):
        save_document(doc)
    path = save_document(doc, suggest_filename(ds, tmp_path))
    saved = pydicom.dcmread(path)
    meta = saved.file_meta
    assert meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert meta.MediaStorageSOPClassUID == WORKLIST_SOP_CLASS_UID
    assert meta.ImplementationClassUID == IMPLEMENTATION_CLASS_UID
    assert meta.ImplementationVersionName == IMPLEMENTATION_VERSION_NAME
    assert validate_value("UI", meta.MediaStorageSOPInstanceUID) is None
    assert validate_value("UI", IMPLEMENTATION_CLASS_UID) is None
    assert not doc.is_modified() and doc.path == path
    again = new_document(new_entry(patient_name="X", patient_id="P2", modality="CT", station_aet="CT1",
                                   step_description="d"))
    other = pydicom.dcmread(save_document(again, tmp_path / "b.wl"))
    assert other.file_meta.MediaStorageSOPInstanceUID != meta.MediaStorageSOPInstanceUID
    big = Dataset()
    big.PatientName = "X"
    big.file_meta = pydicom.dataset.FileMetaDataset()
    big.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
    saved_big = pydicom.dcmread(save_document(new_document(big), tmp_path / "big.wl"))
    assert saved_big.file_meta.TransferSyntaxUID == ExplicitVRBigEndian
    big.file_meta.TransferSyntaxUID = pydicom.uid.JPEGBaseline8Bit
    with pytest.raises(EditError, match="transfer syntax"):
        encode_document(new_document(big))


def test_new_entry_is_complete_and_valid() -> None:
    moment = datetime(2026, 11, 27, 14, 30, 5)
    ds = new_entry(family_name="Müller", given_name="Jürgen", patient_id="P1",
                   birth_date=date(1970, 1, 2), sex="M", referring_physician="WHO^DR",
                   priority="HIGH", modality="MR", station_aet="MR1",
                   requested_procedure_description="MR knee", now=moment)
    assert worklist_problems(ds) == [] and missing_keys(Node.from_dataset(ds)) == []
    assert value_problems(ds) == []
    assert ds.SpecificCharacterSet == "ISO_IR 192"
    assert ds.PatientName == "Müller^Jürgen"
    assert ds.PatientBirthDate == "19700102"
    sps = ds.ScheduledProcedureStepSequence[0]
    assert (sps.ScheduledProcedureStepStartDate, sps.ScheduledProcedureStepStartTime) == \
        ("20261127", "143005")
    assert sps.ScheduledProcedureStepDescription == "MR knee"
    for keyword in ("AccessionNumber", "RequestedProcedureID"):
        assert 0 < len(ds[keyword].value) <= 16
    assert 0 < len(sps.ScheduledProcedureStepID) <= 16
    assert ds.ReferencedStudySequence == [] and ds.ReferencedPatientSequence == []
    assert ds.StudyInstanceUID.startswith("2.25.")
    assert ds.StudyInstanceUID != new_entry(patient_name="A", patient_id="B", modality="CT",
                                            station_aet="C", step_description="D").StudyInstanceUID
    given = new_entry(patient_name="A", patient_id="B", modality="CT", station_aet="C",
                      step_description="D", accession_number="ACC7", requested_procedure_id="RP7",
                      step_id="S7", scheduled_date="20270101", scheduled_time=time(8, 15),
                      charset="ISO_IR 100")
    assert (given.AccessionNumber, given.RequestedProcedureID,
            given.ScheduledProcedureStepSequence[0].ScheduledProcedureStepID) == ("ACC7", "RP7", "S7")
    assert given.ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartTime == "081500"
    assert given.SpecificCharacterSet == "ISO_IR 100"


def test_a_new_entry_described_by_codes_has_no_empty_description() -> None:
    """Empty descriptions (a form's empty fields) beside code sequences would be "present but
    empty", which modalities drop: they are left out."""
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "RPID17", "99LOCAL", "CT head"
    template = Dataset()
    template.RequestedProcedureCodeSequence = Sequence([code])
    step = Dataset()
    step.ScheduledProtocolCodeSequence = Sequence([code])
    template.ScheduledProcedureStepSequence = Sequence([step])
    ds = new_entry(template=template, patient_name="A", patient_id="B", modality="CT",
                   station_aet="CT1", requested_procedure_description="", step_description="")
    assert worklist_problems(ds) == []
    assert "RequestedProcedureDescription" not in ds
    assert "ScheduledProcedureStepDescription" not in ds.ScheduledProcedureStepSequence[0]
    typed = new_entry(template=template, patient_name="A", patient_id="B", modality="CT",
                      station_aet="CT1", requested_procedure_description="Head")
    assert typed.RequestedProcedureDescription == "Head"


def test_new_entry_lists_every_problem() -> None:
    with pytest.raises(EditError) as info:
        new_entry(patient_id="P\\1", modality="ct", scheduled_date="20260230")
    message = str(info.value)
    for part in ("PatientID: this attribute holds one value", "Modality: a code string",
                 "February 2026 has 28 days", "missing or empty PatientName",
                 "missing or empty ScheduledStationAETitle",
                 "missing RequestedProcedureDescription or RequestedProcedureCodeSequence"):
        assert part in message
    with pytest.raises(EditError, match="either as a PN string or as components"):
        new_entry(patient_name="A^B", family_name="A")
    with pytest.raises(EditError, match="cannot be written in ISO_IR 100"):
        new_entry(patient_name="山田", patient_id="1", modality="CT", station_aet="A",
                  step_description="d", charset="ISO_IR 100")


def test_generated_ids_are_unique_short_and_increasing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(entries, "_id_state", {"second": 0, "counter": 0})  # restored afterwards
    moment = datetime(2030, 1, 2, 3, 4, 5)
    ids = [generate_id(moment) for _ in range(12000)]  # more than 10,000 in one second
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert all(len(i) == 16 and i.isdigit() for i in ids)
    assert ids[0].startswith("300102030405")
    earlier = generate_id(datetime(2029, 1, 1))  # the clock went back: still a new, larger id
    assert earlier > ids[-1]


def test_person_name() -> None:
    assert person_name("Doe", "John") == "Doe^John"
    assert person_name("Doe", "", "", "Dr") == "Doe^^^Dr"
    assert person_name() == ""


# ----------------------------------------------------------------------------------------------
# validation


@pytest.mark.parametrize(("vr", "text", "fragment"), [
    ("DA", "20261127", None), ("DA", "2026-11-27", "a date is YYYYMMDD, e.g. 20261127"),
    ("DA", "20260230", "February 2026 has 28 days"), ("DA", "20241301", "not a real date"),
    ("DA", "20240229", None), ("DA", "20260101\\20260102", None),
    ("DA", "20260101\\2026", "value 2 ('2026'): a date is YYYYMMDD"),
    ("TM", "14", None), ("TM", "1430", None), ("TM", "143000", None), ("TM", "143000.123456", None),
    ("TM", "2400", "hours go from 00 to 23"), ("TM", "1460", "minutes go from 00 to 59"),
    ("TM", "14:30", "a time is HHMMSS"), ("TM", "1430.5", "a time is HHMMSS"),
    ("TM", "143000.1234567", "a time is HHMMSS"),
    ("DT", "2026", None), ("DT", "20261127143000.5+0100", None), ("DT", "202613", "months"),
    ("DT", "20261127143000+1500", "UTC offset"), ("DT", "2026112725", "hours"),
    ("PN", "Doe^John^Q^Dr^Jr", None), ("PN", "A^B^C^D^E^F", "at most 5 parts"),
    ("PN", "Yamada^Tarou=山田^太郎=やまだ^たろう", None), ("PN", "a=b=c=d", "at most 3 groups"),
    ("PN", "x" * 64, None), ("PN", "x" * 65, "at most 64 characters"),
    ("CS", "ROUTINE", None), ("CS", "ORIGINAL\\PRIMARY", None), ("CS", "ct", "upper-case"),
    ("CS", "A" * 17, "at most 16 characters"),
    ("AE", "CT_1", None), ("AE", "A" * 17, "at most 16 characters"), ("AE", "   ", "only spaces"),
    ("AE", "A\tB", "plain ASCII"),
    ("UI", "1.2.840.10008.5.1.4.31", None), ("UI", "1.02.3", "leading zero"),
    ("UI", "1..2", "single dots"), ("UI", "1.2.a", "only digits and dots"),
    ("UI", "1." + "2" * 63, "at most 64 characters"),
    ("SH", "x" * 16, None), ("SH", "x" * 17, "at most 16"), ("LO", "x" * 65, "at most 64"),
    ("LO", "a\nb", "line breaks"), ("ST", "x" * 1025, "at most 1024"), ("LT", "a\r\nb\\c", None),
    ("LT", "x" * 10241, "at most 10240"), ("LT", "a\x00", "control characters"),
    ("AS", "045Y", None), ("AS", "45Y", "three digits"),
    ("IS", "42", None), ("IS", " -7 ", None), ("IS", "4.2", "whole number"),
    ("IS", "2147483648", "2147483647"), ("DS", "72.5", None), ("DS", "-1e-3", None),
    ("DS", "1,5", "decimal number"), ("DS", "1" * 17, "at most 16"),
    ("US", "65535", None), ("US", "65536", "0 to 65535"), ("US", "-1", "0 to 65535"),
    ("SS", "-32768", None), ("UL", "4294967295", None), ("SL", "x", "whole number"),
    ("FD", "1.5", None), ("FL", "abc", "a number"), ("AT", "(0010,0010)", None),
    ("AT", "00100010", None), ("AT", "(10,10)", "a tag is (gggg,eeee)"),
    ("OB", "01\\ff", None), ("OB", "1ff", "hexadecimal bytes"), ("OW", "0201", None),
    ("SQ", "x", "a sequence holds items"), ("XX", "x", "unknown value representation"),
    ("LO", "", None), ("DA", "", None),
])
def test_validate_value(vr: str, text: str, fragment: str | None) -> None:
    reason = validate_value(vr, text)
    if fragment is None:
        assert reason is None
    else:
        assert reason is not None and fragment in reason, reason


def test_large_values_are_summed_up_never_turned_into_text() -> None:
    ds = Dataset()
    ds.add_new(0x00100010, "PN", "DOE^JOHN")
    ds.add_new(0x00991000, "OB", bytes(range(256)) * 800)
    ds.add_new(0x00991001, "OB", b"\x01\x02\x03\x04")
    ds.add_new(0x00991002, "OW", bytes(LARGE_VALUE))
    ds.add_new(0x00991003, "UT", "x" * 70_000)
    ds.ScheduledProcedureStepSequence = [Dataset()]
    ds.ScheduledProcedureStepSequence[0].add_new(0x00991004, "OB", bytes(LARGE_VALUE + 1))
    assert value_preview(ds[0x00991000]) == ("‹204.8 KB of OB data: 00 01 02 03 04 05 06 07 08 09 0a "
                                             "0b 0c 0d 0e 0f …›")
    assert value_preview(ds[0x00991001]) == "01\\02\\03\\04"  # short: as it is edited
    assert value_preview(ds[0x00991003]) == "x" * 200 + "… ‹70,000 characters›"
    assert value_preview(ds[0x00100010]) == "DOE^JOHN"
    assert [is_large(ds[t]) for t in (0x00991000, 0x00991001, 0x00991002, 0x00991003)] == \
        [True, False, False, True]  # over 64 KiB
    assert large_values(ds) == ["ScheduledProcedureStepSequence item 1: (0099,1004): 65.5 KB of OB data",
                                "(0099,1000): 204.8 KB of OB data", "(0099,1003): 70.0 KB of UT text"]
    assert [size_text(n) for n in (1, 999, 1500, 200_000_000, 3 * 10**12)] == \
        ["1 byte", "999 bytes", "1.5 KB", "200.0 MB", "3000.0 GB"]
    assert 0x00991000 not in template_from_entry(ds)  # nor in templates
    assert binary_value_problem("OB", b"abc") is None
    assert "2-byte words; 3 bytes" in str(binary_value_problem("OW", b"abc"))
    assert binary_value_problem("OD", bytes(16)) is None


@pytest.mark.parametrize(("text", "value"), [
    ("20240331", "20240331"), ("2024-03-31", "20240331"), (" 2024-3-5 ", "20240305"),
    ("2024-02-30", None), ("20241301", None), ("31/03/2024", None), ("2024-03", None), ("", None),
])
def test_date_value(text: str, value: str | None) -> None:
    assert date_value(text) == value


def test_validate_element_checks_the_number_of_values() -> None:
    assert validate_element("PatientID", "A\\B") == \
        "this attribute holds one value; a backslash (\\) separates values"
    assert validate_element("ScheduledStationAETitle", "A\\B") is None  # 1-n
    assert validate_element(0x00100010, "DOE") is None
    assert validate_element("PatientComments", "a\\b") is None  # LT: a backslash is text


def test_set_element_text_and_element_text() -> None:
    ds = Dataset()
    set_element_text(ds, "PatientName", "DOE^JOHN")
    set_element_text(ds, "ScheduledStationAETitle", "CT1\\CT2")
    set_element_text(ds, 0x00280010, "512")
    set_element_text(ds, "FrameIncrementPointer", "(0018,1063)")
    set_element_text(ds, 0x00091010, "01\\ff", "OB")
    set_element_text(ds, "PatientWeight", "72.5")
    assert ds.ScheduledStationAETitle == ["CT1", "CT2"]
    assert ds.Rows == 512 and ds.FrameIncrementPointer == 0x00181063
    assert ds[0x00091010].value == b"\x01\xff"
    for key, text in (("PatientName", "DOE^JOHN"), ("ScheduledStationAETitle", "CT1\\CT2"),
                      (0x00280010, "512"), ("FrameIncrementPointer", "(0018,1063)"),
                      (0x00091010, "01\\ff"), ("PatientWeight", "72.5"), ("PatientID", "")):
        assert text_of(ds, key) == text
    with pytest.raises(EditError, match=r"PatientBirthDate: a date is YYYYMMDD"):
        set_element_text(ds, "PatientBirthDate", "1.1.1970")
    assert "PatientBirthDate" not in ds
    set_element_text(ds, "PatientBirthDate", "1.1.1970", check=False)  # keep what the file says
    assert ds.PatientBirthDate == "1.1.1970"
    with pytest.raises(EditError, match="sequence"):
        set_element_text(ds, "ScheduledProcedureStepSequence", "x")
    with pytest.raises(EditError, match="unknown attribute"):
        set_element_text(ds, "NoSuchKeyword", "x")
    assert element_text(None) == ""


def test_element_from_text_checks_the_character_set_of_the_top_level() -> None:
    ds = worklist_dataset("MÜLLER^JOSÉ", SpecificCharacterSet="ISO_IR 100")
    step = ds.ScheduledProcedureStepSequence[0]
    made = element_from_text(step, "ScheduledProcedureStepDescription", "Kopf", charset=ds)
    assert made.element is not None and made.element.value == "Kopf" and made.reason is None
    assert step.ScheduledProcedureStepDescription == "CT head"  # made, not set
    refused = element_from_text(step, "ScheduledProcedureStepDescription", "Голова", charset=ds)
    assert refused.element is None
    assert refused.reason == ("the character 'Г' (U+0413) cannot be written in ISO_IR 100; change "
                              "SpecificCharacterSet to ISO_IR 192 (UTF-8) or remove the character")
    assert element_from_text(step, "ScheduledProcedureStepDescription", "Голова").element is not None
    # the character set itself: every text value of the top level must fit the new one
    ascii_only = element_from_text(ds, "SpecificCharacterSet", "", charset=ds)
    assert ascii_only.problems == ("PatientName: the character 'Ü' (U+00DC) cannot be written in "
                                   "the default character set (ASCII); change SpecificCharacterSet "
                                   "to ISO_IR 192 (UTF-8) or remove the character",)
    assert element_from_text(ds, "SpecificCharacterSet", "ISO_IR 192", charset=ds).element is not None
    assert element_from_text(ds, "PatientID", "A\\B").reason == \
        "this attribute holds one value; a backslash (\\) separates values"
    assert element_from_text(ds, "PatientBirthDate", "1.1", check=False).element is not None
    assert element_from_text(ds, "ScheduledProcedureStepSequence", "", check=False).reason == \
        "a sequence holds items, not a text value"


def test_value_problems_and_worklist_problems() -> None:
    ds = worklist_dataset(PatientBirthDate="1970-01-01")
    ds.ScheduledProcedureStepSequence[0].Modality = "ct"
    problems = value_problems(ds)
    assert [p.where for p in problems] == ["PatientBirthDate",
                                          "ScheduledProcedureStepSequence item 1: Modality"]
    assert problems[1].path == ((0x00400100, 0), (0x00080060, -1))
    assert worklist_problems(ds) == []
    del ds.PatientID
    assert worklist_problems(ds) == ["missing or empty PatientID"]
    doc = Document(ds)
    assert doc.problems() == ["missing or empty PatientID"] and len(doc.value_problems()) == 2


# ----------------------------------------------------------------------------------------------
# files of the folder


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_suggest_filename_is_safe_and_unique(tmp_path: Path) -> None:
    ds = worklist_dataset(AccessionNumber="A/1 b*?")
    first = suggest_filename(ds, tmp_path)
    assert first == tmp_path / "A_1_b.wl"
    first.write_bytes(b"")
    assert suggest_filename(ds, tmp_path) == tmp_path / "A_1_b-2.wl"
    (tmp_path / "a_1_B-2.WL").write_bytes(b"")  # taken on a case-insensitive disk too
    assert suggest_filename(ds, tmp_path) == tmp_path / "A_1_b-3.wl"
    assert suggest_filename(worklist_dataset(AccessionNumber=""), tmp_path).name == "PID1.wl"
    assert suggest_filename(worklist_dataset(AccessionNumber="..", PatientID=None),
                            tmp_path).name == "entry.wl"
    assert suggest_filename(worklist_dataset(AccessionNumber="CON"), tmp_path).name == "entry_CON.wl"
    assert suggest_filename(worklist_dataset(AccessionNumber=".hidden"), tmp_path).name == "hidden.wl"


def test_a_new_entry_never_replaces_a_file_that_appeared_meanwhile(tmp_path: Path) -> None:
    ds = worklist_dataset(AccessionNumber="A1")
    suggested = suggest_filename(ds, tmp_path)
    suggested.write_bytes(b"written by the RIS in the meantime")  # after the name was chosen
    with pytest.raises(FileExistsError):
        save_document(new_document(ds), suggested, new=True)
    assert suggested.read_bytes() == b"written by the RIS in the meantime"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["A1.wl"]  # no temporary file left
    saved = save_new_entry(new_document(ds), tmp_path)
    assert saved == tmp_path / "A1-2.wl"
    assert pydicom.dcmread(saved).AccessionNumber == "A1"
    assert oct(saved.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def test_archive_entry_moves_the_file_out_of_the_served_folder(tmp_path: Path) -> None:
    path = write_wl(tmp_path / "a.wl", worklist_dataset())
    data = path.read_bytes()
    assert len(FolderStore(tmp_path).refresh().entries) == 1
    archived = archive_entry(path, datetime(2026, 11, 30, 8, 0))
    assert archived == tmp_path / "archive" / "2026-11" / "a.wl"
    assert not path.exists() and archived.read_bytes() == data
    assert len(FolderStore(tmp_path).refresh().entries) == 0  # no longer served
    again = write_wl(tmp_path / "a.wl", worklist_dataset("OTHER^NAME"))
    assert archive_entry(again, datetime(2026, 11, 1)) == tmp_path / "archive" / "2026-11" / "a-2.wl"
    assert pydicom.dcmread(archived).PatientName == "DOE^JOHN"
    with pytest.raises(EditError, match="not a file"):
        archive_entry(tmp_path / "a.wl")
    now = write_wl(tmp_path / "b.wl", worklist_dataset())
    assert archive_entry(now).parent == tmp_path / "archive" / f"{datetime.now():%Y-%m}"


def test_archived_entries_are_listed_newest_month_first_and_restored(tmp_path: Path) -> None:
    (tmp_path / "archive").mkdir()
    old_layout = write_wl(tmp_path / "archive" / "old.wl", worklist_dataset())
    for name, month in (("b.wl", 10), ("a.wl", 11), ("c.wl", 11)):
        archive_entry(write_wl(tmp_path / name, worklist_dataset()), datetime(2026, month, 3))
    (tmp_path / "archive" / "2026-11" / "notes.txt").write_text("not an entry")
    archive = tmp_path / "archive"
    assert archived_entries(tmp_path) == [archive / "2026-11" / "a.wl", archive / "2026-11" / "c.wl",
                                          archive / "2026-10" / "b.wl", old_layout]
    write_wl(tmp_path / "a.wl", worklist_dataset("NEWER^ENTRY"))  # the name is taken again
    back = restore_entry(archive / "2026-11" / "a.wl", tmp_path)
    assert back == tmp_path / "a-2.wl" and pydicom.dcmread(back).PatientName == "DOE^JOHN"
    assert restore_entry(old_layout, tmp_path) == tmp_path / "old.wl"
    assert len(FolderStore(tmp_path).refresh().entries) == 3  # served again
    assert archived_entries(tmp_path) == [archive / "2026-11" / "c.wl", archive / "2026-10" / "b.wl"]
    assert archived_entries(tmp_path / "nowhere") == []
    with pytest.raises(EditError, match="not a file"):
        restore_entry(old_layout, tmp_path)


# ----------------------------------------------------------------------------------------------
# templates


def test_templates(tmp_path: Path) -> None:
    entry = new_entry(patient_name="DOE^JOHN", patient_id="P1", birth_date="19700101", sex="M",
                      modality="CT", station_aet="CT1", step_description="CT head",
                      requested_procedure_description="CT head without contrast",
                      accession_number="ACC1")
    entry.ScheduledProcedureStepSequence[0].ScheduledProtocolCodeSequence = [Dataset()]
    code = entry.ScheduledProcedureStepSequence[0].ScheduledProtocolCodeSequence[0]
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "CTH", "99LOCAL", "CT head"
    entry.ReferencedStudySequence = [Dataset()]
    folder = tmp_path / "templates"
    assert list_templates(folder) == []
    path = save_template(entry, "CT head / routine", folder)
    assert path.parent == folder and path.suffix == ".json"
    (folder / "notes.json").write_text("{}")  # not a template: skipped
    templates = list_templates(folder)
    assert [t.name for t in templates] == ["CT head / routine"] and templates[0].path == path
    template = load_template(path)
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex",
                    "AccessionNumber", "StudyInstanceUID", "RequestedProcedureID"):
        assert text_of(template, keyword) == "", keyword
    sps = template.ScheduledProcedureStepSequence[0]
    assert text_of(sps, "ScheduledProcedureStepStartDate") == ""
    assert text_of(sps, "ScheduledProcedureStepID") == ""
    assert sps.Modality == "CT" and sps.ScheduledStationAETitle == "CT1"
    assert sps.ScheduledProtocolCodeSequence[0].CodeValue == "CTH"
    assert template.RequestedProcedureDescription == "CT head without contrast"
    assert template.ReferencedStudySequence == []
    created = new_entry(template=template, patient_name="ROE^JANE", patient_id="P2")
    assert worklist_problems(created) == []
    assert created.PatientName == "ROE^JANE" and created.AccessionNumber != "ACC1"
    assert created.ScheduledProcedureStepSequence[0].ScheduledProtocolCodeSequence[0].CodeValue == "CTH"
    save_template(entry, "CT head / routine", folder)  # same name: replaced
    save_template(entry, "CT head + routine", folder)  # same file name, other template
    assert [t.name for t in list_templates(folder)] == ["CT head + routine", "CT head / routine"]
    with pytest.raises(EditError, match="needs a name"):
        save_template(entry, "  ", folder)
    with pytest.raises(EditError, match="not a wldesk template"):
        load_template(folder / "notes.json")
    assert template_from_entry(entry).PatientName == ""
    assert entry.PatientName == "DOE^JOHN"  # the entry itself is untouched
