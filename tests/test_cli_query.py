"""``wldesk query``, run as ``python -m wldesk query`` in a subprocess with private XDG folders,
against ``python -m wldesk serve`` on a free port of 127.0.0.1: the findscu-like keys (nested ones
too), the key list and the DICOM JSON output, the explanation of the other entries, exit codes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom.dataset import Dataset

from tests.helpers.ports import free_port
from tests.helpers.samples import write_entry
from tests.test_cli import LOCALHOST, Env, Serve, run_wldesk


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env(tmp_path / "home")


@pytest.fixture
def entries(tmp_path: Path) -> Path:
    folder = tmp_path / "worklists"
    folder.mkdir()
    write_entry(folder, "ct.wl", accession="A1", station="CT1", modality="CT")
    write_entry(folder, "mr.wl", accession="B1", station="MR1", modality="MR", patient="MÜLLER^HANS")
    write_entry(folder, "ct2.wl", accession="C1", station="CT2", modality="CT", date="20261128")
    return folder


@pytest.fixture
def server(env: Env, entries: Path) -> Iterator[Serve]:
    port = free_port()
    with Serve(env, ["--database", str(entries), "--port", str(port), "--bind", LOCALHOST],
               port) as serving:
        yield serving


def query(env: Env, server: Serve, *args: str) -> tuple[int, str, str]:
    result = run_wldesk(env, "query", "--port", str(server.port), "--aec", "WLDESK", *args)
    return result.returncode, result.stdout, result.stderr


def blocks(stdout: str) -> list[dict[str, str]]:
    """The answers of the key list output, each as {path: value}."""
    answers: list[dict[str, str]] = []
    for line in stdout.splitlines():
        if line.startswith("# answer "):
            answers.append({})
        elif line and not line.startswith("#"):
            path, _, value = line.partition("=")
            answers[-1][path] = value
    return answers


def test_nested_keys_select_and_the_answers_come_as_key_lines(env: Env, server: Serve) -> None:
    code, out, err = query(env, server, "-k", "ScheduledProcedureStepSequence[0].Modality=CT",
                           "-k", "ScheduledProcedureStepSequence[0].ScheduledStationAETitle=CT1")
    assert code == 0, err
    answers = blocks(out)
    assert [a["AccessionNumber"] for a in answers] == ["A1"]
    assert answers[0]["ScheduledProcedureStepSequence[0].Modality"] == "CT"
    assert answers[0]["ScheduledProcedureStepSequence[0].ScheduledProcedureStepID"] == "S-A1"
    assert "PatientName" in answers[0]  # the Test query's return keys are asked too
    assert f"{LOCALHOST}:{server.port} WLDESK: 1 answer, Success (0x0000)" in err


def test_json_is_a_list_of_dicom_json_objects(env: Env, server: Serve) -> None:
    code, out, err = query(env, server, "--json", "-k", "PatientName=MÜ*",
                           "-k", "(0010,0020)", "-k", "ScheduledProcedureStepSequence")
    assert code == 0, err
    answers = [Dataset.from_json(item) for item in json.loads(out)]
    assert len(answers) == 1
    assert str(answers[0].PatientName) == "MÜLLER^HANS"
    assert answers[0].PatientID == "ID-B1"
    assert answers[0].ScheduledProcedureStepSequence[0].Modality == "MR"


def test_all_answers_without_keys_and_nothing_on_stdout_but_json(env: Env, server: Serve) -> None:
    code, out, _ = query(env, server, "--json")
    assert code == 0
    assert sorted(str(Dataset.from_json(a).AccessionNumber) for a in json.loads(out)) == \
        ["A1", "B1", "C1"]


def test_explain_says_why_the_other_entries_are_not_answers(env: Env, server: Serve,
                                                            entries: Path) -> None:
    (entries / "broken.wl").write_bytes(b"not DICOM")
    code, out, err = query(env, server, "--explain", "--folder", str(entries),
                           "-k", "ScheduledProcedureStepSequence[0].Modality=CT",
                           "-k", "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate"
                                 "=20261127")
    assert code == 0, err
    assert [a["AccessionNumber"] for a in blocks(out)] == ["A1"]
    why = dict(line.split(": ", 1) for line in out.splitlines()
               if line and not line.startswith("#") and "=" not in line.split(": ", 1)[0])
    assert set(why) == {"mr.wl", "ct2.wl", "broken.wl"}
    assert "modality MR ≠ CT" in why["mr.wl"]
    assert "20261128" in why["ct2.wl"]
    assert why["broken.wl"].startswith("file not served: ")


def test_explain_with_json_keeps_stdout_json(env: Env, server: Serve, entries: Path) -> None:
    code, out, err = query(env, server, "--json", "--explain", "--folder", str(entries),
                           "-k", "AccessionNumber=B1")
    assert code == 0
    assert [Dataset.from_json(a).AccessionNumber for a in json.loads(out)] == ["B1"]
    assert "ct.wl: " in err and "ct2.wl: " in err


def test_a_failure_status_exits_1(env: Env, server: Serve) -> None:
    code, out, err = query(env, server,
                           "-k", "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate=xx")
    assert code == 1
    assert out == ""
    assert "query failed: Identifier does not match SOP class (0xA900)" in err


def test_no_server_exits_1(env: Env) -> None:
    result = run_wldesk(env, "query", "--port", str(free_port()))
    assert result.returncode == 1
    assert "no association with 127.0.0.1:" in result.stderr


def test_no_server_with_explain_works_it_out_from_the_folder(env: Env, entries: Path) -> None:
    result = run_wldesk(env, "query", "--port", str(free_port()), "--explain", "--folder",
                        str(entries), "-k", "ScheduledProcedureStepSequence[0].Modality=CT")
    assert result.returncode == 1
    assert f"# the server was not asked; worked out from {entries}: 2 entries would match" \
        in result.stdout
    assert "mr.wl: modality MR ≠ CT" in result.stdout


@pytest.mark.parametrize("key, message", [
    ("Bogus=1", "unknown keyword 'Bogus'"),
    ("PatientName[0].Modality=CT", "is not a sequence item"),
    ("ScheduledProcedureStepSequence.Modality=CT", "is not a sequence item"),
    ("ScheduledProcedureStepSequence[x].Modality=CT", "bad item index"),
    ("=CT", "bad key"),
])
def test_a_bad_key_is_a_usage_error(env: Env, key: str, message: str) -> None:
    result = run_wldesk(env, "query", "--port", str(free_port()), "-k", key)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_the_configured_port_and_title_are_the_defaults(env: Env, entries: Path) -> None:
    port = free_port()
    env.settings_file.parent.mkdir(parents=True)
    env.settings_file.write_text(json.dumps({"database": str(entries), "port": port,
                                             "bind_address": LOCALHOST, "ae_title": "MYWL"}),
                                 encoding="utf-8")
    with Serve(env, [], port) as serving:
        assert serving.port == port
        result = run_wldesk(env, "query", "--explain", "-k", "AccessionNumber=C1")
    assert result.returncode == 0, result.stderr
    assert [a["AccessionNumber"] for a in blocks(result.stdout)] == ["C1"]
    assert f"{LOCALHOST}:{port} MYWL: 1 answer" in result.stderr
    assert f"from {entries}: 2" in result.stdout
