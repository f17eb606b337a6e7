"""Answers encoded by wldesk read back by pydicom exactly as pydicom's own encoding would."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pydicom.dataset import Dataset
from pydicom.filereader import read_dataset
from pydicom.sequence import Sequence

from tests.helpers.samples import write_entry
from wldesk.core.dicom.node import Node
from wldesk.core.query.answer import Answer, CannotEncode, finalize
from wldesk.core.query.matching import compile_query
from wldesk.core.store import read_entry


def decoded(data: bytes, implicit: bool) -> Dataset:
    return read_dataset(io.BytesIO(data), implicit, True)


def same(left: Dataset, right: Dataset) -> None:
    assert [e.tag for e in left] == [e.tag for e in right]
    for a, b in zip(left, right, strict=True):
        if a.VR == "SQ":
            assert len(a.value) == len(b.value)
            for x, y in zip(a.value, b.value, strict=True):
                same(x, y)
        else:  # zero length reads back as "" and is built as None
            assert (a.VR, a.value or None) == (b.VR, b.value or None), a.tag


def queries() -> list[Dataset]:
    full = Dataset()
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "AccessionNumber",
                    "StudyInstanceUID", "RequestedProcedureDescription", "PregnancyStatus"):
        setattr(full, keyword, "" if keyword != "PregnancyStatus" else None)
    step = Dataset()
    step.Modality = ""
    step.ScheduledStationAETitle = ""
    step.ScheduledProcedureStepStartDate = ""
    full.ScheduledProcedureStepSequence = Sequence([step])
    whole = Dataset()
    whole.PatientName = ""
    whole.ScheduledProcedureStepSequence = Sequence([Dataset()])
    return [full, whole]


@pytest.mark.parametrize("implicit", [True, False])
@pytest.mark.parametrize(("charset", "name"), [
    ("ISO_IR 100", "MÜLLER^JOSÉ"), ("ISO_IR 192", "ΠΑΠΑΔΟΠΟΥΛΟΣ^ΓΙΩΡΓΟΣ"), (None, "DOE^JOHN"),
    ("ISO_IR 192", "ODD^NAME1"),
])
def test_encoding_matches_pydicom(tmp_path: Path, implicit: bool, charset: str | None,
                                  name: str) -> None:
    entry = read_entry(write_entry(tmp_path, "a.wl", charset=charset, patient=name))
    for query in queries():
        answer = compile_query(query).answer(entry.node)
        assert answer is not None
        finalize(answer, entry.charset, None)
        ours = decoded(answer.encode(implicit), implicit)
        same(ours, answer.to_dataset())
        assert str(ours.PatientName) == name


def test_multi_valued_and_numeric_values() -> None:
    source = Dataset()
    source.ScheduledStationAETitle = ["CT1", "CT2"]
    source.add_new(0x00101030, "DS", "72.5")
    source.add_new(0x00280010, "US", 512)
    answer = Answer.from_node(Node.from_dataset(source))
    for implicit in (True, False):
        ours = decoded(answer.encode(implicit), implicit)
        assert list(ours.ScheduledStationAETitle) == ["CT1", "CT2"]
        assert ours[0x00280010].value == 512
        assert str(ours[0x00101030].value) == "72.5"


def test_iso_2022_and_unencodable_text_go_to_pydicom() -> None:
    answer = Answer()
    answer.add(0x00080005, "CS", ("", "ISO 2022 IR 87"))
    answer.add(0x00100010, "PN", "Yamada^Tarou=山田^太郎")
    with pytest.raises(CannotEncode):
        answer.encode(True)
    latin = Answer()
    latin.add(0x00080005, "CS", "ISO_IR 100")
    latin.add(0x00100010, "PN", "ΑΛΦΑ")
    with pytest.raises(CannotEncode):
        latin.encode(False)
