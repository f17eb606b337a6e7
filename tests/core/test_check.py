"""The completeness check: one rule at a time, the DCMTK samples, whole folders.

Each small dataset is written to a real `.wl` file and checked through ``check_folder`` (which
reads it back and applies ``missing_keys``), so the rules are tested on what the store decodes.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest
from pydicom.dataset import Dataset

from tests.helpers.samples import (
    convert_dcmtk_samples,
    encode,
    raw_text,
    requires_dump2dcm,
    step,
    worklist_dataset,
    write_wl,
)
from wldesk.core.check import Finding, check_folder

Checker = Callable[[Dataset], list[str]]


@pytest.fixture
def missing(tmp_path: Path) -> Checker:
    """The serious problems the check finds in ``ds``, written to a real file and read back."""
    counter = itertools.count()

    def run(ds: Dataset) -> list[str]:
        folder = tmp_path / f"case{next(counter)}"
        folder.mkdir()
        path = write_wl(folder / "entry.wl", ds)
        findings = check_folder(folder)
        assert {f.path for f in findings} <= {path}
        return [f.message for f in findings if f.serious]

    return run


def code_item(**values: str) -> Dataset:
    item = Dataset()
    item.CodeValue = "P5-0905E"
    item.CodingSchemeDesignator = "SRT"
    item.CodeMeaning = "CT chest"
    for keyword, value in values.items():
        setattr(item, keyword, value)
    return item


def reference(**values: str) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"
    item.ReferencedSOPInstanceUID = "1.2.826.0.1.3680043.8.498.9"
    for keyword, value in values.items():
        setattr(item, keyword, value)
    return item


def test_complete_entry_has_no_problem(missing: Checker) -> None:
    assert missing(worklist_dataset()) == []


def test_complete_entry_with_codes_and_references_has_no_problem(missing: Checker) -> None:
    ds = worklist_dataset(RequestedProcedureDescription=None,
                          RequestedProcedureCodeSequence=[code_item()],
                          ReferencedStudySequence=[reference()],
                          ReferencedPatientSequence=[reference()],
                          ScheduledProcedureStepSequence=[step(
                              ScheduledProcedureStepDescription=None,
                              ScheduledProtocolCodeSequence=[code_item(), code_item(CodeValue="X")])])
    assert missing(ds) == []


def test_empty_reference_sequences_are_fine(missing: Checker) -> None:
    ds = worklist_dataset(ReferencedStudySequence=[], ReferencedPatientSequence=[])
    assert missing(ds) == []


@pytest.mark.parametrize("keyword", ["RequestedProcedureID", "StudyInstanceUID", "PatientName",
                                     "PatientID"])
def test_missing_top_level_key(missing: Checker, keyword: str) -> None:
    assert missing(worklist_dataset(**{keyword: None})) == [f"missing or empty {keyword}"]


@pytest.mark.parametrize("keyword", ["RequestedProcedureID", "PatientName", "PatientID"])
def test_empty_top_level_key(missing: Checker, keyword: str) -> None:
    assert missing(worklist_dataset(**{keyword: ""})) == [f"missing or empty {keyword}"]


def test_only_spaces_count_as_empty(missing: Checker) -> None:
    ds = worklist_dataset()
    ds[0x00100020] = raw_text(0x00100020, "LO", b"    ")
    assert missing(ds) == ["missing or empty PatientID"]


@pytest.mark.parametrize("keyword", ["ScheduledStationAETitle", "ScheduledProcedureStepStartDate",
                                     "ScheduledProcedureStepStartTime", "Modality",
                                     "ScheduledProcedureStepID"])
def test_missing_step_key(missing: Checker, keyword: str) -> None:
    ds = worklist_dataset(ScheduledProcedureStepSequence=[step(**{keyword: None})])
    assert missing(ds) == [f"missing or empty {keyword}"]
    ds = worklist_dataset(ScheduledProcedureStepSequence=[step(**{keyword: ""})])
    assert missing(ds) == [f"missing or empty {keyword}"]


def test_missing_step_sequence(missing: Checker) -> None:
    assert missing(worklist_dataset(ScheduledProcedureStepSequence=None)) == [
        "missing or empty ScheduledProcedureStepSequence"]


def test_step_sequence_without_items(missing: Checker) -> None:
    assert missing(worklist_dataset(ScheduledProcedureStepSequence=[])) == [
        "missing or empty ScheduledProcedureStepSequence"]


def test_two_steps(missing: Checker) -> None:
    ds = worklist_dataset(ScheduledProcedureStepSequence=[step(), step(ScheduledProcedureStepID="SPS2")])
    problems = missing(ds)
    assert len(problems) == 1
    assert "2 items" in problems[0] and "exactly one" in problems[0]


def test_two_steps_name_the_step_with_a_problem(missing: Checker) -> None:
    ds = worklist_dataset(ScheduledProcedureStepSequence=[step(), step(Modality=None)])
    problems = missing(ds)
    assert problems[1:] == ["step 2: missing or empty Modality"]


def test_step_description_or_code(missing: Checker) -> None:
    ds = worklist_dataset(ScheduledProcedureStepSequence=[step(ScheduledProcedureStepDescription=None)])
    assert missing(ds) == [
        "missing ScheduledProcedureStepDescription or ScheduledProtocolCodeSequence"]
    ds = worklist_dataset(ScheduledProcedureStepSequence=[step(ScheduledProcedureStepDescription="")])
    assert missing(ds) == ["ScheduledProcedureStepDescription is present but empty"]


def test_requested_procedure_description_or_code(missing: Checker) -> None:
    assert missing(worklist_dataset(RequestedProcedureDescription=None)) == [
        "missing RequestedProcedureDescription or RequestedProcedureCodeSequence"]
    assert missing(worklist_dataset(RequestedProcedureDescription="")) == [
        "RequestedProcedureDescription is present but empty"]


def test_code_sequence_without_items(missing: Checker) -> None:
    ds = worklist_dataset(RequestedProcedureDescription=None, RequestedProcedureCodeSequence=[])
    assert missing(ds) == ["RequestedProcedureCodeSequence is present but has no item"]
    ds = worklist_dataset(ScheduledProcedureStepSequence=[step(
        ScheduledProcedureStepDescription=None, ScheduledProtocolCodeSequence=[])])
    assert missing(ds) == ["ScheduledProtocolCodeSequence is present but has no item"]


def test_code_item_without_code_value(missing: Checker) -> None:
    item = code_item()
    del item.CodeValue
    ds = worklist_dataset(RequestedProcedureDescription=None, RequestedProcedureCodeSequence=[item])
    assert missing(ds) == ["RequestedProcedureCodeSequence item 1: missing or empty CodeValue"]
    ds = worklist_dataset(ScheduledProcedureStepSequence=[step(
        ScheduledProtocolCodeSequence=[code_item(), code_item(CodingSchemeDesignator="")])])
    assert missing(ds) == [
        "ScheduledProtocolCodeSequence item 2: missing or empty CodingSchemeDesignator"]


def test_referenced_study_item_without_instance_uid(missing: Checker) -> None:
    item = reference()
    del item.ReferencedSOPInstanceUID
    ds = worklist_dataset(ReferencedStudySequence=[reference(), item])
    assert missing(ds) == [
        "ReferencedStudySequence item 2: missing or empty ReferencedSOPInstanceUID"]
    ds = worklist_dataset(ReferencedPatientSequence=[reference(ReferencedSOPClassUID="")])
    assert missing(ds) == [
        "ReferencedPatientSequence item 1: missing or empty ReferencedSOPClassUID"]


def test_several_problems_all_listed(missing: Checker) -> None:
    ds = worklist_dataset(PatientID=None, StudyInstanceUID=None,
                          ScheduledProcedureStepSequence=[step(Modality=None,
                                                               ScheduledStationAETitle=None)])
    assert sorted(missing(ds)) == sorted([
        "missing or empty PatientID", "missing or empty StudyInstanceUID",
        "missing or empty Modality", "missing or empty ScheduledStationAETitle"])


# --- folders -----------------------------------------------------------------------------------

@requires_dump2dcm
def test_dcmtk_samples_have_no_serious_problem(tmp_path: Path) -> None:
    """wlmscpfs serves all ten of DCMTK's samples; the check agrees none would be dropped."""
    convert_dcmtk_samples(tmp_path)
    assert [f for f in check_folder(tmp_path) if f.serious] == []


@requires_dump2dcm
def test_dcmtk_sample_with_a_key_removed(tmp_path: Path) -> None:
    paths = convert_dcmtk_samples(tmp_path)
    ds = worklist_dataset(ScheduledProcedureStepSequence=[step(ScheduledProcedureStepID=None)])
    write_wl(paths[3], ds)
    findings = check_folder(tmp_path)
    assert [(f.path, f.message) for f in findings] == [
        (paths[3], "missing or empty ScheduledProcedureStepID")]


def test_folder_findings(tmp_path: Path) -> None:
    good = write_wl(tmp_path / "good.wl", worklist_dataset())
    incomplete = write_wl(tmp_path / "incomplete.wl", worklist_dataset(PatientID=None))
    truncated = tmp_path / "truncated.wl"
    truncated.write_bytes(encode(worklist_dataset())[:-3])
    noted = tmp_path / "noted.wl"
    ds = worklist_dataset()
    ds[0x00100010] = raw_text(0x00100010, "PN", "MÜLLER^JÖRG".encode())
    write_wl(noted, ds)
    (tmp_path / "ignored.txt").write_text("not a worklist", encoding="ascii")

    findings = check_folder(tmp_path)
    by_path: dict[Path, list[Finding]] = {}
    for finding in findings:
        by_path.setdefault(finding.path, []).append(finding)
    assert set(by_path) == {incomplete, truncated, noted}
    assert good not in by_path
    assert [(f.message, f.serious) for f in by_path[incomplete]] == [("missing or empty PatientID", True)]
    (unreadable,) = by_path[truncated]
    assert unreadable.serious and "incomplete file" in unreadable.message
    (note,) = by_path[noted]
    assert not note.serious and "UTF-8" in note.message
    assert str(note).startswith(f"{noted}: note: ")
    assert str(unreadable) == f"{truncated}: {unreadable.message}"


def test_missing_folder(tmp_path: Path) -> None:
    (finding,) = check_folder(tmp_path / "nowhere")
    assert finding.serious
    assert finding.path == tmp_path / "nowhere"
    assert "cannot read the worklist folder" in finding.message


@pytest.mark.parametrize(("declared", "fix"), [("UTF-8", "ISO_IR 192"), ("ISO-8859-1", "ISO_IR 100")])
def test_charset_that_is_not_a_dicom_term(missing: Checker, declared: str, fix: str) -> None:
    assert missing(worklist_dataset("MÜLLER^JOSÉ", SpecificCharacterSet=declared)) == [
        f"SpecificCharacterSet (0008,0005) '{declared}' is not a DICOM defined term; DICOM "
        f"readers cannot decode it (write {fix})"]
    assert missing(worklist_dataset("MÜLLER^JOSÉ", SpecificCharacterSet=fix)) == []
