"""Per-modality profiles on the wire: DCMTK findscu (or several pynetdicom clients at once) as the
modalities, each AE title with its own profile, against the in-process server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from tests.helpers.answers import raw_value
from tests.helpers.dcmtk import dcmtk_tool, findscu_worklist
from tests.helpers.inprocess import Running
from tests.helpers.samples import step, worklist_dataset, write_wl
from wldesk.core.profile import Profile
from wldesk.core.settings import KnownModality

needs_findscu = pytest.mark.skipif(dcmtk_tool("findscu") is None or dcmtk_tool("dump2dcm") is None,
                                   reason="DCMTK findscu and dump2dcm are needed")

PATIENT_NAME, PATIENT_ID, SCS = 0x00100010, 0x00100020, 0x00080005

QUERY_DUMP = """\
(0008,0050) SH []
(0010,0010) PN []
(0010,0020) LO []
(0010,1030) DS []
(0010,2000) LO []
(0020,000d) UI []
(0032,1060) LO []
(0040,1001) SH []
(0040,0100) SQ (Sequence with explicit length #=1)
(fffe,e000) na (Item with explicit length #=6)
(0008,0060) CS []
(0040,0001) AE [{station}]
(0040,0002) DA [{date}]
(0040,0003) TM []
(0040,0007) LO []
(0040,0009) SH []
(fffe,e00d) na (ItemDelimitationItem for re-encoding)
(fffe,e0dd) na (SequenceDelimitationItem for re-encod.)
"""


def query_file(tmp_path: Path, station: str = "CT1", date: str = "") -> Path:
    path = tmp_path / f"query-{station}-{date}.dump"
    path.write_text(QUERY_DUMP.format(station=station, date=date), encoding="ascii")
    return path


def entry(folder: Path, name: str, patient: str = "DOE^JOHN", **values: Any) -> Path:
    ds = worklist_dataset(patient, AccessionNumber=name.removesuffix(".wl"), **values)
    if not patient.isascii():
        ds.SpecificCharacterSet = "ISO_IR 192"
    return write_wl(folder / name, ds)


def serve(folder: Path, profiles: dict[str, Profile], **settings: Any) -> Running:
    modalities = tuple(KnownModality(title, title, "", profile)
                       for title, profile in profiles.items())
    run = Running(folder, modalities=modalities, **settings)
    run.server.start()
    return run


@pytest.fixture
def stop() -> Iterator[list[Running]]:
    started: list[Running] = []
    yield started
    for run in started:
        run.server.stop()


def names(answers: list[Dataset]) -> list[str]:
    return [str(a.AccessionNumber) for a in answers]


@needs_findscu
def test_ascii_profile_for_one_modality_and_lossless_answers_for_another(
        folder: Path, tmp_path: Path, stop: list[Running]) -> None:
    for name, patient in (("a.wl", "Müller^Hans"), ("b.wl", "Ødegård^Åse"), ("c.wl", "Strauß^Jörg"),
                          ("d.wl", "北京^太郎")):
        entry(folder, name, patient)
    on_disk = {p.name: p.read_bytes() for p in folder.iterdir()}
    run = serve(folder, {"US1": Profile(charset="ascii"), "CT9": Profile()})
    stop.append(run)
    query = query_file(tmp_path)
    us1 = findscu_worklist(run.server.port, query, "WLDESK", "US1")
    assert [raw_value(a, PATIENT_NAME) for a in us1] == [
        b"Muller^Hans ", b"Odegard^Ase ", b"Strauss^Jorg", b"BeiJing^TaiLang "]
    assert all(SCS not in a for a in us1)
    # a modality asking with a character set of its own (many send (0008,0005) in the query)
    latin1 = tmp_path / "query-latin1.dump"
    latin1.write_text("(0008,0005) CS [ISO_IR 100]\n" + query.read_text(encoding="ascii"),
                      encoding="ascii")
    us1_latin1 = findscu_worklist(run.server.port, latin1, "WLDESK", "US1")
    assert [raw_value(a, PATIENT_NAME) for a in us1_latin1] == [
        raw_value(a, PATIENT_NAME) for a in findscu_worklist(run.server.port, query, "WLDESK",
                                                              "US1")]
    assert all(SCS not in a for a in us1_latin1)
    other = findscu_worklist(run.server.port, query, "WLDESK", "CT9")
    assert [str(a.PatientName) for a in other] == ["Müller^Hans", "Ødegård^Åse", "Strauß^Jörg",
                                                   "北京^太郎"]
    assert all(a.SpecificCharacterSet == "ISO_IR 192" for a in other)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == on_disk  # never changed
    assert [q.profile for q in run.queries()] == ["ascii", "ascii", "ascii", ""]


@needs_findscu
def test_latin1_profile_transliterates_only_what_latin1_cannot_hold(
        folder: Path, tmp_path: Path, stop: list[Running]) -> None:
    entry(folder, "a.wl", "Łukasz^José")
    entry(folder, "b.wl", "Παπαδόπουλος^Νίκος")
    entry(folder, "c.wl", "Müller^Hans")
    run = serve(folder, {"CR1": Profile(charset="ISO_IR 100")})
    stop.append(run)
    answers = findscu_worklist(run.server.port, query_file(tmp_path), "WLDESK", "CR1")
    assert [raw_value(a, PATIENT_NAME) for a in answers] == [
        # letter by letter: anyascii has no context (ου is "oy", not "ou")
        "Lukasz^José ".encode("latin-1"), b"Papadopoylos^Nikos", "Müller^Hans ".encode("latin-1")]
    assert all(a.SpecificCharacterSet == "ISO_IR 100" for a in answers)


def strict_folder(folder: Path) -> None:
    entry(folder, "a.wl", PatientID=None)  # first by name, breaks a rule
    entry(folder, "b.wl", ScheduledProcedureStepSequence=Sequence([step(
        ScheduledProcedureStepStartTime="0930", ScheduledProcedureStepStartDate="2024.01.02",
        ScheduledProcedureStepDescription=None)]))
    entry(folder, "c.wl", ScheduledProcedureStepSequence=Sequence([step(
        ScheduledProcedureStepStartTime="101500.25")]))
    entry(folder, "d.wl", ScheduledProcedureStepSequence=Sequence([step(
        ScheduledProcedureStepStartTime="9h30")]))  # cannot be normalised


@needs_findscu
def test_strict_profile_normalises_fills_and_sends_bad_entries_last(
        folder: Path, tmp_path: Path, stop: list[Running]) -> None:
    strict_folder(folder)
    run = serve(folder, {"CT1": Profile(strict=True)})
    stop.append(run)
    query = query_file(tmp_path)
    answers = findscu_worklist(run.server.port, query, "WLDESK", "CT1")
    assert names(answers) == ["b", "c", "a", "d"]
    b, c = answers[0], answers[1]
    assert raw_value(b.ScheduledProcedureStepSequence[0], 0x00400003) == b"093000"
    assert raw_value(b.ScheduledProcedureStepSequence[0], 0x00400002) == b"20240102"
    assert b.ScheduledProcedureStepSequence[0].ScheduledProcedureStepDescription == "Head"
    assert raw_value(c.ScheduledProcedureStepSequence[0], 0x00400003) == b"101500"
    for answer in answers:  # every requested key, empty when the entry has none
        assert answer["PatientWeight"].is_empty and answer["MedicalAlerts"].is_empty
    assert answers[2]["PatientID"].is_empty
    [event] = run.queries()
    assert event.sent_last == ("a.wl: no PatientID",
                               "d.wl: ScheduledProcedureStepStartTime is not a time")
    assert event.withheld == () and event.returned == 4

    unprofiled = findscu_worklist(run.server.port, query, "WLDESK", "OTHER")
    assert names(unprofiled) == ["a", "b", "c", "d"]
    assert raw_value(unprofiled[1].ScheduledProcedureStepSequence[0], 0x00400003) == b"0930"


@needs_findscu
def test_strict_profile_fills_the_requested_procedure_description_from_the_step(
        folder: Path, tmp_path: Path, stop: list[Running]) -> None:
    entry(folder, "a.wl", RequestedProcedureDescription=None)  # the step's is "CT head"
    run = serve(folder, {"CT1": Profile(strict=True)})
    stop.append(run)
    query = query_file(tmp_path)
    [strict] = findscu_worklist(run.server.port, query, "WLDESK", "CT1")
    assert raw_value(strict, 0x00321060) == b"CT head "
    [plain] = findscu_worklist(run.server.port, query, "WLDESK", "OTHER")
    assert plain["RequestedProcedureDescription"].is_empty


@needs_findscu
def test_strict_profile_can_withhold_bad_entries(folder: Path, tmp_path: Path,
                                                 stop: list[Running]) -> None:
    strict_folder(folder)
    run = serve(folder, {"CT1": Profile(strict=True, withhold_invalid=True)})
    stop.append(run)
    answers = findscu_worklist(run.server.port, query_file(tmp_path), "WLDESK", "CT1")
    assert names(answers) == ["b", "c"]
    [event] = run.queries()
    assert (event.matches, event.returned) == (4, 2)
    assert event.withheld == ("a.wl: no PatientID",
                              "d.wl: ScheduledProcedureStepStartTime is not a time")


@needs_findscu
def test_one_step_per_answer_splits_a_two_step_entry(folder: Path, tmp_path: Path,
                                                     stop: list[Running]) -> None:
    entry(folder, "a.wl", ScheduledProcedureStepSequence=Sequence([
        step(ScheduledProcedureStepID="S1"), step(ScheduledProcedureStepID="S2"),
        step(ScheduledProcedureStepID="S3", ScheduledStationAETitle="MR1")]))
    run = serve(folder, {"DR1": Profile(one_step_per_answer=True)})
    stop.append(run)
    query = query_file(tmp_path, station="CT1")
    answers = findscu_worklist(run.server.port, query, "WLDESK", "DR1")
    assert [[str(s.ScheduledProcedureStepID) for s in a.ScheduledProcedureStepSequence]
            for a in answers] == [["S1"], ["S2"]]  # only the matching steps, one each
    together = findscu_worklist(run.server.port, query, "WLDESK", "OTHER")
    assert [len(a.ScheduledProcedureStepSequence) for a in together] == [2]


def test_query_rules_ignore_date_and_station_and_limit_answers(folder: Path,
                                                               stop: list[Running]) -> None:
    for number in range(1, 6):
        entry(folder, f"e{number}.wl", ScheduledProcedureStepSequence=Sequence([step(
            ScheduledStationAETitle=f"ST{number % 2}",
            ScheduledProcedureStepStartDate=f"2024010{number}")]))
    run = serve(folder, {"NODATE": Profile(ignore_query_date=True),
                         "NOSTATION": Profile(ignore_query_station=True),
                         "MAX2": Profile(max_answers=2), "MAX3": Profile(max_answers=3)},
                filter_issuer_aet=True, limit_answers=3)
    stop.append(run)
    query = Dataset()
    query.AccessionNumber = ""
    item = Dataset()
    item.ScheduledStationAETitle = "ST1"
    item.ScheduledProcedureStepStartDate = "20240101"
    query.ScheduledProcedureStepSequence = Sequence([item])

    def asked(calling: str, station: str = "ST1") -> list[str]:
        item.ScheduledStationAETitle = station
        return names(run.find(query, calling)[0])

    assert asked("OTHER") == ["e1"]
    assert asked("NODATE") == ["e1", "e3", "e5"]
    assert asked("NOSTATION") == ["e1"]
    item.ScheduledProcedureStepStartDate = ""
    assert asked("NOSTATION", station="") == ["e1", "e2", "e3"]  # no FilterIssuerAet, cut at 3
    assert asked("OTHER", station="") == []  # FilterIssuerAet: steps for OTHER only
    assert asked("MAX2", station="ST0") == ["e2", "e4"]
    assert asked("MAX2", station="ST1") == ["e1", "e3"]
    assert asked("MAX3", station="ST1") == ["e1", "e3", "e5"]
    texts = [q.status_text for q in run.queries()]
    assert texts[6] == "Success (0x0000), cut to 2 by MAX2's profile"
    assert texts[3] == "Success (0x0000), cut to 3 by LimitAnswers"


def test_concurrent_modalities_each_get_their_own_profile(folder: Path,
                                                          stop: list[Running]) -> None:
    for number in range(12):
        entry(folder, f"e{number:02}.wl", "Ødegård^Åse" if number % 2 else "Müller^Hans",
              PatientID=None if number == 0 else f"P{number}",
              ScheduledProcedureStepSequence=Sequence([
                  step(ScheduledProcedureStepID="S1", ScheduledProcedureStepStartTime="0930"),
                  step(ScheduledProcedureStepID="S2")]))
    profiles = {"US1": Profile(charset="ascii"), "CT1": Profile(strict=True),
                "DR1": Profile(one_step_per_answer=True, charset="ISO_IR 100"),
                "CT2": Profile(strict=True, withhold_invalid=True, max_answers=5)}
    run = serve(folder, profiles)
    stop.append(run)
    query = Dataset()
    query.AccessionNumber = ""
    query.PatientName = ""
    query.ScheduledProcedureStepSequence = Sequence([Dataset()])
    query.ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartTime = ""
    query.ScheduledProcedureStepSequence[0].ScheduledProcedureStepID = ""
    failures: list[str] = []
    every = [f"e{n:02}" for n in range(12)]
    expected: dict[str, list[str]] = {
        "US1": every, "OTHER": every, "CT1": every[1:] + every[:1],
        "DR1": [name for name in every for _ in (1, 2)], "CT2": every[1:6]}

    def check(calling: str, answers: list[Dataset]) -> None:
        assert names(answers) == expected[calling]
        patients = {str(a.PatientName) for a in answers}
        times = {str(s.ScheduledProcedureStepStartTime) for a in answers
                 for s in a.ScheduledProcedureStepSequence}
        if calling == "US1":
            assert patients == {"Muller^Hans", "Odegard^Ase"} and all(SCS not in a for a in answers)
        elif calling == "DR1":
            assert patients == {"Müller^Hans", "Ødegård^Åse"}
            assert {a.SpecificCharacterSet for a in answers} == {"ISO_IR 100"}
            assert all(len(a.ScheduledProcedureStepSequence) == 1 for a in answers)
        else:
            assert patients == {"Müller^Hans", "Ødegård^Åse"}
        assert times == ({"093000"} if calling.startswith("CT") else {"0930"})

    def worker(calling: str) -> None:
        try:
            for _ in range(6):
                answers, statuses = run.find(query, calling)
                assert statuses[-1] == 0x0000
                check(calling, answers)
        except AssertionError as exc:
            failures.append(f"{calling}: {exc}")

    threads = [threading.Thread(target=worker, args=(calling,))
               for calling in [*profiles, "OTHER"] * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(t.is_alive() for t in threads)
    assert failures == []
    assert len(run.queries()) == 60
