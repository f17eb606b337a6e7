"""The command line, run as ``python -m wldesk`` in a subprocess with private XDG folders.

Real processes and real sockets on 127.0.0.1, free ports only, bounded polling.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType

import pytest
from pydicom.dataset import Dataset
from pynetdicom import AE
from pynetdicom.sop_class import ModalityWorklistInformationFind, Verification  # type: ignore[attr-defined]

from tests.helpers.ports import free_port
from tests.helpers.processes import WldeskServe
from tests.helpers.samples import encode, raw_text, worklist_dataset, write_wl
from wldesk import __version__
from wldesk.core.net.scu import find as scu_find

REPO_ROOT = Path(__file__).resolve().parents[1]
LOCALHOST = "127.0.0.1"
RUN_TIMEOUT = 30.0
STARTUP_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
POLL = 0.05


class Env:
    """Private XDG folders for one test, and the environment that points at them."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.vars = dict(os.environ)
        for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
            directory = base / var.lower()
            directory.mkdir(parents=True)
            self.vars[var] = str(directory)
        self.vars["PYTHONPATH"] = os.pathsep.join(
            [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
        self.vars["PYTHONUNBUFFERED"] = "1"

    @property
    def default_database(self) -> Path:
        return self.base / "xdg_data_home" / "wldesk" / "worklists"

    @property
    def log_file(self) -> Path:
        return self.base / "xdg_state_home" / "wldesk" / "log" / "wldesk.log"

    @property
    def settings_file(self) -> Path:
        return self.base / "xdg_config_home" / "wldesk" / "settings.json"


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env(tmp_path / "home")


def run_wldesk(env: Env, *args: str, timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wldesk", *args], cwd=REPO_ROOT, env=env.vars,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout, check=False)


def quiet_ae(title: str) -> AE:
    ae = AE(ae_title=title)
    for attribute in ("acse_timeout", "dimse_timeout", "network_timeout", "connection_timeout"):
        setattr(ae, attribute, 5)
    return ae


def tcp_open(port: int) -> bool:
    try:
        with socket.create_connection((LOCALHOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def echo(port: int) -> bool:
    if not tcp_open(port):  # pynetdicom leaks its socket when the connection is refused
        return False
    ae = quiet_ae("ECHOSCU")
    ae.add_requested_context(Verification)
    logger = logging.getLogger("pynetdicom")
    previous = logger.level
    logger.setLevel(logging.CRITICAL)  # refused connections while polling are expected
    try:
        assoc = ae.associate(LOCALHOST, port, ae_title="WLDESK")
        if not assoc.is_established:
            return False
        status = assoc.send_c_echo()
        assoc.release()
        return bool(status) and int(status.Status) == 0
    finally:
        logger.setLevel(previous)
        ae.shutdown()


def find(port: int, query: Dataset) -> tuple[list[Dataset], int]:
    """One worklist C-FIND; the answers and the final status."""
    ae = quiet_ae("FINDSCU")
    ae.add_requested_context(ModalityWorklistInformationFind)
    assoc = ae.associate(LOCALHOST, port, ae_title="WLDESK")
    assert assoc.is_established
    try:
        result = scu_find(assoc, query)
        assert result.final_status is not None and result.undecodable == 0
        assoc.release()
    finally:
        ae.shutdown()
    return result.answers, result.final_status


class Serve:
    """``python -m wldesk serve ARGS`` for a ``with`` block; stopped with SIGTERM at the end."""

    def __init__(self, env: Env, args: Sequence[str], port: int) -> None:
        self.env = env
        self.args = list(args)
        self.port = port
        self.stderr_path = env.base / "serve.stderr"
        self.proc: subprocess.Popen[bytes] | None = None
        self.exit_code: int | None = None

    def __enter__(self) -> Serve:
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "wldesk", "serve", *self.args],
                                         cwd=REPO_ROOT, env=self.env.vars, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not echo(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"wldesk serve did not answer C-ECHO (exit {self.proc.returncode}):\n"
                            + self.stderr())
            time.sleep(POLL)
        return self

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT)

    def terminate(self) -> int:
        """SIGTERM; the exit code (the test fails if it takes longer than STOP_TIMEOUT)."""
        assert self.proc is not None
        if self.exit_code is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.exit_code = self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()
                pytest.fail("wldesk serve did not stop within 10 s of SIGTERM:\n" + self.stderr())
        return self.exit_code

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is not None:
            self.kill()
        else:
            self.terminate()


@pytest.fixture
def worklists(tmp_path: Path) -> Path:
    folder = tmp_path / "worklists"
    folder.mkdir()
    write_wl(folder / "entry1.wl", worklist_dataset("DOE^JOHN"))
    write_wl(folder / "entry2.wl", worklist_dataset("ROE^JANE", PatientID="PID2"))
    return folder


# --- version and check -------------------------------------------------------------------------------

def test_version(env: Env) -> None:
    result = run_wldesk(env, "--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"wldesk {__version__}"


def test_no_command_starts_the_window_which_serves_and_quits_on_sigterm(env: Env,
                                                                      worklists: Path) -> None:
    port = free_port()
    env.settings_file.parent.mkdir(parents=True)
    env.settings_file.write_text(json.dumps({"database": str(worklists), "port": port,
                                             "bind_address": LOCALHOST}), encoding="utf-8")
    env.vars["QT_QPA_PLATFORM"] = "offscreen"
    stderr_path = env.base / "gui.stderr"
    with open(stderr_path, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "wldesk", "--minimized"], cwd=REPO_ROOT,
                                env=env.vars, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not echo(port):
            assert proc.poll() is None and time.monotonic() < deadline, \
                stderr_path.read_text(encoding="utf-8", errors="replace")
            time.sleep(POLL)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(STOP_TIMEOUT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(STOP_TIMEOUT)
    assert not tcp_open(port)
    log_text = env.log_file.read_text(encoding="utf-8")
    assert "received SIGTERM, quitting" in log_text
    assert "server stopped" in log_text


def test_help_lists_the_commands(env: Env) -> None:
    result = run_wldesk(env, "--help")
    assert result.returncode == 0
    assert "serve" in result.stdout and "check" in result.stdout and "--minimized" in result.stdout


def test_check_good_folder(env: Env, worklists: Path) -> None:
    result = run_wldesk(env, "check", str(worklists))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""
    assert "0 file(s) with problems" in result.stderr


def test_check_folder_with_problems(env: Env, worklists: Path) -> None:
    incomplete = write_wl(worklists / "incomplete.wl", worklist_dataset(PatientID=None, Modality=None))
    write_wl(incomplete, worklist_dataset(PatientID=None, ScheduledProcedureStepSequence=None))
    truncated = worklists / "truncated.wl"
    truncated.write_bytes(encode(worklist_dataset())[:-9])
    result = run_wldesk(env, "check", str(worklists))
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert sorted(lines) == sorted([
        f"{incomplete}: missing or empty PatientID",
        f"{incomplete}: missing or empty ScheduledProcedureStepSequence",
        *[line for line in lines if line.startswith(f"{truncated}: incomplete file")],
    ])
    assert sum(line.startswith(f"{truncated}: ") for line in lines) == 1
    assert "2 file(s) with problems" in result.stderr


def test_check_notes_only_is_success(env: Env, tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    ds = worklist_dataset()
    ds[0x00100010] = raw_text(0x00100010, "PN", "MÜLLER^JÖRG".encode())  # UTF-8, no (0008,0005)
    write_wl(folder / "utf8.wl", ds)
    result = run_wldesk(env, "check", str(folder))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith(f"{folder / 'utf8.wl'}: note: ")
    assert "UTF-8" in result.stdout


def test_check_missing_folder(env: Env, tmp_path: Path) -> None:
    result = run_wldesk(env, "check", str(tmp_path / "nowhere"))
    assert result.returncode == 2
    assert "is not a folder" in result.stderr
    assert str(tmp_path / "nowhere") in result.stderr


def test_check_default_folder_from_config(env: Env, worklists: Path) -> None:
    env.settings_file.parent.mkdir(parents=True)
    env.settings_file.write_text(json.dumps({"database": str(worklists)}), encoding="utf-8")
    (worklists / "broken.wl").write_bytes(b"")
    result = run_wldesk(env, "check")
    assert result.returncode == 1
    assert result.stdout == f"{worklists / 'broken.wl'}: empty file\n"


# --- serve: refusing to start --------------------------------------------------------------------------

def test_serve_invalid_config(env: Env, tmp_path: Path) -> None:
    config = tmp_path / "settings.json"
    config.write_text(json.dumps({"port": "abc"}), encoding="utf-8")
    result = run_wldesk(env, "serve", "--config", str(config))
    assert result.returncode == 2
    assert "'port'" in result.stderr and "an integer" in result.stderr, result.stderr
    assert str(config) in result.stderr


def test_serve_invalid_user_settings_file(env: Env) -> None:
    env.settings_file.parent.mkdir(parents=True)
    env.settings_file.write_text('{"limit_answers": -3}', encoding="utf-8")
    result = run_wldesk(env, "serve")
    assert result.returncode == 2
    assert "'limit_answers'" in result.stderr, result.stderr


def test_serve_invalid_orthanc_config(env: Env, tmp_path: Path) -> None:
    config = tmp_path / "orthanc.json"
    config.write_text('{ // Orthanc\n "DicomAet": "WL", "DicomPort": "abc" }', encoding="utf-8")
    result = run_wldesk(env, "serve", "--config", str(config))
    assert result.returncode == 2
    assert "DicomPort" in result.stderr, result.stderr


@pytest.mark.parametrize(("args", "key"), [(["--port", "0"], "'port'"), (["--port", "70000"], "'port'"),
                                           (["--aet", "A\\B"], "'ae_title'"),
                                           (["--limit-answers", "-1"], "'limit_answers'"),
                                           (["--bind", "somewhere"], "'bind_address'")])
def test_serve_invalid_option(env: Env, worklists: Path, args: list[str], key: str) -> None:
    result = run_wldesk(env, "serve", "--database", str(worklists), *args)
    assert result.returncode == 2
    assert key in result.stderr, result.stderr


def test_serve_port_in_use(env: Env, worklists: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind((LOCALHOST, 0))
        busy.listen()
        port = busy.getsockname()[1]
        started = time.monotonic()
        result = run_wldesk(env, "serve", "--database", str(worklists), "--bind", LOCALHOST,
                            "--port", str(port))
        elapsed = time.monotonic() - started
    assert result.returncode != 0
    assert "already in use" in result.stderr, result.stderr
    assert str(port) in result.stderr
    assert elapsed < 15


def test_serve_missing_database(env: Env, tmp_path: Path) -> None:
    result = run_wldesk(env, "serve", "--database", str(tmp_path / "nowhere"), "--bind", LOCALHOST,
                        "--port", str(free_port()))
    assert result.returncode != 0
    assert "does not exist" in result.stderr, result.stderr


# --- serve: running ------------------------------------------------------------------------------------

def test_serve_default_folder_echo_and_sigterm(env: Env) -> None:
    port = free_port()
    assert not env.default_database.exists()
    with Serve(env, ["--bind", LOCALHOST, "--port", str(port)], port) as server:
        assert env.default_database.is_dir()
        query = Dataset()
        query.PatientName = ""
        assert find(port, query) == ([], 0x0000)
        write_wl(env.default_database / "new.wl", worklist_dataset())
        answers, status = find(port, query)
        assert status == 0x0000
        assert [str(a.PatientName) for a in answers] == ["DOE^JOHN"]
        code = server.terminate()
    assert code == 0
    stderr = server.stderr()
    assert "received SIGTERM, stopping" in stderr
    assert "server stopped" in stderr
    assert env.log_file.is_file()
    log_text = env.log_file.read_text(encoding="utf-8")
    assert f"listening on {LOCALHOST}:{port}" in log_text
    assert str(env.default_database) in log_text
    assert "received SIGTERM, stopping" in log_text


def test_serve_prints_the_connection_card(tmp_path: Path) -> None:
    """What a modality's set-up needs, on stdout once listening: an address of this computer (each
    can be bound here), the AE title and the port; then how to stop."""
    with WldeskServe(tmp_path, aet="CLINIC_WL", extra_args=["--bind", "0.0.0.0"]) as server:
        deadline = time.monotonic() + 5  # it prints once start() returns, maybe after a C-ECHO
        while "Ctrl-C to stop" not in server.stdout_text() and time.monotonic() < deadline:
            time.sleep(POLL)
        lines = server.stdout_text().splitlines()
    assert lines[1:] == ["AE title: CLINIC_WL", f"Port: {server.port}", "Ctrl-C to stop"]
    label, _, shown = lines[0].partition(": ")
    assert label in ("Address", "Addresses")
    for address in shown.removesuffix(" (this computer only)").split(", "):
        with socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET) as probe:
            probe.bind((address, 0))  # only an address of this computer can be bound


def test_serve_sigint_stops_cleanly(env: Env, worklists: Path) -> None:
    port = free_port()
    with Serve(env, ["--database", str(worklists), "--bind", LOCALHOST, "--port", str(port)], port) \
            as server:
        assert server.proc is not None
        server.proc.send_signal(signal.SIGINT)
        assert server.proc.wait(STOP_TIMEOUT) == 0
        server.exit_code = 0
    assert "received SIGINT" in server.stderr()


@pytest.fixture
def patient_query() -> Iterator[Dataset]:
    query = Dataset()
    query.PatientName = "DOE*"
    query.PatientID = ""
    sps = Dataset()
    sps.Modality = "CT"
    sps.ScheduledStationAETitle = ""
    query.ScheduledProcedureStepSequence = [sps]
    yield query


@pytest.mark.parametrize("redact", [True, False])
def test_redact_patient_data(env: Env, worklists: Path, tmp_path: Path, patient_query: Dataset,
                             redact: bool) -> None:
    port = free_port()
    config = tmp_path / "settings.json"
    config.write_text(json.dumps({"redact_patient_data": redact, "database": str(worklists),
                                  "bind_address": LOCALHOST, "port": port}), encoding="utf-8")
    with Serve(env, ["--config", str(config)], port) as server:
        answers, status = find(port, patient_query)
        assert status == 0x0000
        assert [(str(a.PatientName), a.PatientID) for a in answers] == [("DOE^JOHN", "PID1")]
        deadline = time.monotonic() + 5
        while "query #" not in server.stderr() and time.monotonic() < deadline:
            time.sleep(POLL)
        assert server.terminate() == 0
    stderr = server.stderr()
    log_text = env.log_file.read_text(encoding="utf-8")
    for text in (stderr, log_text):
        assert "query #" in text and "1 matches" in text, text
        assert "Modality='CT'" in text, text  # not patient data: shown either way
        if redact:
            assert "DOE" not in text, text
            assert "JOHN" not in text, text
            assert "PatientName='<redacted>'" in text, text
        else:
            assert "PatientName='DOE*'" in text, text
    # the audit log: written by serve (flushed when it stops), read back by ``wldesk audit``
    audit_files = list((env.base / "xdg_state_home" / "wldesk" / "audit").glob("*.jsonl"))
    assert len(audit_files) == 1
    record = json.loads(audit_files[0].read_text(encoding="utf-8"))
    assert (record["calling_aet"], record["matches"], record["sent"]) == ("FINDSCU", 1, 1)
    assert record["keys"]["PatientName"] == ("<redacted>" if redact else "DOE*")
    assert record["keys"]["Modality"] == "CT"
    result = run_wldesk(env, "audit")
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()
    assert header == "Time,Calling AE,IP,Query keys,Matches,Sent,Withheld,Status,Duration (ms)"
    assert row.split(",")[1:3] == ["FINDSCU", LOCALHOST]
    assert ("PatientName=<redacted>" if redact else "PatientName=DOE*") in row


def test_serve_logs_what_reading_the_settings_warned_about(env: Env, worklists: Path,
                                                            tmp_path: Path) -> None:
    """A key written by a newer wldesk is kept and warned about, in the log file too: the file
    is set up before the settings are read."""
    port = free_port()
    config = tmp_path / "settings.json"
    config.write_text(json.dumps({"database": str(worklists), "bind_address": LOCALHOST,
                                  "port": port, "a_newer_setting": 1}), encoding="utf-8")
    with Serve(env, ["--config", str(config)], port) as server:
        assert server.terminate() == 0
    assert "unknown setting 'a_newer_setting'" in env.log_file.read_text(encoding="utf-8")


def test_check_modality_lists_what_its_profile_sends_last_or_withholds(env: Env,
                                                                       worklists: Path) -> None:
    missing_id = write_wl(worklists / "missing-id.wl", worklist_dataset(PatientID=None))
    write_wl(worklists / "good.wl", worklist_dataset())
    config = env.settings_file.parent / "profiles.json"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps({"database": str(worklists), "modalities": [
        {"name": "CT", "ae_title": "CT1", "profile": {"strict": True}},
        {"name": "GE", "ae_title": "CT2", "profile": {"strict": True, "withhold_invalid": True}},
        {"name": "US", "ae_title": "US1"}]}), encoding="utf-8")
    result = run_wldesk(env, "check", "--config", str(config), "--modality", "CT1")
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout == f"{missing_id}: sent last: no PatientID\n"
    assert "CT1: its own profile (strict)" in result.stderr
    withheld = run_wldesk(env, "check", "--config", str(config), "--modality", "CT2")
    assert withheld.stdout == f"{missing_id}: withheld: no PatientID\n"
    plain = run_wldesk(env, "check", "--config", str(config), "--modality", "US1")
    assert plain.returncode == 0 and plain.stdout == ""
    assert "US1: the default profile (as stored)" in plain.stderr
    assert "not strict" in plain.stderr
