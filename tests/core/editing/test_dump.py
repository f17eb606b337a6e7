"""DCMTK dump text and DICOM JSON, checked against the real dump2dcm and dcmdump.

* every sample dump (DCMTK's, and Orthanc's fixtures when present) read by :func:`load_text` gives
  the dataset dump2dcm makes of it: the same elements with the same value bytes (group lengths
  and file meta aside);
* every dataset written by :func:`dump_bytes` is read back by dump2dcm into the same dataset, and
  by :func:`load_text` too; dcmdump's own output is read back as well.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from tests.helpers.samples import (
    DCMTK_WLISTDB,
    HAVE_DCMTK,
    NO_DCMTK_REASON,
    dcmtk_sample_dumps,
    dump2dcm,
    worklist_dataset,
    write_wl,
)
from wldesk.cli import dump_command, load_command
from wldesk.core.dicom.wlfile import Raw, walk
from wldesk.core.editing.dcmtk_uids import uid_for_name
from wldesk.core.editing.document import encode_document, load_document, new_document
from wldesk.core.editing.dump import (
    DumpError,
    dump_bytes,
    dump_limitations,
    dump_text,
    from_json,
    load_text,
    parse_dump,
    to_json,
)

DCMDUMP = "/usr/bin/dcmdump"
ORTHANC = Path(__file__).resolve().parents[3].parent / "shared" / "peer-tests" / "orthanc-worklists"
ORTHANC_DUMPS = sorted(ORTHANC.rglob("*.dump")) if ORTHANC.is_dir() else []

requires_dcmtk = pytest.mark.skipif(not HAVE_DCMTK, reason=NO_DCMTK_REASON)
requires_orthanc = pytest.mark.skipif(not ORTHANC_DUMPS, reason=f"{ORTHANC} is absent")


def elements(data: bytes) -> list[Any]:
    """(tag, VR, value bytes or items) of an encoded file's dataset, group lengths left out."""
    def level(raws: list[Raw]) -> list[Any]:
        return [(tag, vr, [level(item) for item in payload] if vr == "SQ" else bytes(payload))
                for tag, vr, payload in raws if tag & 0xFFFF]
    return level(walk(data))


def encoded(ds: Dataset) -> bytes:
    """``ds`` as wldesk writes it to a new `.wl` file."""
    return encode_document(new_document(ds))


def converted(dump: Path, tmp_path: Path, *options: str) -> bytes:
    return dump2dcm(dump, tmp_path / f"{dump.stem}-{len(os.listdir(tmp_path))}.wl", *options).read_bytes()


def dcmdump(path: Path) -> bytes:
    return subprocess.run([DCMDUMP, "+L", os.fspath(path)], capture_output=True, check=True,
                          timeout=30).stdout


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(p.parents[1])) for p in paths]


SAMPLE_DUMPS = dcmtk_sample_dumps() if DCMTK_WLISTDB.is_dir() else []


# ----------------------------------------------------------------------------------------------
# real dumps against the real dump2dcm


@requires_dcmtk
@pytest.mark.parametrize("dump", SAMPLE_DUMPS, ids=_ids(SAMPLE_DUMPS))
def test_dcmtk_sample_dump_reads_like_dump2dcm(dump: Path, tmp_path: Path) -> None:
    reference = converted(dump, tmp_path)
    parsed = parse_dump(dump.read_bytes())
    assert elements(encoded(parsed.dataset)) == elements(reference)
    via_text = load_text(dump.read_text(encoding="latin-1"))
    assert elements(encoded(via_text)) == elements(reference)


@requires_dcmtk
@requires_orthanc
@pytest.mark.parametrize("dump", ORTHANC_DUMPS, ids=_ids(ORTHANC_DUMPS))
def test_orthanc_fixture_dump_reads_like_dump2dcm(dump: Path, tmp_path: Path) -> None:
    reference = converted(dump, tmp_path, "--write-xfer-little")
    assert elements(encoded(load_text(dump.read_bytes()))) == elements(reference)


@requires_dcmtk
@pytest.mark.expect_log_warnings(r"VR lookup failed for the raw element")
def test_exported_dumps_are_read_back_by_dump2dcm(tmp_path: Path) -> None:
    sources = [dump2dcm(d, tmp_path / f"{d.stem}.wl") for d in [*SAMPLE_DUMPS, *ORTHANC_DUMPS]]
    sources.append(write_wl(tmp_path / "special.wl", special_dataset()))
    sources.append(write_wl(tmp_path / "special-implicit.wl", special_dataset(), "implicit"))
    if (ORTHANC / "Encodings" / "issue49-latin1.wl").is_file():
        sources.append(ORTHANC / "Encodings" / "issue49-latin1.wl")
    for number, source in enumerate(sources):
        doc = load_document(source)
        text = tmp_path / f"export{number}.dump"
        text.write_bytes(dump_bytes(doc.dataset))
        back = dump2dcm(text, tmp_path / f"back{number}.wl").read_bytes()
        assert elements(back) == elements(source.read_bytes()), source
        assert pydicom.dcmread(io.BytesIO(back)).file_meta.TransferSyntaxUID == \
            doc.dataset.file_meta.TransferSyntaxUID  # the dump's meta keeps the syntax
        assert elements(encoded(load_text(text.read_bytes()))) == elements(source.read_bytes())
        assert elements(encoded(load_text(dump_text(doc.dataset)))) == \
            elements(source.read_bytes()), source
        assert dump_limitations(doc.dataset) == []


@requires_dcmtk
def test_dcmdump_output_is_read_back(tmp_path: Path) -> None:
    sources = [dump2dcm(d, tmp_path / f"{d.stem}.wl") for d in SAMPLE_DUMPS]
    special = special_dataset()
    special.PatientComments = "one line (dcmdump writes line breaks as they are)"
    sources.append(write_wl(tmp_path / "special.wl", special))
    for source in sources:
        parsed = parse_dump(dcmdump(source))
        assert elements(encoded(parsed.dataset)) == elements(source.read_bytes()), source
        assert parsed.dataset.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
        assert parsed.dataset.file_meta.MediaStorageSOPClassUID == \
            pydicom.dcmread(source).file_meta.MediaStorageSOPClassUID


def special_dataset() -> Dataset:
    """Values of every kind a dump must carry: private and unknown tags, numbers, binary, AT,
    multi-values, brackets and # in text, line breaks, empty values and sequences."""
    ds = worklist_dataset("Müller^Jürgen", SpecificCharacterSet="ISO_IR 100")
    ds.add_new(0x00090010, "LO", "ACME 1.0")
    ds.add_new(0x00091001, "LO", "private [x] # text")
    ds.add_new(0x00091002, "UN", b"\x01\x02\x03\x04")
    ds.add_new(0x00091003, "OB", b"\xff\x00\x10")
    ds.add_new(0x00091004, "OW", b"\x01\x02\x03\x04")
    ds.add_new(0x00091005, "SS", [-1, 2])
    ds.add_new(0x00091006, "FD", [1.5, 2e-7, 0.1])
    ds.add_new(0x00091007, "FL", 1.1)
    ds.add_new(0x00091008, "UL", 4294967295)
    ds.add_new(0x00091009, "SL", -5)
    ds.add_new(0x00089999, "LO", "unknown public tag")
    ds.add_new(0x00209165, "AT", [0x00100010, 0x00200013])
    ds.add_new(0x00280010, "US", 512)
    ds.PatientComments = "line one\r\nline two\\ with a backslash ]"
    ds.OtherPatientIDs = ["A", "B C", ""]
    ds.PatientWeight = "72.5"
    ds.PatientSize = None
    ds.ReferencedStudySequence = Sequence([])
    ds.add_new(0x00081120, "SQ", Sequence([Dataset()]))
    ds.ScheduledProcedureStepSequence[0].ScheduledStationAETitle = ["CT1", "CT2"]
    ds.ScheduledProcedureStepSequence[0].ScheduledProtocolCodeSequence = [Dataset()]
    code = ds.ScheduledProcedureStepSequence[0].ScheduledProtocolCodeSequence[0]
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "X1", "99L", "Zoë"
    ds.StudyInstanceUID = "1.2.840.10008.1.2.1"  # dcmdump writes it as =LittleEndianExplicit
    return ds


# ----------------------------------------------------------------------------------------------
# the format, line by line


def test_dcmtk_sample_syntax() -> None:
    ds = load_text(
        "# a comment\n"
        "\n"
        "(0008,0050) SH  00000\n"
        "(0010,0010) PN  VIVALDI^ANTONIO # comment after a bare value\n"
        "(0040,0100) SQ\n"
        "(fffe,e000) -\n"
        "(0040,0001) AE  AA32\\AA33\n"
        "(0040,0012) LO\n"
        "(fffe,e00d) -\n"
        "(fffe,e0dd) -\n"
        "( 0040 , 1001 ) [RP4]\n")
    assert ds.AccessionNumber == "00000"
    assert ds.PatientName == "VIVALDI^ANTONIO"
    sps = ds.ScheduledProcedureStepSequence[0]
    assert sps.ScheduledStationAETitle == ["AA32", "AA33"]
    assert sps.PreMedication == "" and sps["PreMedication"].VR == "LO"
    assert ds.RequestedProcedureID == "RP4" and ds["RequestedProcedureID"].VR == "SH"


def test_values_in_brackets_and_descriptions() -> None:
    ds = load_text(
        "(0010,4000) LT [a [b] # c]   # the value ends at the last bracket\n"
        "(0010,21b0) LT [line\\nnext]\n"
        "(0010,2000) LO a\\nb\n"
        "(0010,1000) LO [ ]\n"
        "(0010,0020) LO [  lead and trail  ]\n"
        "(0010,1030) DS (no value available)                     #   0, 0 PatientWeight\n"
        "(0020,9165) AT (0010,0010)\\( 0020 , 0013 )\n"
        "(0002,0010) UI =LittleEndianImplicit\n"
        "(0008,1150) UI [=FINDModalityWorklistInformationModel]\n"
        "(0008,1155) UI =StudyRootQueryRetrieveInformationModelFind\n"
        "(0009,0010) LO [CREATOR]\n"
        "(0009,1001) OB 01\\2\\ff\n"
        "(0009,1002) OW 0201\\0403\n"
        "(0028,0010) US 512\n"
        "(0018,9087) FD 1.5\\-2e-07\n")
    assert ds.PatientComments == "a [b] # c"
    assert ds.AdditionalPatientHistory == "line\r\nnext"
    assert ds.MedicalAlerts == ["a", "nb"]  # without brackets \n is a backslash and an n
    assert ds.OtherPatientIDs == ""
    assert ds.PatientID == "  lead and trail"
    assert ds["PatientWeight"].VR == "DS" and ds["PatientWeight"].is_empty
    assert ds.DimensionIndexPointer == [0x00100010, 0x00200013]
    assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2"
    assert ds.ReferencedSOPClassUID == "1.2.840.10008.5.1.4.31"
    assert ds.ReferencedSOPInstanceUID == "1.2.840.10008.5.1.4.1.2.2.1"
    assert ds[0x00090010].value == "CREATOR"
    assert ds[0x00091001].value == b"\x01\x02\xff"
    assert ds[0x00091002].value == b"\x01\x02\x03\x04"
    assert ds.Rows == 512 and ds[0x00189087].value == [1.5, -2e-07]


def test_uid_names() -> None:
    assert uid_for_name("LittleEndianExplicit") == "1.2.840.10008.1.2.1"
    assert uid_for_name("FINDModalityWorklistInformationModel") == "1.2.840.10008.5.1.4.31"
    assert uid_for_name("VerificationSOPClass") == "1.2.840.10008.1.1"
    assert uid_for_name("ExplicitVRLittleEndian") == "1.2.840.10008.1.2.1"
    assert uid_for_name("NoSuchName") is None


def test_sequences_without_delimiters() -> None:
    indented = load_text(
        "(0008,1110) SQ (Sequence with explicit length #=0)\n"
        "(0010,0010) PN [A]\n"
        "(0040,0100) SQ (Sequence with undefined length #=2)\n"
        "  (fffe,e000) na (Item with undefined length #=1)\n"
        "    (0008,0060) CS [CT]\n"
        "    (0040,0008) SQ\n"
        "      (fffe,e000) na\n"
        "        (0008,0100) SH [X]\n"
        "  (fffe,e000) na\n"
        "    (0008,0060) CS [MR]\n"
        "(0040,1001) SH [RP1]\n")
    assert indented.ReferencedStudySequence == []
    sps = indented.ScheduledProcedureStepSequence
    assert [item.Modality for item in sps] == ["CT", "MR"]
    assert sps[0].ScheduledProtocolCodeSequence[0].CodeValue == "X"
    assert indented.RequestedProcedureID == "RP1"
    flat = parse_dump(
        "(0040,0100) SQ\n"
        "(fffe,e000) -\n"
        "(0008,0060) CS [CT]\n"
        "(fffe,e000) -\n"
        "(0008,0060) CS [MR]\n"
        "(fffe,e0dd) -\n"
        "(0040,1001) SH [RP1]\n"
        "(0040,1010) SQ\n"
        "(fffe,e000) -\n"
        "(0008,0060) CS [US]\n")
    assert [item.Modality for item in flat.dataset.ScheduledProcedureStepSequence] == ["CT", "MR"]
    assert flat.dataset.RequestedProcedureID == "RP1"
    assert flat.dataset[0x00401010].value[0].Modality == "US"
    assert any("line 8 has no end delimiter" in note for note in flat.notes)


@pytest.mark.parametrize(("text", "message"), [
    ("hello\n", "line 1: no tag"),
    ("(0010,0010) PN [open\n", "line 1: the value opened with \\[ has no closing \\]"),
    ("(0010,0010) XX [A]\n", "line 1: unknown value representation 'XX'"),
    ("(0008,1150) UI =NoSuchName\n", "line 1: unknown UID name 'NoSuchName'"),
    ("(0028,0010) US abc\n", "line 1: 'abc' is not a valid US value"),
    ("(0009,1001) OB zz\n", "line 1: 'zz' is not a valid OB value"),
    ("(0009,1001) OB =file.bin\n", "values read from other files"),
    ("(0010,0010) PN <file>\n", "values read from other files"),
    ("(7fe0,0010) OB 00\n", "pixel data"),
    ("(fffe,e00d) na\n", "item end .* without an open item"),
    ("(fffe,e0dd) na\n", "sequence end .* without an open sequence"),
    ("(fffe,e000) na\n", "an item .* outside a sequence"),
    ("(0000,0100) US 1\n", "command elements"),
    ("(0040,0100) SQ\n(fffe,e000) -\n(0002,0010) UI [1.2]\n", "file meta elements"),
])
def test_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(DumpError, match=message):
        load_text(text)


def test_duplicates_keep_the_first_and_group_lengths_are_dropped() -> None:
    parsed = parse_dump("(0008,0000) UL 20\n(0008,0050) SH [1]\n(0008,0050) SH [2]\n")
    assert parsed.dataset.AccessionNumber == "1" and (0x0008, 0x0000) not in parsed.dataset
    assert parsed.notes == ["line 3: (0008,0050) appears again in the same dataset; the first "
                            "value is kept (as dump2dcm does)"]


# ----------------------------------------------------------------------------------------------
# character sets


@pytest.mark.expect_log_warnings(r"Failed to decode byte string with encoding 'UTF8'")
def test_bytes_are_read_in_the_dumps_character_set() -> None:
    latin1 = "(0008,0005) CS [ISO_IR 100]\n(0010,0010) PN [Müller^Jürgen]\n".encode("latin-1")
    parsed = parse_dump(latin1)
    assert parsed.dataset.PatientName == "Müller^Jürgen" and parsed.notes == []
    looks_utf8 = "(0008,0005) CS [ISO_IR 100]\n(0010,0010) PN [Müller]\n".encode()
    parsed = parse_dump(looks_utf8)
    assert parsed.dataset.PatientName == "MÃ¼ller"  # as dump2dcm: the declared set wins
    assert "looks like UTF-8" in parsed.notes[0]
    with pytest.raises(DumpError, match="line 2: the value is not valid ISO_IR 192 text"):
        load_text("(0008,0005) CS [ISO_IR 192]\n(0010,0010) PN [Müller]\n".encode("latin-1"))
    with pytest.raises(DumpError, match="does not say how to read it"):
        load_text("(0008,0005) CS [ISO_IR 6]\n(0010,0010) PN [Müller]\n".encode("latin-1"))


def test_dump_without_charset_is_read_as_utf8_and_says_so() -> None:
    parsed = parse_dump("(0010,0010) PN [Zoë^山田]\n".encode())
    assert parsed.dataset.PatientName == "Zoë^山田"
    assert parsed.dataset.SpecificCharacterSet == "ISO_IR 192"
    assert "read as UTF-8" in parsed.notes[0]
    parsed = parse_dump("(0010,0010) PN [Zoë]\n".encode("latin-1"))
    assert parsed.dataset.PatientName == "Zoë"
    assert parsed.dataset.SpecificCharacterSet == "ISO_IR 100"
    assert "Latin-1" in parsed.notes[0]
    parsed = parse_dump("(0010,0010) PN [Zoë]\n")
    assert parsed.dataset.SpecificCharacterSet == "ISO_IR 192"
    ascii_only = parse_dump(b"(0010,0010) PN [ZOE]\n")
    assert "SpecificCharacterSet" not in ascii_only.dataset and ascii_only.notes == []


def test_code_extensions_round_trip() -> None:
    ds = Dataset()
    ds.SpecificCharacterSet = ["", "ISO 2022 IR 87"]
    ds.PatientName = "Yamada^Tarou=山田^太郎"
    ds.RequestedProcedureDescription = "頭部 CT"
    data = dump_bytes(ds)
    assert b"\x1b$B" in data  # written in ISO 2022 like the file, not in UTF-8
    back = load_text(data)
    assert back.PatientName == "Yamada^Tarou=山田^太郎"
    assert back.RequestedProcedureDescription == "頭部 CT"
    assert elements(encoded(back)) == elements(encoded(ds))


@requires_dcmtk
def test_code_extensions_through_dump2dcm(tmp_path: Path) -> None:
    ds = worklist_dataset("Yamada^Tarou=山田^太郎", SpecificCharacterSet=["", "ISO 2022 IR 87"])
    source = write_wl(tmp_path / "jp.wl", ds)
    text = tmp_path / "jp.dump"
    text.write_bytes(dump_bytes(load_document(source).dataset))
    assert elements(dump2dcm(text, tmp_path / "back.wl").read_bytes()) == elements(source.read_bytes())


def test_unencodable_text_is_an_error_for_bytes_but_shown_as_text() -> None:
    ds = worklist_dataset("Łukasz", SpecificCharacterSet="ISO_IR 100")
    with pytest.raises(DumpError, match="PatientName"):
        dump_bytes(ds)
    assert "[Łukasz]" in dump_text(ds)


# ----------------------------------------------------------------------------------------------
# writing


def test_dump_text_looks_like_dcmdump() -> None:
    ds = worklist_dataset()
    lines = dump_text(ds).splitlines()
    assert lines[0] == "# Dicom-Data-Set"
    assert lines[1] == "(0008,0050) SH [ACC1]                                   #   4, 1 AccessionNumber"
    assert "(0040,0100) SQ (Sequence with undefined length #=1)     # u/l, 1 " \
        "ScheduledProcedureStepSequence" in lines
    assert "  (fffe,e000) na (Item with undefined length #=6)         # u/l, 1 Item" in lines
    assert "    (0008,0060) CS [CT]                                     #   2, 1 Modality" in lines
    assert "(fffe,e0dd) na (SequenceDelimitationItem)               #   0, 0 " \
        "SequenceDelimitationItem" in lines


def test_dump_limitations() -> None:
    ds = Dataset()
    ds.PatientComments = "lone\nline feed"
    ds.OtherPatientIDs = ["C:", "new"]  # "C:\new" is read back as a line break
    ds.PatientID = "plain\\n"[:5]
    limits = dump_limitations(ds)
    assert any("PatientComments: a lone CR or LF" in x for x in limits)
    assert not any("OtherPatientIDs" in x for x in limits)  # written without brackets
    assert load_text(dump_text(ds)).OtherPatientIDs == ["C:", "new"]
    ds.OtherPatientIDs = ["a b", "new"]  # needs brackets: cannot be given back
    assert any("OtherPatientIDs: a backslash followed by n" in x for x in dump_limitations(ds))
    long = Dataset()
    long.PatientComments = "x" * 5000
    assert dump_limitations(long) == ["a line is 5043 bytes long: dump2dcm needs +l 5045 to read "
                                      "it (its default allows 4094 characters)"]


def test_json_round_trip() -> None:
    ds = worklist_dataset("Müller^Jürgen", SpecificCharacterSet="ISO_IR 192")
    ds.add_new(0x00090010, "LO", "ACME")
    ds.add_new(0x00091001, "OB", b"\x01\x02")
    text = to_json(ds)
    assert json.loads(text)["00100010"] == {"vr": "PN", "Value": [{"Alphabetic": "Müller^Jürgen"}]}
    back = from_json(text)
    assert elements(encoded(back)) == elements(encoded(ds))
    with pytest.raises(DumpError, match="not a DICOM JSON dataset"):
        from_json("{not json")
    with pytest.raises(DumpError, match="is an object"):
        from_json("[]")


# ----------------------------------------------------------------------------------------------
# command line


def test_dump_command(tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    path = write_wl(tmp_path / "a.wl", worklist_dataset("Müller", SpecificCharacterSet="ISO_IR 100"))
    assert dump_command(path) == 0
    out = capsysbinary.readouterr().out
    assert "(0010,0010) PN [Müller]".encode("latin-1") in out  # in the file's character set
    assert b"# Dicom-Meta-Information-Header" in out
    assert elements(encoded(load_text(out))) == elements(path.read_bytes())
    assert dump_command(path, json=True) == 0
    assert from_json(capsysbinary.readouterr().out).PatientName == "Müller"
    (tmp_path / "bad.wl").write_bytes(b"garbage that is not dicom")
    assert dump_command(tmp_path / "bad.wl") == 2
    assert capsysbinary.readouterr().err.startswith(f"wldesk: error: {tmp_path / 'bad.wl'}: ".encode())
    assert dump_command(tmp_path / "missing.wl") == 2


def test_dump_command_writes_large_values_out(tmp_path: Path,
                                              capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """The editor leaves a large value out of its exports; ``wldesk dump`` writes it, as dcmdump
    does by default, so that ``wldesk load`` (and dump2dcm) give the same file back."""
    blob = bytes(range(256)) * 400  # 100 KiB: a large value
    ds = worklist_dataset("LARGE^VALUE")
    ds.add_new(0x00091010, "OB", blob)
    path = write_wl(tmp_path / "a.wl", ds)
    assert dump_command(path) == 0
    text = tmp_path / "a.dump"
    text.write_bytes(capsysbinary.readouterr().out)
    assert b"(not loaded)" not in text.read_bytes()
    assert load_command(text, tmp_path / "back.wl") == 0
    assert load_document(tmp_path / "back.wl").dataset[0x00091010].value == blob
    assert dump_command(path, json=True) == 0
    assert from_json(capsysbinary.readouterr().out)[0x00091010].value == blob


def test_load_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "entry.dump"
    text.write_bytes(dump_bytes(worklist_dataset("Zoë", SpecificCharacterSet="ISO_IR 192")))
    out = tmp_path / "entry.wl"
    assert load_command(text, out) == 0
    written = load_document(out)
    assert written.dataset.PatientName == "Zoë"
    assert written.dataset.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    assert capsys.readouterr().err == ""
    incomplete = tmp_path / "incomplete.dump"
    incomplete.write_text("(0010,0010) PN [A]\n(0010,0020) LO [B]\n")
    assert load_command(incomplete, tmp_path / "incomplete.wl") == 0
    assert "missing or empty StudyInstanceUID" in capsys.readouterr().err
    as_json = tmp_path / "entry.json"
    as_json.write_text(to_json(worklist_dataset("JSON^NAME")))
    assert load_command(as_json, tmp_path / "json.wl") == 0
    assert load_document(tmp_path / "json.wl").dataset.PatientName == "JSON^NAME"
    bad = tmp_path / "bad.dump"
    bad.write_text("(0010,0010) XX [A]\n")
    assert load_command(bad, tmp_path / "bad.wl") == 2
    assert "line 1: unknown value representation" in capsys.readouterr().err
    assert not (tmp_path / "bad.wl").exists()
    assert load_command(tmp_path / "missing.dump", tmp_path / "x.wl") == 2
    assert "cannot read" in capsys.readouterr().err
    (tmp_path / "plain-file").write_text("x")
    assert load_command(text, tmp_path / "plain-file" / "x.wl") == 1
    assert "cannot save" in capsys.readouterr().err
    latin = tmp_path / "latin.dump"
    latin.write_bytes("(0008,0005) CS [ISO_IR 100]\n(0010,0010) PN [Łukasz]\n".encode())
    assert load_command(latin, tmp_path / "latin.wl") == 0  # read as Latin-1, as it says
    assert "looks like UTF-8" in capsys.readouterr().err


def test_large_values_are_left_out_of_dumps_and_json_and_said_so() -> None:
    ds = worklist_dataset()
    ds.add_new(0x00990010, "LO", "WLDESK TEST")
    ds.add_new(0x00991000, "OB", bytes(range(256)) * 800)
    ds.add_new(0x00991001, "OB", b"\x01\x02")
    text = dump_text(ds)
    line = next(line for line in text.splitlines() if line.startswith("(0099,1000)"))
    assert line.startswith("(0099,1000) OB (not loaded)")
    assert line.endswith("# 204800, 1 Unknown Tag & Data")
    assert "(0099,1001) OB 01\\02" in text
    assert len(dump_bytes(ds)) < 10_000
    assert [note for note in dump_limitations(ds) if "(not loaded)" in note] == [
        "Unknown Tag & Data (0099,1000): 204.8 KB is too large for a dump; it is written (not loaded), and "
        "reading the dump back stops there"]
    with pytest.raises(DumpError, match=r"line \d+: the value was left out of this dump"):
        parse_dump(text)
    as_json = json.loads(to_json(ds))
    assert "00991000" not in as_json
    assert as_json["00991001"] == {"vr": "OB", "InlineBinary": "AQI="}
    assert as_json["00100020"] == {"vr": "LO", "Value": ["PID1"]}
