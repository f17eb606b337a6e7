"""HL7 v2 orders over MLLP: python-hl7's own ``mllp_send`` sends a RIS's messages to a running
``wldesk serve --hl7-port``, and DCMTK's findscu sees exactly the entries they should make."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hl7.client import MLLPClient

from tests.helpers.dcmtk import dcmtk_tool, run_findscu
from tests.helpers.ports import free_port
from tests.helpers.processes import WldeskServe
from wldesk.core import paths
from wldesk.core.editing.document import load_document
from wldesk.core.editing.entries import archive_folder
from wldesk.core.events import EventBus, InputEvent
from wldesk.core.flow.hl7_listener import HL7Listener, MessageKeeper, hl7_dir, make_channel
from wldesk.core.flow.hl7_mapping import load_mapping
from wldesk.core.flow.ledger import Ledger
from wldesk.core.settings import Settings, check_ae_title

MLLP_SEND = Path(sys.executable).with_name("mllp_send")


def order(control: str = "NW", *, accession: str = "ACC100", step: str = "SPS100",
          status: str = "SC", modality: str = "CT", name: str = "Müller^Anna^B",
          procedure: str = "CTHEAD^CT Head^L", control_id: str = "MSG1",
          charset: str = "UNICODE UTF-8") -> str:
    """An ORM^O01 as a RIS sends it (IHE's fields: accession OBR-18, SPS ID OBR-20, modality
    OBR-24, start OBR-27.4)."""
    return (f"MSH|^~\\&|RIS|CLINIC|WLDESK|RAD|20260301090000||ORM^O01|{control_id}|P|2.3.1||||||"
            f"{charset}\r"
            f"PID|||PAT123^^^HOSP||{name}||19800102|F\r"
            "PV1||O|||||||1234^Smith^John^^^Dr\r"
            f"ORC|{control}|PLC100|FIL100||{status}\r"
            f"OBR|1|PLC100|FIL100|{procedure}||||||||||||||{accession}|RP100|{step}||||"
            f"{modality}|||^^^20260301100000\r")


ADT_A08 = ("MSH|^~\\&|RIS|CLINIC|WLDESK|RAD|20260301091000||ADT^A08|MSG9|P|2.5||||||UNICODE UTF-8\r"
           "PID|||PAT123^^^HOSP||Meier^Anna||19800203|F\r")


def mllp_send(port: int, message: str, tmp: Path) -> str:
    """``mllp_send`` (python-hl7's console script) sends ``message``; the MSA segment of its ACK."""
    file = tmp / "message.hl7"
    file.write_bytes(b"\x0b" + message.encode("utf-8") + b"\x1c\r")
    done = subprocess.run([str(MLLP_SEND), "--port", str(port), "--file", str(file), "127.0.0.1"],
                          capture_output=True, timeout=30, check=True)
    [msa] = [s for s in done.stdout.decode("utf-8").replace("\n", "\r").split("\r")
             if s.startswith("MSA|")]
    return msa


QUERY = ("(0008,0005) CS [ISO_IR 192]\n(0008,0050) SH []\n(0010,0010) PN []\n(0010,0020) LO []\n"
         "(0010,0030) DA []\n(0040,0100) SQ\n(fffe,e000) -\n(0008,0060) CS []\n(0040,0001) AE []\n"
         "(0040,0002) DA []\n(0040,0003) TM []\n(0040,0020) CS []\n(fffe,e00d) -\n(fffe,e0dd) -\n")


def served(server: WldeskServe, tmp: Path) -> list[tuple[str, str, str, str, str]]:
    """What findscu gets: (accession, name, birth date, modality, SPS status) of each answer."""
    query = tmp / "query.dump"
    query.write_text(QUERY, encoding="ascii")
    result = run_findscu(server.port, query, server.aet)
    assert result.final_status == "Success", result.describe()
    rows = []
    for answer in result.answers:
        sps = answer.ScheduledProcedureStepSequence[0]
        rows.append((answer.AccessionNumber, str(answer.PatientName), answer.PatientBirthDate,
                     sps.Modality, sps.get("ScheduledProcedureStepStatus", "")))
    return sorted(rows)


def wait_served(server: WldeskServe, tmp: Path,
                expected: list[tuple[str, str, str, str, str]]) -> None:
    """findscu until it gets ``expected`` (the server notices a new file within a moment)."""
    deadline = time.monotonic() + 10
    while (rows := served(server, tmp)) != expected and time.monotonic() < deadline:
        time.sleep(0.1)  # polling the server over the network: no signal to wait for
    assert rows == expected


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[tuple[WldeskServe, int, Path]]:
    if dcmtk_tool("findscu") is None or not MLLP_SEND.exists():
        pytest.skip("DCMTK's findscu and python-hl7's mllp_send are needed")
    folder = tmp_path / "worklists"
    folder.mkdir()
    hl7_port = free_port()
    with WldeskServe(folder, extra_args=["--hl7-port", str(hl7_port)], home=tmp_path / "home") as server:
        deadline = time.monotonic() + 10
        while "HL7 (MLLP) listener on" not in server.log_text() and time.monotonic() < deadline:
            time.sleep(0.05)  # the log file is the only sign the listener is up
        yield server, hl7_port, folder


def test_a_ris_transcript_over_mllp_send(serve: tuple[WldeskServe, int, Path],
                                         tmp_path: Path) -> None:
    server, port, folder = serve
    assert mllp_send(port, order(), tmp_path) == "MSA|AA|MSG1"
    row = ("ACC100", "Müller^Anna^B", "19800102", "CT", "SCHEDULED")
    wait_served(server, tmp_path, [row])
    assert mllp_send(port, order(control_id="MSG2"), tmp_path) == "MSA|AA|MSG2"  # repeated NW
    wait_served(server, tmp_path, [row])
    assert len(list(folder.glob("*.wl"))) == 1
    # XO: a change of modality (and a second order made)
    assert mllp_send(port, order("XO", modality="MR", control_id="MSG3"), tmp_path) == "MSA|AA|MSG3"
    assert mllp_send(port, order(accession="ACC200", step="SPS200", control_id="MSG4"),
                     tmp_path) == "MSA|AA|MSG4"
    row = ("ACC100", "Müller^Anna^B", "19800102", "MR", "SCHEDULED")
    other = ("ACC200", "Müller^Anna^B", "19800102", "CT", "SCHEDULED")
    wait_served(server, tmp_path, [row, other])
    # SC: in progress (ORC-5 IP) is STARTED
    assert mllp_send(port, order("SC", status="IP", control_id="MSG5"), tmp_path) == "MSA|AA|MSG5"
    row = ("ACC100", "Müller^Anna^B", "19800102", "MR", "STARTED")
    wait_served(server, tmp_path, [row, other])
    # A08: the patient's name and birth date in the open entries
    assert mllp_send(port, ADT_A08, tmp_path) == "MSA|AA|MSG9"
    wait_served(server, tmp_path, [("ACC100", "Meier^Anna", "19800203", "MR", "STARTED"),
                                   ("ACC200", "Meier^Anna", "19800203", "CT", "SCHEDULED")])
    # CA: the order goes to archive/YYYY-MM/
    assert mllp_send(port, order("CA", accession="ACC200", step="SPS200", control_id="MSG6"),
                     tmp_path) == "MSA|AA|MSG6"
    wait_served(server, tmp_path, [("ACC100", "Meier^Anna", "19800203", "MR", "STARTED")])
    assert [p.name for p in archive_folder(folder).iterdir()] == ["ACC200_SPS200.wl"]
    # malformed: no MSH segment, rejected; an order without a procedure, an application error
    msa = mllp_send(port, "PID|||X\rOBR|1", tmp_path)
    assert msa.startswith("MSA|AR||not an HL7 v2 message")
    msa = mllp_send(port, order(accession="ACC300", procedure="", control_id="MSG7"), tmp_path)
    assert msa.startswith("MSA|AE|MSG7|the order cannot be an entry")
    wait_served(server, tmp_path, [("ACC100", "Meier^Anna", "19800203", "MR", "STARTED")])
    # each message is kept in the state folder for support
    kept = [json.loads(line) for file in sorted((tmp_path / "home" / "xdg_state_home").rglob("hl7/*.jsonl"))
            for line in file.read_text(encoding="utf-8").splitlines()]
    assert [k["ack"] for k in kept] == ["AA"] * 7 + ["AR", "AE"]
    assert kept[0]["message"].startswith("MSH|^~\\&|RIS|CLINIC") and "Müller" in kept[0]["message"]


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[HL7Listener, list[InputEvent], Path]]:
    folder = tmp_path / "worklists"
    folder.mkdir()
    bus = EventBus()
    events: list[InputEvent] = []
    bus.subscribe(lambda e: events.append(e) if isinstance(e, InputEvent) else None)
    settings = Settings(database=str(folder), hl7_port=free_port(), hl7_bind_address="127.0.0.1")
    channel = make_channel(settings, Ledger(folder), bus)
    assert channel is not None
    channel.start()
    yield channel, events, folder
    channel.stop()


def send(port: int, message: str | bytes) -> str:
    """python-hl7's MLLPClient sends ``message``; its ACK as text (framing removed)."""
    with MLLPClient("127.0.0.1", port) as client:
        ack: bytes = client.send_message(message)
    assert ack.startswith(b"\x0b") and ack.endswith(b"\x1c\r")
    return ack[1:-2].decode("latin_1")


def test_ack_swaps_sender_and_receiver_and_echoes_the_control_id(
        listener: tuple[HL7Listener, list[InputEvent], Path]) -> None:
    channel, events, _folder = listener
    msh, msa = send(channel.port, order(modality="", control_id="X42")).split("\r")[:2]
    fields = msh.split("|")
    assert fields[2:6] == ["WLDESK", "RAD", "RIS", "CLINIC"]
    assert fields[8] == "ACK^O01^ACK" and fields[17] == "UNICODE UTF-8"
    assert msa == "MSA|AA|X42"
    [event] = events
    assert (event.channel, event.action, event.order, event.file) == (
        "HL7", "created", "ACC100/SPS100", "ACC100_SPS100.wl")
    assert event.source == "RIS/CLINIC (127.0.0.1)"
    assert event.detail == "NW; no modality: OT; no station: ANY"
    unknown = send(channel.port, order("NA", control_id="X43")).split("\r")
    assert unknown[1] == "MSA|AA|X43" and events[-1].action == "ignored"


def test_latin1_messages_make_latin1_entries(
        listener: tuple[HL7Listener, list[InputEvent], Path]) -> None:
    channel, _events, folder = listener
    message = order(name="Müller^José", charset="8859/1").encode("latin_1")
    ack = send(channel.port, message)
    assert "MSA|AA|MSG1" in ack and ack.split("\r")[0].endswith("|8859/1")
    ds = load_document(folder / "ACC100_SPS100.wl").dataset
    assert ds.SpecificCharacterSet == "ISO_IR 100" and str(ds.PatientName) == "Müller^José"
    wrong = send(channel.port, order(control_id="Y1", charset="8859/99"))
    assert wrong.split("\r")[1].startswith("MSA|AR|Y1|the character set '8859/99'")


def test_a_mapping_file_changes_fields_and_a_bad_one_keeps_the_channel_off(tmp_path: Path) -> None:
    mapping_file = tmp_path / "mapping.json"
    mapping_file.write_text(json.dumps({
        "fields": {"accession_number": ["ORC-3"], "modality": "OBR-21"},
        "station_by_modality": {"CT": "CT01"}, "modality_by_code": {"RAD": "CR"}}))
    mapping = load_mapping(str(mapping_file), "ANY", check_ae_title)
    assert [str(p) for p in mapping.fields["accession_number"]] == ["ORC-3.1.1"]
    assert mapping.station_by_modality == {"CT": "CT01"}
    mapping_file.write_text(json.dumps({"fields": {"accession": "OBR-18"}}))
    settings = Settings(database=str(tmp_path), hl7_port=free_port(),
                        hl7_mapping_file=str(mapping_file))
    with pytest.raises(ValueError, match=r"fields.accession is not a target"):
        make_channel(settings, Ledger(tmp_path), EventBus())
    mapping_file.write_text("{not json")
    with pytest.raises(ValueError, match=r"is not JSON"):
        make_channel(settings, Ledger(tmp_path), EventBus())
    mapping_file.write_text(json.dumps({"station_by_modality": {"CT": "A\\B"}}))
    with pytest.raises(ValueError, match=r"station_by_modality.CT"):
        make_channel(settings, Ledger(tmp_path), EventBus())


def test_kept_messages_are_pruned_after_their_days(tmp_path: Path) -> None:
    folder = hl7_dir()
    assert folder == paths.state_dir() / "hl7"
    folder.mkdir(parents=True)
    (folder / "2020-01-01.jsonl").write_text("{}\n")
    (folder / "notes.txt").write_text("mine")
    keeper = MessageKeeper(folder, 7)
    keeper.prune()
    assert sorted(os.listdir(folder)) == ["notes.txt"]


OMI_O23 = ("MSH|^~\\&|RIS|CLINIC|WLDESK|RAD|20260301090000||OMI^O23^OMI_O23|{id}|P|2.5.1||||||"
           "UNICODE UTF-8\r"
           "PID|||PAT777^^^HOSP||Tanaka^Yui||19900405|F\r"
           "ORC|{control}|PLC7|FIL7||SC\r"
           "TQ1|||||||20260302083000\r"
           "OBR|1|PLC7|FIL7|USOB^OB ultrasound^L\r"
           "IPC|ACC777|RP777|1.2.826.0.1.3680043.2.1125.77|SPS777|US||||US_ROOM2\r")


def test_omi_o23_with_ipc_then_dc_and_adt_a31(
        listener: tuple[HL7Listener, list[InputEvent], Path]) -> None:
    """IHE's OMI^O23: the IPC segment gives accession, requested procedure, study, step, modality
    and station; DC cancels it into the archive; ADT^A31 updates the patient."""
    channel, events, folder = listener
    ack = send(channel.port, OMI_O23.format(id="O1", control="NW")).split("\r")
    assert ack[1] == "MSA|AA|O1" and ack[0].split("|")[8] == "ACK^O23^ACK"
    ds = load_document(folder / "ACC777_SPS777.wl").dataset
    step = ds.ScheduledProcedureStepSequence[0]
    assert (ds.AccessionNumber, ds.RequestedProcedureID, ds.StudyInstanceUID) == (
        "ACC777", "RP777", "1.2.826.0.1.3680043.2.1125.77")
    assert (step.Modality, step.ScheduledStationAETitle, step.ScheduledProcedureStepID) == (
        "US", "US_ROOM2", "SPS777")
    assert (step.ScheduledProcedureStepStartDate, step.ScheduledProcedureStepStartTime) == (
        "20260302", "083000")
    assert events[-1].detail == "NW"  # nothing made up: no flags
    a31 = ("MSH|^~\\&|RIS|CLINIC|WLDESK|RAD|20260301091000||ADT^A31|O2|P|2.5||||||UNICODE UTF-8\r"
           "PID|||PAT777^^^HOSP||Tanaka^Yui^M||19900406|F\r")
    assert send(channel.port, a31).split("\r")[1] == "MSA|AA|O2"
    ds = load_document(folder / "ACC777_SPS777.wl").dataset
    assert (str(ds.PatientName), ds.PatientBirthDate) == ("Tanaka^Yui^M", "19900406")
    assert send(channel.port, OMI_O23.format(id="O3", control="DC")).split("\r")[1] == "MSA|AA|O3"
    assert not list(folder.glob("*.wl"))
    assert [p.name for p in archive_folder(folder).iterdir()] == ["ACC777_SPS777.wl"]
    assert [e.action for e in events] == ["created", "updated", "archived"]
    # an order that cannot be an entry: AE, the reason in MSA-3 and in an ERR segment
    broken = OMI_O23.format(id="O4", control="NW").replace("USOB^OB ultrasound^L", "")
    _msh, msa, err = send(channel.port, broken).rstrip("\r").split("\r")
    assert msa.startswith("MSA|AE|O4|") and len(msa.split("|")[3]) > 10
    fields = err.split("|")
    assert fields[0] == "ERR" and fields[3].endswith("^HL70357") and fields[4] == "E"
    assert fields[8] == msa.split("|")[3]
    assert not list(folder.glob("*.wl"))
