"""hidden_statuses in matching: steps of a hidden status are left out unless the query asks for a
status (dcm4chee #3935: an empty SPS Status key asks for none; #3842: a value asks for it)."""

from __future__ import annotations

from pydicom.dataset import Dataset

from tests.core.query.test_matching import make_entry, make_query, step_query
from wldesk.core.dicom.node import Node
from wldesk.core.query.matching import compile_query

HIDDEN = ("COMPLETED", "DISCONTINUED")


def answer(query: Dataset, entry: Dataset, hidden: tuple[str, ...] = HIDDEN) -> Dataset | None:
    return compile_query(query, hidden_statuses=hidden).match(Node.from_dataset(entry))


def done(status: str = "COMPLETED") -> Dataset:
    return make_entry(steps=[{"ScheduledProcedureStepStatus": status}])


def test_a_hidden_step_is_no_answer_without_or_with_an_empty_status_key() -> None:
    assert answer(step_query(Modality="CT"), done()) is None
    assert answer(step_query(Modality="CT", ScheduledProcedureStepStatus=""), done()) is None
    assert answer(step_query(ScheduledProcedureStepStatus="*"), done("DISCONTINUED")) is None
    assert answer(make_query(PatientName=""), done()) is None  # no step key at all
    assert answer(make_query(PatientName="", ScheduledProcedureStepSequence=[]), done()) is None


def test_a_query_asking_for_the_status_finds_it() -> None:
    found = answer(step_query(ScheduledProcedureStepStatus="COMPLETED"), done())
    assert found is not None
    assert found.ScheduledProcedureStepSequence[0].ScheduledProcedureStepStatus == "COMPLETED"
    asked = step_query(ScheduledProcedureStepStatus="SCHEDULED\\COMPLETED")
    assert answer(asked, done()) is not None


def test_other_statuses_and_entries_without_status_or_steps_are_answered_as_before() -> None:
    for status in ("SCHEDULED", "STARTED", None):
        entry = make_entry(steps=[{"ScheduledProcedureStepStatus": status}])
        query = step_query(Modality="CT", ScheduledProcedureStepStatus="")
        assert answer(query, entry) == answer(query, entry, hidden=())
        assert answer(query, entry) is not None
    no_steps = make_entry(steps=[])
    for query in (make_query(PatientName=""),
                  make_query(PatientName="", ScheduledProcedureStepSequence=[Dataset()])):
        assert answer(query, no_steps) is not None
        assert answer(query, no_steps) == answer(query, no_steps, hidden=())


def test_only_the_visible_steps_of_an_entry_are_answered() -> None:
    entry = make_entry(steps=[{"ScheduledProcedureStepID": "S1",
                               "ScheduledProcedureStepStatus": "COMPLETED"},
                              {"ScheduledProcedureStepID": "S2"}])
    found = answer(step_query(ScheduledProcedureStepID=""), entry)
    assert found is not None
    assert [s.ScheduledProcedureStepID for s in found.ScheduledProcedureStepSequence] == ["S2"]
    whole = answer(make_query(PatientName="", ScheduledProcedureStepSequence=[Dataset()]), entry)
    assert whole is not None
    assert [s.ScheduledProcedureStepID for s in whole.ScheduledProcedureStepSequence] == ["S2"]


def test_the_setting_decides_what_is_hidden() -> None:
    started = done("STARTED")
    assert answer(step_query(Modality=""), started, hidden=("STARTED",)) is None
    assert answer(step_query(Modality=""), done(), hidden=()) is not None
    assert answer(step_query(Modality=""), done("completed")) is None  # case is not a way out


def test_the_explanation_names_the_setting() -> None:
    query = compile_query(step_query(Modality="CT"), hidden_statuses=HIDDEN)
    assert query.explain(Node.from_dataset(done())) == (
        "status COMPLETED is hidden from queries (hidden_statuses)")


def test_the_prefilter_still_uses_the_step_keys() -> None:
    query = compile_query(step_query(Modality="CT", ScheduledStationAETitle="CT1",
                                     ScheduledProcedureStepStartDate="20261127"),
                          hidden_statuses=HIDDEN)
    steps = query.prefilter().steps
    assert steps is not None and len(steps) == 1
    assert steps[0].modality == frozenset({"CT"}) and steps[0].station == frozenset({"CT1"})
    assert steps[0].dates is not None
    assert compile_query(step_query(Modality=""), hidden_statuses=HIDDEN).prefilter().steps is None
