"""The worklist SCP over real sockets, with pynetdicom as the modality."""

from __future__ import annotations

import logging
import re
import shutil
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pynetdicom import AE
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    ModalityWorklistInformationFind,
)

from tests.helpers import rawdicom
from tests.helpers.dcmtk import dcmtk_tool, run_findscu
from tests.helpers.inprocess import Running
from tests.helpers.ports import free_port
from tests.helpers.samples import name_query, write_entry
from wldesk.core.events import AssociationEvent
from wldesk.core.logs import EventLogger, describe
from wldesk.core.net.scu import find as scu_find
from wldesk.core.net.server import ServerStartError, WorklistServer
from wldesk.core.settings import KnownModality, Settings

MWL = ModalityWorklistInformationFind






def accessions(answers: list[Dataset]) -> list[str]:
    return sorted(str(a.AccessionNumber) for a in answers)


def test_echo(running: Running) -> None:
    assoc = running.associate()
    assert assoc.is_established
    assert assoc.send_c_echo().Status == 0x0000
    assoc.release()


def test_find_returns_matches_and_success(running: Running, folder: Path) -> None:
    write_entry(folder, "a.wl", accession="A1", modality="CT")
    write_entry(folder, "b.WL", accession="A2", modality="MR")
    write_entry(folder, "notes.txt", accession="A3")
    answers, statuses = running.find(name_query(Modality="CT"))
    assert accessions(answers) == ["A1"]
    assert statuses == [0xFF00, 0x0000]
    answers, _ = running.find(name_query())
    assert accessions(answers) == ["A1", "A2"]
    event = running.queries()[-1]
    assert (event.files_considered, event.matches, event.returned, event.status) == (2, 2, 2, 0)
    assert event.calling_aet == "MODALITY"


def test_files_added_changed_removed_between_queries(running: Running, folder: Path) -> None:
    assert running.find(name_query())[0] == []
    path = write_entry(folder, "a.wl", accession="A1")
    assert accessions(running.find(name_query())[0]) == ["A1"]
    write_entry(folder, "a.wl", accession="A9")  # rewritten in place
    assert accessions(running.find(name_query())[0]) == ["A9"]
    path.unlink()
    assert running.find(name_query())[0] == []


def test_corrupt_and_half_written_files_do_not_fail_the_query(running: Running, folder: Path) -> None:
    good = write_entry(folder, "good.wl", accession="A1")
    (folder / "garbage.wl").write_bytes(b"this is not DICOM at all" * 10)
    data = good.read_bytes()
    (folder / "half.wl").write_bytes(data[: len(data) * 2 // 3])
    (folder / "empty.wl").write_bytes(b"")
    answers, statuses = running.find(name_query())
    assert accessions(answers) == ["A1"]
    assert statuses[-1] == 0x0000
    # completing the half-written file makes it servable
    (folder / "half.wl").write_bytes(data)
    assert len(running.find(name_query())[0]) == 2


def test_latin1_and_utf8_files_side_by_side(running: Running, folder: Path) -> None:
    write_entry(folder, "latin1.wl", charset="ISO_IR 100", patient="MÜLLER^JOSÉ", accession="L1")
    write_entry(folder, "utf8.wl", charset="ISO_IR 192", patient="ΠΑΠΑΔΟΠΟΥΛΟΣ^ΓΙΩΡΓΟΣ",
                accession="U1")
    write_entry(folder, "ascii.wl", charset=None, patient="SMITH^ANN", accession="N1")
    answers, _ = running.find(name_query())
    by_accession = {str(a.AccessionNumber): a for a in answers}
    assert str(by_accession["L1"].PatientName) == "MÜLLER^JOSÉ"
    assert by_accession["L1"].SpecificCharacterSet == "ISO_IR 100"
    assert str(by_accession["U1"].PatientName) == "ΠΑΠΑΔΟΠΟΥΛΟΣ^ΓΙΩΡΓΟΣ"
    assert by_accession["U1"].SpecificCharacterSet == "ISO_IR 192"
    assert "SpecificCharacterSet" not in by_accession["N1"]


def test_query_in_its_own_character_set(running: Running, folder: Path) -> None:
    write_entry(folder, "utf8.wl", charset="ISO_IR 192", patient="Müller^Zoë", accession="U1")
    query = name_query("MÜLLER*")
    query.SpecificCharacterSet = "ISO_IR 100"
    answers, _ = running.find(query)
    assert accessions(answers) == ["U1"]
    # the modality asked in Latin-1 and the name fits in Latin-1: it gets Latin-1 back
    assert answers[0].SpecificCharacterSet == "ISO_IR 100"
    assert str(answers[0].PatientName) == "Müller^Zoë"


def test_answer_falls_back_to_utf8_when_the_query_charset_cannot_carry_it(
        running: Running, folder: Path) -> None:
    write_entry(folder, "greek.wl", charset="ISO_IR 192", patient="ΑΛΦΑ^ΒΗΤΑ", accession="G1")
    query = name_query()
    query.SpecificCharacterSet = "ISO_IR 100"
    answers, _ = running.find(query)
    assert answers[0].SpecificCharacterSet == "ISO_IR 192"
    assert str(answers[0].PatientName) == "ΑΛΦΑ^ΒΗΤΑ"


def test_invalid_query_value_gives_a900_with_comment(running: Running, folder: Path) -> None:
    write_entry(folder, "a.wl")
    query = name_query(ScheduledProcedureStepStartDate="yesterday")
    assoc = running.associate()
    result = scu_find(assoc, query)
    assoc.release()
    status = result.status
    assert status is not None and status.Status == 0xA900
    assert "ScheduledProcedureStepStartDate" in status.ErrorComment
    assert running.queries()[-1].status == 0xA900


def test_unsupported_key_gives_ff01(running: Running, folder: Path) -> None:
    write_entry(folder, "a.wl")
    query = name_query()
    query.OperatorsName = "SOMEONE"
    answers, statuses = running.find(query)
    assert len(answers) == 1
    assert statuses == [0xFF01, 0x0000]


def test_cancel_between_answers(folder: Path) -> None:
    template = write_entry(folder, "0.wl", accession="A0").read_bytes()
    for number in range(1, 3000):
        (folder / f"{number}.wl").write_bytes(template)
    run = Running(folder)
    run.server.start()
    try:
        assoc = run.associate()
        statuses = []
        responses = assoc.send_c_find(name_query(), MWL, msg_id=7)
        for status, _identifier in responses:
            statuses.append(int(status.Status))
            if len(statuses) == 1:
                assoc.send_c_cancel(7, query_model=MWL)
        assoc.release()
    finally:
        run.server.stop()
    assert statuses[-1] == 0xFE00
    assert len(statuses) < 3000
    assert run.queries()[-1].status == 0xFE00


def test_eight_concurrent_associations(running: Running, folder: Path) -> None:
    for number in range(40):
        write_entry(folder, f"{number}.wl", accession=f"A{number:02}",
                    modality="CT" if number % 2 else "MR")
    results: dict[int, list[str]] = {}
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            modality = "CT" if index % 2 else "MR"
            for _ in range(3):
                answers, statuses = running.find(name_query(Modality=modality), f"M{index}")
                assert statuses[-1] == 0
                results[index] = accessions(answers)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    for index, found in results.items():
        parity = 1 if index % 2 else 0
        assert found == [f"A{n:02}" for n in range(40) if n % 2 == parity]
    assert len(results) == 8


@pytest.mark.parametrize(("final", "expected_status"), [("success", 0x0000), ("cancel", 0xFE00)])
def test_limit_answers(folder: Path, final: str, expected_status: int) -> None:
    for number in range(10):
        write_entry(folder, f"{number}.wl", accession=f"A{number}")
    run = Running(folder, limit_answers=3, limit_final_status=final)
    run.server.start()
    try:
        answers, statuses = run.find(name_query())
    finally:
        run.server.stop()
    assert len(answers) == 3
    assert statuses == [0xFF00] * 3 + [expected_status]
    event = run.queries()[-1]
    assert (event.matches, event.returned) == (10, 3)


def test_filter_issuer_aet_over_the_network(folder: Path) -> None:
    write_entry(folder, "ct1.wl", accession="A1", station="CT1")
    write_entry(folder, "ct2.wl", accession="A2", station="CT2")
    run = Running(folder, filter_issuer_aet=True)
    run.server.start()
    try:
        assert accessions(run.find(name_query(), "CT2")[0]) == ["A2"]
        assert accessions(run.find(name_query(ScheduledStationAETitle="CT1"), "CT2")[0]) == ["A1"]
        query = Dataset()
        query.PatientName = ""
        query.AccessionNumber = ""
        assert accessions(run.find(query, "CT1")[0]) == ["A1"]
    finally:
        run.server.stop()


@pytest.mark.expect_log_warnings(
    r"Association Rejected|Result: Rejected Permanent|Calling AE title not recognised",
)
def test_unknown_modalities_refused_when_not_allowed(folder: Path) -> None:
    write_entry(folder, "a.wl")
    run = Running(folder, allow_unknown_modalities=False, modalities=(
        KnownModality("CT room 1", "CT1"), KnownModality("MR", "MR1", host="10.255.255.1")))
    run.server.start()
    try:
        assert len(run.find(name_query(), "CT1")[0]) == 1
        for calling in ("INTRUDER", "MR1"):  # unknown title; known title from the wrong host
            assoc = run.associate(calling)
            assert assoc.is_rejected
        run.find(name_query(), "CT1")  # still serving the others
    finally:
        run.server.stop()
    rejected = [e for e in run.events if isinstance(e, AssociationEvent) and e.kind == "rejected"]
    assert [e.calling_aet for e in rejected] == ["INTRUDER", "MR1"]
    assert "not a known modality" in rejected[0].reason
    assert "10.255.255.1" in rejected[1].reason


def test_folder_disappearing_gives_a_failure_not_an_empty_list(running: Running, folder: Path) -> None:
    write_entry(folder, "a.wl")
    shutil.rmtree(folder)
    _answers, statuses = running.find(name_query())
    assert statuses == [0xC001]
    folder.mkdir()
    write_entry(folder, "a.wl")
    assert running.find(name_query())[1][-1] == 0x0000


def test_query_during_a_long_first_indexing_gets_a_clear_failure(folder: Path) -> None:
    template = write_entry(folder, "0.wl", accession="A0").read_bytes()
    for number in range(1, 3000):
        (folder / f"{number}.wl").write_bytes(template)
    run = Running(folder)
    run.server.index_wait = 0.0  # a folder that takes longer to read than modalities wait
    run.server.start()
    try:
        answers, statuses = run.find(name_query())
        assert (answers, statuses) == ([], [0xC001])
        assert "still being read" in run.queries()[-1].status_text
        assert run.server.store.wait_ready(60)
        answers, statuses = run.find(name_query())  # once indexed: every entry
        assert len(answers) == 3000 and statuses[-1] == 0x0000
    finally:
        run.server.stop()


def test_port_in_use(folder: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        settings = Settings(database=str(folder), port=blocker.getsockname()[1],
                            bind_address="127.0.0.1")
        server = WorklistServer(settings)
        with pytest.raises(ServerStartError, match="in use"):
            server.start()
        assert not server.is_running


def test_missing_folder_refuses_to_start(tmp_path: Path) -> None:
    server = WorklistServer(Settings(database=str(tmp_path / "nope"), port=free_port()))
    with pytest.raises(ServerStartError, match="does not exist"):
        server.start()


def test_association_events_are_reported(running: Running) -> None:
    assoc = running.associate("ECHOER")
    assoc.send_c_echo()
    assoc.release()
    kinds = [e.kind for e in running.events
             if isinstance(e, AssociationEvent) and e.calling_aet == "ECHOER"]
    assert kinds[:2] == ["requested", "accepted"]
    # the release is reported by the server thread; wait for it without sleeping blindly
    for _ in range(100):
        kinds = [e.kind for e in running.events
                 if isinstance(e, AssociationEvent) and e.calling_aet == "ECHOER"]
        if "released" in kinds:
            break
        threading.Event().wait(0.02)
    assert kinds == ["requested", "accepted", "released"]


def test_answers_read_back_by_pydicom_are_complete(running: Running, folder: Path) -> None:
    path = write_entry(folder, "a.wl", patient="DOE^JANE")
    entry = dcmread(path)
    answers, _ = running.find(name_query("DOE^JANE"))
    assert str(answers[0].PatientName) == str(entry.PatientName)
    assert answers[0].ScheduledProcedureStepSequence[0].Modality == "CT"


def test_query_without_returnable_keys_still_answers(running: Running, folder: Path) -> None:
    write_entry(folder, "a.wl", charset="ISO_IR 100")
    query = Dataset()
    query.QueryRetrieveLevel = "WORKLIST"
    answers, statuses = running.find(query)
    assert statuses == [0xFF00, 0x0000]
    assert answers[0].SpecificCharacterSet == "ISO_IR 100"


# --- association policies --------------------------------------------------------------------------


def association_events(run: Running, kind: str) -> list[AssociationEvent]:
    with run.lock:
        return [e for e in run.events if isinstance(e, AssociationEvent) and e.kind == kind]


@pytest.mark.parametrize("called", [b"WLDESK", b"ANYTHING", b"*", b"../../etc"])
def test_any_called_ae_title_is_accepted_by_default(running: Running, called: bytes) -> None:
    answer = rawdicom.request(running.server.port, rawdicom.associate_rq(called=called))
    assert answer[0] == rawdicom.A_ASSOCIATE_AC


def test_other_called_ae_titles_refused_when_checked(folder: Path) -> None:
    run = Running(folder, check_called_ae_title=True)
    run.server.start()
    try:
        port = run.server.port
        for called in (b"ANYTHING", b"*", b"../../etc", b"wldesk"):
            answer = rawdicom.request(port, rawdicom.associate_rq(called=called))
            # rejected-permanent, service-user, called-AE-title-not-recognized (PS3.8 9.3.4)
            assert rawdicom.reject_fields(answer) == (0x01, 0x01, 0x07)
        assert rawdicom.request(port, rawdicom.associate_rq(called=b"WLDESK"))[0] == \
            rawdicom.A_ASSOCIATE_AC
        assert run.find(name_query())[1] == [0x0000]  # pynetdicom, called AE title WLDESK
    finally:
        run.server.stop()
    rejected = association_events(run, "rejected")
    assert [e.called_aet for e in rejected] == ["ANYTHING", "*", "../../etc", "wldesk"]
    assert "called AE title '../../etc' is not this server's ('WLDESK')" in rejected[2].reason


def test_called_ae_title_refused_to_dcmtk_echoscu(folder: Path) -> None:
    echoscu = dcmtk_tool("echoscu")
    if echoscu is None:
        pytest.skip("DCMTK echoscu is not installed")
    run = Running(folder, check_called_ae_title=True)
    run.server.start()
    try:
        def echo(called: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([echoscu, "-aec", called, "127.0.0.1", str(run.server.port)],
                                  capture_output=True, text=True, timeout=60, check=False)
        refused = echo("OTHER")
        assert refused.returncode != 0
        assert "Called AE Title Not Recognized" in refused.stdout + refused.stderr
        assert echo("WLDESK").returncode == 0
    finally:
        run.server.stop()


STUDY_ROOT = "Study Root Query/Retrieve Information Model - FIND (1.2.840.10008.5.1.4.1.2.2.1)"


def test_association_proposing_nothing_served_is_rejected_with_the_sop_classes_named(
        running: Running) -> None:
    answer = rawdicom.request(running.server.port, rawdicom.associate_rq(
        calling=b"CT_ROOM_1", abstract_syntaxes=(rawdicom.STUDY_ROOT_FIND,)))
    # rejected-permanent, service-user, no-reason-given
    assert rawdicom.reject_fields(answer) == (0x01, 0x01, 0x01)
    [event] = association_events(running, "rejected")
    assert event.calling_aet == "CT_ROOM_1"
    assert event.not_served == (STUDY_ROOT,)
    assert event.reason.endswith("only: " + STUDY_ROOT)
    level, line = describe(event, redact=False)
    assert level == logging.WARNING
    assert f"rejected (CT_ROOM_1 (127.0.0.1:{event.port})): proposed no SOP class" in line
    assert STUDY_ROOT in line
    assert association_events(running, "accepted") == []


def test_dcmtk_findscu_with_study_root_is_told_no(running: Running, tmp_path: Path) -> None:
    findscu = dcmtk_tool("findscu")
    if findscu is None:
        pytest.skip("DCMTK findscu is not installed")
    query = tmp_path / "query.dcm"
    ds = Dataset()
    ds.QueryRetrieveLevel = "STUDY"
    ds.PatientName = ""
    ds.save_as(query, implicit_vr=False, little_endian=True, enforce_file_format=False)
    result = subprocess.run([findscu, "-S", "-aet", "CT1", "-aec", "WLDESK", "127.0.0.1",
                             str(running.server.port), str(query)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0
    assert "Association Rejected" in result.stdout + result.stderr
    [event] = association_events(running, "rejected")
    assert event.calling_aet == "CT1" and event.not_served == (STUDY_ROOT,)


def test_accepted_association_names_the_sop_classes_left_out(running: Running) -> None:
    assoc = running.associate("CT1", contexts=(MWL, rawdicom.STUDY_ROOT_FIND))
    assert assoc.is_established
    assoc.release()
    [event] = association_events(running, "accepted")
    assert event.not_served == (STUDY_ROOT,)
    assert event.reason == "some proposed SOP classes are not served: " + STUDY_ROOT


# --- connections that never complete their A-ASSOCIATE ---------------------------------------------

OTHER_HOST = "127.0.0.2"  # another loopback address: another host, as far as the server can tell


def stalled(port: int, count: int, source: str = OTHER_HOST) -> list[socket.socket]:
    """``count`` connections that each send one byte of an A-ASSOCIATE-RQ and then wait."""
    socks = []
    for _ in range(count):
        sock = rawdicom.connect(port, source)
        sock.sendall(b"\x01")
        socks.append(sock)
    return socks


def acceptor_threads(run: Running) -> int:
    server = run.server._server
    assert server is not None
    return len(server.active_associations)


def wait_for(condition: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.expect_log_warnings(r"127\.0\.0\.2: too many connections waiting to send their "
                                 r"A-ASSOCIATE-RQ")
def test_idle_connections_do_not_lock_modalities_out(running: Running, folder: Path) -> None:
    write_entry(folder, "a.wl")
    socks = stalled(running.server.port, 70)
    try:
        assert running.find(name_query())[1] == [0xFF00, 0x0000]
        # from the crowded address too: its oldest idle connection makes room
        ae = AE(ae_title="SAMEHOST")
        ae.add_requested_context(MWL)
        assoc = ae.associate("127.0.0.1", running.server.port, ae_title="WLDESK",
                             bind_address=(OTHER_HOST, 0))
        assert assoc.is_established
        assoc.release()
    finally:
        for sock in socks:
            sock.close()
    # Closed before their A-ASSOCIATE-RQ, their association threads end at once (pynetdicom
    # alone kept them for its 30 s ACSE timeout, counted against the association limit).
    assert wait_for(lambda: acceptor_threads(running) == 0, 5.0), acceptor_threads(running)
    assert running.find(name_query())[1] == [0xFF00, 0x0000]


@pytest.mark.expect_log_warnings(r"127\.0\.0\.2: too many connections waiting")
def test_two_hundred_slow_clients_and_ten_normal_queries(running: Running, folder: Path) -> None:
    write_entry(folder, "a.wl")
    socks = stalled(running.server.port, 200)
    try:
        served = [running.find(name_query(), f"CT{n}")[1] for n in range(10)]
    finally:
        for sock in socks:
            sock.close()
    assert served == [[0xFF00, 0x0000]] * 10


def test_connection_without_a_request_is_closed_at_the_deadline(folder: Path) -> None:
    run = Running(folder, association_request_timeout=1)
    run.server.start()
    try:
        silent = rawdicom.connect(run.server.port, OTHER_HOST)
        [one_byte] = stalled(run.server.port, 1)
        started = time.monotonic()
        for sock in (silent, one_byte):
            with sock:
                assert sock.recv(100) == b""  # closed by the server (10 s socket timeout)
        elapsed = time.monotonic() - started
        assert 0.9 <= elapsed < 5.0, elapsed
        assert wait_for(lambda: acceptor_threads(run) == 0, 5.0)
        assert run.find(name_query())[1] == [0x0000]
    finally:
        run.server.stop()
    assert not [e for e in run.events if isinstance(e, AssociationEvent)
                and e.address == OTHER_HOST]  # no association: nothing for the Activity tab


# --- malformed AE titles ---------------------------------------------------------------------------


@pytest.mark.parametrize(("calling", "called", "expected", "shown", "reason"), [
    (b"CT\\1", b"WLDESK", 0x03, "CT\\1", "calling AE title 'CT\\1' contains a backslash"),
    (b"CT\xe91", b"WLDESK", 0x03, "CT<E9>1",
     "calling AE title 'CT<E9>1' has a byte that is not ASCII (0xE9)"),
    (b"", b"WLDESK", 0x03, "", "calling AE title '' is empty"),
    (b"CT1", b"WL\x01DESK", 0x07, "CT1", "called AE title 'WL<01>DESK' contains a control "
                                         "character (0x01)"),
])
def test_malformed_ae_title_gets_a_reject_and_one_plain_line(
        running: Running, caplog: pytest.LogCaptureFixture, *, calling: bytes, called: bytes,
        expected: int, shown: str, reason: str) -> None:
    with caplog.at_level(logging.DEBUG, logger="pynetdicom"):
        answer = rawdicom.request(running.server.port, rawdicom.associate_rq(calling, called))
        assert rawdicom.reject_fields(answer) == (0x01, 0x01, expected)
        assert wait_for(lambda: association_events(running, "rejected"), 5.0)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    [event] = association_events(running, "rejected")
    assert (event.calling_aet, event.reason) == (shown, reason)
    level, line = describe(event, redact=False)
    assert level == logging.WARNING
    assert line == f"association #{event.association_id} rejected ({shown or '?'} " \
                   f"(127.0.0.1:{event.port})): {reason}"
    assert running.find(name_query())[1] == [0x0000]  # the server goes on serving


def test_malformed_calling_ae_title_from_dcmtk_echoscu(running: Running) -> None:
    echoscu = dcmtk_tool("echoscu")
    if echoscu is None:
        pytest.skip("DCMTK echoscu is not installed")
    result = subprocess.run([echoscu, "-aet", "CT\\1", "-aec", "WLDESK", "127.0.0.1",
                             str(running.server.port)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0
    assert "Calling AE Title Not Recognized" in result.stdout + result.stderr
    [event] = association_events(running, "rejected")
    assert event.reason == "calling AE title 'CT\\1' contains a backslash"
@pytest.mark.parametrize("name", ["UTF-8", "ISO-8859-1"])
def test_charset_names_that_are_not_dicom_terms_are_never_echoed(
        running: Running, folder: Path, name: str) -> None:
    write_entry(folder, "a.wl", charset="ISO_IR 100", patient="Müller^Zoë", accession="U1")
    write_entry(folder, "b.wl", charset="ISO_IR 100", patient="DOE^JOHN", accession="U2")
    query = name_query()
    query.SpecificCharacterSet = name
    answers, statuses = running.find(query)
    assert statuses == [0xFF00, 0xFF00, 0x0000]
    # non-ASCII: the next choice (the file's Latin-1); ASCII: the default, as an empty value
    assert [a.SpecificCharacterSet for a in answers] == ["ISO_IR 100", ""]
    assert str(answers[0].PatientName) == "Müller^Zoë"


def test_file_charset_that_is_not_a_dicom_term_is_not_served(running: Running, folder: Path) -> None:
    write_entry(folder, "a.wl", charset="UTF-8", patient="Müller^Zoë", accession="U1")
    answers, _ = running.find(name_query())
    assert answers[0].SpecificCharacterSet == "ISO_IR 192"
    assert str(answers[0].PatientName) == "Müller^Zoë"
    only_level = Dataset()  # no returnable key: the answer holds just (0008,0005)
    only_level.QueryRetrieveLevel = ""
    write_entry(folder, "a.wl", charset="UTF-8", patient="DOE^JOHN", accession="U1")
    answers, _ = running.find(only_level)
    assert [a.SpecificCharacterSet for a in answers] == [""]


@pytest.mark.skipif(dcmtk_tool("findscu") is None or dcmtk_tool("dcmdump") is None,
                    reason="DCMTK findscu and dcmdump are needed")
def test_dcmtk_reads_answers_to_a_utf8_named_query(running: Running, folder: Path,
                                                    tmp_path: Path) -> None:
    write_entry(folder, "a.wl", charset="UTF-8", patient="Müller^Zoë", accession="U1")
    write_entry(folder, "b.wl", charset="ISO_IR 100", patient="DOE^JOHN", accession="U2")
    query = name_query()
    query.SpecificCharacterSet = "UTF-8"
    query_file = tmp_path / "query.dcm"
    query.save_as(query_file, implicit_vr=False, little_endian=True)
    result = run_findscu(running.server.port, query_file, "WLDESK")
    assert result.final_status == "Success", result.describe()
    assert len(result.answer_files) == 2
    for number, data in enumerate(result.answer_files):
        answer = tmp_path / f"answer{number}.dcm"
        answer.write_bytes(data)
        dumped = subprocess.run([str(dcmtk_tool("dcmdump")), "+U8", str(answer)],
                                capture_output=True, check=False)
        text = (dumped.stdout + dumped.stderr).decode("utf-8", "replace")
        assert dumped.returncode == 0 and "not supported" not in text, text
        assert "UTF-8" not in text and "ISO-8859-1" not in text
    assert "Müller^Zoë" in (tmp_path / "answer0.dcm").read_bytes().decode("utf-8", "replace") \
        or "Müller^Zoë" in str(result.answers[0].PatientName)


@pytest.mark.parametrize("redact", [True, False])
def test_redaction_hides_patient_values_and_file_names(
        folder: Path, caplog: pytest.LogCaptureFixture, log_warnings: Any, redact: bool) -> None:
    write_entry(folder, "SMITH^ANNA.wl", patient="SMITH^ANNA", accession="A1")
    (folder / "DOE^JOHN 19700101.wl").write_bytes(b"\0" * 128 + b"DICM" + b"\2\0\1\0")  # cut short
    log_warnings.expect(r"skipped: incomplete file")
    log_warnings.expect(r"invalid query")
    caplog.set_level(logging.DEBUG)
    run = Running(folder, redact_patient_data=redact)
    run.server.bus.subscribe(EventLogger(redact))
    run.server.start()
    try:
        answers, _ = run.find(name_query("SMITH^ANNA"))
        assert len(answers) == 1
        # a patient name typed into the date field: 0xA900, and the value in neither the keys
        # nor the reason of the log line (the modality's Error Comment still names it)
        bad = name_query("SMITH^ANNA", ScheduledProcedureStepStartDate="DOE^JOHN")
        assoc = run.associate()
        responses = list(assoc.send_c_find(bad, MWL))
        assoc.release()
        assert responses[-1][0].Status == 0xA900
        assert "DOE^JOHN" in responses[-1][0].ErrorComment
    finally:
        run.server.stop()
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "invalid query: ScheduledProcedureStepStartDate" in text
    if redact:
        for private in ("SMITH", "DOE", "JOHN", "19700101"):
            assert private not in text, text
        assert "PatientName='<redacted>'" in text
        assert "ScheduledProcedureStepStartDate='<redacted>'" in text
        assert "<redacted> is not a date" in text
        assert re.search(r"file #[0-9a-f]{8}: skipped: incomplete file", text), text
    else:
        assert "DOE^JOHN 19700101.wl: skipped" in text and "'DOE^JOHN' is not a date" in text


@pytest.mark.expect_log_warnings(r"aborted: pynetdicom could not handle what it sent \(AttributeError",
                                 r"pynetdicom\.fsm: State Machine received an exception .*'DT-2'")
def test_a_command_set_pynetdicom_cannot_read_aborts_only_that_association(running: Running) -> None:
    """pynetdicom 3.0's reactor lets the exception of a command set without Command Field end the
    association's thread unhandled (a traceback on stderr, the peer left waiting): the association
    is aborted with one log line naming the peer, and the server goes on serving."""
    uid = MWL.encode() + b"\0"  # (0000,0002) Affected SOP Class UID alone, implicit VR LE
    command = struct.pack("<HHL", 0x0000, 0x0002, len(uid)) + uid
    pdv = struct.pack(">LBB", len(command) + 2, 1, 0x03) + command  # context 1, command, last
    with rawdicom.connect(running.server.port) as sock:
        sock.sendall(rawdicom.associate_rq())
        assert rawdicom.read_pdu(sock)[0] == rawdicom.A_ASSOCIATE_AC
        sock.sendall(struct.pack(">BBL", 0x04, 0, len(pdv)) + pdv)
        assert rawdicom.read_pdu(sock)[:1] in (bytes([rawdicom.A_ABORT]), b"")
    assert running.find(name_query())[1][-1] == 0x0000
