"""The Test query without a window: the identifier, the findscu command line, and the query sent to
the real server over real sockets, with every other entry explained."""

from __future__ import annotations

import shlex
import socket
import subprocess
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset

from tests.helpers.dcmtk import dcmtk_tool
from tests.helpers.ports import free_port
from tests.helpers.samples import write_test_query_entries
from wldesk.core.flow.ledger import Ledger, OrderKey
from wldesk.core.flow.status import set_step_status
from wldesk.core.net.probe import (
    QueryForm,
    Target,
    answer_row,
    build_identifier,
    connect_host,
    explain_without_network,
    findscu_command,
    flat_keys,
    identifier_from_keys,
    query_and_explain,
    send_query,
)
from wldesk.core.net.server import WorklistServer
from wldesk.core.settings import KnownModality, Settings
from wldesk.core.store import FolderStore

TODAY = date.today()
TOMORROW = TODAY + timedelta(days=1)


@pytest.fixture
def entries(tmp_path: Path) -> Path:
    folder = tmp_path / "worklists"
    folder.mkdir()
    return write_test_query_entries(folder, TODAY)


class Serving:
    """A real server on a free port of 127.0.0.1, and how the probe reaches it."""

    def __init__(self, folder: Path, **settings: Any) -> None:
        self.settings = Settings(database=str(folder), port=free_port(), bind_address="127.0.0.1",
                                 **settings)
        self.server = WorklistServer(self.settings)

    @property
    def target(self) -> Target:
        return Target(connect_host(self.settings.bind_address), self.server.port,
                      self.settings.ae_title, self.settings.filter_issuer_aet)


@pytest.fixture
def serve(entries: Path) -> Iterator[Callable[..., Serving]]:
    started: list[Serving] = []

    def start(**settings: Any) -> Serving:
        serving = Serving(entries, **settings)
        serving.server.start()
        started.append(serving)
        return serving

    yield start
    for serving in started:
        serving.server.stop()


def accessions(rows: list[tuple[str, ...]]) -> list[str]:
    return [row[2] for row in rows]


# --- the network -----------------------------------------------------------------------------------

def test_ct_today_as_ct1_answers_the_ct_and_explains_the_others(serve: Callable[..., Serving]) -> None:
    serving = serve()
    outcome = query_and_explain(QueryForm("CT1", TODAY, TODAY, modality="CT"), serving.target,
                                serving.server.store)
    assert outcome.sent and outcome.ok and not outcome.offer_local
    assert outcome.status.startswith("1 answer, Success (0x0000), ")
    assert outcome.status.endswith(" ms")
    assert accessions(outcome.answers) == ["A1"]
    row = outcome.answers[0]
    assert row[:5] == ("DOE^JOHN", "ID-A1", "A1", "CT", "CT1")
    assert row[5] == f"{TODAY:%Y-%m-%d} 10:30"
    why = dict(outcome.others)
    assert set(why) == {"mr-today.wl", "ct-tomorrow.wl", "broken.wl"}
    assert "modality MR ≠ CT" in why["mr-today.wl"]
    assert f"{TOMORROW:%Y%m%d}" in why["ct-tomorrow.wl"]
    assert why["broken.wl"].startswith("file not served: ")


def test_send_query_returns_the_answers_as_sent(serve: Callable[..., Serving]) -> None:
    serving = serve()
    form = QueryForm("TESTQUERY", patient_name="mül*")  # non-ASCII: the query says UTF-8
    result = send_query(form, serving.target, build_identifier(form))
    assert result.reached and result.ok
    assert result.final_status == 0x0000
    assert [str(a.PatientName) for a in result.answers] == ["MÜLLER^HANS"]
    assert result.status.startswith("1 answer, Success (0x0000), ")


def test_filter_issuer_aet_is_explained(serve: Callable[..., Serving]) -> None:
    serving = serve(filter_issuer_aet=True)
    store = serving.server.store
    outcome = query_and_explain(QueryForm("CT2"), serving.target, store)
    assert outcome.sent and outcome.ok
    assert outcome.status.startswith("0 answers, Success (0x0000)")
    why = dict(outcome.others)
    assert why["ct-today.wl"] == "scheduled for CT1, not for the calling AE title CT2 (FilterIssuerAet)"
    outcome = query_and_explain(QueryForm("CT1"), serving.target, store)
    assert accessions(outcome.answers) == ["A1", "C1"]
    assert dict(outcome.others)["mr-today.wl"] == (
        "scheduled for MR1, not for the calling AE title CT1 (FilterIssuerAet)")


def test_an_entry_the_server_did_not_send_is_explained(serve: Callable[..., Serving]) -> None:
    serving = serve(limit_answers=1)
    outcome = query_and_explain(QueryForm("CT1", modality="CT"), serving.target, serving.server.store)
    assert outcome.sent and outcome.ok
    assert accessions(outcome.answers) == ["A1"]
    assert dict(outcome.others)["ct-tomorrow.wl"].startswith(
        "matches this query, but the server did not send it (LimitAnswers")


@pytest.mark.expect_log_warnings(
    r"Association Rejected|Result: Rejected Permanent|Calling AE title not recognised")
def test_access_control_rejection_offers_the_local_explanation(serve: Callable[..., Serving]) -> None:
    serving = serve(allow_unknown_modalities=False,
                    modalities=(KnownModality(name="CT room 1", ae_title="CT1"),))
    outcome = query_and_explain(QueryForm("TESTQUERY"), serving.target, serving.server.store)
    assert not outcome.sent and not outcome.ok and outcome.offer_local
    assert outcome.status.startswith(
        "association rejected: calling AE title not recognised (TESTQUERY is not allowed to query")
    assert outcome.answers == [] and outcome.others == []
    outcome = query_and_explain(QueryForm("CT1", TODAY, TODAY, modality="CT"), serving.target,
                                serving.server.store)
    assert accessions(outcome.answers) == ["A1"]


@pytest.mark.expect_log_warnings(r"ACSE timeout reached while waiting for response to association")
def test_a_server_that_does_not_answer_is_not_reached() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # listens, never accepts
        form = QueryForm("CT1")
        target = Target("127.0.0.1", silent.getsockname()[1], "WLDESK", False)
        result = send_query(form, target, build_identifier(form), timeout=0.5)
    assert not result.reached and not result.ok and result.final_status is None
    assert result.status == (f"no association with 127.0.0.1:{target.port}: the server did not "
                             "answer (is it running, is the port right?)")


def test_explain_without_network(entries: Path) -> None:
    store = FolderStore(entries)
    store.start()
    try:
        outcome = explain_without_network(QueryForm("CT1", TODAY, TODAY, modality="CT"), False, store)
    finally:
        store.stop()
    assert not outcome.sent and outcome.ok
    assert outcome.status == "worked out locally, nothing was sent: 1 entry would match this query"
    assert accessions(outcome.answers) == ["A1"]
    why = dict(outcome.others)
    assert "modality MR ≠ CT" in why["mr-today.wl"]
    assert why["broken.wl"].startswith("file not served: ")


def test_the_explanation_names_hidden_statuses(entries: Path) -> None:
    Ledger(entries).update(OrderKey("A1"), set_step_status("COMPLETED"))
    store = FolderStore(entries)
    store.start()
    try:
        form = QueryForm("CT1", TODAY, TODAY, modality="CT")
        hidden = explain_without_network(form, False, store, ("COMPLETED", "DISCONTINUED"))
        shown = explain_without_network(form, False, store)
    finally:
        store.stop()
    assert hidden.answers == [] and accessions(shown.answers) == ["A1"]
    assert dict(hidden.others)["ct-today.wl"] == (
        "status COMPLETED is hidden from queries (hidden_statuses)")


def test_the_findscu_command_asks_what_the_probe_asks(serve: Callable[..., Serving], tmp_path: Path) -> None:
    findscu = dcmtk_tool("findscu")
    if findscu is None:
        pytest.skip("DCMTK's findscu is not installed")
    serving = serve()
    form = QueryForm("CT1", TODAY, TOMORROW, modality="CT")
    args = shlex.split(findscu_command(form, serving.target, windows=False))
    out = tmp_path / "answers"
    out.mkdir()
    done = subprocess.run([findscu, "-X", "-od", str(out), *args[1:]], capture_output=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    result = send_query(form, serving.target, build_identifier(form))
    assert len(list(out.glob("rsp*.dcm"))) == len(result.answers) == 2


# --- pieces -------------------------------------------------------------------------------------------

def test_findscu_command_quoting_and_charset() -> None:
    form = QueryForm("CT 1", TODAY, TODAY, patient_name="MÜLLER*")
    target = Target("127.0.0.1", 104, "WLDESK", False)
    posix = findscu_command(form, target, windows=False)
    assert "-aet 'CT 1'" in posix
    assert "-k 'SpecificCharacterSet=ISO_IR 192' -k 'PatientName=MÜLLER*'" in posix
    windows = findscu_command(form, target, windows=True)
    assert '-aet "CT 1"' in windows
    assert '-k "SpecificCharacterSet=ISO_IR 192" -k PatientName=MÜLLER*' in windows


def test_identifier_is_what_a_modality_sends() -> None:
    ds = build_identifier(QueryForm("CT1", TODAY, TODAY, modality="CT", station="CT1"))
    assert "SpecificCharacterSet" not in ds  # plain ASCII
    assert {e.keyword for e in ds} == {
        "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "AccessionNumber",
        "RequestedProcedureDescription", "StudyInstanceUID", "RequestedProcedureID",
        "ScheduledProcedureStepSequence"}
    assert {e.keyword for e in ds.ScheduledProcedureStepSequence[0]} == {
        "ScheduledStationAETitle", "ScheduledProcedureStepStartDate",
        "ScheduledProcedureStepStartTime", "Modality", "ScheduledProcedureStepDescription",
        "ScheduledProcedureStepID"}
    (step,) = ds.ScheduledProcedureStepSequence
    assert step.ScheduledProcedureStepStartDate == f"{TODAY:%Y%m%d}-{TODAY:%Y%m%d}"
    assert step.Modality == "CT" and step.ScheduledStationAETitle == "CT1"
    assert step.ScheduledProcedureStepStartTime == ""
    assert QueryForm().date_value == ""
    assert QueryForm(date_from=TODAY).date_value == f"{TODAY:%Y%m%d}-"
    assert build_identifier(QueryForm(patient_name="É*")).SpecificCharacterSet == "ISO_IR 192"


def test_connect_host() -> None:
    assert connect_host("0.0.0.0") == "127.0.0.1"
    assert connect_host("") == "127.0.0.1"
    assert connect_host("::") == "::1"
    assert connect_host("192.168.1.5") == "192.168.1.5"


def test_answer_row() -> None:
    ds = Dataset()
    ds.PatientName = "DOE^JANE"
    ds.PatientID = "P1"
    ds.AccessionNumber = "A9"
    ds.RequestedProcedureDescription = "Head"
    steps = []
    for station, time, text in (("CT1", "0930", "Head"), ("CT2", "101500", "Contrast")):
        step = Dataset()
        step.Modality = "CT"
        step.ScheduledStationAETitle = station
        step.ScheduledProcedureStepStartDate = "20261127"
        step.ScheduledProcedureStepStartTime = time
        step.ScheduledProcedureStepDescription = text
        steps.append(step)
    ds.ScheduledProcedureStepSequence = steps
    assert answer_row(ds) == ("DOE^JANE", "P1", "A9", "CT", "CT1; CT2",
                              "2026-11-27 09:30; 2026-11-27 10:15", "Head (Head; Contrast)")


# --- findscu-like keys -----------------------------------------------------------------------------

def test_keys_as_findscu_writes_them_and_back() -> None:
    keys = ["PatientName=DOE*", "(0010,0020)=ID-1", "ScheduledProcedureStepSequence[0].Modality=CT",
            "ScheduledProcedureStepSequence[1].ScheduledStationAETitle", "ReferencedStudySequence",
            "NumberOfStudyRelatedInstances=3", "ScheduledProcedureStepSequence[0].Modality=MR"]
    ds = identifier_from_keys(keys)
    assert "SpecificCharacterSet" not in ds
    assert flat_keys(ds) == [
        ("ReferencedStudySequence", ""), ("PatientName", "DOE*"), ("PatientID", "ID-1"),
        ("NumberOfStudyRelatedInstances", "3"),
        ("ScheduledProcedureStepSequence[0].Modality", "MR"),
        ("ScheduledProcedureStepSequence[1].ScheduledStationAETitle", "")]
    assert identifier_from_keys(["PatientName=MÜ*"]).SpecificCharacterSet == "ISO_IR 192"


def test_keys_override_the_forms_identifier() -> None:
    ds = identifier_from_keys(["ScheduledProcedureStepSequence[0].Modality=CT", "PatientID=7"],
                              build_identifier(QueryForm()))
    assert ds.PatientID == "7"
    step = ds.ScheduledProcedureStepSequence[0]
    assert step.Modality == "CT" and "ScheduledStationAETitle" in step


@pytest.mark.parametrize("key", ["Bogus=1", "PatientName[0].X=1", "=3", "Seq[0].Modality=CT",
                                 "ScheduledProcedureStepSequence=x", "PatientName[0]=x",
                                 "NumberOfStudyRelatedInstances=many"])
def test_bad_keys_say_so(key: str) -> None:
    with pytest.raises(ValueError):
        identifier_from_keys([key])
