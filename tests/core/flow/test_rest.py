"""The REST API over a real socket with real clients (requests, curl), and what a modality then
sees: DCMTK findscu against a real worklist server on the same folder."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.helpers.dcmtk import dcmtk_tool, findscu_worklist
from tests.helpers.ports import free_port
from tests.helpers.samples import name_query, write_entry, write_wl
from tests.helpers.tls import make_certificates
from wldesk.core.editing.entries import archive_folder
from wldesk.core.events import EventBus, InputEvent
from wldesk.core.flow.ledger import Ledger
from wldesk.core.flow.rest import RestChannel
from wldesk.core.flow.services import Channels
from wldesk.core.net.server import WorklistServer
from wldesk.core.settings import Settings


def order(accession: str = "A100", step: str = "S1", **tags: Any) -> dict[str, Any]:
    """A create body as Orthanc's documentation shows them."""
    return {"Tags": {
        "PatientName": "DOE^JANE", "PatientID": "P100", "AccessionNumber": accession,
        "ScheduledProcedureStepSequence": [{
            "Modality": "CT", "ScheduledProcedureStepStartDate": "20261127",
            "ScheduledProcedureStepStartTime": "093000", "ScheduledStationAETitle": "CT1",
            "ScheduledProcedureStepID": step}],
        **tags}}


class Api:
    """A worklist server and the REST API on one folder, with the InputEvents they report."""

    def __init__(self, folder: Path, **settings: Any) -> None:
        self.folder = folder
        self.events: list[InputEvent] = []
        self.bus = EventBus()
        self.bus.subscribe(lambda e: self.events.append(e) if isinstance(e, InputEvent) else None)
        self.settings = Settings(database=str(folder), port=free_port(), bind_address="127.0.0.1",
                                 rest_port=free_port(), **settings)
        self.server = WorklistServer(self.settings, self.bus)
        self.rest = RestChannel(self.settings, Ledger(folder), self.bus)
        scheme = "https" if self.settings.rest_tls_certificate else "http"
        self.url = f"{scheme}://127.0.0.1:{self.settings.rest_port}"
        self.query = write_wl(folder.parent / "query.dcm", name_query())

    def seen(self) -> list[str]:
        """The accession numbers findscu gets, sorted."""
        answers = findscu_worklist(self.server.port, self.query, "WLDESK")
        return sorted(str(a.AccessionNumber) for a in answers)

    def wait_seen(self, expected: list[str]) -> None:
        deadline = time.monotonic() + 10
        while (seen := self.seen()) != expected and time.monotonic() < deadline:
            time.sleep(0.05)  # the server notices the folder's change by its events
        assert seen == expected

    def files(self) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in sorted(self.folder.rglob("*")) if p.is_file()}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    folder = tmp_path / "worklists"
    folder.mkdir()
    running = Api(folder)
    running.server.start()
    running.rest.start()
    yield running
    running.rest.stop()
    running.server.stop()


@pytest.mark.skipif(dcmtk_tool("findscu") is None, reason="DCMTK findscu is not installed")
def test_orthanc_transcript_and_what_findscu_sees(api: Api) -> None:
    write_entry(api.folder, "from-another-program.wl", accession="X1")
    api.wait_seen(["X1"])
    # the Force refusal
    lacking = {"Tags": {"PatientName": "DOE^JOHN", "AccessionNumber": "A200"}}
    answer = requests.post(f"{api.url}/worklists/create", json=lacking, timeout=10)
    assert answer.status_code == 400 and "Force" in answer.json()["Message"]
    assert answer.json()["Details"] == answer.json()["Message"]  # where Orthanc says it
    assert answer.json()["HttpError"] == "Bad Request"
    assert api.seen() == ["X1"]
    # create
    answer = requests.post(f"{api.url}/worklists/create", json=order(), timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"ID": "A100_S1", "Path": "/worklists/A100_S1"}
    api.wait_seen(["A100", "X1"])
    # Force stores it anyway
    forced = requests.post(f"{api.url}/worklists/create", json={**lacking, "Force": True},
                           timeout=10).json()
    api.wait_seen(["A100", "A200", "X1"])
    # list: every entry, other programs' too, with ID, Tags and CreationDate
    listed = requests.get(f"{api.url}/worklists", timeout=10).json()
    assert sorted(item["ID"] for item in listed) == sorted(
        ["A100_S1", forced["ID"], "from-another-program"])
    first = next(item for item in listed if item["ID"] == "A100_S1")
    assert first["Tags"]["SpecificCharacterSet"] == "ISO_IR 192"  # added
    assert first["Tags"]["StudyInstanceUID"]  # added
    assert len(first["CreationDate"]) == 15 and first["CreationDate"][8] == "T"
    # get in the three formats: {"ID", "Tags"} as Orthanc answers
    got = requests.get(f"{api.url}/worklists/A100_S1", timeout=10).json()
    assert got["ID"] == "A100_S1"
    human = got["Tags"]
    assert human["PatientName"] == "DOE^JANE"
    assert human["ScheduledProcedureStepSequence"][0]["Modality"] == "CT"
    assert requests.get(f"{api.url}/worklists/A100_S1?format=Simplify",
                        timeout=10).json()["Tags"] == human  # Orthanc's name of Human
    short = requests.get(f"{api.url}/worklists/A100_S1?format=Short", timeout=10).json()["Tags"]
    assert short["0010,0010"] == "DOE^JANE" and short["0040,0100"][0]["0008,0060"] == "CT"
    full = requests.get(f"{api.url}/worklists/A100_S1?format=Full", timeout=10).json()["Tags"]
    assert full["0010,0010"] == {"Name": "PatientName", "Type": "String", "Value": "DOE^JANE"}
    assert full["0040,0100"]["Type"] == "Sequence"
    assert full["0040,0100"]["Value"][0]["0008,0060"]["Value"] == "CT"
    # the book's "/worklists/?format=Short": answered, not redirected
    slash = requests.get(f"{api.url}/worklists/?format=Short", timeout=10, allow_redirects=False)
    assert slash.status_code == 200 and len(slash.json()) == 3
    # put replaces the whole entry
    changed = order("A101")
    answer = requests.put(f"{api.url}/worklists/A100_S1", json=changed, timeout=10)
    assert answer.status_code == 200, answer.text
    api.wait_seen(["A101", "A200", "X1"])
    # delete moves the file to archive/YYYY-MM/; the answer is Orthanc's {}
    answer = requests.delete(f"{api.url}/worklists/from-another-program", timeout=10)
    assert answer.status_code == 200 and answer.json() == {}
    api.wait_seen(["A101", "A200"])
    assert (archive_folder(api.folder) / "from-another-program.wl").is_file()
    assert requests.get(f"{api.url}/worklists/from-another-program",
                        timeout=10).status_code == 404
    actions = [(e.action, e.order) for e in api.events]
    assert actions == [("refused", ""), ("created", "A100/S1"), ("created", "A200"),
                       ("updated", "A101/S1"), ("archived", "X1/S-X1")]
    assert all(e.channel == "REST" and e.source == "127.0.0.1" for e in api.events)


def test_filters_and_system(api: Api) -> None:
    for accession, patient in (("A1", "P1"), ("A2", "P1"), ("A3", "P2")):
        body = order(accession, PatientID=patient)
        assert requests.post(f"{api.url}/worklists/create", json=body, timeout=10).ok
    (api.folder / "broken.wl").write_bytes(b"not DICOM")

    def ids(query: str) -> list[str]:
        return sorted(i["ID"] for i in requests.get(f"{api.url}/worklists?{query}",
                                                    timeout=10).json())

    assert ids("PatientID=P1") == ["A1_S1", "A2_S1"]
    assert ids("AccessionNumber=A3&PatientID=P2") == ["A3_S1"]
    assert ids("AccessionNumber=A3&PatientID=P1") == []
    bad = requests.get(f"{api.url}/worklists?PatientNumber=1", timeout=10)
    assert bad.status_code == 400 and "PatientNumber" in bad.json()["Message"]
    system = requests.get(f"{api.url}/system", timeout=10).json()
    assert (system["Worklists"], system["ProblemFiles"]) == (3, 1)
    assert system["Name"] == "wldesk" and system["Version"]


def test_upsert_is_idempotent_and_a_plain_repeat_is_refused(api: Api) -> None:
    url = f"{api.url}/worklists/create"
    first = requests.post(url, json={**order(), "Upsert": True}, timeout=10).json()
    again = requests.post(url, json={**order(), "Upsert": True}, timeout=10).json()
    renamed = order(PatientName="DOE^JANE^MARIE")
    changed = requests.post(url, json={**renamed, "Upsert": True}, timeout=10).json()
    assert first == again == changed == {"ID": "A100_S1", "Path": "/worklists/A100_S1"}
    repeat = requests.post(url, json=order(), timeout=10)
    assert repeat.status_code == 409 and "Upsert" in repeat.json()["Message"]
    assert [p.name for p in api.folder.glob("*.wl")] == ["A100_S1.wl"]
    assert [e.action for e in api.events] == ["created", "unchanged", "updated", "refused"]
    tags = requests.get(f"{api.url}/worklists/A100_S1", timeout=10).json()
    assert tags["Tags"]["PatientName"] == "DOE^JANE^MARIE"


def test_put_as_orthanc_does_it(api: Api) -> None:
    """PUT checks the steps only with "Force": false, and makes an id that is not there yet."""
    partial = {"Tags": {"PatientName": "ROE^RICHARD", "PatientID": "P7", "AccessionNumber": "R7"}}
    made = requests.put(f"{api.url}/worklists/ris-order-77", json=partial, timeout=10)
    assert made.status_code == 200, made.text
    assert made.json() == {"ID": "ris-order-77", "Path": "/worklists/ris-order-77"}
    tags = requests.get(f"{api.url}/worklists/ris-order-77", timeout=10).json()["Tags"]
    assert tags["SpecificCharacterSet"] == "ISO_IR 192" and tags["StudyInstanceUID"]
    again = requests.put(f"{api.url}/worklists/ris-order-77", json=order("R7"), timeout=10)
    assert again.status_code == 200
    kept = requests.get(f"{api.url}/worklists/ris-order-77", timeout=10).json()["Tags"]
    assert kept["StudyInstanceUID"] == tags["StudyInstanceUID"]  # an update keeps its study
    checked = requests.put(f"{api.url}/worklists/ris-order-77", json={**partial, "Force": False},
                           timeout=10)
    assert checked.status_code == 400 and "Force" in checked.json()["Message"]
    clash = requests.put(f"{api.url}/worklists/other", json=order("R7"), timeout=10)
    assert clash.status_code == 409  # the order is the entry ris-order-77
    for bad in ("CON", "a b"):  # not names wldesk gives a file
        answer = requests.put(f"{api.url}/worklists/{bad}", json=partial, timeout=10)
        assert answer.status_code == 400, bad
    assert sorted(p.name for p in api.folder.glob("*.wl")) == ["ris-order-77.wl"]
    assert [(e.action, e.order) for e in api.events] == [
        ("created", "R7"), ("updated", "R7/S1"), ("refused", ""), ("refused", ""),
        ("refused", ""), ("refused", "")]


@pytest.mark.parametrize(("body", "named"), [
    (b"{not json", "not JSON"),
    (b"\xff\xfe{}", "not JSON"),
    (json.dumps({"Tags": []}).encode(), "Tags"),
    (json.dumps(order(PatientNme="X")).encode(), "PatientNme"),
    (json.dumps(order(PatientID="A\\B")).encode(), "PatientID"),
    (json.dumps(order(PatientBirthDate="1990-13-01")).encode(), "PatientBirthDate"),
    (json.dumps(order(**{"0010,1030": "heavy"})).encode(), "PatientWeight"),
    (json.dumps(order(**{"0002,0010": "1.2"})).encode(), "0002,0010"),
    (json.dumps(order(PatientName=["DOE"])).encode(), "PatientName"),
    (json.dumps(order(SpecificCharacterSet="ISO_IR 100", PatientName="李^雷")).encode(),
     "PatientName"),
    (json.dumps({**order(), "Force": "yes"}).encode(), "Force"),
    (b'{"Tags": ' * 5000 + b"{}" + b"}" * 5000, "not JSON"),
])
def test_bad_input_is_a_400_naming_the_tag_and_writes_nothing(api: Api, body: bytes,
                                                              named: str) -> None:
    tags = order()["Tags"]
    tags["ScheduledProcedureStepSequence"][0]["ScheduledProcedureStepStartTime"] = "9:30"
    cases = [body]
    if named == "PatientID":  # the same inside a sequence item names the item
        cases.append(json.dumps({"Tags": tags}).encode())
    before = api.files()
    for case in cases:
        answer = requests.post(f"{api.url}/worklists/create", data=case, timeout=10)
        assert answer.status_code == 400, answer.text
        message = answer.json()["Message"]
        assert named in message or "ScheduledProcedureStepStartTime" in message
    assert api.files() == before
    assert [e.action for e in api.events] == ["refused"] * len(cases)


def test_ids_are_file_names_and_nothing_else(api: Api) -> None:
    (api.folder.parent / "outside.wl").write_bytes(b"x")
    (api.folder / ".hidden.wl").write_bytes(b"x")
    for bad in ("..%2Foutside", ".hidden", "%2E%2E", "a%00b", "x" * 200):
        answer = requests.delete(f"{api.url}/worklists/{bad}", timeout=10)
        assert answer.status_code in (400, 404), bad
    assert requests.get(f"{api.url}/worklists/nothing-here", timeout=10).status_code == 404
    assert (api.folder.parent / "outside.wl").exists() and (api.folder / ".hidden.wl").exists()


def test_the_same_order_from_many_threads_makes_one_entry(api: Api) -> None:
    answers: list[int] = []

    def send() -> None:
        body = {**order(), "Upsert": True}
        answers.append(requests.post(f"{api.url}/worklists/create", json=body, timeout=30)
                       .status_code)

    threads = [threading.Thread(target=send) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [200] * 12
    assert [p.name for p in api.folder.glob("*.wl")] == ["A100_S1.wl"]
    assert sorted(e.action for e in api.events) == ["created"] + ["unchanged"] * 11


def test_token_and_basic_auth(tmp_path: Path) -> None:
    running = Api(tmp_path, rest_token="s3cret-token", rest_user="ris", rest_password="pa:ss")
    running.rest.start()
    try:
        url = f"{running.url}/worklists/create"
        denied = requests.post(url, json=order(), timeout=10)
        assert denied.status_code == 401 and "WWW-Authenticate" in denied.headers
        wrong = requests.post(url, json=order(), auth=("ris", "nope"), timeout=10)
        assert wrong.status_code == 401
        assert requests.get(f"{running.url}/worklists", timeout=10).status_code == 401
        assert not list(tmp_path.glob("*.wl"))
        bearer = {"Authorization": "Bearer s3cret-token"}
        assert requests.post(url, json=order("T1"), headers=bearer, timeout=10).ok
        assert requests.post(url, json=order("B1"), auth=("ris", "pa:ss"), timeout=10).ok
        assert sorted(p.name for p in tmp_path.glob("*.wl")) == ["B1_S1.wl", "T1_S1.wl"]
        assert [e.action for e in running.events] == ["refused", "refused", "created", "created"]
        assert "credentials" in running.events[0].detail
    finally:
        running.rest.stop()


def test_listening_on_the_network_needs_credentials(tmp_path: Path) -> None:
    events: list[object] = []
    bus = EventBus()
    bus.subscribe(events.append)
    port = free_port()
    open_api = Settings(database=str(tmp_path), rest_port=port, rest_bind_address="0.0.0.0")
    channels = Channels(open_api, bus)
    channels.start()
    assert "REST" not in channels.running
    failed = [e for e in events if isinstance(e, InputEvent)]
    assert failed[0].action == "failed" and "token" in failed[0].detail
    channels.apply(Settings(database=str(tmp_path), rest_port=port, rest_bind_address="0.0.0.0",
                            rest_token="t"))
    try:
        assert "REST" in channels.running
        answer = requests.get(f"http://127.0.0.1:{port}/system",
                              headers={"Authorization": "Bearer t"}, timeout=10)
        assert answer.status_code == 200
    finally:
        channels.stop()


def test_https_with_a_certificate(tmp_path: Path) -> None:
    certs = make_certificates(tmp_path / "certs")
    running = Api(tmp_path, rest_tls_certificate=str(certs.server_cert),
                  rest_tls_key=str(certs.server_key))
    running.rest.start()
    try:
        assert running.url.startswith("https://")
        answer = requests.get(f"{running.url}/system", verify=str(certs.ca), timeout=10)
        assert answer.status_code == 200
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(f"http://127.0.0.1:{running.settings.rest_port}/system", timeout=10)
    finally:
        running.rest.stop()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_as_a_ris_would_call_it(api: Api) -> None:
    def curl(*args: str) -> tuple[int, str]:
        done = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", *args],
                              capture_output=True, text=True, timeout=30, check=True)
        text, _, code = done.stdout.rpartition("\n")
        return int(code), text

    body = json.dumps(order("C1"))
    code, text = curl("-X", "POST", f"{api.url}/worklists/create", "-H",
                      "Content-Type: application/json", "-d", body)
    assert (code, json.loads(text)) == (200, {"ID": "C1_S1", "Path": "/worklists/C1_S1"})
    code, text = curl(f"{api.url}/worklists/C1_S1?format=Short")
    assert code == 200 and json.loads(text)["Tags"]["0008,0050"] == "C1"
    code, text = curl("-X", "POST", f"{api.url}/worklists/create", "-d",
                      '{"Tags": {"PatientName": "X"}}')
    assert code == 400 and "Force" in text
    code, text = curl("-X", "DELETE", f"{api.url}/worklists/C1_S1")
    assert (code, json.loads(text)) == (200, {}) and not list(api.folder.glob("*.wl"))
    # the Orthanc book's own calls, as printed there (no content type, its UUID-less answer)
    code, text = curl("--request", "POST", f"{api.url}/worklists/create", "--data", """{
                "Tags" : {
                  "PatientID": "PID-45",
                  "PatientName": "Toto",
                  "ScheduledProcedureStepSequence" : [
                    {
                      "Modality": "US",
                      "ScheduledProcedureStepStartDate": "20251014",
                      "ScheduledProcedureStepDescription": "Description"
                    }
                  ]
                }
              }""")
    assert code == 200, text
    made = json.loads(text)["ID"]
    code, text = curl("--request", "GET", f"{api.url}/worklists/{made}")
    assert code == 200 and json.loads(text)["Tags"]["PatientName"] == "Toto"
    for fmt, key in (("Simplify", "PatientID"), ("Short", "0010,0020"), ("Full", "0010,0020")):
        code, text = curl("--request", "GET", f"{api.url}/worklists/?format={fmt}")
        assert code == 200, (fmt, text)
        [listed] = json.loads(text)
        assert listed["ID"] == made and key in listed["Tags"]
    code, text = curl("--request", "DELETE", f"{api.url}/worklists/{made}")
    assert code == 200 and not list(api.folder.glob("*.wl"))

