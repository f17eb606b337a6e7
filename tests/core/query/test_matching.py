"""Matching rules of PS3.4 C.2.2.2 / C.2.2.3 / Annex K, one test (or group) per rule."""

from __future__ import annotations

from typing import Any

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from wldesk.core.dicom.node import Node
from wldesk.core.query.matching import compile_query
from wldesk.core.query.values import QueryError, parse_datetime, parse_time


def make_entry(**top: Any) -> Dataset:
    """A worklist entry; ``steps`` gives the SPS items as dicts."""
    steps = top.pop("steps", [{}])
    ds = Dataset()
    defaults = {"PatientName": "DOE^JOHN", "PatientID": "P1", "AccessionNumber": "A1"}
    for keyword, value in {**defaults, **top}.items():
        if value is not None:
            setattr(ds, keyword, value)
    items = []
    for step in steps:
        item = Dataset()
        step_defaults = {"ScheduledStationAETitle": "CT1", "Modality": "CT",
                         "ScheduledProcedureStepStartDate": "20261127",
                         "ScheduledProcedureStepStartTime": "103000",
                         "ScheduledProcedureStepID": "S1"}
        for keyword, value in {**step_defaults, **step}.items():
            if value is not None:
                setattr(item, keyword, value)
        items.append(item)
    ds.ScheduledProcedureStepSequence = Sequence(items)
    return ds


def make_query(steps: list[dict[str, Any]] | None = None, **top: Any) -> Dataset:
    ds = Dataset()
    for keyword, value in top.items():
        setattr(ds, keyword, value)
    if steps is not None:
        items = []
        for step in steps:
            item = Dataset()
            for keyword, value in step.items():
                setattr(item, keyword, value)
            items.append(item)
        ds.ScheduledProcedureStepSequence = Sequence(items)
    return ds


def matches(query: Dataset, entry: Dataset, issuer: str | None = None) -> bool:
    return compile_query(query, issuer_aet=issuer).match(Node.from_dataset(entry)) is not None


def step_query(**step: Any) -> Dataset:
    return make_query(steps=[step])


# --- C.2.2.2.3 universal matching ----------------------------------------------------------------

@pytest.mark.parametrize("value", ["", "*", "* ", " *"])
@pytest.mark.parametrize("keyword", ["PatientName", "PatientID", "AccessionNumber", "StudyInstanceUID",
                                     "PatientBirthDate"])
def test_universal_matching_for_every_vr(keyword: str, value: str) -> None:
    entry = make_entry(StudyInstanceUID="1.2.3", PatientBirthDate="19700101")
    assert matches(make_query(None, **{keyword: value}), entry)
    # ...even when the entity has no value at all
    assert matches(make_query(None, **{keyword: value}), make_entry(PatientID=None, AccessionNumber=None))


@pytest.mark.parametrize("value", ["", "*"])
def test_universal_date_and_time_keys(value: str) -> None:
    query = step_query(ScheduledProcedureStepStartDate=value, ScheduledProcedureStepStartTime=value)
    assert matches(query, make_entry())


# --- C.2.2.2.1 single value matching -------------------------------------------------------------

def test_single_value_is_case_sensitive_except_pn() -> None:
    assert matches(make_query(PatientID="P1"), make_entry())
    assert not matches(make_query(PatientID="p1"), make_entry())
    assert matches(step_query(Modality="CT"), make_entry())
    assert not matches(step_query(Modality="ct"), make_entry())
    assert matches(make_query(PatientName="doe^john"), make_entry())


def test_pn_case_insensitive_keeps_accents() -> None:
    entry = make_entry(PatientName="MÜLLER^JOSÉ")
    assert matches(make_query(PatientName="müller^josé"), entry)
    assert matches(make_query(PatientName="Müller^José"), entry)
    assert not matches(make_query(PatientName="MULLER^JOSE"), entry)


def test_pn_trailing_empty_components_and_spaces_are_insignificant() -> None:
    entry = make_entry(PatientName="DOE^JOHN^^^")
    assert matches(make_query(PatientName="DOE^JOHN"), entry)
    assert matches(make_query(PatientName=" DOE^JOHN "), make_entry(PatientName="DOE^JOHN"))


def test_pn_one_group_key_matches_any_group_of_the_entity() -> None:
    entry = make_entry(PatientName="Yamada^Tarou=山田^太郎=やまだ^たろう")
    assert matches(make_query(PatientName="Yamada^Tarou"), entry)
    assert matches(make_query(PatientName="山田^太郎"), entry)
    assert matches(make_query(PatientName="=山田^太郎"), entry)
    assert not matches(make_query(PatientName="Suzuki^Tarou"), entry)


def test_single_value_leading_and_trailing_spaces_insignificant() -> None:
    assert matches(make_query(AccessionNumber="A1 "), make_entry(AccessionNumber=" A1"))


def test_single_value_does_not_match_prefix() -> None:
    assert not matches(make_query(PatientName="DOE"), make_entry())
    assert not matches(make_query(PatientID="P"), make_entry())


# --- C.2.2.2.4 wild card matching ----------------------------------------------------------------

@pytest.mark.parametrize(("pattern", "expected"), [
    ("DOE*", True), ("*JOHN", True), ("D?E^JOHN", True), ("D?^JOHN", False), ("*O*", True),
    ("DOE^J??N", True), ("DOE^J?N", False), ("do*", True), ("X*", False),
])
def test_wildcards_on_pn(pattern: str, expected: bool) -> None:
    assert matches(make_query(PatientName=pattern), make_entry()) is expected


def test_wildcards_on_patient_id_modality_and_station() -> None:
    entry = make_entry(PatientID="PAT-0042")
    assert matches(make_query(PatientID="PAT-00??"), entry)
    assert matches(make_query(PatientID="PAT*"), entry)
    assert not matches(make_query(PatientID="pat*"), entry)  # case-sensitive outside PN
    assert matches(step_query(Modality="C?"), make_entry())
    assert matches(step_query(ScheduledStationAETitle="CT*"), make_entry())
    assert not matches(step_query(ScheduledStationAETitle="MR*"), make_entry())


def test_wildcard_characters_are_literal_in_other_vrs() -> None:
    # UI has no wildcards: only "*" alone is universal
    assert not matches(make_query(StudyInstanceUID="1.2.*"), make_entry(StudyInstanceUID="1.2.3"))


def test_regex_metacharacters_are_literal() -> None:
    entry = make_entry(AccessionNumber="A.1+(x)")
    assert matches(make_query(AccessionNumber="A.1+(x)"), entry)
    assert not matches(make_query(AccessionNumber="A.1+(x)"), make_entry(AccessionNumber="AX1+(x)"))
    assert matches(make_query(AccessionNumber="A.1*"), entry)


# --- C.2.2.2.2 list of UID matching --------------------------------------------------------------

def test_list_of_uid_matching() -> None:
    entry = make_entry(StudyInstanceUID="1.2.3")
    assert matches(make_query(StudyInstanceUID=["1.2.4", "1.2.3"]), entry)
    assert not matches(make_query(StudyInstanceUID=["1.2.4", "1.2.5"]), entry)
    assert matches(make_query(StudyInstanceUID="1.2.3"), entry)


# --- C.2.2.2.5 range matching --------------------------------------------------------------------

@pytest.mark.parametrize(("key", "expected"), [
    ("20261127", True), ("20261126", False),
    ("20261127-20261127", True),  # "today" sent as a one-day range
    ("20261101-20261130", True), ("20261128-20261130", False),
    ("20261127-", True), ("20261128-", False), ("-20261127", True), ("-20261126", False),
    ("2026.11.27", True),  # ACR-NEMA style dates still seen in the field
])
def test_date_ranges(key: str, expected: bool) -> None:
    assert matches(step_query(ScheduledProcedureStepStartDate=key), make_entry()) is expected


@pytest.mark.parametrize(("key", "expected"), [
    ("103000", True), ("1030", True), ("10", True), ("103000.000", True), ("103001", False),
    ("1000-1100", True), ("1031-1100", False), ("1030-", True), ("-1030", True), ("-1029", False),
    ("10:30:00", True), ("0900-10", True), ("11-", False),
])
def test_time_single_values_and_ranges(key: str, expected: bool) -> None:
    assert matches(step_query(ScheduledProcedureStepStartTime=key), make_entry()) is expected


def test_time_values_are_parsed_not_compared_as_strings() -> None:
    entry = make_entry(steps=[{"ScheduledProcedureStepStartTime": "0930"}])
    # "0930" (09:30) lies inside 090000-100000 although "0930" > "090000" as a string compare
    assert matches(step_query(ScheduledProcedureStepStartTime="090000-100000"), entry)
    entry = make_entry(steps=[{"ScheduledProcedureStepStartTime": "083015.123456"}])
    assert matches(step_query(ScheduledProcedureStepStartTime="0830-0831"), entry)


def test_time_range_does_not_cross_midnight() -> None:
    night = make_entry(steps=[{"ScheduledProcedureStepStartTime": "230000"}])
    assert not matches(step_query(ScheduledProcedureStepStartTime="2200-0600"), night)


def test_combined_date_and_time_range() -> None:
    # PS3.4: July 5 to July 7 with 10am to 6pm means July 5 10am until July 7 6pm
    query = step_query(ScheduledProcedureStepStartDate="20260705-20260707",
                       ScheduledProcedureStepStartTime="1000-1800")
    def at(day: str, time: str) -> Dataset:
        return make_entry(steps=[{"ScheduledProcedureStepStartDate": day,
                                  "ScheduledProcedureStepStartTime": time}])
    assert matches(query, at("20260706", "0300"))  # inside the period, outside 10-18
    assert matches(query, at("20260705", "1000"))
    assert not matches(query, at("20260705", "0959"))
    assert matches(query, at("20260707", "1800"))
    assert not matches(query, at("20260707", "1801"))


def test_date_and_time_of_different_forms_are_matched_separately() -> None:
    query = step_query(ScheduledProcedureStepStartDate="20260705-20260707",
                       ScheduledProcedureStepStartTime="1000")
    on_day_at_ten = make_entry(steps=[{"ScheduledProcedureStepStartDate": "20260706",
                                       "ScheduledProcedureStepStartTime": "1000"}])
    on_day_at_three = make_entry(steps=[{"ScheduledProcedureStepStartDate": "20260706",
                                         "ScheduledProcedureStepStartTime": "0300"}])
    assert matches(query, on_day_at_ten)
    assert not matches(query, on_day_at_three)


@pytest.mark.parametrize(("key", "expected"), [
    ("20261127-20261128", True), ("2026112710-", True), ("2026112711-", False),
    ("-20261126", False), ("20261127103000.000000", True), ("2026", True), ("202611", True),
    ("202612", False), ("20261127103000+0100", True),
])
def test_datetime_single_values_and_ranges(key: str, expected: bool) -> None:
    start_datetime = 0x00404005  # Scheduled Procedure Step Start DateTime (VR DT)
    entry = make_entry()
    entry.ScheduledProcedureStepSequence[0].add_new(start_datetime, "DT", "20261127103000")
    query = step_query()
    query.ScheduledProcedureStepSequence[0].add_new(start_datetime, "DT", key)
    assert matches(query, entry) is expected


def test_parse_datetime_precision() -> None:
    assert parse_datetime("2026") == (parse_datetime("20260101")[0],  # type: ignore[index]
                                      parse_datetime("20261231235959.999999")[1])  # type: ignore[index]
    assert parse_datetime("20260230") is None


def test_parse_time_precision_intervals() -> None:
    low, high = parse_time("10")  # type: ignore[misc]
    assert (low.isoformat(), high.isoformat()) == ("10:00:00", "10:59:59.999999")
    low, high = parse_time("1030")  # type: ignore[misc]
    assert (low.isoformat(), high.isoformat()) == ("10:30:00", "10:30:59.999999")
    assert parse_time("2500") is None
    assert parse_time("10a") is None


@pytest.mark.parametrize(("keyword", "value"), [
    ("PatientBirthDate", "yesterday"), ("PatientBirthDate", "20261340"),
    ("PatientBirthDate", "2026112*"),
])
def test_invalid_date_key_is_a_query_error_naming_the_attribute(keyword: str, value: str) -> None:
    with pytest.raises(QueryError, match="PatientBirthDate") as info:
        compile_query(make_query(None, **{keyword: value}))
    assert info.value.tag == 0x00100030


def test_invalid_time_key_is_a_query_error() -> None:
    with pytest.raises(QueryError, match="ScheduledProcedureStepStartTime"):
        compile_query(step_query(ScheduledProcedureStepStartTime="noon"))


# --- K.2.2.1.1.1: unknown entity values fail non-universal keys ----------------------------------

def test_empty_or_missing_entity_value_fails_every_non_universal_key() -> None:
    assert not matches(make_query(AccessionNumber="A*"), make_entry(AccessionNumber=None))
    assert not matches(make_query(AccessionNumber="*A*"), make_entry(AccessionNumber=""))
    assert not matches(make_query(AccessionNumber="?*"), make_entry(AccessionNumber=None))
    no_time = make_entry(steps=[{"ScheduledProcedureStepStartTime": None}])
    assert not matches(step_query(ScheduledProcedureStepStartTime="0000-2359"), no_time)
    assert matches(step_query(ScheduledProcedureStepStartTime=""), no_time)


# --- C.2.2.3 multi-valued attributes -------------------------------------------------------------

def test_multi_valued_entity_matches_if_any_value_matches_and_returns_all() -> None:
    entry = make_entry(steps=[{"ScheduledStationAETitle": ["CT1", "CT2"]}])
    query = step_query(ScheduledStationAETitle="CT2")
    answer = compile_query(query).match(Node.from_dataset(entry))
    assert answer is not None
    assert list(answer.ScheduledProcedureStepSequence[0].ScheduledStationAETitle) == ["CT1", "CT2"]
    assert not matches(step_query(ScheduledStationAETitle="CT3"), entry)


# --- C.2.2.2.6 sequence matching -----------------------------------------------------------------

def test_sequence_matching_returns_only_matching_items_with_requested_attributes() -> None:
    entry = make_entry(steps=[{"Modality": "CT", "ScheduledProcedureStepID": "S1"},
                              {"Modality": "MR", "ScheduledProcedureStepID": "S2"}])
    query = step_query(Modality="MR", ScheduledProcedureStepID="")
    answer = compile_query(query).match(Node.from_dataset(entry))
    assert answer is not None
    items = answer.ScheduledProcedureStepSequence
    assert len(items) == 1
    assert items[0].ScheduledProcedureStepID == "S2"
    assert set(items[0].dir()) == {"Modality", "ScheduledProcedureStepID"}


def test_all_item_keys_must_match_the_same_item() -> None:
    entry = make_entry(steps=[{"Modality": "CT", "ScheduledStationAETitle": "MR1"},
                              {"Modality": "MR", "ScheduledStationAETitle": "CT1"}])
    assert not matches(step_query(Modality="CT", ScheduledStationAETitle="CT1"), entry)
    assert matches(step_query(Modality="CT", ScheduledStationAETitle="MR1"), entry)


@pytest.mark.parametrize("steps", [[], [{}]])
def test_zero_items_or_an_empty_item_returns_the_whole_sequence(steps: list[dict[str, Any]]) -> None:
    entry = make_entry(steps=[{"Modality": "CT"}, {"Modality": "MR"}])
    answer = compile_query(make_query(steps=steps)).match(Node.from_dataset(entry))
    assert answer is not None
    items = answer.ScheduledProcedureStepSequence
    assert [i.Modality for i in items] == ["CT", "MR"]
    assert "ScheduledProcedureStepID" in items[0]


def test_return_only_item_keys_return_every_item() -> None:
    entry = make_entry(steps=[{"Modality": "CT"}, {"Modality": "MR"}])
    answer = compile_query(step_query(Modality="")).match(Node.from_dataset(entry))
    assert answer is not None
    assert [i.Modality for i in answer.ScheduledProcedureStepSequence] == ["CT", "MR"]


def test_items_holding_only_empty_code_fields_do_not_filter() -> None:
    query = make_query(PatientName="")
    code = Dataset()
    code.CodeValue = ""
    code.CodingSchemeDesignator = ""
    code.CodeMeaning = ""
    query.RequestedProcedureCodeSequence = Sequence([code])
    answer = compile_query(query).match(Node.from_dataset(make_entry()))  # the entry has no code sequence
    assert answer is not None
    assert len(answer.RequestedProcedureCodeSequence) == 0


def test_nested_sequence_matching() -> None:
    entry = make_entry()
    code = Dataset()
    code.CodeValue = "CT-HEAD"
    code.CodingSchemeDesignator = "LOCAL"
    entry.ScheduledProcedureStepSequence[0].ScheduledProtocolCodeSequence = Sequence([code])
    def query_for(value: str) -> Dataset:
        inner = Dataset()
        inner.CodeValue = value
        step = Dataset()
        step.ScheduledProtocolCodeSequence = Sequence([inner])
        q = Dataset()
        q.ScheduledProcedureStepSequence = Sequence([step])
        return q
    assert matches(query_for("CT-*"), entry)
    assert not matches(query_for("MR-*"), entry)


def test_no_sps_sequence_in_query_matches_entries_without_steps() -> None:
    entry = make_entry()
    del entry.ScheduledProcedureStepSequence
    assert matches(make_query(PatientID="P1"), entry)


def test_constrained_sequence_fails_when_entity_has_none() -> None:
    entry = make_entry()
    del entry.ScheduledProcedureStepSequence
    assert not matches(step_query(Modality="CT"), entry)


# --- answers -------------------------------------------------------------------------------------

def test_answer_has_every_requested_key_and_only_those() -> None:
    query = make_query(PatientName="", PatientID="", PatientBirthDate="", PregnancyStatus=None,
                       steps=[{"Modality": "", "ScheduledProcedureStepDescription": ""}])
    answer = compile_query(query).match(Node.from_dataset(make_entry()))
    assert answer is not None
    assert set(answer.dir()) == {"PatientName", "PatientID", "PatientBirthDate", "PregnancyStatus",
                                 "ScheduledProcedureStepSequence"}
    assert answer.PatientBirthDate in ("", None)  # missing in the entry: zero length
    step = answer.ScheduledProcedureStepSequence[0]
    assert step.ScheduledProcedureStepDescription in ("", None)


def test_answer_is_detached_from_the_entry() -> None:
    entry = make_entry()
    answer = compile_query(make_query(steps=[{}], PatientName="")).match(Node.from_dataset(entry))
    assert answer is not None
    answer.ScheduledProcedureStepSequence[0].Modality = "XA"
    answer.PatientName = "CHANGED"
    assert entry.ScheduledProcedureStepSequence[0].Modality == "CT"
    assert entry.PatientName == "DOE^JOHN"


# --- keys that are not worklist attributes and field quirks --------------------------------------

def test_query_retrieve_level_and_group_lengths_never_filter_or_appear() -> None:
    query = make_query(PatientName="DOE*", QueryRetrieveLevel="PATIENT")
    query.add_new(0x00100000, "UL", 42)
    query.add_new(0x00080000, "UL", 7)
    compiled = compile_query(query)
    answer = compiled.match(Node.from_dataset(make_entry()))
    assert answer is not None
    assert "QueryRetrieveLevel" not in answer
    assert 0x00100000 not in answer
    assert compiled.unsupported == ()


def test_unsupported_key_with_value_is_returned_not_matched() -> None:
    query = make_query(PatientName="", OperatorsName="SOMEONE")
    compiled = compile_query(query)
    assert compiled.unsupported and "OperatorsName" in compiled.unsupported[0]
    answer = compiled.match(Node.from_dataset(make_entry(OperatorsName="ANOTHER")))
    assert answer is not None
    assert answer.OperatorsName == "ANOTHER"


@pytest.mark.parametrize("quirk", ["charset-empty", "pn-star-space", "pregnancy-empty",
                                   "empty-referenced", "one-day-range"])
def test_field_quirks_do_not_lose_answers(quirk: str) -> None:
    query = make_query(PatientName="", steps=[{"ScheduledStationAETitle": "",
                                               "ScheduledProcedureStepStartDate": ""}])
    if quirk == "charset-empty":
        query.SpecificCharacterSet = ""
    elif quirk == "pn-star-space":
        query.PatientName = "* "
    elif quirk == "pregnancy-empty":
        query.add_new(0x001021C0, "US", None)
    elif quirk == "empty-referenced":
        query.ReferencedStudySequence = Sequence()
        query.ReferencedPatientSequence = Sequence()
    else:
        query.ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate = "20261127-20261127"
    assert matches(query, make_entry())


def test_private_keys_are_matched_through_their_creator() -> None:
    entry = make_entry()
    block = entry.private_block(0x8001, "LIAC", create=True)
    block.add_new(0x01, "LO", "ONCO^FRANCO")
    query = make_query(PatientName="")
    query_block = query.private_block(0x8001, "LIAC", create=True)
    query_block.add_new(0x01, "LO", "ONCO^FRANCO")
    answer = compile_query(query).match(Node.from_dataset(entry))
    assert answer is not None
    assert answer[0x80011001].value == "ONCO^FRANCO"
    query[0x80011001].value = "OTHER"
    assert compile_query(query).match(Node.from_dataset(entry)) is None


def test_private_block_numbers_may_differ_between_query_and_entry() -> None:
    entry = make_entry()
    entry.add_new(0x80010010, "LO", "OTHER")
    entry.add_new(0x80010011, "LO", "LIAC")
    entry.add_new(0x80011101, "LO", "ONCO^FRANCO")
    query = make_query()
    query.add_new(0x80010010, "LO", "LIAC")
    query.add_new(0x80011001, "LO", "ONCO*")
    answer = compile_query(query).match(Node.from_dataset(entry))
    assert answer is not None
    assert answer[0x80011001].value == "ONCO^FRANCO"


# --- FilterIssuerAet -----------------------------------------------------------------------------

def two_station_entry() -> Dataset:
    return make_entry(steps=[{"ScheduledStationAETitle": "CT1", "ScheduledProcedureStepID": "S1"},
                             {"ScheduledStationAETitle": "CT2", "ScheduledProcedureStepID": "S2"}])


@pytest.mark.parametrize("steps", [None, [], [{}], [{"ScheduledStationAETitle": ""}],
                                   [{"ScheduledStationAETitle": "*"}],
                                   [{"ScheduledProcedureStepID": ""}]])
def test_filter_issuer_aet_limits_open_station_keys_to_the_caller(
        steps: list[dict[str, Any]] | None) -> None:
    query = make_query(PatientName="", steps=steps)
    assert matches(query, two_station_entry(), issuer="CT2")
    assert not matches(query, make_entry(), issuer="CT2")  # only CT1 scheduled
    answer = compile_query(query, issuer_aet="CT2").match(Node.from_dataset(two_station_entry()))
    assert answer is not None
    if steps is None:
        assert "ScheduledProcedureStepSequence" not in answer
    else:
        ids = [i.get("ScheduledProcedureStepID") for i in answer.ScheduledProcedureStepSequence]
        assert ids in (["S2"], [None])
        assert len(answer.ScheduledProcedureStepSequence) == 1


def test_filter_issuer_aet_keeps_an_explicit_station_key() -> None:
    query = step_query(ScheduledStationAETitle="CT1")
    assert matches(query, two_station_entry(), issuer="CT2")
    assert matches(query, make_entry(), issuer="MR9")


def test_filter_issuer_aet_with_several_query_items() -> None:
    query = make_query(steps=[{"ScheduledStationAETitle": "CT1", "ScheduledProcedureStepID": ""},
                              {"Modality": "CT", "ScheduledProcedureStepID": ""}])
    answer = compile_query(query, issuer_aet="CT2").match(Node.from_dataset(two_station_entry()))
    assert answer is not None
    assert sorted(i.ScheduledProcedureStepID for i in answer.ScheduledProcedureStepSequence) == \
        ["S1", "S2"]


def test_filter_issuer_aet_multi_valued_station() -> None:
    entry = make_entry(steps=[{"ScheduledStationAETitle": ["CT1", "CT2"]}])
    assert matches(step_query(Modality=""), entry, issuer="CT2")


# --- explanations (the GUI's test query) ---------------------------------------------------------

def explain(query: Dataset, entry: Dataset, issuer: str | None = None) -> str | None:
    return compile_query(query, issuer_aet=issuer).explain(Node.from_dataset(entry))


def test_explain_says_none_for_a_match() -> None:
    assert explain(step_query(Modality="CT"), make_entry()) is None


def test_explain_names_the_failing_key_and_both_values() -> None:
    assert explain(step_query(ScheduledStationAETitle="CT2"), make_entry()) == "station AET CT1 ≠ CT2"
    assert explain(make_query(PatientID="P2"), make_entry()) == "patient ID P1 ≠ P2"


def test_explain_missing_values() -> None:
    no_time = make_entry(steps=[{"ScheduledProcedureStepStartTime": None}])
    reason = explain(step_query(ScheduledProcedureStepStartTime="0800-1200"), no_time)
    assert reason == "entry has no SPS start time (query: 0800-1200)"
    entry = make_entry()
    del entry.ScheduledProcedureStepSequence
    assert explain(step_query(Modality="CT"), entry) == "entry has no scheduled procedure step"


def test_explain_combined_date_time_and_several_steps() -> None:
    entry = make_entry(steps=[{"ScheduledProcedureStepStartDate": "20261127",
                               "ScheduledProcedureStepStartTime": "0700"},
                              {"Modality": "MR", "ScheduledProcedureStepStartTime": "1300"}])
    reason = explain(step_query(ScheduledProcedureStepStartDate="20261127-20261127",
                                ScheduledProcedureStepStartTime="0800-1200"), entry)
    assert reason == ("step 1: scheduled 20261127 0700 is outside 20261127-20261127 0800-1200; "
                      "step 2: scheduled 20261127 1300 is outside 20261127-20261127 0800-1200")


def test_explain_filter_issuer_aet() -> None:
    reason = explain(step_query(Modality=""), make_entry(), issuer="CT2")
    assert reason == "scheduled for CT1, not for the calling AE title CT2 (FilterIssuerAet)"
