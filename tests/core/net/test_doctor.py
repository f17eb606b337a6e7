"""The modality doctor over real sockets: an in-process server, pynetdicom as the modalities, the
figures file in the (private) state folder."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pynetdicom import AE
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    ModalityWorklistInformationFind,
    StudyRootQueryRetrieveInformationModelFind,
    Verification,
)

from tests.helpers.ports import free_port
from tests.helpers.samples import name_query, write_entry
from wldesk.core import paths
from wldesk.core.events import EventBus, QueryEvent
from wldesk.core.net.doctor import FILE_NAME, ModalityDoctor, figures_path, read_figures
from wldesk.core.net.doctor_text import keys_in_words, modality_views, report_text
from wldesk.core.net.scu import find
from wldesk.core.net.server import WorklistServer
from wldesk.core.profile import Profile
from wldesk.core.settings import KnownModality, Settings

KNOWN = (KnownModality("CT room 1", "CT1"), KnownModality("Ultrasound", "US1"))


class Clock:
    """A clock the test moves."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Served:
    """A worklist server and a modality doctor on one bus."""

    def __init__(self, folder: Path, clock: Clock, **settings: Any) -> None:
        values: dict[str, Any] = {"modalities": KNOWN, "allow_unknown_modalities": False}
        values.update(settings)
        self.settings = Settings(database=str(folder), port=free_port(), bind_address="127.0.0.1",
                                 **values)
        self.bus = EventBus()
        self.doctor = ModalityDoctor(self.settings, clock=clock)
        self.server = WorklistServer(self.settings, self.bus)

    def __enter__(self) -> Served:
        self.doctor.start(self.bus)
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()
        self.doctor.stop()

    def query(self, calling: str, called: str = "WLDESK", **step: str) -> int:
        """One worklist query as ``calling``; the number of answers."""
        ae = AE(ae_title=calling)
        ae.add_requested_context(ModalityWorklistInformationFind)
        assoc = ae.associate("127.0.0.1", self.server.port, ae_title=called)
        assert assoc.is_established
        try:
            result = find(assoc, name_query(**step))
        finally:
            assoc.release()
        return len(result.answers)

    def refused(self, calling: str, context: str = ModalityWorklistInformationFind) -> None:
        ae = AE(ae_title=calling)
        ae.add_requested_context(context)
        assoc = ae.associate("127.0.0.1", self.server.port, ae_title="WLDESK")
        assert assoc.is_rejected


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    made = tmp_path / "worklists"
    made.mkdir()
    write_entry(made, "ct.wl", accession="A1", station="CT1", modality="CT", date="20261202")
    write_entry(made, "ct2.wl", accession="A2", station="CT1", modality="CT", date="20261202")
    return made


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 12, 2, 9, 0).astimezone())


def views(served: Served) -> dict[str, Any]:
    return {v.ae_title: v for v in modality_views(served.doctor.figures(), served.settings,
                                                  served.doctor.today())}


@pytest.mark.expect_log_warnings(r"Association Rejected|Result: Rejected|Reason: ")
def test_a_refused_unknown_title_a_query_and_a_modality_that_never_asked(
        folder: Path, clock: Clock) -> None:
    with Served(folder, clock) as served:
        served.refused("CT9")
        assert served.query("CT1", Modality="CT", ScheduledProcedureStepStartDate="20261202",
                            ScheduledStationAETitle="CT1") == 2
        shown = views(served)
    assert list(shown) == ["CT1", "US1", "CT9"]
    ct9 = shown["CT9"]
    assert not ct9.known
    assert ct9.attention == ("refused: unknown AE title CT9 from 127.0.0.1: add it to the known "
                             "modalities")
    assert dict(ct9.details)["Last query"] == "never queried since 2026-12-02"
    ct1 = shown["CT1"]
    assert ct1.known and ct1.name == "CT room 1"
    assert ct1.last_query.endswith(
        ": Modality CT, scheduled date 2026-12-02, station CT1")
    assert ct1.answers == "2" and ct1.status == "Success (0x0000)" and ct1.queries_today == "1"
    assert ct1.last_association.endswith(" from 127.0.0.1")
    assert shown["US1"].attention == "never queried since 2026-12-02"
    text = report_text(list(shown.values()))
    assert "CT9 (unknown)" in text and "CT1 — CT room 1" in text
    assert "Refused: " in text and "never queried since 2026-12-02" in text
    # and it was all written down, in the state folder
    written = read_figures(figures_path())
    assert written is not None and figures_path().parent == paths.state_dir()
    assert written.titles["CT1"]["last_query"]["returned"] == 2


@pytest.mark.expect_log_warnings(r"Association Rejected|Result: Rejected|Reason: ")
def test_a_modality_asking_only_for_study_root_find_is_told_where_to_point(
        folder: Path, clock: Clock) -> None:
    with Served(folder, clock) as served:
        served.refused("CT1", StudyRootQueryRetrieveInformationModelFind)
        shown = views(served)
    assert shown["CT1"].attention == (
        "refused: asked only for Study Root Q/R FIND, not Modality Worklist: set the modality's "
        "worklist service to this server")


def test_a_called_title_other_than_the_servers_is_noted_when_accepted(
        folder: Path, clock: Clock) -> None:
    with Served(folder, clock, check_called_ae_title=False) as served:
        served.query("CT1", called="ANYSCP", Modality="CT")
        shown = views(served)
    label, text = shown["CT1"].details[-1]
    assert label == "Note"
    assert text.endswith(": called AE title ANYSCP while this server is WLDESK (accepted: the "
                         "called AE title is not checked)")


def test_the_figures_survive_a_restart_and_today_starts_at_midnight(
        folder: Path, clock: Clock) -> None:
    with Served(folder, clock) as served:
        served.query("CT1", Modality="CT")
        served.query("CT1", Modality="CT")
    with Served(folder, clock) as served:  # a new server and doctor: the same file
        assert views(served)["CT1"].queries_today == "2"
        served.query("CT1", Modality="CT")
        assert views(served)["CT1"].queries_today == "3"
        clock.now += timedelta(days=1)  # past midnight: nothing yet today, the rest kept
        assert views(served)["CT1"].queries_today == "0"
        assert views(served)["CT1"].answers == "2"
        served.query("CT1", Modality="CT")
        after = views(served)["CT1"]
    assert after.queries_today == "1"
    assert dict(after.details)["Queries in all"] == "4"


@pytest.mark.parametrize("content", [b"{not json", b'{"some": "other program"}',
                                     b'{"format": "wldesk modality figures", "version": 99, '
                                     b'"created": "", "titles": {}}', b"\xff\xfe\x00"])
def test_an_unreadable_figures_file_is_set_aside_and_the_server_goes_on(
        folder: Path, clock: Clock, content: bytes, log_warnings: Any) -> None:
    log_warnings.expect(r"modality figures file .* cannot be read .* set aside as "
                        r"modalities\.json\.unreadable-20261202-090000")
    path = figures_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with Served(folder, clock) as served:
        assert served.query("CT1", Modality="CT") == 2
    assert (path.parent / f"{FILE_NAME}.unreadable-20261202-090000").read_bytes() == content
    written = read_figures(path)
    assert written is not None and written.titles["CT1"]["queries"] == 1


def test_with_redaction_the_query_keys_are_kept_without_patient_values(
        folder: Path, clock: Clock) -> None:
    with Served(folder, clock, redact_patient_data=True) as served:
        served.query("CT1", Modality="CT", PatientName="DOE*")
        shown = views(served)["CT1"]
    text = figures_path().read_text(encoding="utf-8")
    assert "DOE" not in text
    keys = json.loads(text)["titles"]["CT1"]["last_query"]["keys"]
    assert keys["PatientName"] == "<redacted>" and keys["Modality"] == "CT"
    assert "patient name <redacted>" in shown.last_query


def test_figures_kept_before_redaction_was_switched_on_are_redacted(
        folder: Path, clock: Clock) -> None:
    with Served(folder, clock) as served:
        served.query("CT1", Modality="CT", PatientName="DOE*")
    assert "DOE*" in figures_path().read_text(encoding="utf-8")
    with Served(folder, clock, redact_patient_data=True):
        pass
    assert "DOE" not in figures_path().read_text(encoding="utf-8")


@pytest.fixture
def slow_doctor(clock: Clock) -> Iterator[tuple[ModalityDoctor, EventBus]]:
    bus = EventBus()
    doctor = ModalityDoctor(Settings(modalities=KNOWN), clock=clock, write_interval=3600)
    doctor.start(bus)
    yield doctor, bus
    doctor.stop()


def test_writes_are_throttled_and_the_last_one_comes_at_stop(
        slow_doctor: tuple[ModalityDoctor, EventBus]) -> None:
    doctor, bus = slow_doctor
    first = read_figures(figures_path())  # written at start: the known modalities
    assert first is not None and set(first.titles) == {"CT1", "US1"}
    for _ in range(3):
        bus.emit(QueryEvent(association_id=1, calling_aet="CT1", address="10.0.0.5",
                            keys={"Modality": "CT"}, files_considered=1, matches=1, returned=1,
                            duration_ms=1.0, status=0, status_text="Success (0x0000)"))
    unchanged = read_figures(figures_path())
    assert unchanged is not None and unchanged.titles["CT1"]["queries"] == 0
    doctor.stop()
    last = read_figures(figures_path())
    assert last is not None and last.titles["CT1"]["queries"] == 3


def test_answers_say_how_many_matches_and_entries_a_strict_profile_withheld(
        folder: Path, clock: Clock) -> None:
    write_entry(folder, "ct3.wl", accession="A3", station="CT1", modality="CT", date="",
                time="")  # no SPS start date and time: breaks a strict rule
    strict = Profile(strict=True, withhold_invalid=True)
    with Served(folder, clock, modalities=(KnownModality("GE CT", "CT1", "", strict),)) as served:
        assert served.query("CT1", Modality="CT") == 2
        shown = views(served)["CT1"]
    assert shown.answers == ("2 sent of 3 matches (1 entry withheld by its profile's strict "
                             "rules)")
    assert dict(shown.details)["Answers sent"] == shown.answers


def test_keys_in_words() -> None:
    assert keys_in_words({"PatientName": "", "Modality": "MR",
                          "ScheduledProcedureStepStartDate": "20261201-20261202"}) == (
        "Modality MR, scheduled date 2026-12-01 to 2026-12-02")
    assert keys_in_words({"PatientName": ""}) == "All entries (no key with a value)"


def test_a_known_modality_without_figures_yet() -> None:
    shown = modality_views(None, Settings(modalities=KNOWN), "2026-12-02")
    assert [v.attention for v in shown] == ["never queried (no figures kept yet)"] * 2


def test_the_verification_only_association_counts_as_seen(folder: Path, clock: Clock) -> None:
    with Served(folder, clock) as served:
        ae = AE(ae_title="US1")
        ae.add_requested_context(Verification)
        assoc = ae.associate("127.0.0.1", served.server.port, ae_title="WLDESK")
        assert assoc.is_established
        assoc.send_c_echo()
        assoc.release()
        shown = views(served)["US1"]
    assert shown.last_association.endswith("from 127.0.0.1")
    assert shown.attention == "never queried since 2026-12-02"
