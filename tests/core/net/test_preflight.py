"""The check of settings against this computer before they are saved or the server restarts:
real sockets (a port another program holds, the port of our own running server, an address this
computer does not have) and real folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.ports import LOCALHOST, free_port
from wldesk.core.net.addresses import this_computer_addresses
from wldesk.core.net.preflight import Problem, check_settings, create_folder
from wldesk.core.net.server import WorklistServer
from wldesk.core.settings import Settings

NOT_HERE = "198.51.100.7"  # TEST-NET-2 (RFC 5737): on no computer's network


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    folder = tmp_path / "worklists"
    folder.mkdir()
    return Settings(database=str(folder), bind_address=LOCALHOST, port=free_port())


def test_settings_that_would_start_have_no_problem(settings: Settings) -> None:
    assert check_settings(settings) == []


def test_a_port_another_program_holds_is_reported(settings: Settings, other_program: int) -> None:
    assert check_settings(settings.replace(port=other_program)) == [Problem(
        "port", f"Port {other_program} is already used by another program on this computer. "
                "Choose another port, or stop that program.")]
    for address in ("0.0.0.0", ""):  # every address of this computer includes 127.0.0.1
        [problem] = check_settings(settings.replace(port=other_program, bind_address=address))
        assert problem.setting == "port"


def test_the_port_of_our_own_running_server_is_no_problem(settings: Settings) -> None:
    server = WorklistServer(settings)
    server.start()
    try:
        assert check_settings(settings, running=settings) == []
        changed = settings.replace(ae_title="WLTEST")  # a restart would take over the port
        assert check_settings(changed, running=settings) == []
        # without knowing it is ours, it is a port in use like any other
        assert [p.setting for p in check_settings(changed)] == ["port"]
    finally:
        server.stop()


def test_an_address_this_computer_does_not_have_is_reported(settings: Settings) -> None:
    [problem] = check_settings(settings.replace(bind_address=NOT_HERE))
    assert problem.setting == "bind_address"
    assert problem.message.startswith(f"{NOT_HERE} is not an address of this computer")
    for address in this_computer_addresses():
        assert address in problem.message


def test_a_missing_folder_is_reported_and_can_be_created(settings: Settings, tmp_path: Path) -> None:
    missing = tmp_path / "new" / "worklists"
    [problem] = check_settings(settings.replace(database=str(missing)))
    assert problem == Problem("database", f"The folder {missing} does not exist.", missing_folder=True)
    assert create_folder(str(missing)) is None
    assert missing.is_dir()
    assert check_settings(settings.replace(database=str(missing))) == []


def test_a_file_is_not_a_folder(settings: Settings, tmp_path: Path) -> None:
    file = tmp_path / "worklists.txt"
    file.write_text("not a folder", encoding="utf-8")
    [problem] = check_settings(settings.replace(database=str(file)))
    assert problem == Problem("database", f"{file} is a file, not a folder.")
    message = create_folder(str(file))
    assert message is not None and message.startswith(f"The folder {file} could not be created: ")
    assert file.read_text(encoding="utf-8") == "not a folder"


def test_tls_files_that_do_not_exist_are_named(settings: Settings, tmp_path: Path) -> None:
    certificate, key = tmp_path / "server.pem", tmp_path / "server.key"
    [problem] = check_settings(settings.replace(tls_certificate=str(certificate), tls_key=str(key)))
    assert problem == Problem("tls_certificate", f"The TLS certificate {certificate} does not exist.")
    certificate.write_text("", encoding="utf-8")
    [problem] = check_settings(settings.replace(tls_certificate=str(certificate), tls_key=str(key)))
    assert problem == Problem("tls_key", f"The TLS key {key} does not exist.")


def test_every_problem_at_once(settings: Settings, other_program: int, tmp_path: Path) -> None:
    broken = settings.replace(port=other_program, database=str(tmp_path / "gone"),
                              tls_key=str(tmp_path / "server.key"))
    assert [p.setting for p in check_settings(broken)] == ["port", "database", "tls_certificate"]
